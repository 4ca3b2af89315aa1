#include "controller/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/histogram.h"
#include "common/run_stats.h"
#include "common/status_macros.h"
#include "controller/json_at.h"
#include "controller/plots.h"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

// Each run's interval is two-sided 99%; a change is called when the two do not overlap, which
// chance alone does far less often than once in a hundred comparisons of a run with itself.
constexpr double kZ99 = 2.576;
// An error-rate change smaller than this is not worth a verdict, however significant.
constexpr double kMinErrorRatePoints = 0.005;

std::optional<double> Number(const Json& json) {
  if (!json.is_number()) return std::nullopt;
  return json.get<double>();
}

double Ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

std::string Figure(const std::optional<double>& value, int decimals = 3) {
  if (!value.has_value()) return "-";
  std::string text = absl::StrFormat("%.*f", decimals, *value);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

std::string Label(const ResultsDirectory& run, size_t index, const CompareOptions& options) {
  if (index < options.labels.size()) return options.labels[index];
  std::filesystem::path path(run.path);
  if (path.filename().empty()) path = path.parent_path();
  return path.filename().string();
}

struct Interval {
  double low = 0;  // -inf or +inf where the samples cannot bound it
  double high = 0;
};

// The order statistics (1-based ranks; 0 for -inf, n + 1 for +inf) that bound the q-quantile of
// the population with 99% confidence, from n independent samples. B, the number of samples
// below the quantile, is Binomial(n, q): X(l) <= quantile <= X(u) unless B < l or B >= u, so l is
// the largest rank with P(B < l) <= 0.5% and u the smallest with P(B >= u) <= 0.5%. Exact sums
// near the mean when the binomial is narrow (the tails of small runs: 60 samples say nothing
// about the p99.9's upper bound), the normal approximation when it is wide.
std::pair<int64_t, int64_t> QuantileRanks(int64_t n, double q) {
  constexpr double kTail = 0.005;
  const double mean = static_cast<double>(n) * q;
  const double sd = std::sqrt(mean * (1.0 - q));
  if (sd >= 5) {
    const auto l = static_cast<int64_t>(std::floor(mean - kZ99 * sd));
    const auto u = static_cast<int64_t>(std::ceil(mean + kZ99 * sd)) + 1;
    return {std::clamp<int64_t>(l, 0, n), std::clamp<int64_t>(u, 1, n + 1)};
  }
  // Mass beyond 12 sd (+12) of the mean is below 1e-12: sum only the window that matters.
  const int64_t first = std::max<int64_t>(0, static_cast<int64_t>(mean - 12 * sd - 12));
  const int64_t last = std::min<int64_t>(n, static_cast<int64_t>(mean + 12 * sd + 12));
  const double log_q = std::log(q);
  const double log_not_q = std::log1p(-q);
  auto pmf = [&](int64_t k) {
    if (q <= 0) return k == 0 ? 1.0 : 0.0;
    if (q >= 1) return k == n ? 1.0 : 0.0;
    return std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) +
                    static_cast<double>(k) * log_q + static_cast<double>(n - k) * log_not_q);
  };
  int64_t l = first;  // P(B < first) is negligible
  double below = 0;   // P(B < k)
  for (int64_t k = first; k <= last; ++k) {
    below += pmf(k);  // now P(B < k + 1)
    if (below > kTail) break;
    l = k + 1;
  }
  int64_t u = last + 1;  // P(B >= last + 1) is negligible
  double above = 0;      // P(B >= k)
  for (int64_t k = last; k >= first; --k) {
    above += pmf(k);  // now P(B >= k)
    if (above > kTail) break;
    u = k;
  }
  return {std::clamp<int64_t>(l, 0, n), std::clamp<int64_t>(u, 1, n + 1)};
}

// The 99% confidence interval of the `percentile`-th percentile of what the histogram sampled,
// treating it as `n` independent samples (fewer than its count for ITL).
Interval PercentileInterval(const Histogram& histogram, double percentile, int64_t n) {
  n = std::max<int64_t>(n, 1);
  const auto [l, u] = QuantileRanks(n, percentile / 100.0);
  auto at_rank = [&](int64_t rank) {
    return Ms(
        histogram.ValueAtPercentile(100.0 * static_cast<double>(rank) / static_cast<double>(n)));
  };
  return {l == 0 ? -INFINITY : at_rank(l), u > n ? INFINITY : at_rank(u)};
}

