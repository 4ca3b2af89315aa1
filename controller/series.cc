#include "controller/series.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/duration.h"
#include "controller/commands.h"
#include "controller/html_page.h"
#include "controller/json_at.h"
#include "controller/plots.h"
#include "controller/results.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

// Capacity: how many times a failing first probe is halved before the search says that no
// rate it can afford to probe meets the SLOs (start / 8).
constexpr int kMaxHalvings = 3;

double NumberOr(const Json& value, double fallback) {
  return value.is_number() ? value.get<double>() : fallback;
}

std::string Rate(double rate) { return absl::StrFormat("%.4g", rate); }

// "sweep" or "capacity" (absl::StrCat takes no std::string_view here).
std::string KindName(const BenchmarkConfig& config) {
  return std::string(SeriesKindName(config.load.series.kind));
}

std::string Ms(double ms) { return ms < 0 ? std::string("-") : absl::StrFormat("%.1f", ms); }

std::string RunShape(const ProbeResult& p) {
  if (p.role == "rate") {
    return absl::StrCat(Rate(p.rate), " req/s",
                        p.concurrency > 0 ? absl::StrCat(" (cap ", p.concurrency, ")") : "");
  }
  return absl::StrCat(p.concurrency, p.concurrency == 1 ? " user" : " in flight");
}

}  // namespace

absl::Status ReadProbeSummary(const std::string& summary_json, ProbeResult* result) {
  const Json summary = Json::parse(summary_json, nullptr, /*allow_exceptions=*/false);
  if (!summary.is_object()) return absl::InvalidArgumentError("summary.json is not a JSON object");
  const Json& rates = JsonAt(summary, "rates");
  const Json& throughput = JsonAt(summary, "throughput");
  const Json& requests = JsonAt(summary, "requests");
  result->duration_s = NumberOr(JsonAt(JsonAt(summary, "benchmark"), "measured_window_s"), 0);
  result->achieved_rate = NumberOr(JsonAt(rates, "achieved_rate"), 0);
  result->completed_rate = NumberOr(JsonAt(throughput, "requests_per_s"), 0);
  result->output_tokens_per_s = NumberOr(JsonAt(throughput, "output_tokens_per_s"), 0);
  result->succeeded = static_cast<uint64_t>(NumberOr(JsonAt(requests, "succeeded"), 0));
  result->failed = static_cast<uint64_t>(NumberOr(JsonAt(requests, "failed"), 0));
  result->error_rate = NumberOr(JsonAt(requests, "error_rate"), 0);
  const Json& latency = JsonAt(summary, "latency");
  const auto percentile = [&](const char* metric, const char* label) {
    return NumberOr(JsonAt(JsonAt(JsonAt(latency, metric), "percentiles"), label), -1);
  };
  result->ttft_p50_ms = percentile("ttft", "p50");
  result->ttft_p99_ms = percentile("ttft", "p99");
  result->itl_p50_ms = percentile("itl", "p50");
  result->itl_p99_ms = percentile("itl", "p99");
  result->e2e_p50_ms = percentile("e2e_latency", "p50");
  result->e2e_p99_ms = percentile("e2e_latency", "p99");
  const Json& slo = JsonAt(summary, "slo");
  if (JsonAt(slo, "passed").is_boolean()) result->slo_passed = JsonAt(slo, "passed").get<bool>();
  std::vector<std::string> failures;
  const Json& verdicts = JsonAt(slo, "verdicts");
  for (const Json& verdict : verdicts.is_array() ? verdicts : Json::array()) {
    if (JsonAt(verdict, "passed") != false) continue;
    const std::string metric = JsonAt(verdict, "metric").is_string()
                                   ? JsonAt(verdict, "metric").get<std::string>()
                                   : std::string("?");
    const Json& actual = JsonAt(verdict, "actual_ms").is_null() ? JsonAt(verdict, "actual")
                                                                : JsonAt(verdict, "actual_ms");
    if (metric == "errorRate") {
      failures.push_back(absl::StrFormat(
          "error rate %s > %.4g",
          actual.is_number() ? absl::StrFormat("%.4g", actual.get<double>()) : "unknown",
          NumberOr(JsonAt(verdict, "limit"), 0)));
    } else {
      failures.push_back(
          absl::StrFormat("%s p%g %s > %.4g ms", metric, NumberOr(JsonAt(verdict, "percentile"), 0),
                          actual.is_number() ? absl::StrFormat("%.1f ms", actual.get<double>())
                                             : std::string("unmeasured"),
                          NumberOr(JsonAt(verdict, "limit_ms"), 0)));
    }
  }
  result->slo_failures = absl::StrJoin(failures, "; ");
  result->generator_limited = JsonAt(JsonAt(summary, "generator"), "limited") == true;
  return absl::OkStatus();
}

