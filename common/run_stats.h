// What a benchmark measures, as mergeable pieces: per-metric latency histograms, outcome
// counters and token counts (a StatsShard), and per-interval series points. Engine threads
// record into their own shards; workers ship deltas; the controller merges them exactly.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/histogram.h"

namespace bench {

// The per-request latency metrics of SPEC section 3. Histograms hold microseconds.
enum class LatencyMetric : int {
  kTtft = 0,         // first output chunk - sent
  kItl,              // every gap between consecutive output chunks
  kTpot,             // (last chunk - first chunk) / (N - 1), N > 1
  kNtpot,            // e2e_latency / N
  kE2eLatency,       // end - sent
  kScheduleLag,      // sent - intended
  kE2eFromIntended,  // end - intended (free of coordinated omission)
};
inline constexpr int kLatencyMetricCount = 7;
// "ttft", "itl", "tpot", "ntpot", "e2e_latency", "schedule_lag", "e2e_from_intended".
std::string_view LatencyMetricName(LatencyMetric metric);
// The inverse; false for an unknown name.
bool LatencyMetricFromName(std::string_view name, LatencyMetric* metric);

// How a request ended (SPEC section 3 error categories, plus success and incomplete).
enum class Outcome : int {
  kSuccess = 0,
  kHttp4xx,
  kHttp5xx,
  kTimeout,
  kConnect,
  kTls,
  kReset,
  kRstStream,
  kGoaway,
  kProtocol,
  kTruncatedStream,
  kInvalidResponse,
  kResponseTooLarge,  // past target.maxResponseBytes or maxResponseTokens; reading stopped
  kIncomplete,        // still running when the drain ended: never a success, not an error either
};
std::string_view OutcomeName(Outcome outcome);
// The key errors are counted under: "http_5xx:503", "rst_stream:2", "timeout", ...
std::string ErrorKey(Outcome outcome, int http_status, uint32_t h2_error_code);

// One request as requests.jsonl keeps it (metrics.raw). Times are ns since the run's start
// (time 0 of the schedule, common to every worker); -1: did not happen.
struct RequestRecord {
  int64_t intended_ns = -1;
  int64_t sent_ns = -1;
  int64_t first_chunk_ns = -1;
  int64_t last_chunk_ns = -1;
  int64_t end_ns = -1;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_tokens = -1;  // -1: the server did not say
  uint64_t chunks = 0;
  uint32_t stage = 0;  // 0-based
  int32_t turn = -1;   // a conversation's turn, 0-based; -1 outside conversations
  bool in_window = false;
  std::string outcome;  // "success", "incomplete" or the ErrorKey ("http_5xx:503")
  // metrics.rawTokenTimes: the gaps between consecutive output chunks in order, in us; empty and
  // chunk_gaps_folded when there were too many to keep one by one (ChunkGaps::kMaxRawGaps).
  std::vector<int64_t> chunk_gaps_us;
  bool chunk_gaps_folded = false;
  bool operator==(const RequestRecord&) const = default;
};

// Aggregates over a set of requests. A value type; merge with Merge(). Not thread-safe.
struct StatsShard {
  StatsShard();

  std::array<Histogram, kLatencyMetricCount> latency;
  uint64_t requests_sent = 0;  // requests whose outcome is counted below
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t incomplete = 0;
  uint64_t input_tokens = 0;                  // usage.prompt_tokens, else the generator's count
  uint64_t output_tokens = 0;                 // usage.completion_tokens, else the chunk count
  uint64_t cached_tokens = 0;                 // usage.prompt_tokens_details.cached_tokens
  uint64_t input_tokens_with_cache_info = 0;  // prompt tokens of responses that reported cache
  uint64_t slo_met = 0;                       // successes that met every SLO (goodput)
  uint64_t usage_missing = 0;                 // successes without usage: N came from chunk counts
  std::map<std::string, uint64_t> errors;     // ErrorKey -> count; ordered for stable output
  // ErrorKey -> up to kMaxErrorExamples distinct explanations ("certificate has expired", the
  // start of an HTTP error body), each at most kMaxErrorExampleBytes, first seen first.
  std::map<std::string, std::vector<std::string>> error_examples;
  static constexpr size_t kMaxErrorExamples = 3;
  static constexpr size_t kMaxErrorExampleBytes = 200;
  // When the last of these requests that finished (succeeded or failed) ended, in ns since the
  // run's start; 0 when none did. Completions divided by the time from the window's start to
  // this are the rate the target really sustained (a drain longer than usual shows overload).
  // A maximum: Merge takes the larger; Subtract leaves 0 when it did not move.
  int64_t last_end_ns = 0;

