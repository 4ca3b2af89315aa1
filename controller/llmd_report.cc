#include "controller/llmd_report.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/config_yaml.h"
#include "common/histogram.h"
#include "common/run_stats.h"
#include "common/version.h"
#include "nlohmann/json.hpp"
#include "openssl/evp.h"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

// YAML's infinity (llm-d writes an uncapped concurrency as .inf); JSON has no such number.
constexpr char kInfinity[] = "\x01.inf";

// Block-style YAML from a JSON tree. Strings are written JSON-quoted (valid YAML scalars).
void EmitYaml(const Json& node, int indent, std::string* out) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  auto scalar = [](const Json& value) -> std::string {
    if (value.is_string() && value.get<std::string>() == kInfinity) return ".inf";
    return value.dump();
  };
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if ((value.is_object() || value.is_array()) && !value.empty()) {
        absl::StrAppend(out, pad, key, ":\n");
        EmitYaml(value, indent + 2, out);
      } else {
        absl::StrAppend(out, pad, key, ": ",
                        value.is_object()  ? "{}"
                        : value.is_array() ? "[]"
                                           : scalar(value),
                        "\n");
      }
    }
  } else if (node.is_array()) {
    for (const Json& value : node) {
      if (value.is_object() && !value.empty()) {
        std::string item;
        EmitYaml(value, indent + 2, &item);
        // The first key goes on the dash's line.
        absl::StrAppend(out, pad, "- ", item.substr(static_cast<size_t>(indent) + 2));
      } else {
        absl::StrAppend(out, pad, "- ", scalar(value), "\n");
      }
    }
  }
}

// Statistics of a latency histogram (microseconds) in seconds, llm-d's percentile keys.
Json LatencyStatistics(const Histogram& histogram, const char* units) {
  Json stats;
  stats["units"] = units;
  if (histogram.TotalCount() == 0) {
    stats["mean"] = nullptr;
    return stats;
  }
  auto seconds = [](double us) { return std::round(us) / 1e6; };
  stats["mean"] = histogram.Mean() / 1e6;
  stats["stddev"] = histogram.StdDev() / 1e6;
  stats["min"] = seconds(static_cast<double>(histogram.Min()));
  static constexpr std::pair<const char*, double> kPercentiles[] = {
      {"p0p1", 0.1}, {"p1", 1},   {"p5", 5},   {"p10", 10}, {"p25", 25},    {"p50", 50},
      {"p75", 75},   {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p99p9", 99.9}};
  for (const auto& [key, percentile] : kPercentiles) {
    stats[key] = seconds(static_cast<double>(histogram.ValueAtPercentile(percentile)));
  }
  stats["max"] = seconds(static_cast<double>(histogram.Max()));
  return stats;
}

Json MeanStatistics(const char* units, std::optional<double> mean) {
  return Json{{"units", units}, {"mean", mean.has_value() ? Json(*mean) : Json(nullptr)}};
}

std::string Hex(const unsigned char* bytes, size_t size) {
  std::string hex;
  for (size_t i = 0; i < size; ++i) absl::StrAppendFormat(&hex, "%02x", bytes[i]);
  return hex;
}

std::string UuidText(unsigned char bytes[16]) {
  const std::string hex = Hex(bytes, 16);
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20, 12));
}

std::string RandomUuid4() {
  std::random_device device;
  unsigned char bytes[16];
  for (unsigned char& byte : bytes) byte = static_cast<unsigned char>(device());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  return UuidText(bytes);
}

// RFC 4122 name-based UUID (SHA-1) in the URL namespace, as llm-d derives experiment ids.
std::string Uuid5Url(const std::string& name) {
  static constexpr unsigned char kNamespaceUrl[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad,
                                                      0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0,
                                                      0x4f, 0xd4, 0x30, 0xc8};
  std::string input(reinterpret_cast<const char*>(kNamespaceUrl), 16);
  input += name;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha1(), nullptr);
  unsigned char bytes[16];
  for (int i = 0; i < 16; ++i) bytes[i] = digest[i];
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x50);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  return UuidText(bytes);
}

Json SequenceLength(const LengthDistribution& length, bool synthetic, std::optional<double> seen) {
  Json json;
  if (!synthetic) {
    // Lengths come from a dataset: what was sent, on average.
    json["distribution"] = "other";
    json["value"] = seen.has_value() ? Json(*seen) : Json(0);
    return json;
  }
  json["distribution"] = length.stddev > 0 ? "gaussian" : "fixed";
  json["value"] = length.mean;
  if (length.stddev > 0) json["std_dev"] = length.stddev;
  json["min"] = length.min;
  json["max"] = length.max;
  return json;
}

