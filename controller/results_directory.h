// A results directory read back (summary.json, metrics.json, config.yaml, prometheus.json,
// requests.jsonl), for the reports and `compare`: the JSON as written and the charts' data
// decoded from it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/histogram.h"
#include "controller/plots.h"
#include "nlohmann/json.hpp"

namespace bench::controller {

struct ResultsDirectory {
  std::string path;
  nlohmann::ordered_json summary;     // summary.json (required)
  nlohmann::ordered_json metrics;     // metrics.json; null when absent
  nlohmann::ordered_json prometheus;  // prometheus.json; null when absent
  std::string config_yaml;            // config.yaml, secrets already redacted; empty when absent
  ChartData charts;                   // decoded from metrics.json and prometheus.json
  // From requests.jsonl (metrics.raw), when its records carry cached-token counts: the TTFT of
  // in-window successes whose prompt hit the server's prefix cache, and of those that did not.
  struct CacheSplit {
    Histogram ttft_hit;
    Histogram ttft_miss;
  };
  std::optional<CacheSplit> cache_split;
  std::vector<std::string> absent;  // the files above that were not there
};

// kNotFound naming the path when it holds no summary.json; kInvalidArgument naming the file
// and what is wrong when one does not parse.
absl::StatusOr<ResultsDirectory> LoadResultsDirectory(const std::string& path);

}  // namespace bench::controller