// ITL's effective sample size. The gaps of one request move together (its batch, its length),
// so N gaps carry the information of N / (1 + (m - 1) rho) independent ones (Kish's design
// effect), m gaps per request, rho the intra-request correlation: the share of the gaps'
// variance that lies between requests, estimated from the spread of per-request mean gaps
// (TPOT): var(TPOT) = var_between + var_within / m. TPOT is per token and ITL per chunk, so this
// holds only when every chunk carried one token (the output tokens equal the chunks: gaps plus
// first chunks); otherwise, and without TPOT, n is the number of requests.
int64_t ItlEffectiveSamples(const StatsShard& shard, const Json& summary) {
  const Histogram& itl = shard.histogram(LatencyMetric::kItl);
  const Histogram& tpot = shard.histogram(LatencyMetric::kTpot);
  const int64_t gaps = itl.TotalCount();
  const std::optional<double> tokens =
      Number(JsonAt(JsonAt(summary, "throughput"), "output_tokens"));
  const bool token_per_chunk =
      tokens.has_value() &&
      *tokens == static_cast<double>(gaps + shard.histogram(LatencyMetric::kTtft).TotalCount());
  if (!token_per_chunk || tpot.TotalCount() < 2 || gaps <= tpot.TotalCount()) {
    const int64_t requests = shard.histogram(LatencyMetric::kTtft).TotalCount();
    return requests > 0 ? std::min(gaps, requests) : gaps;
  }
  const double m = static_cast<double>(gaps) / static_cast<double>(tpot.TotalCount());
  const double var_gaps = itl.StdDev() * itl.StdDev();
  const double var_means = tpot.StdDev() * tpot.StdDev();
  if (var_gaps <= 0) return tpot.TotalCount();
  const double between = std::max(0.0, (var_means - var_gaps / m) / (1.0 - 1.0 / m));
  const double rho = std::min(1.0, between / var_gaps);
  const double effective = static_cast<double>(gaps) / (1.0 + (m - 1.0) * rho);
  return std::max<int64_t>(tpot.TotalCount(), static_cast<int64_t>(effective));
}

// The 99% interval of the mean per-interval rate over the window (`field` of each series point).
std::optional<Interval> RateInterval(const ChartData& data, uint64_t IntervalPoint::*field) {
  if (data.interval_ns <= 0) return std::nullopt;
  const double interval_s = static_cast<double>(data.interval_ns) / 1e9;
  std::vector<double> rates;
  for (const IntervalPoint& point : data.series) {
    // Whole intervals inside the window only: a partial one at either end reads low.
    if (point.start_ns < data.warmup_ns ||
        point.start_ns + data.interval_ns > data.warmup_ns + data.measured_window_ns) {
      continue;
    }
    rates.push_back(static_cast<double>(point.*field) / interval_s);
  }
  if (rates.size() < 2) return std::nullopt;
  double mean = 0;
  for (const double r : rates) mean += r;
  mean /= static_cast<double>(rates.size());
  double squares = 0;
  for (const double r : rates) squares += (r - mean) * (r - mean);
  const double sd = std::sqrt(squares / static_cast<double>(rates.size() - 1));
  const double half = kZ99 * sd / std::sqrt(static_cast<double>(rates.size()));
  return Interval{mean - half, mean + half};
}

std::string IntervalText(const Interval& interval) {
  auto bound = [](double value) {
    if (std::isinf(value)) return std::string(value > 0 ? "+inf" : "-inf");
    return Figure(value);
  };
  return absl::StrCat("[", bound(interval.low), ", ", bound(interval.high), "]");
}

// Fills the verdict of a relative change from its significance and the threshold.
void Judge(const CompareOptions& options, MetricChange* change) {
  if (!change->baseline.has_value() || !change->candidate.has_value()) {
    change->verdict = ChangeVerdict::kNoData;
    return;
  }
  const double b = *change->baseline;
  const double c = *change->candidate;
  if (b != 0) {
    change->relative = (c - b) / std::abs(b);
  } else if (c != 0) {
    change->relative = c > 0 ? INFINITY : -INFINITY;
  } else {
    change->relative = 0.0;
  }
  const double rel = *change->relative;
  if (!change->significant || std::abs(rel) * 100.0 < options.threshold_pct) {
    change->verdict = ChangeVerdict::kSame;
    return;
  }
  const bool worse = change->lower_is_better ? rel > 0 : rel < 0;
  change->verdict = worse ? ChangeVerdict::kRegression : ChangeVerdict::kImprovement;
}

