// `compare`: a baseline run against one or more candidates, judged from their histograms and
// series, not from means. A change is a regression (or an improvement) only when it is beyond
// the threshold AND beyond the noise of both runs:
// - a latency percentile: the 99% confidence intervals of the percentile in the two runs do not
//   overlap. Each interval comes from the run's own histogram: the order statistics
//   bounding the quantile with 99% probability (distribution-free; exact binomial sums for
//   small runs, whose tail percentiles are then unbounded above). For ITL, n is the effective
//   number of gaps: the gaps of one request move together (Kish's design effect, the
//   correlation estimated from TPOT's spread against ITL's).
// - throughput (completions and output tokens per second): the 99% intervals of the mean of the
//   window's per-interval rates do not overlap, so a run whose rate swings second to second
//   needs a larger change to count.
// - error rate: a two-proportion z-test at 99% and at least 0.5 percentage points more.
// Two 99% intervals that must not overlap make a conservative test (a change is called only when
// it is clear), which suits a CI gate.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/report.h"

namespace bench::controller {

struct CompareOptions {
  double threshold_pct = 5;         // the smallest relative change that counts
  std::vector<std::string> labels;  // one per run, baseline first; default: the directory names
};

enum class ChangeVerdict { kSame, kRegression, kImprovement, kNoData };
std::string ChangeVerdictName(ChangeVerdict verdict);  // "same", "REGRESSION", ...

struct MetricChange {
  std::string metric;  // "ttft p99", "throughput", "error rate"
  std::string unit;    // "ms", "req/s", "tok/s", "%"
  bool lower_is_better = true;
  std::optional<double> baseline;
  std::optional<double> candidate;
  std::optional<double> relative;  // (candidate - baseline) / baseline
  bool significant = false;        // beyond both runs' noise
  ChangeVerdict verdict = ChangeVerdict::kNoData;
  std::string evidence;  // the intervals or the test that decided
};

struct CandidateComparison {
  std::string label;
  std::string path;
  std::vector<MetricChange> changes;
  std::vector<std::string> notes;  // what makes the two runs differ besides the change under test
};

struct RunFigures {  // one run's headline figures, for the by-run table
  std::string label;
  std::string path;
  std::optional<double> requests_per_s;
  std::optional<double> output_tokens_per_s;
  std::optional<double> ttft_p99_ms;
  std::optional<double> itl_p99_ms;
  std::optional<double> e2e_p99_ms;
  std::optional<double> error_rate;
};

struct Comparison {
  double threshold_pct = 0;
  std::vector<RunFigures> runs;  // baseline first
  std::vector<CandidateComparison> candidates;
  int regressions = 0;
};

Comparison Compare(const ResultsDirectory& baseline,
                   const std::vector<ResultsDirectory>& candidates, const CompareOptions& options);

std::string ComparisonText(const Comparison& comparison);
std::string ComparisonJson(const Comparison& comparison);
// A self-contained page: the tables and the overlaid distributions (gnuplot, inlined).
absl::StatusOr<std::string> ComparisonHtml(const Comparison& comparison,
                                           const ResultsDirectory& baseline,
                                           const std::vector<ResultsDirectory>& candidates);

}  // namespace bench::controller
