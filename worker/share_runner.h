// One worker's part of a run on the load engine: turns the run's config and this worker's share
// into an engine plan, starts it at the common start time, and cuts what was measured into delta
// reports (what changed since the previous cut). Knows nothing of gRPC: worker/rpc_agent.cc
// carries the deltas to the controller.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/run_stats.h"
#include "common/share.h"

namespace bench::engine {
class Engine;
}

namespace bench::worker {

// What was measured since the previous cut.
struct ShareDelta {
  std::vector<std::pair<uint32_t, StatsShard>> stages;     // stages with news, by index
  std::vector<std::pair<uint32_t, StatsShard>> turns;      // conversation turns with news
  std::vector<std::pair<uint32_t, IntervalPoint>> series;  // interval deltas with news, by index
  uint64_t started = 0;  // cumulative requests handed to connections
  uint32_t in_flight = 0;
  uint32_t client_queue = 0;
  ConnectionStats connections;         // sums as deltas, maxima whole
  bool finished = false;               // the share is done: this is the last delta
  std::vector<RequestRecord> records;  // metrics.raw: requests that ended since the last cut
  uint64_t records_dropped = 0;        // metrics.raw: records the engine could not keep
};

// The files a config names that a worker reads (prompts.dataset, target.tls.caFile), loaded as
// a run would load them: one line per file saying what it holds, or the first error naming the
// field and the file. For `validate`, which sends nothing.
absl::StatusOr<std::vector<std::string>> CheckConfigFiles(const BenchmarkConfig& config);

// Created and driven by one thread (the worker's run thread); Snapshot-based, so the engine's
// own threads are never blocked for long.
class ShareRunner {
 public:
  // Resolves the target and prepares the engine (`threads` engine threads; fewer when the share
  // caps concurrency below that). Errors name the config field (target.endpoint, prompts.dataset,
  // an ${env:} variable). An inactive share makes a runner that is finished at once. A
  // conversation's session id (prompts.conversation.sessionHeader) is "<run_id>-<index>".
  static absl::StatusOr<std::unique_ptr<ShareRunner>> Create(const BenchmarkConfig& config,
                                                             const WorkShare& share, int threads,
                                                             std::string_view run_id = "run");
  ~ShareRunner();

  // `run_start_ns` is time 0 of the schedule on MonotonicNowNs()'s clock.
  absl::Status StartAt(int64_t run_start_ns);
  // Stops sending; requests in flight get `drain` to finish, then count as incomplete.
  void StopSending(absl::Duration drain);
  // Ends the schedule at run time `run_ns` (a handover to a rebalanced share).
  void CutScheduleAt(int64_t run_ns);
  bool Finished();
  // What changed since the previous cut. Once Finished(), the delta is the last (finished set).
  absl::StatusOr<ShareDelta> CutDelta();
  int threads() const;

 private:
  ShareRunner() = default;
  std::unique_ptr<engine::Engine> engine_;  // null for an inactive share
  int stage_count_ = 1;
  bool started_ = false;
  std::vector<StatsShard> reported_stages_;
  std::vector<StatsShard> reported_turns_;
  std::vector<IntervalPoint> reported_series_;
  ConnectionStats reported_connections_;
};

}  // namespace bench::worker