std::string Iso(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

// One report: the whole window (`stage` 0 of a one-stage run) or one stage of a stages run.
Json Report(const BenchmarkConfig& config, const RunResult& result, const RunSummary& summary,
            const BlockSummary& block, const StatsShard& shard, int stage_index,
            std::optional<double> rate, const std::string& experiment_id) {
  absl::Time run_start = absl::UnixEpoch();
  std::string error;
  (void)absl::ParseTime(absl::RFC3339_full, result.started_at_utc, &run_start, &error);
  const absl::Time start =
      run_start + absl::Nanoseconds(result.warmup_ns) + absl::Seconds(block.begin_s);
  const absl::Time end = start + absl::Seconds(block.window_s);

  Json report;
  report["version"] = "0.2";
  Json run;
  run["uid"] = RandomUuid4();
  run["eid"] = experiment_id;
  run["time"] = Json{{"start", Iso(start)},
                     {"end", Iso(end)},
                     {"duration", absl::StrFormat("PT%.3fS", block.window_s)}};
  run["description"] = absl::StrCat(summary.model, " [", summary.name, "]");
  run["keywords"] = Json::array({"llm-d-bench", summary.load_type});
  report["run"] = std::move(run);

  const bool synthetic = config.prompts.type == PromptsType::kSynthetic;
  const double succeeded = static_cast<double>(shard.succeeded);
  std::optional<double> mean_input, mean_output;
  if (shard.succeeded > 0) {
    mean_input = static_cast<double>(shard.input_tokens) / succeeded;
    mean_output = static_cast<double>(shard.output_tokens) / succeeded;
  }
  Json load;
  load["metadata"] = Json{{"schema_version", "0.0.1"},
                          {"cfg_id", summary.config_sha256},
                          {"description", absl::StrCat(summary.load_type, " load")}};
  Json standardized;
  standardized["tool"] = kToolName;
  standardized["tool_version"] = kToolVersion;
  standardized["parallelism"] = std::max(1, summary.workers);
  standardized["source"] = synthetic ? "random" : "sampled";
  standardized["stage"] = stage_index;
  standardized["input_seq_len"] =
      SequenceLength(config.prompts.input_length, synthetic, mean_input);
  standardized["output_seq_len"] =
      SequenceLength(config.prompts.output_length, synthetic, mean_output);
  if (config.prompts.prefix_ratio > 0) {
    standardized["prefix"] =
        Json{{"prefix_len", Json{{"distribution", "fixed"},
                                 {"value", std::round(config.prompts.prefix_ratio *
                                                      config.prompts.input_length.mean)}}},
             {"num_groups", config.prompts.prefix_groups}};
  }
  if (rate.has_value() && *rate > 0) standardized["rate_qps"] = *rate;
  standardized["concurrency"] =
      summary.concurrency > 0 ? Json(summary.concurrency) : Json(kInfinity);
  load["standardized"] = std::move(standardized);
  // The exact profile: the resolved config as config.yaml has it (secrets redacted).
  load["native"] = Json{{"args", Json::object()},
                        {"envars", Json::object()},
                        {"config", ConfigToYaml(RedactSecrets(config))}};
  Json target;
  target["metadata"] = Json{{"schema_version", "0.0.1"},
                            {"label", "target"},
                            {"cfg_id", summary.config_sha256},
                            {"description", "the endpoint under test"}};
  target["standardized"] = Json{{"kind", "generic"},
                                {"tool", "openai-compatible endpoint"},
                                {"tool_version", "unknown"},
                                {"endpoint", summary.endpoint},
                                {"model", summary.model}};
  report["scenario"] = Json{{"stack", Json::array({target})}, {"load", std::move(load)}};

  Json aggregate;
  aggregate["requests"] = Json{{"total", block.requests.in_window},
                               {"failures", block.requests.failed},
                               {"incomplete", block.requests.incomplete},
                               {"input_length", MeanStatistics("count", mean_input)},
                               {"output_length", MeanStatistics("count", mean_output)}};
  aggregate["latency"] = Json{
      {"time_to_first_token", LatencyStatistics(shard.histogram(LatencyMetric::kTtft), "s")},
      {"normalized_time_per_output_token",
       LatencyStatistics(shard.histogram(LatencyMetric::kNtpot), "s/token")},
      {"time_per_output_token",
       LatencyStatistics(shard.histogram(LatencyMetric::kTpot), "s/token")},
      {"inter_token_latency", LatencyStatistics(shard.histogram(LatencyMetric::kItl), "s/token")},
      {"request_latency", LatencyStatistics(shard.histogram(LatencyMetric::kE2eLatency), "s")}};
  const ThroughputSummary& t = block.throughput;
  std::optional<double> input_rate;
  if (t.total_tokens_per_s.has_value() && t.output_tokens_per_s.has_value()) {
    input_rate = *t.total_tokens_per_s - *t.output_tokens_per_s;
  }
  Json request_rate = MeanStatistics("queries/s", t.requests_per_s);
  if (t.per_interval.has_value()) {
    request_rate["min"] = t.per_interval->min;
    request_rate["p50"] = t.per_interval->p50;
    request_rate["max"] = t.per_interval->max;
  }
  aggregate["throughput"] =
      Json{{"input_token_rate", MeanStatistics("tokens/s", input_rate)},
           {"output_token_rate", MeanStatistics("tokens/s", t.output_tokens_per_s)},
           {"total_token_rate", MeanStatistics("tokens/s", t.total_tokens_per_s)},
           {"request_rate", std::move(request_rate)}};
  report["results"] = Json{{"request_performance", Json{{"aggregate", std::move(aggregate)}}}};
  return report;
}

}  // namespace

std::string LlmdReportYaml(const BenchmarkConfig& config, const RunResult& result,
                           const RunSummary& summary) {
  // Stages of one run share the experiment id.
  const std::string experiment =
      Uuid5Url(absl::StrCat("llm-d-bench:", summary.name, ":", result.started_at_utc));
  std::string out;
  auto emit = [&out](const Json& report) {
    absl::StrAppend(&out, "---\n");
    EmitYaml(report, 0, &out);
  };
  if (summary.stages.empty()) {
    StatsShard merged;
    for (const StatsShard& stage : result.stages) (void)merged.Merge(stage);
    std::optional<double> rate;
    if (result.requested_rate > 0 && !result.closed_loop) rate = result.requested_rate;
    emit(Report(config, result, summary, summary.overall, merged, 0, rate, experiment));
  } else {
    for (size_t i = 0; i < summary.stages.size() && i < result.stages.size(); ++i) {
      const BlockSummary& block = summary.stages[i];
      emit(Report(config, result, summary, block, result.stages[i], static_cast<int>(i),
                  block.stage_rate, experiment));
    }
  }
  return out;
}

}  // namespace bench::controller
