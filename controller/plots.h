// Charts of a run drawn by gnuplot, axes labelled with units: PNG for plots/ (output.formats:
// png) and SVG for report.html, from a run in memory or from a results directory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/run_stats.h"
#include "controller/prometheus_collect.h"
#include "controller/run_result.h"
#include "controller/summary.h"

namespace bench::controller {

// What the charts draw.
struct ChartData {
  StatsShard overall;                              // the window, all stages merged
  std::vector<StatsShard> stages;                  // one per stage, when there are several
  std::vector<std::optional<double>> stage_rates;  // each stage's offered rate, when it has one
  std::vector<IntervalPoint> series;               // the per-interval series of the whole run
  int64_t interval_ns = 0;
  int64_t warmup_ns = 0;
  int64_t measured_window_ns = 0;
  std::vector<PrometheusSeries> prometheus;
};

ChartData ChartDataOf(const RunResult& result, const RunSummary& summary);

enum class ChartFormat { kPng, kSvg };

struct DrawnChart {
  std::string file;   // "ttft_distribution.svg", in the directory drawn into
  std::string title;  // "Time to first token: distribution of 393 samples"
};

// Before anything is sent: kInvalidArgument naming output.formats when png, html or pdf is
// asked for and gnuplot is not installed.
absl::Status CheckPlotsPossible(const BenchmarkConfig& config);

// Draws every chart `data` allows into `directory` (created if needed): ttft_distribution,
// itl_distribution, schedule_lag_distribution, latency_percentiles, throughput_over_time,
// tokens_per_second_over_time, errors_over_time, latency_vs_rate for stages, and one per
// Prometheus query. The data files gnuplot reads are removed afterwards.
absl::StatusOr<std::vector<DrawnChart>> DrawCharts(const std::string& directory,
                                                   const ChartData& data, ChartFormat format);

// One run of a comparison: its label, its charts' data, its completion rate.
struct ChartRun {
  std::string label;
  const ChartData* data;  // must outlive the call
  std::optional<double> requests_per_s;
};

// `compare`'s charts: the TTFT, ITL and E2E distributions of every run overlaid (compare_ttft,
// compare_itl, compare_e2e_latency) and, with more than one run, the runs side by side
// (compare_by_run: completion rate and p99 latencies against the label).
absl::StatusOr<std::vector<DrawnChart>> DrawComparisonCharts(const std::string& directory,
                                                             const std::vector<ChartRun>& runs,
                                                             ChartFormat format);

// One run of a series (sweep, capacity search): its completion rate and figures; latencies in
// ms, negative when absent.
struct SeriesPoint {
  double rate = 0;  // completed requests/s
  double ttft_p50_ms = -1;
  double ttft_p99_ms = -1;
  double itl_p99_ms = -1;
  double e2e_p99_ms = -1;
  double output_tokens_per_s = 0;
};

// A series' charts, points in rate order: latency_vs_rate (TTFT p50 and p99, ITL p99, E2E p99
// against the completion rate) and tokens_vs_rate (output tokens/s against it).
absl::StatusOr<std::vector<DrawnChart>> DrawSeriesCharts(const std::string& directory,
                                                         const std::vector<SeriesPoint>& points,
                                                         ChartFormat format);

// <directory>/plots/*.png from a finished run.
absl::Status WritePlots(const std::string& directory, const RunResult& result,
                        const RunSummary& summary);

}  // namespace bench::controller
