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
#include "controller/html_page.h"
#include "controller/json_at.h"
#include "controller/prometheus_collect.h"
#include "controller/results.h"
#include "controller/subprocess.h"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

// Chromium prints a page of this size in seconds; a hung browser must not hold a run's end.
constexpr absl::Duration kPrintTimeout = absl::Seconds(90);

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

std::string Md(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"|", "\\|"}, {"\n", " "}, {"<", "&lt;"}});
}

// A CSV cell, quoted when needed; text a spreadsheet would run as a formula gets a leading '.
std::string Csv(absl::string_view text) {
  const bool formula =
      !text.empty() && absl::string_view("=+-@").find(text[0]) != absl::string_view::npos;
  const std::string cell = absl::StrCat(formula ? "'" : "", text);
  if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
  return absl::StrCat("\"", absl::StrReplaceAll(cell, {{"\"", "\"\""}}), "\"");
}

// ---- the parts every text format shares ----

// "every SLO met", "SLO failed: ttft p99 ... (stage 3 first)", "no SLO configured".
std::string SloHeadline(const Json& summary) {
  const Json& slo = JsonAt(summary, "slo");
  if (!JsonAt(slo, "configured").is_boolean() || !JsonAt(slo, "configured").get<bool>()) {
    return "no SLO configured";
  }
  const Json& passed = JsonAt(slo, "passed");
  if (passed.is_boolean() && passed.get<bool>()) return "every SLO met";
  std::vector<std::string> failed;
  for (const Json& verdict : JsonAt(slo, "verdicts")) {
    if (JsonAt(verdict, "passed").is_boolean() && !JsonAt(verdict, "passed").get<bool>()) {
      failed.push_back(Str(JsonAt(verdict, "metric")));
    }
  }
  std::string text = "SLO failed";
  if (!failed.empty()) absl::StrAppend(&text, ": ", absl::StrJoin(failed, ", "));
  if (JsonAt(slo, "first_failed_stage").is_number()) {
    absl::StrAppend(&text, " (first broken in stage ", Num(JsonAt(slo, "first_failed_stage")), ")");
  }
  if (JsonAt(slo, "abort_reason").is_string()) {
    absl::StrAppend(&text, "; aborted: ", Str(JsonAt(slo, "abort_reason")));
  }
  return text;
}

bool SloFailed(const Json& summary) {
  const Json& passed = JsonAt(JsonAt(summary, "slo"), "passed");
  return passed.is_boolean() && !passed.get<bool>();
}

std::string VerdictLine(const Json& verdict) {
  const std::string metric = Str(JsonAt(verdict, "metric"));
  const bool passed =
      JsonAt(verdict, "passed").is_boolean() && JsonAt(verdict, "passed").get<bool>();
  if (metric == "errorRate") {
    return absl::StrCat("errorRate ", Percent(JsonAt(verdict, "actual")), " (max ",
                        Percent(JsonAt(verdict, "limit")), ") ", passed ? "pass" : "FAIL");
  }
  return absl::StrCat(metric, " p", Num(JsonAt(verdict, "percentile")), " ",
                      Num(JsonAt(verdict, "actual_ms")), " ms (limit ",
                      Num(JsonAt(verdict, "limit_ms")), " ms) ", passed ? "pass" : "FAIL");
}