// ---- the driver -------------------------------------------------------------------------------

SeriesDriver::SeriesDriver(BenchmarkConfig config) : config_(std::move(config)) {
  if (config_.load.series.kind == SeriesKind::kCapacity) {
    next_rate_ = config_.load.series.capacity.start;
  }
}

ProbeSpec SeriesDriver::MakeProbe(const std::string& probes_dir, const std::string& role,
                                  double rate, int64_t concurrency) const {
  ProbeSpec probe;
  probe.index = static_cast<int>(probes_.size()) + 1;
  probe.role = role;
  probe.rate = rate;
  probe.concurrency = role == "rate" ? config_.load.concurrency : concurrency;
  BenchmarkConfig& c = probe.config;
  c = config_;
  c.load.series = SeriesConfig{};
  if (role == "rate") {
    c.load.rate = rate;
    c.load.concurrency = config_.load.concurrency;  // the cap, if any
  } else {
    c.load.type = LoadType::kConcurrency;
    c.load.rate = 0;
    c.load.concurrency = concurrency;
  }
  // A seed of its own per probe: the same prompts again would be answered from the server's
  // prefix cache and make later probes look faster than they are.
  c.benchmark.seed = config_.benchmark.seed + static_cast<uint64_t>(probe.index) - 1;
  c.benchmark.name = absl::StrFormat("%02d-%s", probe.index, role);
  if (role == "rate") absl::StrAppend(&c.benchmark.name, "-", Rate(rate));
  c.output.dir = probes_dir;
  if (config_.load.series.kind == SeriesKind::kCapacity) {
    // Long enough for minRequests, so the probe's p99 rests on enough samples.
    const double needed_s =
        std::ceil(static_cast<double>(config_.load.series.capacity.min_requests) / rate);
    c.benchmark.duration = std::max(c.benchmark.duration, absl::Seconds(needed_s));
  }
  return probe;
}

std::optional<ProbeSpec> SeriesDriver::Next(const std::string& probes_dir) {
  if (done_) return std::nullopt;
  const SeriesConfig& series = config_.load.series;
  if (series.kind == SeriesKind::kSweep) {
    if (probes_.empty()) return MakeProbe(probes_dir, "synchronous", 0, 1);
    if (probes_.size() == 1) {
      return MakeProbe(probes_dir, "throughput", 0, series.sweep.throughput_concurrency);
    }
    const size_t next = probes_.size() - 2;
    if (next >= planned_rates_.size()) {
      done_ = true;
      return std::nullopt;
    }
    return MakeProbe(probes_dir, "rate", planned_rates_[next], 0);
  }
  if (!next_rate_.has_value()) {
    done_ = true;
    return std::nullopt;
  }
  if (static_cast<int64_t>(probes_.size()) >= series.capacity.max_probes) {
    note_ = absl::StrCat("load.capacity.maxProbes (", series.capacity.max_probes,
                         ") ran out before the bracket closed to the resolution");
    done_ = true;
    return std::nullopt;
  }
  return MakeProbe(probes_dir, "rate", *next_rate_, 0);
}

void SeriesDriver::Record(ProbeResult result) {
  probes_.push_back(std::move(result));
  const ProbeResult& last = probes_.back();
  // A probe that missed its SLOs exits 3 and still measured; anything else stops the series.
  if (last.exit_code != kExitOk && last.exit_code != kExitSloFailed) {
    stop_reason_ = absl::StrCat("probe ", last.index, " ended with exit code ", last.exit_code,
                                last.error.empty() ? "" : ": ", last.error);
    done_ = true;
    return;
  }
  if (config_.load.series.kind == SeriesKind::kSweep) {
    DecideSweep();
  } else {
    DecideCapacity(last);
  }
}