std::vector<double> Percentiles(const Json& summary) {
  std::vector<double> percentiles;
  for (const Json& p : JsonAt(JsonAt(summary, "benchmark"), "percentiles")) {
    if (p.is_number()) percentiles.push_back(p.get<double>());
  }
  if (percentiles.empty()) percentiles = {50, 90, 99};
  return percentiles;
}

std::string PercentileName(double percentile) { return absl::StrCat("p", Figure(percentile, 3)); }

void CompareLatency(const ResultsDirectory& base, const ResultsDirectory& cand,
                    const CompareOptions& options, CandidateComparison* out) {
  const StatsShard& b = base.charts.overall;
  const StatsShard& c = cand.charts.overall;
  for (const LatencyMetric metric :
       {LatencyMetric::kTtft, LatencyMetric::kItl, LatencyMetric::kTpot, LatencyMetric::kE2eLatency,
        LatencyMetric::kE2eFromIntended}) {
    const Histogram& hb = b.histogram(metric);
    const Histogram& hc = c.histogram(metric);
    if (hb.TotalCount() == 0 && hc.TotalCount() == 0) continue;
    auto samples = [metric](const StatsShard& shard, const Json& summary) {
      return metric == LatencyMetric::kItl ? ItlEffectiveSamples(shard, summary)
                                           : shard.histogram(metric).TotalCount();
    };
    for (const double percentile : Percentiles(base.summary)) {
      MetricChange change;
      change.metric =
          absl::StrCat(std::string(LatencyMetricName(metric)), " ", PercentileName(percentile));
      change.unit = "ms";
      if (hb.TotalCount() > 0) change.baseline = Ms(hb.ValueAtPercentile(percentile));
      if (hc.TotalCount() > 0) change.candidate = Ms(hc.ValueAtPercentile(percentile));
      if (hb.TotalCount() > 0 && hc.TotalCount() > 0) {
        const Interval ib = PercentileInterval(hb, percentile, samples(b, base.summary));
        const Interval ic = PercentileInterval(hc, percentile, samples(c, cand.summary));
        change.significant = ib.high < ic.low || ic.high < ib.low;
        change.evidence =
            absl::StrCat("99% intervals ", IntervalText(ib), " and ", IntervalText(ic), " ms (n ",
                         samples(b, base.summary), ", ", samples(c, cand.summary), ")",
                         change.significant ? "" : " overlap");
      }
      Judge(options, &change);
      out->changes.push_back(std::move(change));
    }
  }
}

void CompareRates(const ResultsDirectory& base, const ResultsDirectory& cand,
                  const CompareOptions& options, CandidateComparison* out) {
  struct Rate {
    const char* metric;
    const char* summary_key;
    const char* unit;
    uint64_t IntervalPoint::*field;
  };
  for (const Rate& rate :
       {Rate{"throughput", "requests_per_s", "req/s", &IntervalPoint::succeeded},
        Rate{"output tokens/s", "output_tokens_per_s", "tok/s", &IntervalPoint::output_tokens}}) {
    MetricChange change;
    change.metric = rate.metric;
    change.unit = rate.unit;
    change.lower_is_better = false;
    change.baseline = Number(JsonAt(JsonAt(base.summary, "throughput"), rate.summary_key));
    change.candidate = Number(JsonAt(JsonAt(cand.summary, "throughput"), rate.summary_key));
    const std::optional<Interval> ib = RateInterval(base.charts, rate.field);
    const std::optional<Interval> ic = RateInterval(cand.charts, rate.field);
    if (ib.has_value() && ic.has_value()) {
      change.significant = ib->high < ic->low || ic->high < ib->low;
      change.evidence =
          absl::StrCat("99% intervals of the per-interval mean ", IntervalText(*ib), " and ",
                       IntervalText(*ic), change.significant ? "" : " overlap");
    } else {
      change.evidence = "fewer than two whole intervals in a window: its noise is unknown";
    }
    Judge(options, &change);
    out->changes.push_back(std::move(change));
  }
}

