// The reports people read, rebuilt from a results directory alone (summary.json, metrics.json,
// config.yaml, prometheus.json), so that `run`, `submit` and `report --input DIR` write the same
// thing, also from an interrupted run's partial results: report.html (self-contained, charts
// drawn by gnuplot as inline SVG), report.pdf (that page printed by headless Chromium),
// report.md, report.csv and report.json.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/histogram.h"
#include "controller/html_page.h"
#include "controller/plots.h"
#include "controller/results_directory.h"
#include "nlohmann/json.hpp"

namespace bench::controller {

enum class ReportFormat { kHtml, kPdf, kMd, kCsv, kJson };
absl::StatusOr<ReportFormat> ParseReportFormat(const std::string& name);
std::string ReportFileName(ReportFormat format);  // "report.html", ...

// Before anything is sent: kInvalidArgument naming output.formats when pdf is asked for and no
// Chromium is installed.
absl::Status CheckReportsPossible(const BenchmarkConfig& config);

// The report as text (html, md, csv, json). The HTML draws its charts with gnuplot in a
// temporary directory and inlines them.
absl::StatusOr<std::string> RenderReport(const ResultsDirectory& results, ReportFormat format);

// Writes the report in `format` to `output`: html, md, csv and json via RenderReport, pdf by
// printing the HTML with headless Chromium (networking off).
absl::Status WriteReport(const ResultsDirectory& results, ReportFormat format,
                         const std::string& output);

// After a run: every report output.formats asks for (html, pdf, md, csv), into the directory.
absl::Status WriteRunReports(const std::string& directory, const BenchmarkConfig& config);

}  // namespace bench::controller