// metrics.collect picks what a report shows (summary.json holds everything); a summary that does
// not say (older versions) shows everything.
bool Collected(const Json& summary, std::string_view name) {
  const Json& collect = JsonAt(JsonAt(summary, "benchmark"), "collect");
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
  const Json& latency = JsonAt(block, "latency");
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
  const Json& cache = JsonAt(summary, "cache");
  const std::string source = Str(JsonAt(cache, "source"));
  return absl::StrCat("Prefix cache hit ratio ", Percent(JsonAt(cache, "hit_ratio")),
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
  const Json& throughput = JsonAt(summary, "throughput");
  const Json& rates = JsonAt(summary, "rates");
  const Json& requests = JsonAt(summary, "requests");
  std::vector<Figure> figures;
  if (Collected(summary, "throughput")) {
    figures.push_back({"completion rate",
                       absl::StrCat(Num(JsonAt(throughput, "requests_per_s")), " req/s"),
                       "successes in the window / window"});
    std::string offered = absl::StrCat(Num(JsonAt(throughput, "offered_requests_per_s")), " req/s");
    std::string offered_note = "requests sent in the window / window";
    if (JsonAt(rates, "requested_rate").is_number()) {
      absl::StrAppend(&offered_note, "; requested ", Num(JsonAt(rates, "requested_rate")),
                      " req/s");
    }
    figures.push_back({"offered rate", offered, offered_note});
  }
  if (Collected(summary, "tokens_per_second")) {
    figures.push_back({"output tokens",
                       absl::StrCat(Num(JsonAt(throughput, "output_tokens_per_s")), " tok/s"),
                       absl::StrCat("total (input + output) ",
                                    Num(JsonAt(throughput, "total_tokens_per_s")), " tok/s")});
  }
  figures.push_back({"requests", absl::StrCat(Num(JsonAt(requests, "succeeded")), " ok"),
                     absl::StrCat(Num(JsonAt(requests, "failed")), " failed, ",
                                  Num(JsonAt(requests, "incomplete")), " incomplete; error rate ",
                                  Percent(JsonAt(requests, "error_rate")))});
  const Json& goodput = JsonAt(summary, "goodput");
  if (goodput.is_object()) {
    figures.push_back(
        {"goodput", absl::StrCat(Num(JsonAt(goodput, "requests_per_s")), " req/s"),
         absl::StrCat(Percent(JsonAt(goodput, "slo_met_ratio")), " of requests met every SLO")});
  }
  const Json& latency = JsonAt(summary, "latency");
  for (const char* metric : {"ttft", "itl"}) {
    if (!Collected(summary, metric)) continue;
    const Json& percentiles = JsonAt(JsonAt(latency, metric), "percentiles");
    if (!percentiles.is_object() || JsonAt(percentiles, "p99").is_null()) continue;
    figures.push_back({absl::StrCat(absl::AsciiStrToUpper(metric), " p50 / p99"),
                       absl::StrCat(Num(JsonAt(percentiles, "p50")), " / ",
                                    Num(JsonAt(percentiles, "p99")), " ms"),
                       ""});
  }
  if (JsonAt(throughput, "drain_s").is_number()) {
    figures.push_back({"drain", absl::StrCat(Num(JsonAt(throughput, "drain_s")), " s"),
                       "window end to the last in-window request's end"});
  }
  return figures;
}

std::vector<std::string> PercentileKeys(const Json& summary) {
  std::vector<std::string> keys;
  for (const Json& p : JsonAt(JsonAt(summary, "benchmark"), "percentiles")) {
    if (!p.is_number()) continue;
    keys.push_back(absl::StrCat("p", Num(p)));
  }
  return keys;
}

// One row of a latency table: metric, count, mean, percentiles..., max (ms).
std::vector<std::string> LatencyRow(const std::string& metric, const Json& figures,
                                    const std::vector<std::string>& percentiles) {
  std::vector<std::string> row = {metric, Num(JsonAt(figures, "count")),
                                  Num(JsonAt(figures, "mean_ms"))};
  for (const std::string& p : percentiles)
    row.push_back(Num(JsonAt(JsonAt(figures, "percentiles"), p)));
  row.push_back(Num(JsonAt(figures, "max_ms")));
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
  for (const Json& e : JsonAt(JsonAt(summary, "requests"), "errors")) {
    std::vector<std::string> examples;
    for (const Json& example : JsonAt(e, "examples")) examples.push_back(Str(example));
    rows.push_back(
        {Str(JsonAt(e, "category")), Num(JsonAt(e, "count")), absl::StrJoin(examples, separator)});
  }
  return rows;
}

std::string StageVerdict(const Json& stage) {
  const Json& passed = JsonAt(JsonAt(stage, "slo"), "passed");
  if (!passed.is_boolean()) return "-";
  return passed.get<bool>() ? "met" : "FAILED";
}

// One percentile of a latency metric in a stage's or turn's "latency" object, as Num() shows it.
std::string LatencyPercentile(const Json& latency, const char* metric, const char* key) {
  return Num(JsonAt(JsonAt(JsonAt(latency, metric), "percentiles"), key));
}

// The stage table's rows: stage, offered rate, completion rate, TTFT p50/p99, ITL p99,
// E2E p99, goodput, errors, SLO.
std::vector<std::vector<std::string>> StageRows(const Json& summary) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& stage : JsonAt(summary, "stages")) {
    const Json& latency = JsonAt(stage, "latency");
    rows.push_back(
        {Num(JsonAt(stage, "stage")), Num(JsonAt(stage, "rate")),
         Num(JsonAt(JsonAt(stage, "throughput"), "offered_requests_per_s")),
         Num(JsonAt(JsonAt(stage, "throughput"), "requests_per_s")),
         LatencyPercentile(latency, "ttft", "p50"), LatencyPercentile(latency, "ttft", "p99"),
         LatencyPercentile(latency, "itl", "p99"), LatencyPercentile(latency, "e2e_latency", "p99"),
         Num(JsonAt(JsonAt(stage, "goodput"), "requests_per_s")),
         Num(JsonAt(JsonAt(stage, "requests"), "failed")), StageVerdict(stage)});
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

// The turn table's rows (conversations): turn ("32+" when it holds every later turn too),
// requests, mean prompt tokens (history included), cache hit ratio, TTFT p50/p99, ITL p50,
// E2E p50, failed.
std::vector<std::vector<std::string>> TurnRows(const Json& summary) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& turn : JsonAt(summary, "turns")) {
    const Json& latency = JsonAt(turn, "latency");
    const Json& requests = JsonAt(turn, "requests");
    const Json& input_tokens = JsonAt(JsonAt(turn, "throughput"), "input_tokens");
    const Json& succeeded = JsonAt(requests, "succeeded");
    std::string mean_prompt = "-";
    if (input_tokens.is_number() && succeeded.is_number() && succeeded.get<double>() > 0) {
      mean_prompt = absl::StrFormat("%.0f", input_tokens.get<double>() / succeeded.get<double>());
    }
    const bool and_later =
        JsonAt(turn, "and_later").is_boolean() && JsonAt(turn, "and_later").get<bool>();
    rows.push_back(
        {Num(JsonAt(turn, "turn")) + (and_later ? "+" : ""), Num(succeeded), mean_prompt,
         Percent(JsonAt(JsonAt(turn, "cache"), "hit_ratio")),
         LatencyPercentile(latency, "ttft", "p50"), LatencyPercentile(latency, "ttft", "p99"),
         LatencyPercentile(latency, "itl", "p50"), LatencyPercentile(latency, "e2e_latency", "p50"),
         Num(JsonAt(requests, "failed"))});
  }
  return rows;
}

