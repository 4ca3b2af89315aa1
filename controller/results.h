// The results directory of a run (SPEC section 6): config.yaml (secrets redacted), summary.json
// and metrics.json (the per-interval series and every latency histogram in the HdrHistogram V2
// compressed encoding). Field meanings: controller/RESULTS.md.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "controller/run_result.h"
#include "controller/summary.h"

namespace bench::controller {

// metrics.json's text (pretty JSON, no trailing newline). It holds no config values, so it
// cannot leak a header.
std::string MetricsToJson(const RunResult& result);

// histograms.hlog's text: an HdrHistogram interval log (format 1.3, as HdrHistogram's
// HistogramLogReader and hdr-histogram-js read it). One line per latency metric (its tag) and
// stage: the stage's interval of the window and its histogram in microseconds, V2-compressed;
// adding a tag's lines gives the whole window's histogram. Empty histograms are left out.
std::string HistogramsToHlog(const RunResult& result, const RunSummary& summary);

// Creates <config.output.dir>/<benchmark.name>-<UTC yyyymmdd-hhmmss of started_at>/ (with
// "-2", "-3", ... appended when that exists; parent directories are created) and writes
// config.yaml (ConfigToYaml(RedactSecrets(config))), summary.json and metrics.json, each through
// a temporary file renamed into place. Returns the directory path. Errors name the path and the
// errno text, with the errno's canonical code; kInvalidArgument when benchmark.name cannot name
// a directory.
absl::StatusOr<std::string> WriteResults(const BenchmarkConfig& config, const RunResult& result,
                                         const RunSummary& summary, absl::Time started_at);

// The two halves of WriteResults, for a controller that flushes a run's partial results every
// interval into one directory: create it (same naming and errors), then (re)write its files.
absl::StatusOr<std::string> CreateResultsDirectory(const BenchmarkConfig& config,
                                                   absl::Time started_at);
absl::Status WriteResultsInto(const std::string& directory, const BenchmarkConfig& config,
                              const RunResult& result, const RunSummary& summary);
// Before anything is sent: creates `config`'s output.dir (and parents) and writes and removes a
// probe file in it, so a run cannot finish with nowhere to put its results. kInvalidArgument
// naming output.dir, the path and the errno text.
absl::Status CheckResultsWritable(const BenchmarkConfig& config);

// Writes `content` to `path` through a temporary file renamed into place.
absl::Status WriteResultFile(const std::string& path, const std::string& content);

}  // namespace bench::controller
