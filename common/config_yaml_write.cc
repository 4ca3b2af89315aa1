// The config as YAML: every field written out in the canonical forms ParseConfig reads back.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/config_yaml.h"
#include "common/duration.h"

namespace bench {
namespace {

// A YAML double-quoted scalar. Bytes >= 0x80 pass through (the text is valid UTF-8); the code
// points YAML treats as line breaks or a BOM are escaped so they survive a re-parse.
std::string YamlQuote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02X", byte);
      out += buffer;
    } else if (byte == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      char buffer[8];  // C1 controls, NEL among them.
      std::snprintf(buffer, sizeof(buffer), "\\u%04X", static_cast<unsigned char>(text[i + 1]));
      out += buffer;
      ++i;
    } else if (byte == 0xE2 && i + 2 < text.size() && text[i + 1] == '\x80' &&
               (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
      out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else if (byte == 0xEF && i + 2 < text.size() && text[i + 1] == '\xBB' &&
               text[i + 2] == '\xBF') {
      out += "\\uFEFF";
      i += 2;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Compact JSON -> the same JSON with a space after ':' and ',' (yaml-cpp reads flow
// collections more reliably that way).
std::string JsonForYaml(std::string_view json) {
  std::string out;
  bool in_string = false;
  bool escaped = false;
  for (char c : json) {
    out += c;
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ':' || c == ',') {
      out += ' ';
    }
  }
  return out;
}

std::string FormatPercentileKey(double percentile) { return "p" + FormatConfigNumber(percentile); }

}  // namespace

std::string FormatByteSize(int64_t bytes) {
  for (const auto& [unit, factor] : {std::pair<const char*, int64_t>{"GiB", int64_t{1} << 30},
                                     {"MiB", int64_t{1} << 20},
                                     {"KiB", int64_t{1} << 10}}) {
    if (bytes >= factor && bytes % factor == 0) return std::to_string(bytes / factor) + unit;
  }
  return std::to_string(bytes);
}

std::string FormatConfigNumber(double value) {
  char buffer[64];
  const double magnitude = std::fabs(value);
  if (magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e15)) {
    for (int decimals = 0; decimals <= 24; ++decimals) {
      std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
      if (std::strtod(buffer, nullptr) == value) return buffer;
    }
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string ConfigToYaml(const BenchmarkConfig& config) {
  return ConfigToYamlWithSecrets(RedactSecrets(config));
}

std::string ConfigToYamlWithSecrets(const BenchmarkConfig& config) {
  std::string out;
  const auto line = [&out](int indent, const std::string& text) {
    out.append(static_cast<size_t>(indent), ' ');
    out += text;
    out += '\n';
  };
  const auto number_list = [](const std::vector<double>& values) {
    std::vector<std::string> parts;
    for (double value : values) parts.push_back(FormatConfigNumber(value));
    return "[" + absl::StrJoin(parts, ", ") + "]";
  };

  const BenchmarkSection& b = config.benchmark;
  line(0, "benchmark:");
  line(2, "name: " + YamlQuote(b.name));
  line(2, "duration: " + FormatCompactDuration(b.duration));
  line(2, "warmup: " + FormatCompactDuration(b.warmup));
  line(2, "seed: " + std::to_string(b.seed));
  line(2, "maxRequests: " + std::to_string(b.max_requests) +
              (b.max_requests == 0 ? "  # no limit" : ""));

  const TargetConfig& t = config.target;
  line(0, "target:");
  if (t.endpoint.empty()) {
    line(2, "# endpoint: not set (run needs --endpoint URL)");
  } else {
    line(2, "endpoint: " + YamlQuote(t.endpoint));
  }
  if (t.model.empty()) {
    line(2, "# model: not set (the run takes the one /v1/models lists, or --model NAME)");
  } else {
    line(2, "model: " + YamlQuote(t.model));
  }
  line(2, "protocol: " + std::string(ProtocolName(t.protocol)));
  if (t.headers.empty()) {
    line(2, "headers: {}");
  } else {
    line(2, "headers:");
    for (const Header& header : t.headers) {
      line(4, YamlQuote(header.name) + ": " + YamlQuote(header.value));
    }
  }
  line(2, "timeout: " + FormatCompactDuration(t.timeout));
  line(2, "tls:");
  line(4, std::string("insecureSkipVerify: ") + (t.tls.insecure_skip_verify ? "true" : "false"));
  line(4, "caFile: " + YamlQuote(t.tls.ca_file));
  line(2, "extraBody: " + JsonForYaml(t.extra_body));
  line(2, "maxStreamsPerConnection: " + std::to_string(t.max_streams_per_connection));
  line(2, "connections: " + std::to_string(t.connections) +
              (t.connections == 0 ? "  # as many as the load needs" : ""));
  line(2, "maxResponseBytes: " + FormatByteSize(t.max_response_bytes));
  line(2, "maxResponseTokens: " + std::to_string(t.max_response_tokens) +
              (t.max_response_tokens == 0 ? "  # no limit" : ""));

  const LoadConfig& l = config.load;
  line(0, "load:");
  line(2, "type: " + std::string(LoadTypeName(l)));
  switch (l.series.kind) {
    case SeriesKind::kNone:
      break;
    case SeriesKind::kSweep:
      line(2, "arrival: " + std::string(LoadTypeName(l.type)));
      line(2, "sweep: {points: " + std::to_string(l.series.sweep.points) +
                  ", throughputConcurrency: " +
                  std::to_string(l.series.sweep.throughput_concurrency) + "}");
      break;
    case SeriesKind::kCapacity: {
      const CapacityConfig& c = l.series.capacity;
      line(2, "arrival: " + std::string(LoadTypeName(l.type)));
      line(2, "capacity: {start: " + FormatConfigNumber(c.start) +
                  ", max: " + FormatConfigNumber(c.max) + ", resolution: " +
                  (c.relative_resolution ? FormatConfigNumber(c.resolution * 100) + "%"
                                         : FormatConfigNumber(c.resolution)) +
                  ", minRequests: " + std::to_string(c.min_requests) +
                  ", maxProbes: " + std::to_string(c.max_probes) + "}");
      break;
    }
  }
  // A series picks its probes' rates; it has no shape fields of its own to print.
  switch (l.series.kind != SeriesKind::kNone ? LoadType::kConcurrency : l.type) {
    case LoadType::kConstant:
    case LoadType::kPoisson:
      line(2, "rate: " + FormatConfigNumber(l.rate));
      break;
    case LoadType::kGamma:
      line(2, "rate: " + FormatConfigNumber(l.rate));
      line(2, "burstiness: " + FormatConfigNumber(l.burstiness));
      break;
    case LoadType::kRamp:
      line(2, "ramp: {from: " + FormatConfigNumber(l.ramp.from) +
                  ", to: " + FormatConfigNumber(l.ramp.to) + "}");
      break;
    case LoadType::kBurst:
      line(2, "burst: {size: " + std::to_string(l.burst.size) +
                  ", every: " + FormatCompactDuration(l.burst.every) + "}");
      break;
    case LoadType::kStages:
      line(2, "stages:");
      for (const StageConfig& stage : l.stages) {
        line(4, "- {rate: " + FormatConfigNumber(stage.rate) +
                    ", duration: " + FormatCompactDuration(stage.duration) + "}");
      }
      break;
    case LoadType::kTrace:
      line(2, "trace: " + YamlQuote(l.trace));
      break;
    case LoadType::kConcurrency:
      break;
  }
  if (l.concurrency > 0) {
    line(2, "concurrency: " + std::to_string(l.concurrency));
  } else {
    line(2, "# concurrency: not set (no cap on requests in flight)");
  }

  const PromptsConfig& p = config.prompts;
  line(0, "prompts:");
  line(2, "type: " + std::string(PromptsTypeName(p.type)));
  for (const auto& [key, length] :
       {std::pair{"inputLength", &p.input_length}, std::pair{"outputLength", &p.output_length}}) {
    line(2, std::string(key) + ": {mean: " + FormatConfigNumber(length->mean) + ", stddev: " +
                FormatConfigNumber(length->stddev) + ", min: " + std::to_string(length->min) +
                ", max: " + std::to_string(length->max) + "}");
  }
  if (!p.dataset.empty()) line(2, "dataset: " + YamlQuote(p.dataset));
  line(2, "prefixRatio: " + FormatConfigNumber(p.prefix_ratio));
  line(2, "prefixGroups: " + std::to_string(p.prefix_groups));
  if (!p.tokenizer.empty()) line(2, "tokenizer: " + YamlQuote(p.tokenizer));
  if (p.type == PromptsType::kConversation) {
    const ConversationConfig& c = p.conversation;
    line(2, "conversation:");
    line(4, "turns: {mean: " + FormatConfigNumber(c.turns.mean) + ", stddev: " +
                FormatConfigNumber(c.turns.stddev) + ", min: " + std::to_string(c.turns.min) +
                ", max: " + std::to_string(c.turns.max) + "}");
    line(4, "thinkTime: " + FormatCompactDuration(c.think_time));
    if (!c.session_header.empty()) line(4, "sessionHeader: " + YamlQuote(c.session_header));
  }

  const MetricsConfig& m = config.metrics;
  line(0, "metrics:");
  line(2, "collect: [" + absl::StrJoin(m.collect, ", ") + "]");
  line(2, "percentiles: " + number_list(m.percentiles));
  line(2, "interval: " + FormatCompactDuration(m.interval));
  line(2, std::string("raw: ") + (m.raw ? "true" : "false"));
  line(2, std::string("rawTokenTimes: ") + (m.raw_token_times ? "true" : "false"));
  line(2, "prometheus:");
  line(4, "endpoint: " + YamlQuote(m.prometheus.endpoint) +
              (m.prometheus.endpoint.empty() ? "  # none" : ""));
  line(4, "step: " + FormatCompactDuration(m.prometheus.step));
  if (m.prometheus.queries.empty()) {
    line(4, "queries: []");
  } else {
    line(4, "queries:");
    for (const PrometheusQuery& query : m.prometheus.queries) {
      line(6, "- {name: " + YamlQuote(query.name) + ", query: " + YamlQuote(query.query) + "}");
    }
  }

  const SloConfig& s = config.slo;
  line(0, "slo:");
  for (const std::string& metric : SloMetricNames()) {
    std::vector<std::string> limits;
    for (const SloThreshold& threshold : s.thresholds) {
      if (threshold.metric != metric) continue;
      limits.push_back(FormatPercentileKey(threshold.percentile) + ": " +
                       FormatCompactDuration(threshold.max));
    }
    if (!limits.empty()) line(2, metric + ": {" + absl::StrJoin(limits, ", ") + "}");
  }
  if (s.max_error_rate.has_value()) {
    line(2, "errorRate: {max: " + FormatConfigNumber(*s.max_error_rate) + "}");
  }
  line(2, std::string("abortOnFail: ") + (s.abort_on_fail ? "true" : "false"));

  line(0, "cluster:");
  line(2, "workers: " + std::to_string(config.cluster.workers));
  line(2, "onWorkerLoss: " + std::string(WorkerLossPolicyName(config.cluster.on_worker_loss)));

  line(0, "output:");
  line(2, "dir: " + YamlQuote(config.output.dir));
  std::vector<std::string> formats;
  for (OutputFormat format : config.output.formats) {
    formats.emplace_back(OutputFormatName(format));
  }
  line(2, "formats: [" + absl::StrJoin(formats, ", ") + "]");
  return out;
}

}  // namespace bench