void CompareErrors(const ResultsDirectory& base, const ResultsDirectory& cand,
                   CandidateComparison* out) {
  auto counts = [](const Json& summary) -> std::pair<double, double> {
    const Json& requests = JsonAt(summary, "requests");
    return {Number(JsonAt(requests, "failed")).value_or(0),
            Number(JsonAt(requests, "succeeded")).value_or(0) +
                Number(JsonAt(requests, "failed")).value_or(0)};
  };
  const auto [fb, nb] = counts(base.summary);
  const auto [fc, nc] = counts(cand.summary);
  MetricChange change;
  change.metric = "error rate";
  change.unit = "%";
  if (nb <= 0 || nc <= 0) {
    out->changes.push_back(std::move(change));
    return;
  }
  const double pb = fb / nb;
  const double pc = fc / nc;
  change.baseline = 100 * pb;
  change.candidate = 100 * pc;
  const double pooled = (fb + fc) / (nb + nc);
  const double se = std::sqrt(pooled * (1 - pooled) * (1 / nb + 1 / nc));
  const double z = se > 0 ? (pc - pb) / se : 0;
  change.significant = std::abs(z) > kZ99;
  change.evidence =
      absl::StrFormat("two-proportion z = %.2f (%g of %g vs %g of %g failed)", z, fb, nb, fc, nc);
  change.verdict = ChangeVerdict::kSame;
  if (change.significant && std::abs(pc - pb) >= kMinErrorRatePoints) {
    change.verdict = pc > pb ? ChangeVerdict::kRegression : ChangeVerdict::kImprovement;
  }
  out->changes.push_back(std::move(change));
}

// What else differs between the runs, so that a reader does not take it for the change.
void AddNotes(const ResultsDirectory& base, const ResultsDirectory& cand,
              CandidateComparison* out) {
  auto differs = [&](const char* section, const char* key, const char* what) {
    const Json& b = JsonAt(JsonAt(base.summary, section), key);
    const Json& c = JsonAt(JsonAt(cand.summary, section), key);
    if (b != c) {
      out->notes.push_back(absl::StrCat(what, " differs: ", b.dump(), " vs ", c.dump()));
    }
  };
  differs("target", "model", "the model");
  differs("target", "endpoint", "the endpoint");
  differs("benchmark", "load_type", "the load type");
  differs("rates", "requested_rate", "the requested rate");
  differs("benchmark", "concurrency", "the concurrency cap");
  differs("benchmark", "window_s", "the window (s)");
  const std::optional<double> hb = Number(JsonAt(JsonAt(base.summary, "cache"), "hit_ratio"));
  const std::optional<double> hc = Number(JsonAt(JsonAt(cand.summary, "cache"), "hit_ratio"));
  if (hb.has_value() && hc.has_value() && std::abs(*hb - *hc) > 0.05) {
    out->notes.push_back(absl::StrFormat(
        "the prefix cache hit ratio differs (%.1f%% vs %.1f%%): cached prompts shorten TTFT; "
        "a benchmark.seed of its own per run keeps A/B runs apart from the server's cache",
        100 * *hb, 100 * *hc));
  }
  for (const auto& [run, name] :
       {std::pair{&base, "the baseline"}, std::pair{&cand, "the candidate"}}) {
    const Json& limited = JsonAt(JsonAt(run->summary, "generator"), "limited");
    if (limited.is_boolean() && limited.get<bool>()) {
      out->notes.push_back(absl::StrCat(name,
                                        "'s generator was the bottleneck: its latency "
                                        "includes client-side delay"));
    }
    const Json& cancelled = JsonAt(JsonAt(run->summary, "benchmark"), "cancelled");
    if (cancelled.is_boolean() && cancelled.get<bool>()) {
      out->notes.push_back(absl::StrCat(name, " was cancelled: its figures are partial"));
    }
  }
  if (JsonAt(base.summary, "stages").size() != JsonAt(cand.summary, "stages").size()) {
    out->notes.push_back("the runs have different stages: compared over their whole windows");
  }
}