void SeriesDriver::DecideSweep() {
  if (probes_.size() != 2) return;
  const double low = probes_[0].completed_rate;
  const double high = probes_[1].completed_rate;
  if (!(low > 0) || !(high > 0)) {
    stop_reason_ = absl::StrCat("the ", low > 0 ? "throughput" : "synchronous",
                                " run completed no request, so there is no rate range to sweep");
    done_ = true;
    return;
  }
  // points - 2 rates spread evenly strictly between the two measured rates.
  const int64_t between = config_.load.series.sweep.points - 2;
  for (int64_t k = 1; k <= between; ++k) {
    planned_rates_.push_back(low + (high - low) * static_cast<double>(k) /
                                       static_cast<double>(between + 1));
  }
  if (high <= low) {
    note_ = absl::StrFormat(
        "the throughput run completed %.4g req/s, no more than one user's %.4g: the server "
        "does not gain from concurrency, so the rates probed lie at or below one user's",
        high, low);
  }
}

void SeriesDriver::DecideCapacity(const ProbeResult& result) {
  const CapacityConfig& capacity = config_.load.series.capacity;
  // A probe whose load generator fell behind did not offer its rate (the server may or may not
  // have held it): counted as a miss, so the answer is never a rate that was not sent.
  if (result.slo_passed == true && result.generator_limited) {
    note_ = absl::StrCat("probe ", result.index,
                         " met the SLOs but the load generator fell behind ", Rate(result.rate),
                         " req/s (summary.json generator), so it counts as a miss; "
                         "the answer may be bounded by the generator, not the server");
  }
  const bool passed = result.slo_passed == true && !result.generator_limited;
  if (passed) {
    if (!answer_.has_value() || result.rate > passing_rate_) {
      answer_ = result.index;
      passing_rate_ = result.rate;
    }
  } else if (failing_rate_ == 0 || result.rate < failing_rate_) {
    failing_rate_ = result.rate;
  }
  if (failing_rate_ == 0) {  // still bracketing upwards
    if (capacity.max > 0 && result.rate >= capacity.max) {
      note_ = absl::StrCat("every SLO holds at load.capacity.max (", Rate(capacity.max),
                           " req/s), the highest rate the search may probe");
      next_rate_.reset();
      return;
    }
    next_rate_ = capacity.max > 0 ? std::min(2 * result.rate, capacity.max) : 2 * result.rate;
    return;
  }
  if (!answer_.has_value()) {  // still bracketing downwards
    if (halvings_ >= kMaxHalvings) {
      next_rate_.reset();
      return;
    }
    ++halvings_;
    next_rate_ = result.rate / 2;
    return;
  }
  const double resolution =
      capacity.relative_resolution ? capacity.resolution * passing_rate_ : capacity.resolution;
  if (failing_rate_ - passing_rate_ <= resolution) {
    resolution_reached_ = true;
    next_rate_.reset();
    return;
  }
  next_rate_ = (passing_rate_ + failing_rate_) / 2;
}

const ProbeResult* SeriesDriver::LowestMeasured() const {
  const ProbeResult* lowest = nullptr;
  for (const ProbeResult& p : probes_) {
    const bool measured = p.exit_code == kExitOk || p.exit_code == kExitSloFailed;
    if (measured && (lowest == nullptr || p.rate < lowest->rate)) lowest = &p;
  }
  return lowest;
}

