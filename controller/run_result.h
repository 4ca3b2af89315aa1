// What a finished (or interrupted) run produced, in the controller's terms: merged statistics
// per stage, the time series, and the facts needed to judge the generator. Filled from the
// embedded engine (bench-controller run) or from merged worker shards (serve), then summarized.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/run_stats.h"
#include "controller/prometheus_collect.h"

namespace bench::controller {

// One worker's part of a run, for the per-worker table of the summary.
struct WorkerFigures {
  std::string name;
  std::string worker_id;
  int threads = 0;
  bool active = true;        // false: the caps left it no share
  uint32_t concurrency = 0;  // its cap or users
  double rate = 0;           // its requests/s for Poisson and gamma (0: dealt by index)
  uint64_t sent = 0;         // in-window requests it counted
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t incomplete = 0;
  bool lost = false;            // its stream ended and did not come back within the lease
  uint32_t lost_in_flight = 0;  // requests it had in flight when last heard of
  // Its clock minus the controller's (ping/pong at the best round trip), which its start time
  // was corrected by; the round trip bounds the estimate's error (+-rtt/2).
  double clock_offset_ms = 0;
  double clock_rtt_ms = 0;
};

struct RunResult {
  // In-window requests, one shard per stage (one stage unless load.type is stages).
  std::vector<StatsShard> stages;
  // Conversations (prompts.type conversation): in-window requests per turn, the last shard
  // holding every later turn; empty otherwise.
  std::vector<StatsShard> turns;
  // The whole run (warmup included), one point per metrics.interval.
  std::vector<IntervalPoint> series;
  int64_t interval_ns = 1'000'000'000;

  int64_t warmup_ns = 0;
  // The measurement window as configured, and as it really lasted (shorter when cancelled or
  // stopped by maxRequests).
  int64_t window_ns = 0;
  int64_t measured_window_ns = 0;
  // Requests the schedule intended inside the window (open loop; 0 for a closed loop) and the
  // rate that means.
  double requested_requests = 0;
  double requested_rate = 0;
  bool closed_loop = false;
  int64_t concurrency = 0;  // The cap (open loop, 0 = none) or the users (closed loop).
  // Requests started inside the window (sent or not).
  uint64_t window_started = 0;
  // Peak client queue length seen in any interval: > 0 means the concurrency cap held requests.
  uint32_t peak_client_queue = 0;

  ConnectionStats connections;
  int engine_threads = 0;
  int workers = 1;
  std::vector<WorkerFigures> worker_figures;

  bool cancelled = false;      // Ctrl-C or a cancel request.
  bool aborted = false;        // slo.abortOnFail stopped it early
  std::string abort_reason;    // the SLO that broke
  std::string host;            // where the controller ran (its host name)
  std::string started_at_utc;  // RFC 3339, when time 0 of the schedule was.
  std::string finished_at_utc;
  std::vector<std::string> notes;  // Defaults applied, things the user should know.
  // metrics.prometheus, read once the run ended (empty json: not asked for).
  std::string prometheus_json;
  std::optional<double> prometheus_hit_ratio;  // from vLLM's prefix cache counters
  std::string prometheus_error;                // what could not be read
  // metrics.raw: why requests.jsonl misses records (engine threads over their bound, a write
  // that failed); empty when it holds every request.
  std::string records_missing;
  std::vector<PrometheusSeries> prometheus_series;
};

}  // namespace bench::controller