  Histogram& histogram(LatencyMetric metric) { return latency[static_cast<int>(metric)]; }
  const Histogram& histogram(LatencyMetric metric) const {
    return latency[static_cast<int>(metric)];
  }
  // Adds `other` bucket for bucket and counter for counter: exact. Error examples are united
  // (this shard's first) up to the cap.
  absl::Status Merge(const StatsShard& other);
  // Keeps `text` as an example of `key` unless the key has its examples or already this one;
  // cut to kMaxErrorExampleBytes.
  void AddErrorExample(const std::string& key, std::string_view text);
  // Removes `earlier` (a past state of this shard): what was recorded since. kInvalidArgument
  // (this shard then unspecified) when `earlier` is not a past state.
  absl::Status Subtract(const StatsShard& earlier);
  // True when nothing was recorded.
  bool Empty() const;
  void Reset();
  bool operator==(const StatsShard& other) const;
};

// One bucket of the per-interval time series (metrics.interval).
struct IntervalPoint {
  int64_t start_ns = 0;    // since the run's start
  uint64_t started = 0;    // requests sent in the interval
  uint64_t completed = 0;  // requests that ended in the interval (any outcome)
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t output_tokens = 0;    // tokens of requests that ended in the interval
  uint64_t output_chunks = 0;    // output chunks that arrived in the interval
  uint32_t in_flight = 0;        // at the end of the interval
  uint32_t client_queue = 0;     // at the end of the interval
  uint64_t input_tokens = 0;     // prompt tokens of the successes that ended in the interval
  uint64_t schedule_lag_us = 0;  // schedule lag summed over the requests sent in the interval
  void Merge(const IntervalPoint& other);        // sums; gauges add across threads
  void AddCounters(const IntervalPoint& other);  // sums the counters, leaves the gauges
  // The counters recorded since `earlier` (a past state of this point); gauges keep this point's
  // values, since a gauge is a reading, not a sum.
  IntervalPoint DeltaSince(const IntervalPoint& earlier) const;
  // Adds a delta's counters and takes its gauges (one source's point over time).
  void ApplyDelta(const IntervalPoint& delta);
  bool operator==(const IntervalPoint&) const = default;
};

// What the engine's connections did: counts that add up, per-connection maxima (the busiest
// connection, for spotting streams piled onto one), the server's stream limit and how long the
// target could not be reached. Sums merge by adding; maxima (and the server's limit, a minimum)
// are cumulative readings that merge by taking the larger (smaller): a delta carries them whole.
struct ConnectionStats {
  uint64_t opened = 0;       // connection attempts
  uint64_t failed = 0;       // connections that ended in an error while requests were on them
  uint64_t retries = 0;      // requests sent again (stale keep-alive, REFUSED_STREAM, above GOAWAY)
  uint64_t streams = 0;      // requests carried, summed over connections
  uint64_t bytes = 0;        // response bytes read (plaintext), summed over connections
  uint64_t max_streams = 0;  // requests carried by the busiest connection
  uint64_t max_bytes = 0;    // bytes read by the busiest connection
  uint64_t max_concurrent_streams = 0;  // most requests open at once on one connection
  // The smallest SETTINGS_MAX_CONCURRENT_STREAMS an HTTP/2 server announced; 0 = none seen.
  uint64_t server_max_streams = 0;
  // Time with the target unreachable (connect attempts failing, backing off): the longest of
  // any one engine thread, not a sum.
  int64_t unreachable_ns = 0;
  // Microseconds from starting to connect to ready (TCP, plus the TLS handshake), one sample per
  // connection that got there; its count is the number of connections that connected.
  Histogram connect_time;

  void Merge(const ConnectionStats& other);
  // What changed since `earlier` (a past state): sums subtract, histograms too; maxima stay.
  absl::Status Subtract(const ConnectionStats& earlier);
  bool operator==(const ConnectionStats&) const = default;
};

}  // namespace bench