std::string SeriesDriver::Verdict() const {
  std::string verdict;
  if (config_.load.series.kind == SeriesKind::kSweep) {
    const ProbeResult* best = nullptr;  // the highest completion rate within the SLOs
    for (const ProbeResult& p : probes_) {
      if (p.slo_passed == true && (best == nullptr || p.completed_rate > best->completed_rate)) {
        best = &p;
      }
    }
    if (probes_.size() >= 2) {
      verdict = absl::StrFormat(
          "sweep: %d runs; one user completes %.4g req/s, %d in flight %.4g req/s (%.4g output "
          "tokens/s)",
          probes_.size(), probes_[0].completed_rate, probes_[1].concurrency,
          probes_[1].completed_rate, probes_[1].output_tokens_per_s);
    } else {
      verdict = absl::StrCat("sweep: ", probes_.size(), " of ", config_.load.series.sweep.points,
                             " runs");
    }
    if (best != nullptr) {
      absl::StrAppend(&verdict, "; the most within every SLO: run ", best->index, " at ",
                      Rate(best->completed_rate), " req/s");
    } else if (!probes_.empty() && probes_[0].slo_passed.has_value()) {
      absl::StrAppend(&verdict, "; no run met every SLO");
    }
  } else if (answer_.has_value()) {
    const ProbeResult& p = probes_[static_cast<size_t>(*answer_ - 1)];
    verdict = absl::StrFormat("capacity: %s req/s (probe %d: every SLO met", Rate(p.rate), p.index);
    if (p.ttft_p99_ms >= 0) absl::StrAppend(&verdict, ", TTFT p99 ", Ms(p.ttft_p99_ms), " ms");
    absl::StrAppend(&verdict, ")");
    if (failing_rate_ > 0) {
      absl::StrAppend(&verdict, "; ", Rate(failing_rate_), " req/s missed them");
    }
    if (resolution_reached_) {
      const CapacityConfig& c = config_.load.series.capacity;
      absl::StrAppend(&verdict, " (resolution ",
                      c.relative_resolution ? absl::StrCat(Rate(c.resolution * 100), "%")
                                            : absl::StrCat(Rate(c.resolution), " req/s"),
                      ")");
    }
  } else if (const ProbeResult* lowest = LowestMeasured()) {
    verdict = absl::StrCat(
        "capacity: no rate probed met every SLO (the lowest, ", Rate(lowest->rate), " req/s: ",
        lowest->slo_failures.empty() ? "the load generator fell behind" : lowest->slo_failures,
        ")");
  } else {
    verdict = "capacity: no probe ran";
  }
  if (!note_.empty()) absl::StrAppend(&verdict, "; ", note_);
  if (!stop_reason_.empty()) absl::StrAppend(&verdict, "; stopped early: ", stop_reason_);
  return verdict;
}

// ---- output -----------------------------------------------------------------------------------

std::string SeriesTable(const SeriesDriver& driver) {
  std::string out = absl::StrFormat("%3s %-11s %-17s %8s %8s %9s %8s %8s %7s %8s %6s  %s\n", "#",
                                    "run", "load", "sent/s", "done/s", "out tok/s", "TTFT p50",
                                    "TTFT p99", "ITL p99", "E2E p99", "errors", "SLO");
  for (const ProbeResult& p : driver.probes()) {
    std::string slo = !p.slo_passed.has_value() ? "-" : *p.slo_passed ? "met" : "missed";
    if (p.exit_code != kExitOk && p.exit_code != kExitSloFailed) slo = "did not run through";
    absl::StrAppendFormat(&out, "%3d %-11s %-17s %8.2f %8.2f %9.0f %8s %8s %7s %8s %6d  %s\n",
                          p.index, p.role, RunShape(p), p.achieved_rate, p.completed_rate,
                          p.output_tokens_per_s, Ms(p.ttft_p50_ms), Ms(p.ttft_p99_ms),
                          Ms(p.itl_p99_ms), Ms(p.e2e_p99_ms), p.failed, slo);
  }
  absl::StrAppend(&out, "(latencies in ms; sent/s: requests sent per second, done/s: completed)\n",
                  driver.Verdict(), "\n");
  return out;
}