const std::vector<std::string> kTurnHeader = {"turn",         "succeeded",     "mean prompt",
                                              "cache hit",    "TTFT p50 (ms)", "TTFT p99 (ms)",
                                              "ITL p50 (ms)", "E2E p50 (ms)",  "failed"};

std::vector<std::vector<std::string>> WorkerRows(const Json& summary) {
  std::vector<std::vector<std::string>> rows;
  for (const Json& w : JsonAt(summary, "workers")) {
    const bool active = JsonAt(w, "active").is_boolean() && JsonAt(w, "active").get<bool>();
    const bool lost = JsonAt(w, "lost").is_boolean() && JsonAt(w, "lost").get<bool>();
    rows.push_back({Str(JsonAt(w, "name")), Str(JsonAt(w, "id")), Num(JsonAt(w, "threads")),
                    lost ? "lost" : (active ? "active" : "idle"), Num(JsonAt(w, "rate")),
                    Num(JsonAt(w, "concurrency")), Num(JsonAt(w, "requests")),
                    Num(JsonAt(w, "succeeded")), Num(JsonAt(w, "failed")),
                    Num(JsonAt(w, "clock_offset_ms"))});
  }
  return rows;
}

const std::vector<std::string> kWorkerHeader = {
    "worker",      "id",       "threads",   "state",  "rate (req/s)",
    "concurrency", "requests", "succeeded", "failed", "clock offset (ms)"};

std::string Subtitle(const Json& summary) {
  const Json& target = JsonAt(summary, "target");
  const Json& benchmark = JsonAt(summary, "benchmark");
  return absl::StrCat(
      "model ", Str(JsonAt(target, "model")), " at ", Str(JsonAt(target, "endpoint")), " (",
      Str(JsonAt(target, "api")), "); ", Str(JsonAt(benchmark, "load_type")), " load, window ",
      Num(JsonAt(benchmark, "measured_window_s")), " s after ", Num(JsonAt(benchmark, "warmup_s")),
      " s warmup; ", Str(JsonAt(benchmark, "started_at")), " to ",
      Str(JsonAt(benchmark, "finished_at")));
}

std::string ToolLine(const Json& summary) {
  const Json& tool = JsonAt(summary, "tool");
  return absl::StrCat(Str(JsonAt(tool, "name")), " ", Str(JsonAt(tool, "version")), " (",
                      Str(JsonAt(tool, "commit")), ") on ", Str(JsonAt(tool, "host")));
}

