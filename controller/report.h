// The reports people read, rebuilt from a results directory alone (summary.json, metrics.json,
// config.yaml, prometheus.json), so that `run`, `submit` and `report --input DIR` write the same
// thing, also from an interrupted run's partial results: report.html (self-contained, charts
// drawn by gnuplot as inline SVG), report.pdf (that page printed by headless Chromium),
// report.md, report.csv and report.json.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config.h"
#include "common/histogram.h"
#include "controller/plots.h"
#include "nlohmann/json.hpp"

namespace bench::controller {

struct ResultsDirectory {
  std::string path;
  nlohmann::ordered_json summary;     // summary.json (required)
  nlohmann::ordered_json metrics;     // metrics.json; null when absent
  nlohmann::ordered_json prometheus;  // prometheus.json; null when absent
  std::string config_yaml;            // config.yaml, secrets already redacted; empty when absent
  ChartData charts;                   // decoded from metrics.json and prometheus.json
  // From requests.jsonl (metrics.raw), when its records carry cached-token counts: the TTFT of
  // in-window successes whose prompt hit the server's prefix cache, and of those that did not.
  struct CacheSplit {
    Histogram ttft_hit;
    Histogram ttft_miss;
  };
  std::optional<CacheSplit> cache_split;
  std::vector<std::string> absent;  // the files above that were not there
};

// kNotFound naming the path when it holds no summary.json; kInvalidArgument naming the file
// and what is wrong when one does not parse.
absl::StatusOr<ResultsDirectory> LoadResultsDirectory(const std::string& path);

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

// ---- Pieces of a self-contained HTML page, shared with `compare` ----

struct InlineChart {
  DrawnChart chart;
  std::string svg;  // the SVG text gnuplot wrote
};
using ChartDrawer =
    std::function<absl::StatusOr<std::vector<DrawnChart>>(const std::string& directory)>;
// Runs `draw` (DrawCharts, DrawComparisonCharts) into a temporary directory, which is removed
// afterwards, and returns the charts with their SVG text, in order.
absl::StatusOr<std::vector<InlineChart>> DrawInlineCharts(const ChartDrawer& draw);

std::string HtmlEscape(absl::string_view text);
// A whole page with the reports' style; `body` is HTML.
std::string HtmlPage(const std::string& title, const std::string& body);
// <section id="charts">: each chart a <figure class="chart"> holding a data: URI image.
std::string HtmlChartsSection(const std::vector<InlineChart>& charts);
// A table whose first column is the row's header; cells are escaped.
std::string HtmlTable(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows, const std::string& id);

}  // namespace bench::controller
