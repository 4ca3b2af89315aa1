#include "controller/report.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/histogram_codec.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "controller/prometheus_collect.h"
#include "controller/results.h"
#include "controller/subprocess.h"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

// Chromium prints a page of this size in seconds; a hung browser must not hold a run's end.
constexpr absl::Duration kPrintTimeout = absl::Seconds(90);

const Json& At(const Json& json, std::string_view key) {
  static const Json kNull = nullptr;
  if (!json.is_object()) return kNull;
  const auto it = json.find(key);
  return it == json.end() ? kNull : *it;
}

std::string Str(const Json& json) {
  if (json.is_string()) return json.get<std::string>();
  if (json.is_null()) return "";
  return json.dump();
}

// A number as summary.json holds it (three decimals at most), "-" when absent.
std::string Num(const Json& json) {
  if (!json.is_number()) return "-";
  if (json.is_number_integer() || json.is_number_unsigned()) return json.dump();
  std::string text = absl::StrFormat("%.3f", json.get<double>());
  while (absl::EndsWith(text, "0")) text.pop_back();
  if (absl::EndsWith(text, ".")) text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string Percent(const Json& ratio) {
  if (!ratio.is_number()) return "-";
  return absl::StrFormat("%.2f%%", 100.0 * ratio.get<double>());
}

std::string Html(absl::string_view text) {
  return absl::StrReplaceAll(
      text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

std::string Md(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\n", " "}, {"<", "&lt;"}});
}

// A CSV cell, quoted when needed; text a spreadsheet would run as a formula gets a leading '.
std::string Csv(absl::string_view text) {
  std::string cell(text);
  if (!cell.empty() && std::string_view("=+-@").find(cell[0]) != std::string_view::npos) {
    cell.insert(0, "'");
  }
  if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
  return absl::StrCat("\"", absl::StrReplaceAll(cell, {{"\"", "\"\""}}), "\"");
}

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
    const Json& encoded = At(entry, "hdr_v2_compressed_base64");
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
  const Json& histograms = At(metrics, "histograms");
  BENCH_RETURN_IF_ERROR(
      DecodeHistograms(At(histograms, "overall"), file + ".overall", &data->overall));
  const Json& stages = At(histograms, "stages");
  const Json& stage_summaries = At(summary, "stages");
  if (stages.is_array() && stages.size() > 1) {
    for (size_t i = 0; i < stages.size(); ++i) {
      StatsShard shard;
      BENCH_RETURN_IF_ERROR(DecodeHistograms(At(stages[i], "metrics"),
                                             absl::StrCat(file, ".stages[", i, "]"), &shard));
      data->stages.push_back(std::move(shard));
      const Json& rate = stage_summaries.is_array() && i < stage_summaries.size()
                             ? At(stage_summaries[i], "rate")
                             : At(Json(), "rate");
      data->stage_rates.push_back(rate.is_number() ? std::optional<double>(rate.get<double>())
                                                   : std::nullopt);
    }
  }
  auto ns = [](const Json& seconds) {
    return seconds.is_number() ? static_cast<int64_t>(std::llround(seconds.get<double>() * 1e9))
                               : int64_t{0};
  };
  data->interval_ns = ns(At(metrics, "interval_s"));
  data->warmup_ns = ns(At(metrics, "warmup_s"));
  data->measured_window_ns = ns(At(metrics, "measured_window_s"));
  const Json& series = At(metrics, "series");
  if (!series.is_array()) return absl::OkStatus();
  for (const Json& row : series) {
    auto count = [&row](std::string_view key) {
      const Json& value = At(row, key);
      return value.is_number_unsigned() || value.is_number_integer() ? value.get<uint64_t>()
                                                                     : uint64_t{0};
    };
    IntervalPoint point;
    point.start_ns = ns(At(row, "time_s"));
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

// ---- the parts every text format shares ----

// "every SLO met", "SLO failed: ttft p99 ... (stage 3 first)", "no SLO configured".
std::string SloHeadline(const Json& summary) {
  const Json& slo = At(summary, "slo");
  if (!At(slo, "configured").is_boolean() || !At(slo, "configured").get<bool>()) {
    return "no SLO configured";
  }
  const Json& passed = At(slo, "passed");
  if (passed.is_boolean() && passed.get<bool>()) return "every SLO met";
  std::vector<std::string> failed;
  for (const Json& verdict : At(slo, "verdicts")) {
    if (At(verdict, "passed").is_boolean() && !At(verdict, "passed").get<bool>()) {
      failed.push_back(Str(At(verdict, "metric")));
    }
  }
  std::string text = "SLO failed";
  if (!failed.empty()) absl::StrAppend(&text, ": ", absl::StrJoin(failed, ", "));
  if (At(slo, "first_failed_stage").is_number()) {
    absl::StrAppend(&text, " (first broken in stage ", Num(At(slo, "first_failed_stage")), ")");
  }
  if (At(slo, "abort_reason").is_string()) {
    absl::StrAppend(&text, "; aborted: ", Str(At(slo, "abort_reason")));
  }
  return text;
}

bool SloFailed(const Json& summary) {
  const Json& passed = At(At(summary, "slo"), "passed");
  return passed.is_boolean() && !passed.get<bool>();
}

std::string VerdictLine(const Json& verdict) {
  const std::string metric = Str(At(verdict, "metric"));
  const bool passed = At(verdict, "passed").is_boolean() && At(verdict, "passed").get<bool>();
  if (metric == "errorRate") {
    return absl::StrCat("errorRate ", Percent(At(verdict, "actual")), " (max ",
                        Percent(At(verdict, "limit")), ") ", passed ? "pass" : "FAIL");
  }
  return absl::StrCat(metric, " p", Num(At(verdict, "percentile")), " ",
                      Num(At(verdict, "actual_ms")), " ms (limit ", Num(At(verdict, "limit_ms")),
                      " ms) ", passed ? "pass" : "FAIL");
}

// metrics.collect picks what a report shows (summary.json holds everything); a summary that does
// not say (older versions) shows everything.
bool Collected(const Json& summary, std::string_view name) {
  const Json& collect = At(At(summary, "benchmark"), "collect");
  if (!collect.is_array()) return true;
  for (const Json& item : collect) {
    if (item.is_string() && item.get<std::string>() == name) return true;
  }
  return false;
}

// The latency metrics of `block` (summary.json or one of its stages) a report shows: those
// collected, and always schedule_lag and e2e_from_intended (the generator's own truth).
std::vector<std::pair<std::string, const Json*>> ShownLatency(const Json& summary,
                                                              const Json& block) {
  std::vector<std::pair<std::string, const Json*>> shown;
  const Json& latency = At(block, "latency");
  if (!latency.is_object()) return shown;
  for (auto it = latency.begin(); it != latency.end(); ++it) {
    if (it.key() == "schedule_lag" || it.key() == "e2e_from_intended" ||
        Collected(summary, it.key())) {
      shown.emplace_back(it.key(), &it.value());
    }
  }
  return shown;
}

// The prefix-cache section's rows: requests with and without a cache hit, their TTFT (ms).
std::vector<std::vector<std::string>> CacheRows(const ResultsDirectory& results) {
  std::vector<std::vector<std::string>> rows;
  if (!results.cache_split.has_value()) return rows;
  auto row = [](const char* label, const Histogram& h) {
    auto ms = [&h](double p) {
      return h.TotalCount() == 0
                 ? std::string("-")
                 : absl::StrFormat("%.3f", static_cast<double>(h.ValueAtPercentile(p)) / 1000);
    };
    return std::vector<std::string>{label, absl::StrCat(h.TotalCount()), ms(50), ms(90), ms(99)};
  };
  rows.push_back(row("cache hit (cached_tokens > 0)", results.cache_split->ttft_hit));
  rows.push_back(row("no hit", results.cache_split->ttft_miss));
  return rows;
}

const std::vector<std::string> kCacheHeader = {"requests", "count", "TTFT p50 (ms)",
                                               "TTFT p90 (ms)", "TTFT p99 (ms)"};

std::string CacheLine(const Json& summary) {
  const Json& cache = At(summary, "cache");
  const std::string source = Str(At(cache, "source"));
  return absl::StrCat("Prefix cache hit ratio ", Percent(At(cache, "hit_ratio")),
                      " of prompt tokens", source.empty() ? "" : " (from " + source + ")",
                      ". TTFT of the window's successful requests with and without a hit, from "
                      "requests.jsonl:");
}

struct Figure {
  std::string label;
  std::string value;
  std::string note;
};

// The headline: what completed apart from what was offered (SPEC section 3's throughput).
std::vector<Figure> Headline(const Json& summary) {
  const Json& throughput = At(summary, "throughput");
  const Json& rates = At(summary, "rates");
  const Json& requests = At(summary, "requests");
  std::vector<Figure> figures;
  if (Collected(summary, "throughput")) {
    figures.push_back({"completion rate",
                       absl::StrCat(Num(At(throughput, "requests_per_s")), " req/s"),
                       "successes in the window / window"});
    std::string offered = absl::StrCat(Num(At(throughput, "offered_requests_per_s")), " req/s");
    std::string offered_note = "requests sent in the window / window";
    if (At(rates, "requested_rate").is_number()) {
      absl::StrAppend(&offered_note, "; requested ", Num(At(rates, "requested_rate")), " req/s");
    }
    figures.push_back({"offered rate", offered, offered_note});
  }
  if (Collected(summary, "tokens_per_second")) {
    figures.push_back({"output tokens",
                       absl::StrCat(Num(At(throughput, "output_tokens_per_s")), " tok/s"),
                       absl::StrCat("total (input + output) ",
                                    Num(At(throughput, "total_tokens_per_s")), " tok/s")});
  }
  figures.push_back(
      {"requests", absl::StrCat(Num(At(requests, "succeeded")), " ok"),
       absl::StrCat(Num(At(requests, "failed")), " failed, ", Num(At(requests, "incomplete")),
                    " incomplete; error rate ", Percent(At(requests, "error_rate")))});
  const Json& goodput = At(summary, "goodput");
  if (goodput.is_object()) {
    figures.push_back(
        {"goodput", absl::StrCat(Num(At(goodput, "requests_per_s")), " req/s"),
         absl::StrCat(Percent(At(goodput, "slo_met_ratio")), " of requests met every SLO")});
  }
  const Json& latency = At(summary, "latency");
  for (const char* metric : {"ttft", "itl"}) {
    if (!Collected(summary, metric)) continue;
    const Json& percentiles = At(At(latency, metric), "percentiles");
    if (!percentiles.is_object() || At(percentiles, "p99").is_null()) continue;
    figures.push_back(
        {absl::StrCat(absl::AsciiStrToUpper(metric), " p50 / p99"),
         absl::StrCat(Num(At(percentiles, "p50")), " / ", Num(At(percentiles, "p99")), " ms"), ""});
  }
  if (At(throughput, "drain_s").is_number()) {
    figures.push_back({"drain", absl::StrCat(Num(At(throughput, "drain_s")), " s"),
                       "window end to the last in-window request's end"});
  }
  return figures;
}

std::vector<std::string> PercentileKeys(const Json& summary) {
  std::vector<std::string> keys;
  for (const Json& p : At(At(summary, "benchmark"), "percentiles")) {
    if (!p.is_number()) continue;
    keys.push_back(absl::StrCat("p", Num(p)));
  }
  return keys;
}

// One row of a latency table: metric, count, mean, percentiles..., max (ms).
std::vector<std::string> LatencyRow(const std::string& metric, const Json& figures,
                                    const std::vector<std::string>& percentiles) {
  std::vector<std::string> row = {metric, Num(At(figures, "count")), Num(At(figures, "mean_ms"))};
  for (const std::string& p : percentiles) row.push_back(Num(At(At(figures, "percentiles"), p)));
  row.push_back(Num(At(figures, "max_ms")));
  return row;
}

std::vector<std::string> LatencyHeader(const std::vector<std::string>& percentiles) {
  std::vector<std::string> header = {"metric", "count", "mean"};
  header.insert(header.end(), percentiles.begin(), percentiles.end());
  header.push_back("max");
  return header;
}

// The errors table's rows: category, count, its examples joined by `separator`.
std::vector<std::vector<std::string>> ErrorRows(const Json& summary, const char* separator) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& e : At(At(summary, "requests"), "errors")) {
    std::vector<std::string> examples;
    for (const Json& example : At(e, "examples")) examples.push_back(Str(example));
    rows.push_back(
        {Str(At(e, "category")), Num(At(e, "count")), absl::StrJoin(examples, separator)});
  }
  return rows;
}

std::string StageVerdict(const Json& stage) {
  const Json& passed = At(At(stage, "slo"), "passed");
  if (!passed.is_boolean()) return "-";
  return passed.get<bool>() ? "met" : "FAILED";
}

// The stage table's rows: stage, offered rate, completion rate, TTFT p50/p99, ITL p99,
// E2E p99, goodput, errors, SLO.
std::vector<std::vector<std::string>> StageRows(const Json& summary) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& stage : At(summary, "stages")) {
    const Json& latency = At(stage, "latency");
    auto p = [&](const char* metric, const char* key) {
      return Num(At(At(At(latency, metric), "percentiles"), key));
    };
    rows.push_back({Num(At(stage, "stage")), Num(At(stage, "rate")),
                    Num(At(At(stage, "throughput"), "offered_requests_per_s")),
                    Num(At(At(stage, "throughput"), "requests_per_s")), p("ttft", "p50"),
                    p("ttft", "p99"), p("itl", "p99"), p("e2e_latency", "p99"),
                    Num(At(At(stage, "goodput"), "requests_per_s")),
                    Num(At(At(stage, "requests"), "failed")), StageVerdict(stage)});
  }
  return rows;
}