// ---- HTML ----

std::string RenderHtml(const ResultsDirectory& results, const std::vector<InlineChart>& charts) {
  const Json& summary = results.summary;
  const std::string name = Str(JsonAt(JsonAt(summary, "benchmark"), "name"));
  std::string out = absl::StrCat("<header><h1>", HtmlEscape(name), "</h1>\n<p class=\"sub\">",
                                 HtmlEscape(Subtitle(summary)), "</p>\n");
  const bool configured = JsonAt(JsonAt(summary, "slo"), "configured").is_boolean() &&
                          JsonAt(JsonAt(summary, "slo"), "configured").get<bool>();
  absl::StrAppend(&out, "<p id=\"slo-verdict\" class=\"verdict ",
                  !configured ? "none" : (SloFailed(summary) ? "fail" : "pass"), "\">",
                  HtmlEscape(SloHeadline(summary)), "</p></header>\n");

  out += "<section id=\"headline\"><h2>Headline</h2><div class=\"cards\">\n";
  for (const Figure& figure : Headline(summary)) {
    absl::StrAppend(&out, "<div class=\"card\"><div class=\"label\">", HtmlEscape(figure.label),
                    "</div><div class=\"value\">", HtmlEscape(figure.value),
                    "</div><div class=\"note\">", HtmlEscape(figure.note), "</div></div>\n");
  }
  out += "</div>\n";
  const Json& generator = JsonAt(summary, "generator");
  absl::StrAppend(&out, "<p>Generator: ", HtmlEscape(Str(JsonAt(generator, "message"))),
                  "</p></section>\n");

  const Json& warnings = JsonAt(summary, "warnings");
  if (warnings.is_array() && !warnings.empty()) {
    out += "<section id=\"warnings\"><h2>Warnings</h2><ul class=\"warn\">";
    for (const Json& w : warnings) {
      absl::StrAppend(&out, "<li><b>", HtmlEscape(Str(JsonAt(w, "code"))),
                      "</b>: ", HtmlEscape(Str(JsonAt(w, "message"))), "</li>");
    }
    out += "</ul></section>\n";
  }

  // Latency: cells carry data-metric/data-field, so a reader (or a test) finds a figure.
  const std::vector<std::string> percentiles = PercentileKeys(summary);
  out += "<section id=\"latency\"><h2>Latency (ms)</h2><table id=\"latency-table\"><thead><tr>";
  for (const std::string& cell : LatencyHeader(percentiles)) {
    absl::StrAppend(&out, "<th>", HtmlEscape(cell), "</th>");
  }
  out += "</tr></thead><tbody>";
  std::vector<std::string> fields = {"count", "mean"};
  fields.insert(fields.end(), percentiles.begin(), percentiles.end());
  fields.push_back("max");
  for (const auto& [metric, figures] : ShownLatency(summary, summary)) {
    const std::vector<std::string> row = LatencyRow(metric, *figures, percentiles);
    absl::StrAppend(&out, "<tr><th scope=\"row\">", HtmlEscape(metric), "</th>");
    for (size_t i = 1; i < row.size(); ++i) {
      absl::StrAppend(&out, "<td data-metric=\"", HtmlEscape(metric), "\" data-field=\"",
                      HtmlEscape(fields[i - 1]), "\">", HtmlEscape(row[i]), "</td>");
    }
    out += "</tr>";
  }
  out += "</tbody></table></section>\n";

  const Json& verdicts = JsonAt(JsonAt(summary, "slo"), "verdicts");
  if (verdicts.is_array() && !verdicts.empty()) {
    out += "<section id=\"slo\"><h2>SLO verdicts</h2><ul>";
    for (const Json& verdict : verdicts) {
      const bool passed =
          JsonAt(verdict, "passed").is_boolean() && JsonAt(verdict, "passed").get<bool>();
      absl::StrAppend(&out, "<li class=\"", passed ? "pass" : "fail", "\">",
                      HtmlEscape(VerdictLine(verdict)), "</li>");
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
  if (const std::vector<std::vector<std::string>> turns = TurnRows(summary); !turns.empty()) {
    absl::StrAppend(&out, "<section id=\"turns\"><h2>Conversation turns</h2>",
                    HtmlTable(kTurnHeader, turns, "turns-table"), "</section>\n");
  }
  if (const std::vector<std::vector<std::string>> cache = CacheRows(results); !cache.empty()) {
    absl::StrAppend(&out, "<section id=\"cache\"><h2>Prefix cache</h2><p>",
                    HtmlEscape(CacheLine(summary)), "</p>",
                    HtmlTable(kCacheHeader, cache, "cache-table"), "</section>\n");
  }

  out += HtmlChartsSection(charts);

  const Json& prometheus_error = JsonAt(results.prometheus, "error");
  if (prometheus_error.is_string()) {
    absl::StrAppend(&out,
                    "<section id=\"prometheus\"><h2>Prometheus</h2><p>Not all series "
                    "could be read: ",
                    HtmlEscape(prometheus_error.get<std::string>()), "</p></section>\n");
  }

  const std::vector<std::vector<std::string>> workers = WorkerRows(summary);
  if (!workers.empty()) {
    absl::StrAppend(&out, "<section id=\"workers\"><h2>Workers</h2>",
                    HtmlTable(kWorkerHeader, workers, "workers-table"), "</section>\n");
  }
  const Json& connections = JsonAt(summary, "connections");
  absl::StrAppend(&out, "<section id=\"connections\"><h2>Connections</h2><p>",
                  Num(JsonAt(connections, "opened")), " opened, ",
                  Num(JsonAt(connections, "failed")), " failed, ",
                  Num(JsonAt(connections, "retries")), " retries; connect time p50 ",
                  Num(JsonAt(JsonAt(connections, "connect_ms"), "p50")), " ms, p99 ",
                  Num(JsonAt(JsonAt(connections, "connect_ms"), "p99")), " ms; cache hit ratio ",
                  Percent(JsonAt(JsonAt(summary, "cache"), "hit_ratio")), "</p></section>\n");

  const Json& notes = JsonAt(summary, "notes");
  if (notes.is_array() && !notes.empty()) {
    out += "<section id=\"notes\"><h2>Notes</h2><ul>";
    for (const Json& note : notes) absl::StrAppend(&out, "<li>", HtmlEscape(Str(note)), "</li>");
    out += "</ul></section>\n";
  }
  if (!results.config_yaml.empty()) {
    absl::StrAppend(&out, "<section id=\"config\"><h2>Configuration (secrets redacted)</h2><pre>",
                    HtmlEscape(results.config_yaml), "</pre></section>\n");
  }
  absl::StrAppend(
      &out, "<footer>", HtmlEscape(ToolLine(summary)), "; report by llm-d-bench ", kToolVersion,
      " from ", HtmlEscape(results.path),
      results.absent.empty()
          ? std::string()
          : HtmlEscape(absl::StrCat(" (absent: ", absl::StrJoin(results.absent, ", "), ")")),
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
  std::string out = absl::StrCat("# ", Md(Str(JsonAt(JsonAt(summary, "benchmark"), "name"))),
                                 "\n\n", Md(Subtitle(summary)), "\n\n**", Md(SloHeadline(summary)),
                                 "**\n\n## Headline\n\n");
  std::vector<std::vector<std::string>> headline;
  for (const Figure& figure : Headline(summary)) {
    headline.push_back({figure.label, figure.value, figure.note});
  }
  absl::StrAppend(&out, MdTable({"figure", "value", "what it is"}, headline),
                  "\nGenerator: ", Md(Str(JsonAt(JsonAt(summary, "generator"), "message"))), "\n");
  const Json& warnings = JsonAt(summary, "warnings");
  if (warnings.is_array() && !warnings.empty()) {
    out += "\n## Warnings\n\n";
    for (const Json& w : warnings) {
      absl::StrAppend(&out, "- **", Md(Str(JsonAt(w, "code"))),
                      "**: ", Md(Str(JsonAt(w, "message"))), "\n");
    }
  }
  const std::vector<std::string> percentiles = PercentileKeys(summary);
  absl::StrAppend(&out, "\n## Latency (ms)\n\n",
                  MdTable(LatencyHeader(percentiles), LatencyRows(summary, percentiles)));
  const Json& verdicts = JsonAt(JsonAt(summary, "slo"), "verdicts");
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
  if (const std::vector<std::vector<std::string>> turns = TurnRows(summary); !turns.empty()) {
    absl::StrAppend(&out, "\n## Conversation turns\n\n", MdTable(kTurnHeader, turns));
  }
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
  const Json& notes = JsonAt(summary, "notes");
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
                      CsvNum(JsonAt(figures, "count")), ",", CsvNum(JsonAt(figures, "mean_ms")),
                      ",", CsvNum(JsonAt(figures, "stddev_ms")), ",",
                      CsvNum(JsonAt(figures, "min_ms")));
      for (const std::string& p : percentiles) {
        absl::StrAppend(&out, ",", CsvNum(JsonAt(JsonAt(figures, "percentiles"), p)));
      }
      absl::StrAppend(&out, ",", CsvNum(JsonAt(figures, "max_ms")), "\n");
    }
  };
  rows("overall", "", summary);
  for (const Json& stage : JsonAt(summary, "stages")) {
    rows(absl::StrCat("stage ", CsvNum(JsonAt(stage, "stage"))), CsvNum(JsonAt(stage, "rate")),
         stage);
  }
  return out;
}

