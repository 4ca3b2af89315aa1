// What a validated config will do, worked out without sending anything: durations, expected
// request counts (analytically, from the load shape), requested rates, and the API the endpoint
// selects. `bench-controller validate` prints it; `run` can show it before starting.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/config.h"
#include "common/trace.h"

namespace bench {

struct StagePlan {
  double rate = 0;                              // requests/s
  absl::Duration start = absl::ZeroDuration();  // From the start of the measurement window.
  absl::Duration duration = absl::ZeroDuration();
  double expected_requests = 0;
};

struct Plan {
  std::string name;
  std::string endpoint;    // Empty when the config has none yet.
  std::optional<Api> api;  // From the endpoint's path; unset without an endpoint.
  std::string model;
  Protocol protocol = Protocol::kAuto;
  LoadType type = LoadType::kConstant;

  absl::Duration warmup = absl::ZeroDuration();
  absl::Duration measurement = absl::ZeroDuration();
  absl::Duration total = absl::ZeroDuration();  // warmup + measurement

  bool closed_loop = false;
  // Closed loop: requests kept in flight. Open loop: the cap on requests in flight (0 = none).
  int64_t in_flight = 0;
  bool conversations = false;  // prompts.type conversation: in_flight users hold conversations

  // Expected requests (mean; Poisson and gamma vary around it). Unset when the load shape does
  // not fix it in advance (closed loop without maxRequests, trace).
  std::optional<double> warmup_requests;
  std::optional<double> measured_requests;  // After the maxRequests cap.
  int64_t max_requests = 0;                 // benchmark.maxRequests; 0 = no limit.
  bool capped = false;                      // maxRequests is below the count the shape would send.
  // When the cap ends the measurement early (open-loop shapes only).
  std::optional<absl::Duration> cap_reached_after;

  // Requested rates over the measurement window, requests/s (open loop only). For bursts the
  // peak is the requests released within the busiest second.
  double mean_rate = 0;
  double peak_rate = 0;
  std::string shape;              // The load shape in words.
  std::vector<StagePlan> stages;  // type stages

  // type trace, when the file could be read here and is valid (warmup_requests,
  // measured_requests, mean_rate and peak_rate are then set from it too):
  std::optional<int64_t> trace_requests;             // records in the file
  absl::Duration trace_span = absl::ZeroDuration();  // time of the last record; the first is 0
  int64_t trace_out_of_order = 0;  // lines earlier in time than a line above them (sorted)
  int64_t trace_not_sent = 0;      // records at or after warmup + duration
  std::string trace_note;          // Why trace_requests is unset.
  // The file's errors, one "file:line: ..." per line, when it has any (trace_requests unset).
  std::string trace_error;
  // The parsed file when it was read and valid, so `run` does not read it again.
  std::shared_ptr<const Trace> trace;
};

struct PlanOptions {
  // Read and check load.trace (a regular file only). Off in fuzzing and where the file lives on
  // another machine.
  bool read_trace_file = true;
};

// `config` must have passed ParseConfig.
Plan MakePlan(const BenchmarkConfig& config, const PlanOptions& options = {});

// The plan as readable lines (no trailing newline), e.g.
//   load:      constant, 50 requests/s evenly spaced (open loop), at most 100 in flight
//   requests:  about 15000 measured, about 1500 in warmup
std::string RenderPlan(const Plan& plan);

}  // namespace bench