RunFigures FiguresOf(const ResultsDirectory& run, std::string label) {
  RunFigures f;
  f.label = std::move(label);
  f.path = run.path;
  f.requests_per_s = Number(JsonAt(JsonAt(run.summary, "throughput"), "requests_per_s"));
  f.output_tokens_per_s = Number(JsonAt(JsonAt(run.summary, "throughput"), "output_tokens_per_s"));
  auto p99 = [&run](LatencyMetric metric) -> std::optional<double> {
    const Histogram& h = run.charts.overall.histogram(metric);
    if (h.TotalCount() == 0) return std::nullopt;
    return Ms(h.ValueAtPercentile(99));
  };
  f.ttft_p99_ms = p99(LatencyMetric::kTtft);
  f.itl_p99_ms = p99(LatencyMetric::kItl);
  f.e2e_p99_ms = p99(LatencyMetric::kE2eLatency);
  const std::optional<double> error_rate =
      Number(JsonAt(JsonAt(run.summary, "requests"), "error_rate"));
  if (error_rate.has_value()) f.error_rate = 100 * *error_rate;
  return f;
}

std::string ChangeText(const MetricChange& change) {
  if (!change.baseline.has_value() || !change.candidate.has_value()) return "-";
  if (change.unit == "%") {
    return absl::StrFormat("%+.2f pp", *change.candidate - *change.baseline);
  }
  if (!change.relative.has_value()) return "-";
  if (std::isinf(*change.relative)) return *change.relative > 0 ? "+inf" : "-inf";
  return absl::StrFormat("%+.1f%%", 100 * *change.relative);
}

std::vector<std::string> RunRow(const RunFigures& f) {
  return {f.label,
          Figure(f.requests_per_s),
          Figure(f.output_tokens_per_s, 1),
          Figure(f.ttft_p99_ms),
          Figure(f.itl_p99_ms),
          Figure(f.e2e_p99_ms),
          Figure(f.error_rate, 2)};
}
const std::vector<std::string> kRunHeader = {"run",         "completed req/s", "output tok/s",
                                             "TTFT p99 ms", "ITL p99 ms",      "E2E p99 ms",
                                             "error rate %"};

std::vector<std::string> ChangeRow(const MetricChange& change) {
  return {absl::StrCat(change.metric, " (", change.unit, ")"),
          Figure(change.baseline),
          Figure(change.candidate),
          ChangeText(change),
          ChangeVerdictName(change.verdict),
          change.evidence};
}
const std::vector<std::string> kChangeHeader = {"metric", "baseline", "candidate",
                                                "change", "verdict",  "evidence"};

std::string TextTable(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i + 1 == cells.size()) {
        out += cells[i];
      } else {
        const int width = static_cast<int>(widths[i]);
        if (i == 0) {
          absl::StrAppendFormat(&out, "%-*s  ", width, cells[i]);
        } else {
          absl::StrAppendFormat(&out, "%*s  ", width, cells[i]);
        }
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

// "itl +18.3% to +24.2% (5 percentiles)": one entry per metric, its percentiles folded.
std::vector<std::string> Folded(const CandidateComparison& candidate, ChangeVerdict verdict) {
  std::vector<std::pair<std::string, std::vector<const MetricChange*>>> groups;
  for (const MetricChange& change : candidate.changes) {
    if (change.verdict != verdict) continue;
    const std::string base = change.metric.substr(0, change.metric.find(' '));
    const bool percentile = change.unit == "ms";
    const std::string key = percentile ? base : change.metric;
    if (groups.empty() || groups.back().first != key) groups.push_back({key, {}});
    groups.back().second.push_back(&change);
  }
  std::vector<std::string> out;
  for (const auto& [key, changes] : groups) {
    if (changes.size() == 1) {
      out.push_back(absl::StrCat(changes[0]->metric, " ", ChangeText(*changes[0])));
      continue;
    }
    double low = INFINITY, high = -INFINITY;
    for (const MetricChange* change : changes) {
      low = std::min(low, change->relative.value_or(0));
      high = std::max(high, change->relative.value_or(0));
    }
    out.push_back(absl::StrFormat("%s %+.1f%% to %+.1f%% (%d percentiles)", key, 100 * low,
                                  100 * high, changes.size()));
  }
  return out;
}

std::string Summary(const CandidateComparison& candidate) {
  int regressions = 0;
  for (const MetricChange& change : candidate.changes) {
    if (change.verdict == ChangeVerdict::kRegression) ++regressions;
  }
  std::string out =
      regressions == 0
          ? std::string("no regression")
          : absl::StrCat(regressions, regressions == 1 ? " regression: " : " regressions: ",
                         absl::StrJoin(Folded(candidate, ChangeVerdict::kRegression), "; "));
  const std::vector<std::string> improvements = Folded(candidate, ChangeVerdict::kImprovement);
  if (!improvements.empty()) {
    absl::StrAppend(&out, "; improved: ", absl::StrJoin(improvements, "; "));
  }
  return out;
}

Json Optional(const std::optional<double>& value) {
  if (!value.has_value() || std::isinf(*value)) return nullptr;
  return std::round(*value * 1e6) / 1e6;
}

}  // namespace

