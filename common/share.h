// What one worker runs: its slice of a run's arrival schedule, concurrency, request cap and
// prompt sequence (SPEC section 5). The controller turns a config into the whole run's share
// (MakeWholeShare) and splits it among workers by capacity (SplitShare); a worker splits its part
// again among its engine threads. Shares always add up exactly to the whole.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/arrival.h"
#include "common/config.h"
#include "common/plan.h"
#include "common/trace.h"

namespace bench {

// One schedule that starts `start_ns` after time 0 (a run's schedule is one or more phases back
// to back, e.g. a warmup at the first stage's rate, then the stages).
struct SharePhase {
  int64_t start_ns = 0;
  ArrivalSpec spec;
  // Added to the arrivals' sequence indices, so prompt indices stay unique across phases.
  uint64_t sequence_base = 0;

  bool operator==(const SharePhase&) const = default;
};

// Token lengths fixed per prompt index (a trace's records).
struct FixedLength {
  int64_t input = 0;
  int64_t output = 0;

  bool operator==(const FixedLength&) const = default;
};

struct WorkShare {
  // False when this part has nothing to send: a concurrency cap or request cap smaller than the
  // number of workers leaves some idle rather than uncapped.
  bool active = true;
  bool closed_loop = false;
  // Open loop: cap on requests in flight (0 = none). Closed loop: the users.
  uint32_t concurrency = 0;
  std::vector<SharePhase> phases;  // Open loop only.
  uint64_t max_requests = 0;       // In-window requests this part may start; 0 = no limit.
  // Random schedules and closed loops draw prompt k * prompt_stride + prompt_offset for their
  // k-th request; deterministic schedules use the arrival's index in the undivided sequence.
  uint32_t prompt_stride = 1;
  uint32_t prompt_offset = 0;
  // type trace: the lengths of every record (indexed by sequence index); the same in every part.
  std::vector<FixedLength> fixed_lengths;
  // Nothing is sent before this time from the run's start: the remainder of a run re-split
  // among workers mid-run (rebalance) starts here.
  int64_t not_before_ns = 0;
  // target.connections' part: the pool opens at least this many connections (0 = as needed).
  uint32_t min_connections = 0;

  bool operator==(const WorkShare&) const = default;
};

// The whole run as one share. `config` must have passed ParseConfig; `trace` is the parsed
// load.trace for type trace (required then), else null.
absl::StatusOr<WorkShare> MakeWholeShare(const BenchmarkConfig& config, const Plan& plan,
                                         const Trace* trace);

// Splits `whole` into one part per weight (a worker's engine threads). Arrivals are dealt out by
// SplitArrival (exact: the union is the whole schedule); concurrency and max_requests are split
// in proportion by largest remainder, so they sum exactly; parts left with no concurrency (or no
// requests) under a cap are inactive and get no arrivals. Prompt strides compose, so parts of
// parts stay disjoint.
absl::StatusOr<std::vector<WorkShare>> SplitShare(const WorkShare& whole,
                                                  const std::vector<double>& weights);

// `total` split in proportion to `weights` by largest remainder (ties to the lower index): the
// parts sum to `total` exactly.
std::vector<uint64_t> SplitCount(uint64_t total, const std::vector<double>& weights);

}  // namespace bench
