#include "controller/results_directory.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/histogram_codec.h"
#include "common/status_macros.h"
#include "controller/json_at.h"
#include "controller/prometheus_collect.h"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

absl::StatusOr<Json> ReadJson(const std::string& path) {
  BENCH_ASSIGN_OR_RETURN(const std::string text, ReadText(path));
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  return json;
}

// metrics.json's {"ttft": {"hdr_v2_compressed_base64": ...}, ...} into a shard's histograms.
absl::Status DecodeHistograms(const Json& metrics, const std::string& where, StatsShard* shard) {
  if (!metrics.is_object()) return absl::OkStatus();
  for (const auto& [name, entry] : metrics.items()) {
    LatencyMetric metric;
    const Json& encoded = JsonAt(entry, "hdr_v2_compressed_base64");
    if (!LatencyMetricFromName(name, &metric) || !encoded.is_string()) continue;
    absl::StatusOr<Histogram> histogram = DecodeCompressedBase64(encoded.get<std::string>());
    if (!histogram.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".", name, ": ", histogram.status().message()));
    }
    shard->histogram(metric) = *std::move(histogram);
  }
  return absl::OkStatus();
}

absl::Status ChartsFromMetrics(const Json& metrics, const Json& summary, ChartData* data) {
  const std::string file = "metrics.json histograms";
  const Json& histograms = JsonAt(metrics, "histograms");
  BENCH_RETURN_IF_ERROR(
      DecodeHistograms(JsonAt(histograms, "overall"), file + ".overall", &data->overall));
  const Json& stages = JsonAt(histograms, "stages");
  const Json& stage_summaries = JsonAt(summary, "stages");
  if (stages.is_array() && stages.size() > 1) {
    for (size_t i = 0; i < stages.size(); ++i) {
      StatsShard shard;
      BENCH_RETURN_IF_ERROR(DecodeHistograms(JsonAt(stages[i], "metrics"),
                                             absl::StrCat(file, ".stages[", i, "]"), &shard));
      data->stages.push_back(std::move(shard));
      const Json& rate = stage_summaries.is_array() && i < stage_summaries.size()
                             ? JsonAt(stage_summaries[i], "rate")
                             : JsonAt(Json(), "rate");
      data->stage_rates.push_back(rate.is_number() ? std::optional<double>(rate.get<double>())
                                                   : std::nullopt);
    }
  }
  auto ns = [](const Json& seconds) {
    return seconds.is_number() ? static_cast<int64_t>(std::llround(seconds.get<double>() * 1e9))
                               : int64_t{0};
  };
  data->interval_ns = ns(JsonAt(metrics, "interval_s"));
  data->warmup_ns = ns(JsonAt(metrics, "warmup_s"));
  data->measured_window_ns = ns(JsonAt(metrics, "measured_window_s"));
  const Json& series = JsonAt(metrics, "series");
  if (!series.is_array()) return absl::OkStatus();
  for (const Json& row : series) {
    auto count = [&row](std::string_view key) {
      const Json& value = JsonAt(row, key);
      return value.is_number_unsigned() || value.is_number_integer() ? value.get<uint64_t>()
                                                                     : uint64_t{0};
    };
    IntervalPoint point;
    point.start_ns = ns(JsonAt(row, "time_s"));
    point.started = count("started");
    point.completed = count("completed");
    point.succeeded = count("succeeded");
    point.failed = count("failed");
    point.output_tokens = count("output_tokens");
    point.input_tokens = count("input_tokens");
    point.output_chunks = count("output_chunks");
    point.in_flight = static_cast<uint32_t>(count("in_flight"));
    point.client_queue = static_cast<uint32_t>(count("client_queue"));
    data->series.push_back(point);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ResultsDirectory> LoadResultsDirectory(const std::string& path) {
  ResultsDirectory results;
  results.path = path;
  const std::string summary_path = path + "/summary.json";
  if (::access(summary_path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no summary.json (not a results directory of llm-d-bench)"));
  }
  BENCH_ASSIGN_OR_RETURN(results.summary, ReadJson(summary_path));
  if (absl::StatusOr<Json> metrics = ReadJson(path + "/metrics.json"); metrics.ok()) {
    results.metrics = *std::move(metrics);
    BENCH_RETURN_IF_ERROR(ChartsFromMetrics(results.metrics, results.summary, &results.charts));
  } else if (metrics.status().code() == absl::StatusCode::kNotFound) {
    results.absent.push_back("metrics.json");
  } else {
    return metrics.status();
  }
  if (absl::StatusOr<std::string> text = ReadText(path + "/prometheus.json"); text.ok()) {
    results.prometheus = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (results.prometheus.is_discarded()) {
      return absl::InvalidArgumentError(absl::StrCat(path, "/prometheus.json: not JSON"));
    }
    results.charts.prometheus = PrometheusSeriesOf(*text);
  }
  if (std::ifstream raw(path + "/requests.jsonl"); raw) {
    // Line by line: a long run's file never has to fit in memory.
    ResultsDirectory::CacheSplit split;
    bool reported = false;
    for (std::string line; std::getline(raw, line);) {
      const Json record = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!record.is_object()) continue;
      const Json& cached = JsonAt(record, "cached_tokens");
      const Json& ttft = JsonAt(record, "ttft_ms");
      if (!cached.is_number() || !ttft.is_number() || JsonAt(record, "outcome") != "success" ||
          JsonAt(record, "in_window") != true) {
        continue;
      }
      reported = true;
      const auto us = static_cast<int64_t>(std::llround(ttft.get<double>() * 1000));
      (cached.get<double>() > 0 ? split.ttft_hit : split.ttft_miss).Record(us);
    }
    if (reported) results.cache_split = std::move(split);
  }
  if (absl::StatusOr<std::string> config = ReadText(path + "/config.yaml"); config.ok()) {
    results.config_yaml = *std::move(config);
  } else {
    results.absent.push_back("config.yaml");
  }
  return results;
}

}  // namespace bench::controller