const std::vector<std::string> kStageHeader = {"stage",
                                               "rate (req/s)",
                                               "offered (req/s)",
                                               "completed (req/s)",
                                               "TTFT p50 (ms)",
                                               "TTFT p99 (ms)",
                                               "ITL p99 (ms)",
                                               "E2E p99 (ms)",
                                               "goodput (req/s)",
                                               "failed",
                                               "SLO"};

std::vector<std::vector<std::string>> WorkerRows(const Json& summary) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& w : At(summary, "workers")) {
    const bool active = At(w, "active").is_boolean() && At(w, "active").get<bool>();
    const bool lost = At(w, "lost").is_boolean() && At(w, "lost").get<bool>();
    rows.push_back({Str(At(w, "name")), Str(At(w, "id")), Num(At(w, "threads")),
                    lost ? "lost" : (active ? "active" : "idle"), Num(At(w, "rate")),
                    Num(At(w, "concurrency")), Num(At(w, "requests")), Num(At(w, "succeeded")),
                    Num(At(w, "failed")), Num(At(w, "clock_offset_ms"))});
  }
  return rows;
}

const std::vector<std::string> kWorkerHeader = {
    "worker",      "id",       "threads",   "state",  "rate (req/s)",
    "concurrency", "requests", "succeeded", "failed", "clock offset (ms)"};