std::string ChangeVerdictName(ChangeVerdict verdict) {
  switch (verdict) {
    case ChangeVerdict::kSame:
      return "same";
    case ChangeVerdict::kRegression:
      return "REGRESSION";
    case ChangeVerdict::kImprovement:
      return "improvement";
    case ChangeVerdict::kNoData:
      return "no data";
  }
  return "?";
}

Comparison Compare(const ResultsDirectory& baseline,
                   const std::vector<ResultsDirectory>& candidates, const CompareOptions& options) {
  Comparison comparison;
  comparison.threshold_pct = options.threshold_pct;
  comparison.runs.push_back(FiguresOf(baseline, Label(baseline, 0, options)));
  for (size_t i = 0; i < candidates.size(); ++i) {
    const ResultsDirectory& candidate = candidates[i];
    CandidateComparison out;
    out.label = Label(candidate, i + 1, options);
    out.path = candidate.path;
    comparison.runs.push_back(FiguresOf(candidate, out.label));
    CompareRates(baseline, candidate, options, &out);
    CompareLatency(baseline, candidate, options, &out);
    CompareErrors(baseline, candidate, &out);
    AddNotes(baseline, candidate, &out);
    for (const MetricChange& change : out.changes) {
      if (change.verdict == ChangeVerdict::kRegression) ++comparison.regressions;
    }
    comparison.candidates.push_back(std::move(out));
  }
  return comparison;
}

std::string ComparisonText(const Comparison& comparison) {
  std::string out = absl::StrFormat(
      "compare: a change counts when it is beyond %s%% and beyond both runs' noise (99%%)\n\n",
      Figure(comparison.threshold_pct));
  std::vector<std::vector<std::string>> runs;
  for (const RunFigures& run : comparison.runs) runs.push_back(RunRow(run));
  runs.front()[0] += " (baseline)";
  out += TextTable(kRunHeader, runs);
  for (const CandidateComparison& candidate : comparison.candidates) {
    absl::StrAppend(&out, "\n", comparison.runs.front().label, " -> ", candidate.label, " (",
                    candidate.path, ")\n");
    std::vector<std::vector<std::string>> rows;
    for (const MetricChange& change : candidate.changes) {
      std::vector<std::string> row = ChangeRow(change);
      row.pop_back();  // the evidence: in --format json and the HTML page
      rows.push_back(std::move(row));
    }
    std::vector<std::string> header = kChangeHeader;
    header.pop_back();
    out += TextTable(header, rows);
    for (const std::string& note : candidate.notes) absl::StrAppend(&out, "note: ", note, "\n");
    absl::StrAppend(&out, "verdict: ", Summary(candidate), "\n");
  }
  return out;
}

