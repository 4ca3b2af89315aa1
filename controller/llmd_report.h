// llm-d's benchmark report, schema v0.2 (output.formats: llmd): benchmark_report.yaml with one
// YAML document per stage (one document when the run has one stage). Latencies in seconds,
// percentiles spelled as llm-d spells them (p0p1 ... p99p9). docs/llmd-report.md maps each
// field to its source.
#pragma once

#include <string>

#include "common/config.h"
#include "controller/run_result.h"
#include "controller/summary.h"

namespace bench::controller {

std::string LlmdReportYaml(const BenchmarkConfig& config, const RunResult& result,
                           const RunSummary& summary);

}  // namespace bench::controller
