// The numbers a user reads at the end of a run: Summarize() turns a RunResult into figures
// (latency percentiles in ms, counts, rates, goodput, cache hit ratio, SLO verdicts, the
// generator check of SPEC section 3 and warnings), which render as summary.json, as the console
// table and as the process exit code (SPEC section 7). Field meanings: controller/RESULTS.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/run_stats.h"
#include "controller/run_result.h"
#include "nlohmann/json_fwd.hpp"

namespace bench::controller {

struct PercentileValue {
  double percentile;  // 50, 99.9, ...
  double value_ms;
};

// One latency metric of SPEC section 3. When count == 0 the values are meaningless (0) and the
// JSON writes them as null: an absent measurement must not look like a fast one.
struct MetricSummary {
  std::string name;  // "ttft", "itl", ... (LatencyMetricName)
  uint64_t count = 0;
  double mean_ms = 0;
  double stddev_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  std::vector<PercentileValue> percentiles;  // metrics.percentiles, in config order
  uint64_t clamped = 0;  // samples above the histogram's range (1 h), recorded as 1 h
};

// Outcomes of the requests whose intended time is in the window.
struct RequestSummary {
  uint64_t in_window = 0;  // succeeded + failed + incomplete
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t incomplete = 0;
  std::optional<double> error_rate;  // failed / (succeeded + failed); unset when both are 0
  // ErrorKey ("http_5xx:503", "timeout", ...) -> count, most frequent first (ties by key).
  std::vector<std::pair<std::string, uint64_t>> errors;
  // ErrorKey -> up to 3 explanations, first seen first (StatsShard::error_examples).
  std::map<std::string, std::vector<std::string>> error_examples;
};

// Successful requests per second over the full intervals of the window.
struct IntervalDistribution {
  uint64_t intervals = 0;
  double min = 0;
  double mean = 0;
  double max = 0;
  double p50 = 0;
};

// Rates over the measured window; unset when the window has no length.
// What the target served (SPEC section 3): successes that *ended* inside the window, per second
// of the window. Under overload this is the target's capacity, not the offered rate (which is
// RateSummary::achieved_rate: requests sent in the window / window).
struct ThroughputSummary {
  std::optional<double> requests_per_s;       // successes that ended in the window / window
  std::optional<double> output_tokens_per_s;  // their output tokens / window
  std::optional<double> total_tokens_per_s;   // their (input + output) tokens / window
  uint64_t completed_in_window = 0;           // those successes
  uint64_t input_tokens = 0;                  // tokens of the window's requests, however late
  uint64_t output_tokens = 0;
  std::optional<IntervalDistribution> per_interval;  // unset: no full interval in the window
  // From the window's end to the end of the last of its requests that finished; unset when none
  // did. Longer than a request's latency: the target was still working off a queue.
  std::optional<double> drain_s;
  // The target completed clearly fewer requests than were sent over the window's second half
  // (beyond the arrivals' own noise): it could not keep up (open loop only).
  bool target_behind = false;
  std::string target_behind_message;
};

struct RateSummary {
  bool closed_loop = false;
  std::optional<double> requested_rate;  // req/s; unset for closed loops and unknown schedules
  uint64_t sent = 0;                     // in-window requests sent (schedule_lag samples)
  // Failures that never reached the wire (connect, TLS): dispatched on time by the generator, so
  // not a generator shortfall. At least in_window - incomplete - sent.
  uint64_t failed_before_send = 0;
  std::optional<double> achieved_rate;   // sent / measured window
  std::optional<double> achieved_ratio;  // achieved / requested
};

struct CacheSummary {
  std::optional<double> hit_ratio;  // cached_tokens / input_tokens_with_cache_info
  uint64_t cached_tokens = 0;
  uint64_t input_tokens_with_cache_info = 0;
  std::string reason;  // why hit_ratio is unset; empty when it is set
  // Where hit_ratio comes from: "usage" (the responses' cached-token counts) or "prometheus
  // counters" (metrics.prometheus, when the responses carry none); empty when unset.
  std::string source;
  std::optional<double> hit_ratio_from_counters;  // metrics.prometheus's, whenever read
};

// The figures of one stage, or of all stages merged (the headline).
// One SLO threshold of the config against the merged figures. Latency thresholds use the
// *_ms fields; the errorRate.max verdict (metric "errorRate") uses the *_error_rate fields.
struct SloVerdict {
  std::string metric;     // "ttft", ..., or "errorRate"
  double percentile = 0;  // latency thresholds only
  double limit_ms = 0;
  double actual_ms = 0;
  double limit_error_rate = 0;
  double actual_error_rate = 0;
  bool has_actual = false;  // false: no samples (or no finished request), and the verdict fails
  bool passed = false;
};

struct BlockSummary {
  int stage = 0;                     // 1-based; 0 for the merged block
  std::optional<double> stage_rate;  // the stage's configured rate (stage blocks of stages)
  double begin_s = 0;                // where the block starts in the window
  double window_s = 0;               // the measured window this block covers
  RequestSummary requests;
  std::vector<MetricSummary> latency;  // every LatencyMetric, in enum order
  ThroughputSummary throughput;
  RateSummary rates;
  uint64_t slo_met = 0;
  std::optional<double> goodput_rps;  // slo_met / window, only when the config has latency SLOs
  CacheSummary cache;
  // The config's SLOs judged on this block alone (stage blocks; empty when the config sets no
  // SLO or the stage never ran).
  std::vector<SloVerdict> slo;
  // SPEC section 3: achieved < 99% of requested, or p99 schedule_lag > 1 ms with free concurrency.
  bool generator_limited = false;
  std::string generator_message;  // what the check found, e.g. "achieved 1,932 req/s of ..."
  // The saturation rules that tripped, each naming its figure ("rule lag-p50: ..."); empty when
  // the generator kept up.
  std::vector<std::string> generator_rules;
  // The p99 schedule lag: the client's own timing noise, reported, not judged.
  std::optional<double> timing_noise_p99_ms;
};

struct Warning {
  std::string code;  // "generator-limited", "usage-missing", "histogram-clamped", ...
  std::string message;
};

struct RunSummary {
  std::string name;
  // What was measured and with what (summary.json's target and tool blocks).
  std::string endpoint;  // without userinfo
  std::string model;
  std::string api;            // ApiName
  std::string protocol;       // ProtocolName
  std::string host;           // the controller's host
  std::string config_sha256;  // of config.yaml as written: the same config, the same hash
  std::string load_type;      // LoadTypeName
  bool closed_loop = false;
  int64_t concurrency = 0;  // the cap (open loop, 0 = none) or the users (closed loop)
  std::vector<double> percentiles;
  // metrics.collect: what the console table shows (summary.json always holds everything).
  std::vector<std::string> collect;
  uint32_t peak_in_flight = 0;  // the most requests in flight at any interval's end
  double warmup_s = 0;
  double window_s = 0;           // configured
  double measured_window_s = 0;  // as it lasted
  double interval_s = 0;
  std::string started_at_utc;
  std::string finished_at_utc;
  bool cancelled = false;
  bool aborted = false;      // slo.abortOnFail stopped it
  std::string abort_reason;  // which SLO broke, e.g. "stage 2: ttft p99 812 ms (limit 500 ms) FAIL"
  uint64_t window_started = 0;

