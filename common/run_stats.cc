#include "common/run_stats.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace bench {
namespace {

constexpr std::array<std::string_view, kLatencyMetricCount> kLatencyMetricNames = {
    "ttft", "itl", "tpot", "ntpot", "e2e_latency", "schedule_lag", "e2e_from_intended"};

}  // namespace

std::string_view LatencyMetricName(LatencyMetric metric) {
  return kLatencyMetricNames[static_cast<int>(metric)];
}

bool LatencyMetricFromName(std::string_view name, LatencyMetric* metric) {
  for (int i = 0; i < kLatencyMetricCount; ++i) {
    if (kLatencyMetricNames[i] == name) {
      *metric = static_cast<LatencyMetric>(i);
      return true;
    }
  }
  return false;
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kHttp4xx:
      return "http_4xx";
    case Outcome::kHttp5xx:
      return "http_5xx";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kConnect:
      return "connect";
    case Outcome::kTls:
      return "tls";
    case Outcome::kReset:
      return "reset";
    case Outcome::kRstStream:
      return "rst_stream";
    case Outcome::kGoaway:
      return "goaway";
    case Outcome::kProtocol:
      return "protocol";
    case Outcome::kTruncatedStream:
      return "truncated_stream";
    case Outcome::kInvalidResponse:
      return "invalid_response";
    case Outcome::kResponseTooLarge:
      return "response_too_large";
    case Outcome::kIncomplete:
      return "incomplete";
  }
  return "unknown";
}

std::string ErrorKey(Outcome outcome, int http_status, uint32_t h2_error_code) {
  const std::string name(OutcomeName(outcome));
  switch (outcome) {
    case Outcome::kHttp4xx:
    case Outcome::kHttp5xx:
      return absl::StrCat(name, ":", http_status);
    case Outcome::kRstStream:
      return absl::StrCat(name, ":", h2_error_code);
    default:
      return name;
  }
}

StatsShard::StatsShard() = default;

absl::Status StatsShard::Merge(const StatsShard& other) {
  for (int i = 0; i < kLatencyMetricCount; ++i)
    BENCH_RETURN_IF_ERROR(latency[i].Add(other.latency[i]));
  requests_sent += other.requests_sent;
  succeeded += other.succeeded;
  failed += other.failed;
  incomplete += other.incomplete;
  input_tokens += other.input_tokens;
  output_tokens += other.output_tokens;
  cached_tokens += other.cached_tokens;
  input_tokens_with_cache_info += other.input_tokens_with_cache_info;
  slo_met += other.slo_met;
  usage_missing += other.usage_missing;
  for (const auto& [key, count] : other.errors) errors[key] += count;
  for (const auto& [key, texts] : other.error_examples) {
    for (const std::string& text : texts) AddErrorExample(key, text);
  }
  last_end_ns = std::max(last_end_ns, other.last_end_ns);
  return absl::OkStatus();
}

void StatsShard::AddErrorExample(const std::string& key, std::string_view text) {
  if (text.empty()) return;
  text = text.substr(0, kMaxErrorExampleBytes);
  std::vector<std::string>& texts = error_examples[key];
  if (texts.size() >= kMaxErrorExamples) return;
  if (std::find(texts.begin(), texts.end(), text) != texts.end()) return;
  texts.emplace_back(text);
}

absl::Status StatsShard::Subtract(const StatsShard& earlier) {
  for (int i = 0; i < kLatencyMetricCount; ++i) {
    BENCH_RETURN_IF_ERROR(latency[i].Subtract(earlier.latency[i]));
  }
  auto minus = [](uint64_t& value, uint64_t past, const char* name) -> absl::Status {
    if (past > value) {
      return absl::InvalidArgumentError(
          absl::StrCat("stats subtract: ", name, " ", past, " exceeds ", value));
    }
    value -= past;
    return absl::OkStatus();
  };
  BENCH_RETURN_IF_ERROR(minus(requests_sent, earlier.requests_sent, "requests_sent"));
  BENCH_RETURN_IF_ERROR(minus(succeeded, earlier.succeeded, "succeeded"));
  BENCH_RETURN_IF_ERROR(minus(failed, earlier.failed, "failed"));
  BENCH_RETURN_IF_ERROR(minus(incomplete, earlier.incomplete, "incomplete"));
  BENCH_RETURN_IF_ERROR(minus(input_tokens, earlier.input_tokens, "input_tokens"));
  BENCH_RETURN_IF_ERROR(minus(output_tokens, earlier.output_tokens, "output_tokens"));
  BENCH_RETURN_IF_ERROR(minus(cached_tokens, earlier.cached_tokens, "cached_tokens"));
  BENCH_RETURN_IF_ERROR(minus(input_tokens_with_cache_info, earlier.input_tokens_with_cache_info,
                              "input_tokens_with_cache_info"));
  BENCH_RETURN_IF_ERROR(minus(slo_met, earlier.slo_met, "slo_met"));
  BENCH_RETURN_IF_ERROR(minus(usage_missing, earlier.usage_missing, "usage_missing"));
  if (earlier.last_end_ns > last_end_ns) {
    return absl::InvalidArgumentError(absl::StrCat("stats subtract: last_end_ns ",
                                                   earlier.last_end_ns, " exceeds ", last_end_ns));
  }
  if (last_end_ns == earlier.last_end_ns) last_end_ns = 0;
  for (const auto& [key, count] : earlier.errors) {
    auto it = errors.find(key);
    if (it == errors.end()) {
      return absl::InvalidArgumentError(absl::StrCat("stats subtract: error ", key, " missing"));
    }
    BENCH_RETURN_IF_ERROR(minus(it->second, count, "errors"));
    if (it->second == 0) errors.erase(it);
  }
  // Examples only accumulate: the delta holds those `earlier` did not have yet.
  for (const auto& entry : earlier.error_examples) {
    auto it = error_examples.find(entry.first);
    if (it == error_examples.end()) continue;
    const std::vector<std::string>& past = entry.second;
    std::erase_if(it->second, [&past](const std::string& text) {
      return std::find(past.begin(), past.end(), text) != past.end();
    });
    if (it->second.empty()) error_examples.erase(it);
  }
  return absl::OkStatus();
}