// The figures a script compares, flat: headline, latency percentiles, SLO, stages, turns.
std::string RenderJson(const ResultsDirectory& results) {
  const Json& summary = results.summary;
  Json out;
  out["report_version"] = 1;
  out["name"] = JsonAt(JsonAt(summary, "benchmark"), "name");
  out["target"] = JsonAt(summary, "target");
  out["tool"] = JsonAt(summary, "tool");
  out["started_at"] = JsonAt(JsonAt(summary, "benchmark"), "started_at");
  Json headline = Json::object();
  for (const Figure& figure : Headline(summary)) {
    headline[figure.label] = Json{{"value", figure.value}, {"note", figure.note}};
  }
  out["headline"] = std::move(headline);
  out["throughput"] = JsonAt(summary, "throughput");
  Json latency = Json::object();
  for (const auto& [metric, figures] : ShownLatency(summary, summary)) {
    Json row = JsonAt(*figures, "percentiles");
    row["mean"] = JsonAt(*figures, "mean_ms");
    row["max"] = JsonAt(*figures, "max_ms");
    row["count"] = JsonAt(*figures, "count");
    latency[metric] = std::move(row);
  }
  out["latency_ms"] = std::move(latency);
  out["slo"] = Json{{"verdict", SloHeadline(summary)},
                    {"failed", SloFailed(summary)},
                    {"verdicts", JsonAt(JsonAt(summary, "slo"), "verdicts")}};
  out["errors"] = JsonAt(JsonAt(summary, "requests"), "errors");
  out["warnings"] = JsonAt(summary, "warnings");
  Json stages = Json::array();
  for (const std::vector<std::string>& row : StageRows(summary)) {
    Json stage = Json::object();
    for (size_t i = 0; i < row.size() && i < kStageHeader.size(); ++i) {
      stage[kStageHeader[i]] = row[i];
    }
    stages.push_back(std::move(stage));
  }
  out["stages"] = std::move(stages);
  Json turns = Json::array();
  for (const std::vector<std::string>& row : TurnRows(summary)) {
    Json turn = Json::object();
    for (size_t i = 0; i < row.size() && i < kTurnHeader.size(); ++i) turn[kTurnHeader[i]] = row[i];
    turns.push_back(std::move(turn));
  }
  out["turns"] = std::move(turns);
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
  // html before pdf: the PDF prints that page.
  for (const auto& [output, report] : {std::pair{OutputFormat::kHtml, ReportFormat::kHtml},
                                       std::pair{OutputFormat::kPdf, ReportFormat::kPdf},
                                       std::pair{OutputFormat::kMd, ReportFormat::kMd},
                                       std::pair{OutputFormat::kCsv, ReportFormat::kCsv}}) {
    if (config.output.Wants(output)) formats.push_back(report);
  }
  if (formats.empty()) return absl::OkStatus();
  BENCH_ASSIGN_OR_RETURN(const ResultsDirectory results, LoadResultsDirectory(directory));
  std::vector<std::string> failed;
  bool html_written = false;
  for (const ReportFormat format : formats) {
    const std::string path = absl::StrCat(directory, "/", ReportFileName(format));
    // The PDF prints the report.html just written rather than drawing every chart again.
    const absl::Status written =
        format == ReportFormat::kPdf && html_written
            ? PrintPdf(absl::StrCat(directory, "/", ReportFileName(ReportFormat::kHtml)), path)
            : WriteReport(results, format, path);
    html_written = html_written || (format == ReportFormat::kHtml && written.ok());
    if (!written.ok())
      failed.push_back(absl::StrCat(ReportFileName(format), ": ", written.message()));
  }
  if (failed.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrJoin(failed, "; "));
}

}  // namespace bench::controller
