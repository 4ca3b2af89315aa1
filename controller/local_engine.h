// The embedded engine of `bench-controller run`: engine threads in this process, no gRPC. It turns
// a validated config into an engine plan, reports progress while the run goes, and hands back a
// RunResult. This file pair is the only place in controller/ that sees worker/engine/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "controller/run_result.h"

namespace bench::controller {

// A live view of a running benchmark, for the progress display.
struct Progress {
  double elapsed_s = 0;  // since time 0 of the schedule (negative before it)
  double total_s = 0;    // warmup + measurement
  bool warming_up = false;
  bool draining = false;      // the schedule is over; waiting for requests in flight
  double requested_rate = 0;  // open loop, requests/s; 0 for a closed loop
  double achieved_rate = 0;   // requests sent per second over the last full interval
  uint64_t started = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint32_t in_flight = 0;
  uint32_t client_queue = 0;
  // TTFT so far (in-window successes), milliseconds; negative when none yet.
  double ttft_p50_ms = -1;
  double ttft_p99_ms = -1;
  bool finished = false;
};

class LocalRun {
 public:
  // Resolves the target, loads the prompts and prepares `threads` engine threads (0: one per
  // core). FailedPrecondition/NotFound/InvalidArgument name what is wrong (unresolvable host, a
  // missing dataset, a missing ${env:} variable) - nothing has been sent then.
  static absl::StatusOr<std::unique_ptr<LocalRun>> Create(const BenchmarkConfig& config,
                                                          int threads);
  ~LocalRun();

  absl::Status Start();
  Progress GetProgress();
  // Stops sending (Ctrl-C): open requests get `drain` to finish, then count as incomplete.
  void Cancel(absl::Duration drain);
  // True when the engine finished within `timeout`.
  bool Wait(absl::Duration timeout);
  // The final figures; call after Wait() returned true.
  RunResult Result();

  int threads() const;
  absl::Time started_at() const { return started_at_; }

 private:
  struct State;
  explicit LocalRun(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
  absl::Time started_at_;
};

}  // namespace bench::controller