  BlockSummary overall;
  std::vector<BlockSummary> stages;  // only when the run had more than one stage
  // Conversations: one block per turn (`stage` is the 1-based turn); the last also holds every
  // later turn when turns_capped. Empty otherwise.
  std::vector<BlockSummary> turns;
  bool turns_capped = false;
  // prompts.tokenizer was given: successes without usage had their reply text counted by it.
  bool output_tokens_counted = false;

  std::vector<SloVerdict> slo;  // empty when the config sets no SLO; the whole window
  // The first stage (1-based) whose own figures broke an SLO, 0 when none did: the capacity
  // answer of a stages run. A broken stage fails the run even when the whole window passes.
  int first_failed_stage = 0;
  uint32_t peak_client_queue = 0;
  std::vector<Warning> warnings;
  std::vector<std::string> notes;

  ConnectionStats connections;
  int64_t asked_connections = 0;           // target.connections
  int64_t max_streams_per_connection = 0;  // target.maxStreamsPerConnection
  int engine_threads = 0;
  int workers = 0;
  std::vector<WorkerFigures> worker_figures;  // one per worker of the run
};

RunSummary Summarize(const BenchmarkConfig& config, const RunResult& result);

// The `connections` object of summary.json (and of metrics.json, which adds the connect-time
// histogram): counts, per-connection streams and bytes (mean over the connections that connected,
// and the busiest), connect time percentiles in ms, time unreachable.
nlohmann::ordered_json ConnectionsToJson(const ConnectionStats& connections);

// slo.abortOnFail: the config's SLOs judged on `figures` (a stage, or the window so far); the
// broken verdicts as text, or nullopt when none broke. While the figures are still growing
// (`complete` false) a percentile is judged only once a sample lies above it (p99: 100 samples)
// and the error rate once one error more than the limit allows could show.
std::optional<std::string> BrokenSlo(const BenchmarkConfig& config, const StatsShard& figures,
                                     bool complete);

// summary.json: pretty-printed, keys in a fixed documented order (controller/RESULTS.md).
std::string SummaryToJson(const RunSummary& summary);

// The console summary; every line fits in 100 columns. Ends with a newline.
std::string RenderSummaryTable(const RunSummary& summary);

// SPEC section 7: 5 cancelled; 1 nothing succeeded (target unreachable, every request failed
// or never finished); 4 aborted by slo.abortOnFail; 3 an SLO verdict failed (the whole window's
// or a stage's); else 0.
int ExitCodeFor(const RunSummary& summary);

}  // namespace bench::controller