std::string SeriesJson(const SeriesDriver& driver, const std::string& directory) {
  const BenchmarkConfig& config = driver.config();
  const SeriesConfig& series = config.load.series;
  Json json;
  json["schema_version"] = 1;
  json["kind"] = std::string(SeriesKindName(series.kind));
  json["name"] = config.benchmark.name;
  json["target"] = {{"endpoint", config.target.endpoint}, {"model", config.target.model}};
  Json settings = {{"arrival", std::string(LoadTypeName(config.load.type))},
                   {"probe_duration_s", absl::ToDoubleSeconds(config.benchmark.duration)},
                   {"warmup_s", absl::ToDoubleSeconds(config.benchmark.warmup)},
                   {"concurrency_cap", config.load.concurrency}};
  if (series.kind == SeriesKind::kSweep) {
    settings["points"] = series.sweep.points;
    settings["throughput_concurrency"] = series.sweep.throughput_concurrency;
  } else {
    const CapacityConfig& c = series.capacity;
    settings["start"] = c.start;
    settings["max"] = c.max;
    settings["resolution"] = c.resolution;
    settings["resolution_relative"] = c.relative_resolution;
    settings["min_requests"] = c.min_requests;
    settings["max_probes"] = c.max_probes;
  }
  json["settings"] = std::move(settings);
  Json probes = Json::array();
  for (const ProbeResult& p : driver.probes()) {
    const auto ms = [](double value) { return value < 0 ? Json(nullptr) : Json(value); };
    std::string results = p.results_path;
    if (!directory.empty() && results.rfind(directory + "/", 0) == 0) {
      results = results.substr(directory.size() + 1);
    }
    probes.push_back(Json{
        {"index", p.index},
        {"role", p.role},
        {"requested_rate", p.role == "rate" ? Json(p.rate) : Json(nullptr)},
        {"concurrency", p.concurrency},
        {"exit_code", p.exit_code},
        {"error", p.error},
        {"duration_s", p.duration_s},
        {"achieved_rate", p.achieved_rate},
        {"completed_rate", p.completed_rate},
        {"output_tokens_per_s", p.output_tokens_per_s},
        {"succeeded", p.succeeded},
        {"failed", p.failed},
        {"error_rate", p.error_rate},
        {"latency_ms",
         {{"ttft", {{"p50", ms(p.ttft_p50_ms)}, {"p99", ms(p.ttft_p99_ms)}}},
          {"itl", {{"p50", ms(p.itl_p50_ms)}, {"p99", ms(p.itl_p99_ms)}}},
          {"e2e_latency", {{"p50", ms(p.e2e_p50_ms)}, {"p99", ms(p.e2e_p99_ms)}}}}},
        {"slo_passed", p.slo_passed.has_value() ? Json(*p.slo_passed) : Json(nullptr)},
        {"slo_failures", p.slo_failures},
        {"generator_limited", p.generator_limited},
        {"results", results},
    });
  }
  json["probes"] = std::move(probes);
  if (series.kind == SeriesKind::kCapacity) {
    const std::optional<int> answer = driver.answer_probe();
    json["answer"] = {
        {"rate", answer.has_value() ? Json(driver.passing_rate()) : Json(nullptr)},
        {"probe", answer.has_value() ? Json(*answer) : Json(nullptr)},
        {"failing_rate", driver.failing_rate() > 0 ? Json(driver.failing_rate()) : Json(nullptr)},
        {"resolution_reached", driver.resolution_reached()},
    };
  }
  json["stopped_early"] = driver.stopped_early();
  json["verdict"] = driver.Verdict();
  return json.dump(2);
}

