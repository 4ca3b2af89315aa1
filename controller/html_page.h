// The pieces of a self-contained HTML page that report.html and compare's page share: the style,
// escaping, tables, and charts drawn by gnuplot as SVG and inlined as data: images.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/plots.h"

namespace bench::controller {

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