std::string ComparisonJson(const Comparison& comparison) {
  Json out;
  out["threshold_pct"] = comparison.threshold_pct;
  out["confidence"] = 0.99;
  out["regressions"] = comparison.regressions;
  Json runs = Json::array();
  for (const RunFigures& f : comparison.runs) {
    runs.push_back(Json{{"label", f.label},
                        {"path", f.path},
                        {"requests_per_s", Optional(f.requests_per_s)},
                        {"output_tokens_per_s", Optional(f.output_tokens_per_s)},
                        {"ttft_p99_ms", Optional(f.ttft_p99_ms)},
                        {"itl_p99_ms", Optional(f.itl_p99_ms)},
                        {"e2e_p99_ms", Optional(f.e2e_p99_ms)},
                        {"error_rate_pct", Optional(f.error_rate)}});
  }
  out["runs"] = std::move(runs);
  Json candidates = Json::array();
  for (const CandidateComparison& candidate : comparison.candidates) {
    Json changes = Json::array();
    for (const MetricChange& c : candidate.changes) {
      changes.push_back(Json{{"metric", c.metric},
                             {"unit", c.unit},
                             {"lower_is_better", c.lower_is_better},
                             {"baseline", Optional(c.baseline)},
                             {"candidate", Optional(c.candidate)},
                             {"relative_change", Optional(c.relative)},
                             {"significant", c.significant},
                             {"verdict", ChangeVerdictName(c.verdict)},
                             {"evidence", c.evidence}});
    }
    candidates.push_back(Json{{"label", candidate.label},
                              {"path", candidate.path},
                              {"verdict", Summary(candidate)},
                              {"changes", std::move(changes)},
                              {"notes", candidate.notes}});
  }
  out["candidates"] = std::move(candidates);
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

absl::StatusOr<std::string> ComparisonHtml(const Comparison& comparison,
                                           const ResultsDirectory& baseline,
                                           const std::vector<ResultsDirectory>& candidates) {
  std::vector<ChartRun> chart_runs;
  chart_runs.push_back(
      {comparison.runs[0].label, &baseline.charts, comparison.runs[0].requests_per_s});
  for (size_t i = 0; i < candidates.size(); ++i) {
    chart_runs.push_back({comparison.runs[i + 1].label, &candidates[i].charts,
                          comparison.runs[i + 1].requests_per_s});
  }
  BENCH_ASSIGN_OR_RETURN(const std::vector<InlineChart> charts,
                         DrawInlineCharts([&chart_runs](const std::string& directory) {
                           return DrawComparisonCharts(directory, chart_runs, ChartFormat::kSvg);
                         }));
  std::string body = absl::StrCat(
      "<header><h1>Comparison</h1><p class=\"sub\">A change counts when it is beyond ",
      HtmlEscape(Figure(comparison.threshold_pct)),
      "% and beyond both runs' noise: the 99% confidence intervals of a percentile (from each "
      "run's histogram) or of the per-interval rate do not overlap.</p>");
  absl::StrAppend(&body, "<p id=\"compare-verdict\" class=\"verdict ",
                  comparison.regressions > 0 ? "fail" : "pass", "\">",
                  comparison.regressions > 0 ? absl::StrCat(comparison.regressions, " regression",
                                                            comparison.regressions == 1 ? "" : "s")
                                             : std::string("no regression"),
                  "</p></header>\n");
  std::vector<std::vector<std::string>> runs;
  for (const RunFigures& run : comparison.runs) runs.push_back(RunRow(run));
  runs.front()[0] += " (baseline)";
  absl::StrAppend(&body, "<section id=\"runs\"><h2>Runs</h2>",
                  HtmlTable(kRunHeader, runs, "runs-table"), "</section>\n");
  for (size_t i = 0; i < comparison.candidates.size(); ++i) {
    const CandidateComparison& candidate = comparison.candidates[i];
    absl::StrAppend(&body, "<section class=\"candidate\"><h2>",
                    HtmlEscape(comparison.runs[0].label), " &rarr; ", HtmlEscape(candidate.label),
                    "</h2><p>", HtmlEscape(Summary(candidate)), "</p><table><thead><tr>");
    for (const std::string& cell : kChangeHeader)
      absl::StrAppend(&body, "<th>", HtmlEscape(cell), "</th>");
    body += "</tr></thead><tbody>";
    for (const MetricChange& change : candidate.changes) {
      const std::vector<std::string> row = ChangeRow(change);
      const char* css = change.verdict == ChangeVerdict::kRegression    ? " class=\"fail\""
                        : change.verdict == ChangeVerdict::kImprovement ? " class=\"pass\""
                                                                        : "";
      absl::StrAppend(&body, "<tr", css, "><th scope=\"row\">", HtmlEscape(row[0]), "</th>");
      for (size_t c = 1; c < row.size(); ++c)
        absl::StrAppend(&body, "<td>", HtmlEscape(row[c]), "</td>");
      body += "</tr>";
    }
    body += "</tbody></table>";
    if (!candidate.notes.empty()) {
      body += "<ul class=\"warn\">";
      for (const std::string& note : candidate.notes)
        absl::StrAppend(&body, "<li>", HtmlEscape(note), "</li>");
      body += "</ul>";
    }
    body += "</section>\n";
  }
  body += HtmlChartsSection(charts);
  return HtmlPage("llm-d-bench comparison", body);
}

}  // namespace bench::controller
