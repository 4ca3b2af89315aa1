#include "common/run_stats.h"

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
  return absl::OkStatus();
}

void StatsShard::Reset() { *this = StatsShard(); }

bool StatsShard::operator==(const StatsShard& other) const {
  return latency == other.latency && requests_sent == other.requests_sent &&
         succeeded == other.succeeded && failed == other.failed && incomplete == other.incomplete &&
         input_tokens == other.input_tokens && output_tokens == other.output_tokens &&
         cached_tokens == other.cached_tokens &&
         input_tokens_with_cache_info == other.input_tokens_with_cache_info &&
         slo_met == other.slo_met && usage_missing == other.usage_missing && errors == other.errors;
}

void IntervalPoint::Merge(const IntervalPoint& other) {
  started += other.started;
  completed += other.completed;
  succeeded += other.succeeded;
  failed += other.failed;
  output_tokens += other.output_tokens;
  output_chunks += other.output_chunks;
  in_flight += other.in_flight;
  client_queue += other.client_queue;
}

}  // namespace bench