namespace {

std::string SeriesMarkdown(const SeriesDriver& driver) {
  std::string out = absl::StrCat("# ", KindName(driver.config()), ": ",
                                 driver.config().benchmark.name, "\n\n", driver.Verdict(),
                                 "\n\n| # | run | load | sent/s | done/s | output tokens/s | TTFT "
                                 "p50 | TTFT p99 | ITL p99 | E2E p99 | failed | SLO |\n");
  absl::StrAppend(&out, "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const ProbeResult& p : driver.probes()) {
    absl::StrAppendFormat(
        &out, "| %d | %s | %s | %.2f | %.2f | %.0f | %s | %s | %s | %s | %d | %s |\n", p.index,
        p.role, RunShape(p), p.achieved_rate, p.completed_rate, p.output_tokens_per_s,
        Ms(p.ttft_p50_ms), Ms(p.ttft_p99_ms), Ms(p.itl_p99_ms), Ms(p.e2e_p99_ms), p.failed,
        !p.slo_passed.has_value() ? "-"
        : *p.slo_passed           ? "met"
                                  : "missed: " + p.slo_failures);
  }
  absl::StrAppend(&out, "\nLatencies in ms. Each run's own results are under probes/.\n");
  return out;
}

std::vector<SeriesPoint> ChartPoints(const SeriesDriver& driver) {
  std::vector<SeriesPoint> points;
  for (const ProbeResult& p : driver.probes()) {
    if (p.completed_rate <= 0) continue;
    points.push_back({p.completed_rate, p.ttft_p50_ms, p.ttft_p99_ms, p.itl_p99_ms, p.e2e_p99_ms,
                      p.output_tokens_per_s});
  }
  std::sort(points.begin(), points.end(),
            [](const SeriesPoint& a, const SeriesPoint& b) { return a.rate < b.rate; });
  return points;
}

// series.md, series.json, and the charts as output.formats asks. Returns what could not be
// written (empty when all was).
std::string WriteSeriesFiles(const SeriesDriver& driver, const std::string& directory) {
  const OutputConfig& output = driver.config().output;
  std::vector<std::string> problems;
  if (absl::Status s =
          WriteResultFile(directory + "/series.json", SeriesJson(driver, directory) + "\n");
      !s.ok()) {
    problems.push_back(std::string(s.message()));
  }
  if (absl::Status s = WriteResultFile(directory + "/series.md", SeriesMarkdown(driver)); !s.ok()) {
    problems.push_back(std::string(s.message()));
  }
  const std::vector<SeriesPoint> points = ChartPoints(driver);
  if (output.Wants(OutputFormat::kPng) && !points.empty()) {
    absl::StatusOr<std::vector<DrawnChart>> drawn =
        DrawSeriesCharts(directory + "/plots", points, ChartFormat::kPng);
    if (!drawn.ok()) problems.push_back(absl::StrCat("plots: ", drawn.status().message()));
  }
  if (output.Wants(OutputFormat::kHtml)) {
    std::vector<std::vector<std::string>> rows;
    for (const ProbeResult& p : driver.probes()) {
      rows.push_back({absl::StrCat(p.index), p.role, RunShape(p),
                      absl::StrFormat("%.2f", p.achieved_rate),
                      absl::StrFormat("%.2f", p.completed_rate),
                      absl::StrFormat("%.0f", p.output_tokens_per_s), Ms(p.ttft_p50_ms),
                      Ms(p.ttft_p99_ms), Ms(p.itl_p99_ms), Ms(p.e2e_p99_ms), absl::StrCat(p.failed),
                      !p.slo_passed.has_value() ? "-"
                      : *p.slo_passed           ? "met"
                                                : "missed: " + p.slo_failures});
    }
    std::string body = absl::StrCat(
        "<h1>", HtmlEscape(KindName(driver.config())), ": ",
        HtmlEscape(driver.config().benchmark.name), "</h1>\n<p id=\"verdict\">",
        HtmlEscape(driver.Verdict()), "</p>\n",
        HtmlTable({"#", "run", "load", "sent/s", "done/s", "output tokens/s", "TTFT p50 (ms)",
                   "TTFT p99 (ms)", "ITL p99 (ms)", "E2E p99 (ms)", "failed", "SLO"},
                  rows, "probes"));
    if (!points.empty()) {
      absl::StatusOr<std::vector<InlineChart>> charts = DrawInlineCharts(
          [&](const std::string& dir) { return DrawSeriesCharts(dir, points, ChartFormat::kSvg); });
      if (charts.ok()) {
        absl::StrAppend(&body, HtmlChartsSection(*charts));
      } else {
        problems.push_back(absl::StrCat("series.html charts: ", charts.status().message()));
      }
    }
    absl::StrAppend(&body, "<p>Each run's own report is under probes/.</p>\n");
    if (absl::Status s = WriteResultFile(
            directory + "/series.html",
            HtmlPage(absl::StrCat(driver.config().benchmark.name, " ", KindName(driver.config())),
                     body));
        !s.ok()) {
      problems.push_back(std::string(s.message()));
    }
  }
  return absl::StrJoin(problems, "; ");
}

}  // namespace