std::string Subtitle(const Json& summary) {
  const Json& target = At(summary, "target");
  const Json& benchmark = At(summary, "benchmark");
  return absl::StrCat("model ", Str(At(target, "model")), " at ", Str(At(target, "endpoint")), " (",
                      Str(At(target, "api")), "); ", Str(At(benchmark, "load_type")),
                      " load, window ", Num(At(benchmark, "measured_window_s")), " s after ",
                      Num(At(benchmark, "warmup_s")), " s warmup; ",
                      Str(At(benchmark, "started_at")), " to ", Str(At(benchmark, "finished_at")));
}

std::string ToolLine(const Json& summary) {
  const Json& tool = At(summary, "tool");
  return absl::StrCat(Str(At(tool, "name")), " ", Str(At(tool, "version")), " (",
                      Str(At(tool, "commit")), ") on ", Str(At(tool, "host")));
}

// ---- HTML ----

constexpr char kStyle[] = R"(
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;margin:0 auto;
max-width:1100px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
.sub{color:#57606a;margin:0 0 12px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}.none{background:#eaeef2}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px}
.card .label{color:#57606a;font-size:12px;text-transform:uppercase}
.card .value{font-size:20px;font-weight:600}.card .note{color:#57606a;font-size:12px}
table{border-collapse:collapse;margin:6px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
thead th{background:#f6f8fa}tbody th{text-align:left;font-weight:500}
ul.warn li{color:#9a6700}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:12px}
figure{margin:0;break-inside:avoid}figure img{width:100%;height:auto;border:1px solid #eaeef2}
figcaption{color:#57606a;font-size:12px}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}
.candidate td:last-child,#errors-table td:last-child{text-align:left}
footer{margin-top:32px;color:#57606a;font-size:12px}
@media print{body{padding:0}h2{break-after:avoid}}
)";

std::string RenderHtml(const ResultsDirectory& results, const std::vector<InlineChart>& charts) {
  const Json& summary = results.summary;
  const std::string name = Str(At(At(summary, "benchmark"), "name"));
  std::string out = absl::StrCat("<header><h1>", Html(name), "</h1>\n<p class=\"sub\">",
                                 Html(Subtitle(summary)), "</p>\n");
  const bool configured = At(At(summary, "slo"), "configured").is_boolean() &&
                          At(At(summary, "slo"), "configured").get<bool>();
  absl::StrAppend(&out, "<p id=\"slo-verdict\" class=\"verdict ",
                  !configured ? "none" : (SloFailed(summary) ? "fail" : "pass"), "\">",
                  Html(SloHeadline(summary)), "</p></header>\n");

  out += "<section id=\"headline\"><h2>Headline</h2><div class=\"cards\">\n";
  for (const Figure& figure : Headline(summary)) {
    absl::StrAppend(&out, "<div class=\"card\"><div class=\"label\">", Html(figure.label),
                    "</div><div class=\"value\">", Html(figure.value), "</div><div class=\"note\">",
                    Html(figure.note), "</div></div>\n");
  }
  out += "</div>\n";
  const Json& generator = At(summary, "generator");
  absl::StrAppend(&out, "<p>Generator: ", Html(Str(At(generator, "message"))), "</p></section>\n");

  const Json& warnings = At(summary, "warnings");
  if (warnings.is_array() && !warnings.empty()) {
    out += "<section id=\"warnings\"><h2>Warnings</h2><ul class=\"warn\">";
    for (const Json& w : warnings) {
      absl::StrAppend(&out, "<li><b>", Html(Str(At(w, "code"))),
                      "</b>: ", Html(Str(At(w, "message"))), "</li>");
    }
    out += "</ul></section>\n";
  }

  // Latency: cells carry data-metric/data-field, so a reader (or a test) finds a figure.
  const std::vector<std::string> percentiles = PercentileKeys(summary);
  out += "<section id=\"latency\"><h2>Latency (ms)</h2><table id=\"latency-table\"><thead><tr>";
  for (const std::string& cell : LatencyHeader(percentiles)) {
    absl::StrAppend(&out, "<th>", Html(cell), "</th>");
  }
  out += "</tr></thead><tbody>";
  std::vector<std::string> fields = {"count", "mean"};
  fields.insert(fields.end(), percentiles.begin(), percentiles.end());
  fields.push_back("max");
  for (const auto& [metric, figures] : ShownLatency(summary, summary)) {
    const std::vector<std::string> row = LatencyRow(metric, *figures, percentiles);
    absl::StrAppend(&out, "<tr><th scope=\"row\">", Html(metric), "</th>");
    for (size_t i = 1; i < row.size(); ++i) {
      absl::StrAppend(&out, "<td data-metric=\"", Html(metric), "\" data-field=\"",
                      Html(fields[i - 1]), "\">", Html(row[i]), "</td>");
    }
    out += "</tr>";
  }
  out += "</tbody></table></section>\n";

  const Json& verdicts = At(At(summary, "slo"), "verdicts");
  if (verdicts.is_array() && !verdicts.empty()) {
    out += "<section id=\"slo\"><h2>SLO verdicts</h2><ul>";
    for (const Json& verdict : verdicts) {
      const bool passed = At(verdict, "passed").is_boolean() && At(verdict, "passed").get<bool>();
      absl::StrAppend(&out, "<li class=\"", passed ? "pass" : "fail", "\">",
                      Html(VerdictLine(verdict)), "</li>");
    }
    out += "</ul></section>\n";
  }

  if (const std::vector<std::vector<std::string>> rows = ErrorRows(summary, " | "); !rows.empty()) {
    absl::StrAppend(&out, "<section id=\"errors\"><h2>Errors</h2>",
                    HtmlTable({"category", "count", "examples"}, rows, "errors-table"),
                    "</section>\n");
  }

  const std::vector<std::vector<std::string>> stages = StageRows(summary);
  if (!stages.empty()) {
    absl::StrAppend(&out, "<section id=\"stages\"><h2>Stages</h2>",
                    HtmlTable(kStageHeader, stages, "stages-table"), "</section>\n");
  }
  if (const std::vector<std::vector<std::string>> cache = CacheRows(results); !cache.empty()) {
    absl::StrAppend(&out, "<section id=\"cache\"><h2>Prefix cache</h2><p>",
                    Html(CacheLine(summary)), "</p>", HtmlTable(kCacheHeader, cache, "cache-table"),
                    "</section>\n");
  }

  out += HtmlChartsSection(charts);

  const Json& prometheus_error = At(results.prometheus, "error");
  if (prometheus_error.is_string()) {
    absl::StrAppend(&out,
                    "<section id=\"prometheus\"><h2>Prometheus</h2><p>Not all series "
                    "could be read: ",
                    Html(prometheus_error.get<std::string>()), "</p></section>\n");
  }

  const std::vector<std::vector<std::string>> workers = WorkerRows(summary);
  if (!workers.empty()) {
    absl::StrAppend(&out, "<section id=\"workers\"><h2>Workers</h2>",
                    HtmlTable(kWorkerHeader, workers, "workers-table"), "</section>\n");
  }
  const Json& connections = At(summary, "connections");
  absl::StrAppend(&out, "<section id=\"connections\"><h2>Connections</h2><p>",
                  Num(At(connections, "opened")), " opened, ", Num(At(connections, "failed")),
                  " failed, ", Num(At(connections, "retries")), " retries; connect time p50 ",
                  Num(At(At(connections, "connect_ms"), "p50")), " ms, p99 ",
                  Num(At(At(connections, "connect_ms"), "p99")), " ms; cache hit ratio ",
                  Percent(At(At(summary, "cache"), "hit_ratio")), "</p></section>\n");

  const Json& notes = At(summary, "notes");
  if (notes.is_array() && !notes.empty()) {
    out += "<section id=\"notes\"><h2>Notes</h2><ul>";
    for (const Json& note : notes) absl::StrAppend(&out, "<li>", Html(Str(note)), "</li>");
    out += "</ul></section>\n";
  }
  if (!results.config_yaml.empty()) {
    absl::StrAppend(&out, "<section id=\"config\"><h2>Configuration (secrets redacted)</h2><pre>",
                    Html(results.config_yaml), "</pre></section>\n");
  }
  absl::StrAppend(&out, "<footer>", Html(ToolLine(summary)), "; report by llm-d-bench ",
                  kToolVersion, " from ", Html(results.path),
                  results.absent.empty()
                      ? std::string()
                      : Html(absl::StrCat(" (absent: ", absl::StrJoin(results.absent, ", "), ")")),
                  "</footer>\n");
  return HtmlPage(absl::StrCat(name, ": llm-d-bench report"), out);
}

// ---- Markdown, CSV, JSON ----

std::string MdTable(const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows) {
  std::string out = "|";
  for (const std::string& cell : header) absl::StrAppend(&out, " ", Md(cell), " |");
  out += "\n|";
  for (size_t i = 0; i < header.size(); ++i) out += i == 0 ? " --- |" : " ---: |";
  out += "\n";
  for (const auto& row : rows) {
    out += "|";
    for (const std::string& cell : row) absl::StrAppend(&out, " ", Md(cell), " |");
    out += "\n";
  }
  return out;
}

std::vector<std::vector<std::string>> LatencyRows(const Json& summary,
                                                  const std::vector<std::string>& percentiles) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [metric, figures] : ShownLatency(summary, summary)) {
    rows.push_back(LatencyRow(metric, *figures, percentiles));
  }
  return rows;
}

std::string RenderMarkdown(const ResultsDirectory& results) {
  const Json& summary = results.summary;
  std::string out = absl::StrCat("# ", Md(Str(At(At(summary, "benchmark"), "name"))), "\n\n",
                                 Md(Subtitle(summary)), "\n\n**", Md(SloHeadline(summary)),
                                 "**\n\n## Headline\n\n");
  std::vector<std::vector<std::string>> headline;
  for (const Figure& figure : Headline(summary)) {
    headline.push_back({figure.label, figure.value, figure.note});
  }
  absl::StrAppend(&out, MdTable({"figure", "value", "what it is"}, headline),
                  "\nGenerator: ", Md(Str(At(At(summary, "generator"), "message"))), "\n");
  const Json& warnings = At(summary, "warnings");
  if (warnings.is_array() && !warnings.empty()) {
    out += "\n## Warnings\n\n";
    for (const Json& w : warnings) {
      absl::StrAppend(&out, "- **", Md(Str(At(w, "code"))), "**: ", Md(Str(At(w, "message"))),
                      "\n");
    }
  }
  const std::vector<std::string> percentiles = PercentileKeys(summary);
  absl::StrAppend(&out, "\n## Latency (ms)\n\n",
                  MdTable(LatencyHeader(percentiles), LatencyRows(summary, percentiles)));
  const Json& verdicts = At(At(summary, "slo"), "verdicts");
  if (verdicts.is_array() && !verdicts.empty()) {
    out += "\n## SLO verdicts\n\n";
    for (const Json& verdict : verdicts)
      absl::StrAppend(&out, "- ", Md(VerdictLine(verdict)), "\n");
  }
  if (const std::vector<std::vector<std::string>> rows = ErrorRows(summary, "; "); !rows.empty()) {
    absl::StrAppend(&out, "\n## Errors\n\n", MdTable({"category", "count", "examples"}, rows));
  }
  const std::vector<std::vector<std::string>> stages = StageRows(summary);
  if (!stages.empty()) absl::StrAppend(&out, "\n## Stages\n\n", MdTable(kStageHeader, stages));
  if (const std::vector<std::vector<std::string>> cache = CacheRows(results); !cache.empty()) {
    absl::StrAppend(&out, "\n## Prefix cache\n\n", Md(CacheLine(summary)), "\n\n",
                    MdTable(kCacheHeader, cache));
  }
  const std::vector<std::vector<std::string>> workers = WorkerRows(summary);
  if (!workers.empty()) absl::StrAppend(&out, "\n## Workers\n\n", MdTable(kWorkerHeader, workers));
  // The PNG plots, when the run drew them, beside this file.
  std::vector<std::string> plots;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator(results.path + "/plots", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (it->path().extension() == ".png") plots.push_back(it->path().filename().string());
  }
  std::sort(plots.begin(), plots.end());
  if (!plots.empty()) {
    out += "\n## Charts\n\n";
    for (const std::string& plot : plots) {
      absl::StrAppend(&out, "![", plot.substr(0, plot.size() - 4), "](plots/", plot, ")\n");
    }
  }
  const Json& notes = At(summary, "notes");
  if (notes.is_array() && !notes.empty()) {
    out += "\n## Notes\n\n";
    for (const Json& note : notes) absl::StrAppend(&out, "- ", Md(Str(note)), "\n");
  }
  absl::StrAppend(&out, "\n---\n", Md(ToolLine(summary)), "\n");
  return out;
}

// A CSV cell: the number, or empty when there is none.
std::string CsvNum(const Json& json) { return json.is_number() ? Num(json) : std::string(); }

// One row per (scope, latency metric): the overall window, then each stage.
std::string RenderCsv(const ResultsDirectory& results) {
  const Json& summary = results.summary;
  const std::vector<std::string> percentiles = PercentileKeys(summary);
  std::string out = "scope,stage_rate,metric,count,mean_ms,stddev_ms,min_ms";
  for (const std::string& p : percentiles) absl::StrAppend(&out, ",", p, "_ms");
  out += ",max_ms\n";
  auto rows = [&](const std::string& scope, const std::string& rate, const Json& block) {
    for (const auto& [metric, shown] : ShownLatency(summary, block)) {
      const Json& figures = *shown;
      absl::StrAppend(&out, Csv(scope), ",", rate, ",", Csv(metric), ",",
                      CsvNum(At(figures, "count")), ",", CsvNum(At(figures, "mean_ms")), ",",
                      CsvNum(At(figures, "stddev_ms")), ",", CsvNum(At(figures, "min_ms")));
      for (const std::string& p : percentiles) {
        absl::StrAppend(&out, ",", CsvNum(At(At(figures, "percentiles"), p)));
      }
      absl::StrAppend(&out, ",", CsvNum(At(figures, "max_ms")), "\n");
    }
  };
  rows("overall", "", summary);
  for (const Json& stage : At(summary, "stages")) {
    rows(absl::StrCat("stage ", CsvNum(At(stage, "stage"))), CsvNum(At(stage, "rate")), stage);
  }
  return out;
}

// The figures a script compares, flat: headline, latency percentiles, SLO, stages.
std::string RenderJson(const ResultsDirectory& results) {
  const Json& summary = results.summary;
  Json out;
  out["report_version"] = 1;
  out["name"] = At(At(summary, "benchmark"), "name");
  out["target"] = At(summary, "target");
  out["tool"] = At(summary, "tool");
  out["started_at"] = At(At(summary, "benchmark"), "started_at");
  Json headline = Json::object();
  for (const Figure& figure : Headline(summary)) {
    headline[figure.label] = Json{{"value", figure.value}, {"note", figure.note}};
  }
  out["headline"] = std::move(headline);
  out["throughput"] = At(summary, "throughput");
  Json latency = Json::object();
  for (const auto& [metric, figures] : ShownLatency(summary, summary)) {
    Json row = At(*figures, "percentiles");
    row["mean"] = At(*figures, "mean_ms");
    row["max"] = At(*figures, "max_ms");
    row["count"] = At(*figures, "count");
    latency[metric] = std::move(row);
  }
  out["latency_ms"] = std::move(latency);
  out["slo"] = Json{{"verdict", SloHeadline(summary)},
                    {"failed", SloFailed(summary)},
                    {"verdicts", At(At(summary, "slo"), "verdicts")}};
  out["errors"] = At(At(summary, "requests"), "errors");
  out["warnings"] = At(summary, "warnings");
  Json stages = Json::array();
  for (const std::vector<std::string>& row : StageRows(summary)) {
    Json stage = Json::object();
    for (size_t i = 0; i < row.size() && i < kStageHeader.size(); ++i) {
      stage[kStageHeader[i]] = row[i];
    }
    stages.push_back(std::move(stage));
  }
  out["stages"] = std::move(stages);
  out["absent_files"] = results.absent;
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::optional<std::string> FindChromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome", "chrome"}) {
    if (std::optional<std::string> path = FindOnPath(name)) return path;
  }
  return std::nullopt;
}

std::string Absolute(const std::string& path) {
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

// Prints `html_path` to `pdf_path` with headless Chromium. The page is our own, offline, and
// every network request is refused so that a report never reaches out. The sandbox is off only
// as root, where Chromium refuses to start it (CI, containers).
absl::Status PrintPdf(const std::string& html_path, const std::string& pdf_path) {
  const std::optional<std::string> chromium = FindChromium();
  if (!chromium.has_value()) {
    return absl::FailedPreconditionError(
        "pdf needs Chromium, which is not installed (Debian: apt-get install chromium)");
  }
  char pattern[] = "/tmp/llm-d-bench-chromium-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory: ", std::strerror(errno)));
  }
  const std::string profile = pattern;
  std::vector<std::string> argv = {*chromium,
                                   "--headless",
                                   "--disable-gpu",
                                   "--disable-extensions",
                                   "--disable-background-networking",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--host-resolver-rules=MAP * ~NOTFOUND",
                                   "--proxy-server=127.0.0.1:9",
                                   absl::StrCat("--user-data-dir=", profile, "/profile"),
                                   "--no-pdf-header-footer",
                                   absl::StrCat("--print-to-pdf=", Absolute(pdf_path)),
                                   absl::StrCat("file://", Absolute(html_path))};
  if (::geteuid() == 0) argv.insert(argv.begin() + 2, "--no-sandbox");
  const absl::Status printed = RunProgram(argv, profile, "chromium.log", kPrintTimeout);
  std::error_code ignored;
  std::filesystem::remove_all(profile, ignored);
  BENCH_RETURN_IF_ERROR(printed);
  std::error_code missing;
  if (std::filesystem::file_size(pdf_path, missing) == 0 || missing) {
    return absl::InternalError(absl::StrCat("Chromium wrote no PDF at ", pdf_path));
  }
  return absl::OkStatus();
}

}  // namespace

std::string HtmlEscape(absl::string_view text) { return Html(text); }

std::string HtmlPage(const std::string& title, const std::string& body) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // Nothing but the page itself: no script, no request anywhere (the charts are data: URIs).
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src 'unsafe-inline'\">\n"
      "<meta name=\"generator\" content=\"llm-d-bench ",
      kToolVersion, "\">\n<title>", Html(title), "</title>\n<style>", kStyle,
      "</style></head>\n<body>\n", body, "</body></html>\n");
}