bool StatsShard::Empty() const {
  for (const Histogram& histogram : latency) {
    if (histogram.TotalCount() != 0) return false;
  }
  return requests_sent == 0 && succeeded == 0 && failed == 0 && incomplete == 0 &&
         input_tokens == 0 && output_tokens == 0 && cached_tokens == 0 &&
         input_tokens_with_cache_info == 0 && slo_met == 0 && usage_missing == 0 &&
         errors.empty() && error_examples.empty() && last_end_ns == 0;
}

void StatsShard::Reset() { *this = StatsShard(); }

bool StatsShard::operator==(const StatsShard& other) const {
  return latency == other.latency && requests_sent == other.requests_sent &&
         succeeded == other.succeeded && failed == other.failed && incomplete == other.incomplete &&
         input_tokens == other.input_tokens && output_tokens == other.output_tokens &&
         cached_tokens == other.cached_tokens &&
         input_tokens_with_cache_info == other.input_tokens_with_cache_info &&
         slo_met == other.slo_met && usage_missing == other.usage_missing &&
         errors == other.errors && error_examples == other.error_examples &&
         last_end_ns == other.last_end_ns;
}

void IntervalPoint::AddCounters(const IntervalPoint& other) {
  started += other.started;
  completed += other.completed;
  succeeded += other.succeeded;
  failed += other.failed;
  output_tokens += other.output_tokens;
  input_tokens += other.input_tokens;
  output_chunks += other.output_chunks;
  schedule_lag_us += other.schedule_lag_us;
}

void IntervalPoint::Merge(const IntervalPoint& other) {
  AddCounters(other);
  in_flight += other.in_flight;
  client_queue += other.client_queue;
}

IntervalPoint IntervalPoint::DeltaSince(const IntervalPoint& earlier) const {
  IntervalPoint delta = *this;
  delta.started -= earlier.started;
  delta.completed -= earlier.completed;
  delta.succeeded -= earlier.succeeded;
  delta.failed -= earlier.failed;
  delta.output_tokens -= earlier.output_tokens;
  delta.input_tokens -= earlier.input_tokens;
  delta.output_chunks -= earlier.output_chunks;
  delta.schedule_lag_us -= earlier.schedule_lag_us;
  return delta;
}

void IntervalPoint::ApplyDelta(const IntervalPoint& delta) {
  AddCounters(delta);
  in_flight = delta.in_flight;
  client_queue = delta.client_queue;
}

void ConnectionStats::Merge(const ConnectionStats& other) {
  opened += other.opened;
  failed += other.failed;
  retries += other.retries;
  streams += other.streams;
  bytes += other.bytes;
  max_streams = std::max(max_streams, other.max_streams);
  max_bytes = std::max(max_bytes, other.max_bytes);
  max_concurrent_streams = std::max(max_concurrent_streams, other.max_concurrent_streams);
  if (other.server_max_streams != 0 &&
      (server_max_streams == 0 || other.server_max_streams < server_max_streams)) {
    server_max_streams = other.server_max_streams;
  }
  unreachable_ns = std::max(unreachable_ns, other.unreachable_ns);
  (void)connect_time.Add(other.connect_time);  // Same layout by construction.
}

absl::Status ConnectionStats::Subtract(const ConnectionStats& earlier) {
  for (auto [value, past, name] : {std::tuple{&opened, earlier.opened, "opened"},
                                   std::tuple{&failed, earlier.failed, "failed"},
                                   std::tuple{&retries, earlier.retries, "retries"},
                                   std::tuple{&streams, earlier.streams, "streams"},
                                   std::tuple{&bytes, earlier.bytes, "bytes"}}) {
    if (past > *value) {
      return absl::InvalidArgumentError(
          absl::StrCat("connection stats subtract: ", name, " ", past, " exceeds ", *value));
    }
    *value -= past;
  }
  return connect_time.Subtract(earlier.connect_time);
}

}  // namespace bench
