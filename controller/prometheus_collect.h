// metrics.prometheus: after a run, the controller reads the configured PromQL queries over the
// run's window from Prometheus's HTTP API (query_range) into prometheus.json, and the prefix
// cache hit ratio from vLLM's counters (for servers whose responses carry no cached-token
// counts). An unreachable Prometheus is a warning, never a failed run.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace bench::controller {

struct PrometheusSeries {
  std::string query_name;                         // the configured name
  std::string label;                              // its labels, for a legend
  std::vector<std::pair<double, double>> points;  // (seconds since the window's start, value)
};

struct PrometheusCollection {
  std::string json;                       // prometheus.json's text
  std::optional<double> cache_hit_ratio;  // increase(hits) / increase(queries) over the window
  std::string error;  // why some or all of it could not be read; empty when all was
  std::vector<PrometheusSeries> series;
};

// The queries a run asks for: metrics.prometheus.queries, or vLLM's running and waiting
// requests and KV cache usage when none are listed.
std::vector<PrometheusQuery> PrometheusQueries(const PrometheusConfig& config);

// Before anything is sent: kInvalidArgument for an https:// endpoint (not supported yet).
absl::Status CheckPrometheusEndpoint(const BenchmarkConfig& config);

// Reads [start, end] at config.step; each HTTP request gives up after `timeout`.
PrometheusCollection CollectPrometheus(const PrometheusConfig& config, absl::Time start,
                                       absl::Time end, absl::Duration timeout);

// The series of prometheus.json's text (CollectPrometheus's `json`), times relative to its
// start; empty when it holds none or does not parse.
std::vector<PrometheusSeries> PrometheusSeriesOf(const std::string& prometheus_json);

}  // namespace bench::controller