std::string HtmlChartsSection(const std::vector<InlineChart>& charts) {
  if (charts.empty()) return "";
  std::string out = "<section id=\"charts\"><h2>Charts</h2><div class=\"charts\">\n";
  for (const InlineChart& c : charts) {
    absl::StrAppend(&out, "<figure class=\"chart\" id=\"chart-",
                    Html(c.chart.file.substr(0, c.chart.file.rfind('.'))), "\"><img alt=\"",
                    Html(c.chart.title), "\" src=\"data:image/svg+xml;base64,",
                    absl::Base64Escape(c.svg), "\"><figcaption>", Html(c.chart.title),
                    "</figcaption></figure>\n");
  }
  return out + "</div></section>\n";
}

std::string HtmlTable(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows, const std::string& id) {
  std::string out = absl::StrCat("<table id=\"", id, "\"><thead><tr>");
  for (const std::string& cell : header) absl::StrAppend(&out, "<th>", Html(cell), "</th>");
  out += "</tr></thead><tbody>";
  for (const auto& row : rows) {
    out += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "<th scope=\"row\">" : "<td>", Html(row[i]),
                      i == 0 ? "</th>" : "</td>");
    }
    out += "</tr>";
  }
  return out + "</tbody></table>\n";
}

absl::StatusOr<std::vector<InlineChart>> DrawInlineCharts(const ChartDrawer& draw) {
  char pattern[] = "/tmp/llm-d-bench-charts-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory: ", std::strerror(errno)));
  }
  const std::string directory = pattern;
  std::vector<InlineChart> charts;
  absl::StatusOr<std::vector<DrawnChart>> drawn = draw(directory);
  absl::Status status = drawn.status();
  if (drawn.ok()) {
    for (const DrawnChart& chart : *drawn) {
      absl::StatusOr<std::string> svg = ReadText(directory + "/" + chart.file);
      if (!svg.ok()) {
        status = svg.status();
        break;
      }
      charts.push_back({chart, *std::move(svg)});
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(directory, ignored);
  if (!status.ok()) return status;
  return charts;
}

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
      const Json& cached = At(record, "cached_tokens");
      const Json& ttft = At(record, "ttft_ms");
      if (!cached.is_number() || !ttft.is_number() || At(record, "outcome") != "success" ||
          At(record, "in_window") != true) {
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

absl::StatusOr<ReportFormat> ParseReportFormat(const std::string& name) {
  if (name == "html") return ReportFormat::kHtml;
  if (name == "pdf") return ReportFormat::kPdf;
  if (name == "md") return ReportFormat::kMd;
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "json") return ReportFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--format ", name, ": expected html, pdf, md, csv or json"));
}

std::string ReportFileName(ReportFormat format) {
  switch (format) {
    case ReportFormat::kHtml:
      return "report.html";
    case ReportFormat::kPdf:
      return "report.pdf";
    case ReportFormat::kMd:
      return "report.md";
    case ReportFormat::kCsv:
      return "report.csv";
    case ReportFormat::kJson:
      return "report.json";
  }
  return "report";
}

absl::Status CheckReportsPossible(const BenchmarkConfig& config) {
  if (!config.output.Wants(OutputFormat::kPdf) || FindChromium().has_value()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "output.formats: pdf is printed by headless Chromium, which is not installed (Debian: "
      "apt-get install chromium); install it or drop pdf from output.formats");
}

absl::StatusOr<std::string> RenderReport(const ResultsDirectory& results, ReportFormat format) {
  switch (format) {
    case ReportFormat::kHtml:
    case ReportFormat::kPdf: {
      BENCH_ASSIGN_OR_RETURN(const std::vector<InlineChart> charts,
                             DrawInlineCharts([&results](const std::string& directory) {
                               return DrawCharts(directory, results.charts, ChartFormat::kSvg);
                             }));
      return RenderHtml(results, charts);
    }
    case ReportFormat::kMd:
      return RenderMarkdown(results);
    case ReportFormat::kCsv:
      return RenderCsv(results);
    case ReportFormat::kJson:
      return RenderJson(results);
  }
  return absl::InternalError("unknown report format");
}

absl::Status WriteReport(const ResultsDirectory& results, ReportFormat format,
                         const std::string& output) {
  if (format != ReportFormat::kPdf) {
    BENCH_ASSIGN_OR_RETURN(const std::string text, RenderReport(results, format));
    return WriteResultFile(output, text);
  }
  // The PDF prints a freshly rendered HTML report, written beside the output for Chromium.
  BENCH_ASSIGN_OR_RETURN(const std::string text, RenderReport(results, ReportFormat::kHtml));
  const std::string temporary = output + ".html";
  BENCH_RETURN_IF_ERROR(WriteResultFile(temporary, text));
  const absl::Status printed = PrintPdf(temporary, output);
  ::unlink(temporary.c_str());
  return printed;
}

absl::Status WriteRunReports(const std::string& directory, const BenchmarkConfig& config) {
  std::vector<ReportFormat> formats;
  // html before pdf: the PDF prints the page just written.
  for (const auto& [output, report] : {std::pair{OutputFormat::kHtml, ReportFormat::kHtml},
                                       std::pair{OutputFormat::kPdf, ReportFormat::kPdf},
                                       std::pair{OutputFormat::kMd, ReportFormat::kMd},
                                       std::pair{OutputFormat::kCsv, ReportFormat::kCsv}}) {
    if (config.output.Wants(output)) formats.push_back(report);
  }
  if (formats.empty()) return absl::OkStatus();
  BENCH_ASSIGN_OR_RETURN(const ResultsDirectory results, LoadResultsDirectory(directory));
  std::vector<std::string> failed;
  for (const ReportFormat format : formats) {
    const absl::Status written =
        WriteReport(results, format, absl::StrCat(directory, "/", ReportFileName(format)));
    if (!written.ok())
      failed.push_back(absl::StrCat(ReportFileName(format), ": ", written.message()));
  }
  if (failed.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrJoin(failed, "; "));
}

}  // namespace bench::controller
