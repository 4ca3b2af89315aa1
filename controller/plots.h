// plots/ of a results directory (output.formats: png): PNG charts drawn by gnuplot's pngcairo
// terminal from the run's merged histograms and per-interval series, axes labelled with units.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "common/config.h"
#include "controller/run_result.h"
#include "controller/summary.h"

namespace bench::controller {

// Before anything is sent: kInvalidArgument naming output.formats when png is asked for and
// gnuplot is not installed.
absl::Status CheckPlotsPossible(const BenchmarkConfig& config);

// Writes <directory>/plots/*.png: ttft_distribution, itl_distribution, schedule_lag_distribution,
// latency_percentiles, throughput_over_time, tokens_per_second_over_time, errors_over_time, and
// latency_vs_rate for stages. The data files gnuplot reads are removed afterwards.
absl::Status WritePlots(const std::string& directory, const RunResult& result,
                        const RunSummary& summary);

}  // namespace bench::controller