int RunSeries(const BenchmarkConfig& config, ProbeExecutor& executor,
              const SeriesOptions& options) {
  absl::StatusOr<std::string> directory = CreateResultsDirectory(config, absl::Now());
  if (!directory.ok()) {
    std::fprintf(stderr, "bench-controller: cannot create the series directory: %s\n",
                 std::string(directory.status().message()).c_str());
    return kExitUsage;
  }
  FILE* lines = options.json ? stderr : stdout;
  SeriesDriver driver(config);
  bool cancelled = false;
  while (std::optional<ProbeSpec> probe = driver.Next(*directory + "/probes")) {
    if (!options.quiet) {
      std::fprintf(stderr, "probe %d (%s): %s for %s\n", probe->index, probe->role.c_str(),
                   probe->role == "rate"
                       ? absl::StrCat(Rate(probe->rate), " req/s, ",
                                      std::string(LoadTypeName(probe->config.load.type)))
                             .c_str()
                       : absl::StrCat("closed loop, ", probe->concurrency, " in flight").c_str(),
                   FormatCompactDuration(probe->config.benchmark.duration).c_str());
    }
    const ProbeRun run = executor.Execute(*probe);
    ProbeResult result;
    result.index = probe->index;
    result.role = probe->role;
    result.rate = probe->rate;
    result.concurrency = probe->concurrency;
    result.exit_code = run.exit_code;
    result.error = run.error;
    result.results_path = run.results_path;
    if (!run.summary_json.empty()) {
      if (absl::Status read = ReadProbeSummary(run.summary_json, &result); !read.ok()) {
        result.error = std::string(read.message());
        result.exit_code = kExitRunFailed;
      }
    }
    cancelled = run.exit_code == kExitCancelled;
    driver.Record(result);
    if (!options.quiet) {
      std::fprintf(
          lines,
          "probe %d: sent %.2f req/s, done %.2f req/s, TTFT p99 %s ms, E2E p99 %s ms, "
          "%llu failed%s\n",
          result.index, result.achieved_rate, result.completed_rate, Ms(result.ttft_p99_ms).c_str(),
          Ms(result.e2e_p99_ms).c_str(), static_cast<unsigned long long>(result.failed),
          !result.slo_passed.has_value() ? ""
          : *result.slo_passed           ? "; SLOs met"
                               : absl::StrCat("; SLOs missed: ", result.slo_failures).c_str());
    }
  }
  const std::string problems = WriteSeriesFiles(driver, *directory);
  if (options.json) {
    std::fputs(SeriesJson(driver, *directory).c_str(), stdout);
    std::fputs("\n", stdout);
    if (!options.quiet) std::fputs(SeriesTable(driver).c_str(), stderr);
  } else {
    std::fputs(SeriesTable(driver).c_str(), stdout);
  }
  if (!problems.empty()) {
    std::fprintf(stderr, "bench-controller: cannot write every series file: %s\n",
                 problems.c_str());
  }
  std::fprintf(lines, "results: %s\n", directory->c_str());
  if (cancelled) return kExitCancelled;
  // A probe that could not run gives its own code (2 for a config the controller refused).
  if (driver.stopped_early()) return driver.probes().back().exit_code;
  if (!problems.empty()) return kExitRunFailed;
  if (config.load.series.kind == SeriesKind::kCapacity && !driver.answer_probe().has_value()) {
    return kExitSloFailed;
  }
  return kExitOk;
}

std::optional<int> RunPreflight(const BenchmarkConfig& config, ProbeExecutor& executor,
                                const std::string& output_dir, bool quiet) {
  ProbeSpec probe;
  probe.index = 0;
  probe.role = "preflight";
  probe.concurrency = 1;
  BenchmarkConfig& c = probe.config;
  c = config;
  c.load = LoadConfig{};
  c.load.type = LoadType::kConcurrency;
  c.load.concurrency = 1;
  c.benchmark.name = config.benchmark.name + "-preflight";
  c.benchmark.warmup = absl::ZeroDuration();
  c.benchmark.max_requests = 1;
  // A prompt of the run's shape but not one of its own, which the server would then have in
  // its prefix cache when the run sends it.
  c.benchmark.seed = config.benchmark.seed + 1'000'003;
  // One request on one worker: nothing to rebalance (rebalance refuses maxRequests).
  c.cluster.on_worker_loss = WorkerLossPolicy::kFail;
  // Long enough for the one request (the run ends when it does), within what the run itself
  // may take (a daemon's --max-duration).
  c.benchmark.duration = std::min(config.target.timeout + absl::Seconds(1),
                                  config.benchmark.warmup + config.benchmark.duration);
  c.slo = SloConfig{};
  c.metrics.raw = false;
  c.metrics.raw_token_times = false;
  c.metrics.prometheus = PrometheusConfig{};
  c.output.dir = output_dir;
  c.output.formats = {OutputFormat::kJson};
  const ProbeRun run = executor.Execute(probe);
  if (run.exit_code == kExitCancelled) {
    std::fprintf(stderr,
                 "bench-controller: interrupted during the preflight; nothing else was "
                 "sent\n");
    return kExitCancelled;
  }
  const Json summary = Json::parse(run.summary_json, nullptr, /*allow_exceptions=*/false);
  const Json& requests = JsonAt(summary, "requests");
  if (NumberOr(JsonAt(requests, "succeeded"), 0) >= 1) {
    if (!quiet) {
      const double ttft = NumberOr(
          JsonAt(JsonAt(JsonAt(JsonAt(summary, "latency"), "ttft"), "percentiles"), "p50"), -1);
      std::fprintf(stderr, "preflight: one request answered (TTFT %s ms)\n", Ms(ttft).c_str());
    }
    return std::nullopt;
  }
  std::string why = run.error;
  const Json& errors = JsonAt(requests, "errors");
  if (errors.is_array() && !errors.empty()) {
    const Json& first = errors[0];
    why = JsonAt(first, "category").is_string() ? JsonAt(first, "category").get<std::string>()
                                                : std::string("failed");
    const Json& examples = JsonAt(first, "examples");
    if (examples.is_array() && !examples.empty() && examples[0].is_string()) {
      absl::StrAppend(&why, " (", examples[0].get<std::string>(), ")");
    }
  } else if (why.empty()) {
    why = absl::StrCat("no answer within target.timeout (",
                       FormatCompactDuration(config.target.timeout), ")");
  }
  std::fprintf(stderr,
               "bench-controller: preflight: the test request to %s failed: %s; the run was not "
               "started (--no-preflight skips this check)\n",
               config.target.endpoint.c_str(), why.c_str());
  const bool refused = run.exit_code == kExitUsage || run.exit_code == kExitDenied;
  return refused ? run.exit_code : kExitRunFailed;
}

