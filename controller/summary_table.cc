// The console summary (RenderSummaryTable): labelled lines wrapped to 100 columns, the latency
// table, the stage table and the SLO verdicts.
#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/config_yaml.h"
#include "controller/commands.h"
#include "controller/summary.h"
#include "controller/summary_format.h"

namespace bench::controller {
namespace {

constexpr int kTableWidth = 100;
constexpr int kLabelWidth = 11;

std::string Label(std::string_view label) {
  return absl::StrFormat("%-*s", kLabelWidth, std::string(label));
}

// `label` then `text`, word-wrapped to the table width with continuation lines indented.
void AppendWrapped(std::string_view label, std::string_view text, std::string* out) {
  constexpr size_t kWidth = kTableWidth;
  constexpr size_t kTextWidth = kTableWidth - kLabelWidth;
  std::string line = Label(label);
  const std::string indent(kLabelWidth, ' ');
  bool line_has_word = false;
  bool flushed = false;
  auto flush = [&] {
    absl::StrAppend(out, line, "\n");
    line = indent;
    line_has_word = false;
    flushed = true;
  };
  // Words, with a unit kept on the line of its number ("3.2 ms", "5 s").
  std::vector<std::string> words;
  for (const absl::string_view piece :
       absl::StrSplit(absl::string_view(text.data(), text.size()), absl::ByAnyChar(" \t\r\n"),
                      absl::SkipEmpty())) {
    const size_t last = piece.find_last_not_of(");,.");
    const absl::string_view core =
        last == absl::string_view::npos ? absl::string_view() : piece.substr(0, last + 1);
    const bool unit = core == "ms" || core == "s" || core == "req/s" || core == "tok/s";
    if (unit && !words.empty() &&
        absl::ascii_isdigit(static_cast<unsigned char>(words.back().back()))) {
      absl::StrAppend(&words.back(), " ", piece);
    } else {
      words.emplace_back(piece.data(), piece.size());
    }
  }
  for (const std::string& token : words) {
    std::string_view word = token;
    // A word wider than a line (a long URL, a path) is cut.
    while (word.size() > kTextWidth) {
      if (line_has_word) flush();
      line.append(word.substr(0, kTextWidth));
      line_has_word = true;
      word.remove_prefix(kTextWidth);
      flush();
    }
    if (word.empty()) continue;
    if (line_has_word && line.size() + 1 + word.size() > kWidth) flush();
    if (line_has_word) line += ' ';
    line.append(word);
    line_has_word = true;
  }
  if (line_has_word || !flushed) absl::StrAppend(out, line, "\n");
}

// The latency table: label, count, then value columns in chunks that fit the width.
// A latency row is shown when metrics.collect names it; schedule_lag and e2e_from_intended
// always are (the generator's truth, SPEC section 3).
bool ShownInTable(const RunSummary& summary, const std::string& metric) {
  return metric == "schedule_lag" || metric == "e2e_from_intended" ||
         std::find(summary.collect.begin(), summary.collect.end(), metric) != summary.collect.end();
}

void AppendLatencyTable(const RunSummary& summary, const BlockSummary& block, std::string* out) {
  constexpr int kNameWidth = 18;
  constexpr int kCountWidth = 10;
  constexpr int kCellWidth = 8;
  constexpr size_t kCellsPerRow = (kTableWidth - kNameWidth - kCountWidth) / kCellWidth;
  struct Column {
    std::string label;
    std::function<double(const MetricSummary&)> value;
  };
  std::vector<Column> columns;
  columns.push_back({"mean", [](const MetricSummary& m) { return m.mean_ms; }});
  columns.push_back({"stddev", [](const MetricSummary& m) { return m.stddev_ms; }});
  columns.push_back({"min", [](const MetricSummary& m) { return m.min_ms; }});
  for (size_t i = 0; i < summary.percentiles.size(); ++i) {
    columns.push_back({PercentileLabel(summary.percentiles[i]), [i](const MetricSummary& m) {
                         return i < m.percentiles.size() ? m.percentiles[i].value_ms : 0.0;
                       }});
  }
  columns.push_back({"max", [](const MetricSummary& m) { return m.max_ms; }});

  for (size_t first = 0; first < columns.size(); first += kCellsPerRow) {
    const size_t last = std::min(columns.size(), first + kCellsPerRow);
    std::string header =
        absl::StrFormat("%-*s%*s", kNameWidth, "latency (ms)", kCountWidth, "count");
    for (size_t c = first; c < last; ++c) {
      absl::StrAppend(&header, absl::StrFormat("%*s", kCellWidth, columns[c].label));
    }
    absl::StrAppend(out, "\n", header, "\n");
    for (const MetricSummary& metric : block.latency) {
      if (!ShownInTable(summary, metric.name)) continue;
      std::string row = absl::StrFormat("%-*s%*s", kNameWidth, metric.name, kCountWidth,
                                        FormatCountCell(metric.count));
      for (size_t c = first; c < last; ++c) {
        const std::string cell =
            metric.count == 0 ? std::string("-") : FormatCell(columns[c].value(metric));
        absl::StrAppend(&row, absl::StrFormat("%*s", kCellWidth, cell));
      }
      absl::StrAppend(out, row, "\n");
    }
  }
}

const MetricSummary* FindMetric(const BlockSummary& block, LatencyMetric metric) {
  const std::string_view name = LatencyMetricName(metric);
  for (const MetricSummary& m : block.latency) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

// A metric's value at a percentile, computed for the stage table ("-" without samples).
std::string StagePercentile(const BlockSummary& block, LatencyMetric metric, double percentile,
                            const std::vector<double>& configured) {
  const MetricSummary* m = FindMetric(block, metric);
  if (m == nullptr || m->count == 0) return "-";
  for (size_t i = 0; i < configured.size() && i < m->percentiles.size(); ++i) {
    if (configured[i] == percentile) return FormatCell(m->percentiles[i].value_ms);
  }
  return "-";
}

// The two percentiles the stage and turn tables show: p50 and p99 when configured, else the
// first and last configured (`configured` is not empty).
std::pair<double, double> TablePercentiles(const std::vector<double>& configured) {
  const auto has = [&](double p) {
    return std::find(configured.begin(), configured.end(), p) != configured.end();
  };
  if (has(50) && has(99)) return {50, 99};
  return {configured.front(), configured.back()};
}

void AppendStageTable(const RunSummary& summary, std::string* out) {
  const std::vector<double>& configured = summary.percentiles;
  if (configured.empty()) return;
  const auto [low, high] = TablePercentiles(configured);
  const std::string low_label = PercentileLabel(low);
  const std::string high_label = PercentileLabel(high);
  // goodput: requests/s that met every latency SLO ("-" without latency SLOs); slo: the stage's
  // own verdict.
  absl::StrAppend(
      out, "\n",
      absl::StrFormat("%-6s%8s%9s%7s%10s%7s%8s%8s%9s%9s%9s%6s\n", "stage", "rate/s", "achieved",
                      "window", "succeeded", "errors", "req/s", "goodput", "ttft " + low_label,
                      "ttft " + high_label, "itl " + high_label, "slo"));
  for (const BlockSummary& stage : summary.stages) {
    const std::string window = FormatValue(stage.window_s) + "s";
    const std::string errors =
        stage.requests.error_rate.has_value() ? FormatPercent(*stage.requests.error_rate) : "-";
    std::string slo = "-";
    if (!stage.slo.empty()) {
      slo = std::all_of(stage.slo.begin(), stage.slo.end(),
                        [](const SloVerdict& v) { return v.passed; })
                ? "met"
                : "FAIL";
    }
    absl::StrAppend(
        out, absl::StrFormat(
                 "%-6d%8s%9s%7s%10s%7s%8s%8s%9s%9s%9s%6s\n", stage.stage,
                 OptionalRate(stage.rates.requested_rate), OptionalRate(stage.rates.achieved_rate),
                 window, FormatCount(stage.requests.succeeded), errors,
                 OptionalRate(stage.throughput.requests_per_s), OptionalRate(stage.goodput_rps),
                 StagePercentile(stage, LatencyMetric::kTtft, low, configured),
                 StagePercentile(stage, LatencyMetric::kTtft, high, configured),
                 StagePercentile(stage, LatencyMetric::kItl, high, configured), slo));
  }
}

// Conversations: TTFT and ITL by turn, with the prompt that turn sent (its history grows) and
// how much of it the server had cached.
void AppendTurnTable(const RunSummary& summary, std::string* out) {
  const std::vector<double>& configured = summary.percentiles;
  if (configured.empty()) return;
  const auto [low, high] = TablePercentiles(configured);
  const std::string low_label = PercentileLabel(low);
  const std::string high_label = PercentileLabel(high);
  absl::StrAppend(out, "\n",
                  absl::StrFormat("%-6s%10s%7s%10s%8s%9s%9s%9s%9s\n", "turn", "succeeded", "errors",
                                  "input tok", "cached", "ttft " + low_label, "ttft " + high_label,
                                  "itl " + low_label, "itl " + high_label));
  for (const BlockSummary& turn : summary.turns) {
    const std::string errors =
        turn.requests.error_rate.has_value() ? FormatPercent(*turn.requests.error_rate) : "-";
    const std::string input = turn.requests.succeeded > 0
                                  ? FormatValue(static_cast<double>(turn.throughput.input_tokens) /
                                                static_cast<double>(turn.requests.succeeded))
                                  : "-";
    const std::string cached =
        turn.cache.hit_ratio.has_value() ? FormatPercent(*turn.cache.hit_ratio) : "-";
    std::string label = std::to_string(turn.stage);
    if (summary.turns_capped && turn.stage == kMaxTurnShards) label += "+";
    absl::StrAppend(out,
                    absl::StrFormat("%-6s%10s%7s%10s%8s%9s%9s%9s%9s\n", label,
                                    FormatCount(turn.requests.succeeded), errors, input, cached,
                                    StagePercentile(turn, LatencyMetric::kTtft, low, configured),
                                    StagePercentile(turn, LatencyMetric::kTtft, high, configured),
                                    StagePercentile(turn, LatencyMetric::kItl, low, configured),
                                    StagePercentile(turn, LatencyMetric::kItl, high, configured)));
  }
}

}  // namespace

// "; up to 100 streams on one (mean 98.5), connect p50 0.2 ms p99 1.3 ms" for the engine line.
std::string ConnectionDetail(const RunSummary& summary) {
  const ConnectionStats& c = summary.connections;
  const int64_t connected = c.connect_time.TotalCount();
  if (connected == 0) return "";
  const double mean = static_cast<double>(c.streams) / static_cast<double>(connected);
  auto ms = [](int64_t us) { return FormatValue(static_cast<double>(us) / 1000.0); };
  return absl::StrCat("; busiest carried ", FormatCount(c.max_streams), " requests (mean ",
                      FormatValue(mean), "); connect p50 ",
                      ms(c.connect_time.ValueAtPercentile(50)), " ms, p99 ",
                      ms(c.connect_time.ValueAtPercentile(99)), " ms");
}

std::string RenderSummaryTable(const RunSummary& summary) {
  std::string out;
  const BlockSummary& all = summary.overall;
  absl::StrAppend(&out, "== llm-d-bench summary: ", summary.name, " ==\n");

  std::string load = summary.load_type;
  if (summary.closed_loop) {
    absl::StrAppend(&load, ", closed loop of ", summary.concurrency, " in flight");
  } else {
    if (all.rates.requested_rate.has_value()) {
      absl::StrAppend(&load, ", requested ", FormatRate(*all.rates.requested_rate), " req/s");
    }
    if (summary.concurrency > 0) {
      absl::StrAppend(&load, ", at most ", summary.concurrency, " in flight");
    }
  }
  absl::StrAppend(&load, "; window ", FormatValue(summary.window_s), " s");
  if (summary.measured_window_s != summary.window_s) {
    absl::StrAppend(&load, " (measured ", FormatValue(summary.measured_window_s), " s)");
  }
  absl::StrAppend(&load, " after ", FormatValue(summary.warmup_s), " s warmup");
  AppendWrapped("load", load, &out);
  if (!summary.started_at_utc.empty()) {
    AppendWrapped("time", absl::StrCat(summary.started_at_utc, " to ", summary.finished_at_utc),
                  &out);
  }

  const RequestSummary& r = all.requests;
  AppendWrapped("requests",
                absl::StrCat(FormatCount(r.in_window), " in window: ", FormatCount(r.succeeded),
                             " succeeded, ", FormatCount(r.failed), " failed, ",
                             FormatCount(r.incomplete), " incomplete; error rate ",
                             r.error_rate.has_value() ? FormatPercent(*r.error_rate) : "-"),
                &out);
  // metrics.collect picks the table's lines and latency rows. The generator's own figures
  // (offered rate, schedule lag, latency from the intended send time) are always shown: they
  // say whether the other numbers can be trusted.
  auto collected = [&summary](std::string_view name) {
    return std::find(summary.collect.begin(), summary.collect.end(), name) != summary.collect.end();
  };
  if (!r.errors.empty() && (collected("errors") || collected("error_rate"))) {
    std::vector<std::string> items;
    for (const auto& [category, count] : r.errors) {
      const auto examples = r.error_examples.find(category);
      items.push_back(absl::StrCat(category, " ", FormatCount(count),
                                   examples != r.error_examples.end() && !examples->second.empty()
                                       ? absl::StrCat(" (", examples->second.front(), ")")
                                       : ""));
    }
    AppendWrapped("errors", absl::StrJoin(items, ", "), &out);
  }

  const ThroughputSummary& t = all.throughput;
  // Which rate is which: what the target completed in the window (the headline), what was
  // sent (offered), and how long the window's last requests took after it.
  std::vector<std::string> rates;
  if (collected("throughput")) {
    rates.push_back(absl::StrCat(OptionalRate(t.requests_per_s), " req/s completed in the window"));
  }
  if (collected("tokens_per_second")) {
    rates.push_back(absl::StrCat("output ", OptionalRate(t.output_tokens_per_s), " tok/s; total ",
                                 OptionalRate(t.total_tokens_per_s), " tok/s (",
                                 FormatCount(t.input_tokens), " in, ", FormatCount(t.output_tokens),
                                 " out)"));
  }
  if (!rates.empty()) AppendWrapped("throughput", absl::StrJoin(rates, "; "), &out);
  if (!summary.closed_loop) {
    std::string offered = absl::StrCat(OptionalRate(all.rates.achieved_rate), " req/s sent");
    if (all.rates.requested_rate.has_value()) {
      absl::StrAppend(&offered, " (", FormatRate(*all.rates.requested_rate), " requested)");
    }
    if (t.drain_s.has_value()) {
      absl::StrAppend(&offered, "; the last request ended ", FormatValue(*t.drain_s),
                      " s after the window");
    }
    AppendWrapped("offered", offered, &out);
  }
  if (t.per_interval.has_value() && collected("throughput")) {
    const IntervalDistribution& d = *t.per_interval;
    AppendWrapped(
        "per second",
        absl::StrCat("completed min ", FormatRate(d.min), ", p50 ", FormatRate(d.p50), ", mean ",
                     FormatRate(d.mean), ", max ", FormatRate(d.max), " req/s over ", d.intervals,
                     " intervals of ", FormatValue(summary.interval_s), " s"),
        &out);
  }
  AppendWrapped("generator", all.generator_message, &out);
  if (collected("queue_depth")) {
    AppendWrapped("queue",
                  absl::StrCat("peak ", FormatCount(summary.peak_in_flight), " in flight, peak ",
                               FormatCount(summary.peak_client_queue),
                               " waiting for a concurrency slot (client side)"),
                  &out);
  }
  // Goodput is what an SLO asks for: shown with SLOs, or when collected (then n/a without one).
  if (all.goodput_rps.has_value()) {
    std::string goodput = absl::StrCat(FormatRate(*all.goodput_rps), " req/s");
    if (r.succeeded > 0) {
      absl::StrAppend(
          &goodput, " (",
          FormatPercent(static_cast<double>(all.slo_met) / static_cast<double>(r.succeeded)),
          " of successes met every SLO)");
    }
    AppendWrapped("goodput", goodput, &out);
  } else if (collected("goodput")) {
    AppendWrapped("goodput", "n/a: no latency SLO is set (slo.<metric>.pNN)", &out);
  }
  if (!collected("cache_hit_ratio")) {
    // Not asked for.
  } else if (all.cache.hit_ratio.has_value()) {
    AppendWrapped(
        "cache",
        absl::StrCat("hit ratio ", FormatPercent(*all.cache.hit_ratio), " (",
                     FormatCount(all.cache.cached_tokens), " of ",
                     FormatCount(all.cache.input_tokens_with_cache_info), " prompt tokens cached)"),
        &out);
  } else {
    AppendWrapped("cache", "hit ratio n/a: " + all.cache.reason, &out);
  }
  AppendWrapped(
      "engine",
      absl::StrCat(summary.engine_threads, summary.engine_threads == 1 ? " thread, " : " threads, ",
                   summary.workers, summary.workers == 1 ? " worker" : " workers", "; connections ",
                   FormatCount(summary.connections.opened), " opened, ",
                   FormatCount(summary.connections.failed), " failed, ",
                   FormatCount(summary.connections.retries), " retries", ConnectionDetail(summary)),
      &out);
  if (summary.worker_figures.size() > 1) {
    std::string line;
    for (const WorkerFigures& w : summary.worker_figures) {
      absl::StrAppend(&line, line.empty() ? "" : ", ", w.name, " ", FormatCount(w.sent),
                      w.lost ? " (lost)" : "");
    }
    AppendWrapped("workers", absl::StrCat("requests per worker: ", line), &out);
  }

  AppendLatencyTable(summary, all, &out);
  if (!summary.stages.empty()) AppendStageTable(summary, &out);
  if (!summary.turns.empty()) AppendTurnTable(summary, &out);

  if (!summary.slo.empty()) out += "\n";
  bool first_slo = true;
  for (const SloVerdict& v : summary.slo) {
    AppendWrapped(first_slo ? "SLO" : "", VerdictText(v), &out);
    first_slo = false;
  }
  if (summary.first_failed_stage > 0) {
    const BlockSummary& stage = summary.stages[summary.first_failed_stage - 1];
    std::vector<std::string> broken;
    for (const SloVerdict& v : stage.slo) {
      if (!v.passed) broken.push_back(VerdictText(v));
    }
    std::vector<std::string> others;
    for (const BlockSummary& later : summary.stages) {
      if (later.stage <= stage.stage) continue;
      if (std::any_of(later.slo.begin(), later.slo.end(),
                      [](const SloVerdict& v) { return !v.passed; })) {
        others.push_back(absl::StrCat(later.stage));
      }
    }
    std::string text = absl::StrCat(
        "stage ", stage.stage,
        stage.stage_rate.has_value() ? absl::StrCat(" (", FormatRate(*stage.stage_rate), " req/s)")
                                     : "",
        " is the first to break an SLO: ", absl::StrJoin(broken, "; "));
    if (!others.empty())
      absl::StrAppend(&text, "; later stages broken: ", absl::StrJoin(others, ", "));
    AppendWrapped(first_slo ? "SLO" : "", text, &out);
  }

  if (!summary.warnings.empty() || !summary.notes.empty()) out += "\n";
  for (const Warning& w : summary.warnings) {
    AppendWrapped("WARNING", absl::StrCat(w.code, ": ", w.message), &out);
  }
  // The defaults the config left to us are in summary.json (and `run --verbose`, `validate`);
  // the table keeps the notes about this run.
  size_t defaults = 0;
  for (const std::string& note : summary.notes) {
    if (note.rfind(kDefaultsNotePrefix, 0) == 0) {
      ++defaults;
    } else {
      AppendWrapped("note", note, &out);
    }
  }
  if (defaults > 0) {
    AppendWrapped("note",
                  "defaults applied: summary.json's notes list them (run --verbose prints them)",
                  &out);
  }

  std::string verdict;
  switch (ExitCodeFor(summary)) {
    case kExitOk:
      verdict = summary.slo.empty() ? "done" : "done, every SLO met";
      break;
    case kExitSloFailed:
      verdict = summary.first_failed_stage > 0
                    ? absl::StrCat("SLO FAILED (first at stage ", summary.first_failed_stage, ")")
                    : "SLO FAILED";
      break;
    case kExitCancelled:
      verdict = "CANCELLED (partial results)";
      break;
    case kExitAborted:
      verdict =
          absl::StrCat("ABORTED by slo.abortOnFail (partial results): ", summary.abort_reason);
      break;
    default:
      verdict = "FAILED: no request succeeded";
      break;
  }
  out += "\n";
  AppendWrapped("result", verdict, &out);
  return out;
}

}  // namespace bench::controller