std::vector<BenchmarkConfig> RunsToCheck(const BenchmarkConfig& config) {
  if (config.load.series.kind == SeriesKind::kNone) return {config};
  // The driver, fed stand-in results (every SLO met, 1, 2, 3 req/s completed), gives the
  // probes' shapes without running them.
  SeriesDriver driver(config);
  std::vector<BenchmarkConfig> runs;
  for (int i = 1; i <= 3; ++i) {
    std::optional<ProbeSpec> probe = driver.Next(config.output.dir);
    if (!probe.has_value()) break;
    runs.push_back(probe->config);
    ProbeResult stand_in;
    stand_in.index = probe->index;
    stand_in.role = probe->role;
    stand_in.rate = probe->rate;
    stand_in.exit_code = kExitOk;
    stand_in.completed_rate = i;
    stand_in.slo_passed = true;
    driver.Record(stand_in);
  }
  return runs;
}

std::string DescribeSeries(const BenchmarkConfig& config) {
  const SeriesConfig& series = config.load.series;
  const std::string arrival(LoadTypeName(config.load.type));
  const std::string warmup =
      config.benchmark.warmup > absl::ZeroDuration()
          ? absl::StrCat(", after a ", FormatCompactDuration(config.benchmark.warmup), " warmup")
          : "";
  const std::string cap = config.load.concurrency > 0
                              ? absl::StrCat(", at most ", config.load.concurrency, " in flight")
                              : "";
  if (series.kind == SeriesKind::kSweep) {
    const int64_t points = series.sweep.points;
    return absl::StrCat("sweep of ", points, " runs, ",
                        FormatCompactDuration(config.benchmark.duration), " each", warmup,
                        ":\n  1. synchronous: one user (closed loop, 1 in flight)\n"
                        "  2. throughput: closed loop, ",
                        series.sweep.throughput_concurrency, " in flight\n  3",
                        points > 3 ? absl::StrCat("-", points) : "", ". ", arrival,
                        " arrivals at rates spread evenly between the completion rates of 1 and 2",
                        cap, "\nthen a table and a latency-vs-rate chart of every run");
  }
  const CapacityConfig& c = series.capacity;
  return absl::StrCat(
      "capacity search: the highest ", arrival, " rate at which every SLO holds", cap,
      "\n  probes of ", FormatCompactDuration(config.benchmark.duration), warmup,
      ", longer where needed to send ", c.min_requests, " requests\n  from ", Rate(c.start),
      " req/s, doubling until a probe misses an SLO",
      c.max > 0 ? absl::StrCat(" (at most ", Rate(c.max), " req/s)") : std::string(),
      "\n  then bisecting until the bracket is within ",
      c.relative_resolution ? absl::StrCat(Rate(c.resolution * 100), "%")
                            : absl::StrCat(Rate(c.resolution), " req/s"),
      "; at most ", c.max_probes, " probes");
}

}  // namespace bench::controller
