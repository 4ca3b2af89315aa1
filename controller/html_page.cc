#include "controller/html_page.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/version.h"

namespace bench::controller {
namespace {

constexpr char kStyle[] = R"(
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1b1f24;margin:0 auto;
max-width:1100px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
.sub{color:#57606a;margin:0 0 12px}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26}.none{background:#eaeef2}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px}
.card .label{color:#57606a;font-size:12px;text-transform:uppercase}
.card .value{font-size:20px;font-weight:600}.card .note{color:#57606a;font-size:12px}
table{border-collapse:collapse;margin:6px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
thead th{background:#f6f8fa}tbody th{text-align:left;font-weight:500}
ul.warn li{color:#9a6700}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:12px}
figure{margin:0;break-inside:avoid}figure img{width:100%;height:auto;border:1px solid #eaeef2}
figcaption{color:#57606a;font-size:12px}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}
.candidate td:last-child,#errors-table td:last-child{text-align:left}
footer{margin-top:32px;color:#57606a;font-size:12px}
@media print{body{padding:0}h2{break-after:avoid}}
)";

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  return absl::StrReplaceAll(
      text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

std::string HtmlPage(const std::string& title, const std::string& body) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // Nothing but the page itself: no script, no request anywhere (the charts are data: URIs).
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src 'unsafe-inline'\">\n"
      "<meta name=\"generator\" content=\"llm-d-bench ",
      kToolVersion, "\">\n<title>", HtmlEscape(title), "</title>\n<style>", kStyle,
      "</style></head>\n<body>\n", body, "</body></html>\n");
}

std::string HtmlChartsSection(const std::vector<InlineChart>& charts) {
  if (charts.empty()) return "";
  std::string out = "<section id=\"charts\"><h2>Charts</h2><div class=\"charts\">\n";
  for (const InlineChart& c : charts) {
    absl::StrAppend(&out, "<figure class=\"chart\" id=\"chart-",
                    HtmlEscape(c.chart.file.substr(0, c.chart.file.rfind('.'))), "\"><img alt=\"",
                    HtmlEscape(c.chart.title), "\" src=\"data:image/svg+xml;base64,",
                    absl::Base64Escape(c.svg), "\"><figcaption>", HtmlEscape(c.chart.title),
                    "</figcaption></figure>\n");
  }
  return out + "</div></section>\n";
}

std::string HtmlTable(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows, const std::string& id) {
  std::string out = absl::StrCat("<table id=\"", id, "\"><thead><tr>");
  for (const std::string& cell : header) absl::StrAppend(&out, "<th>", HtmlEscape(cell), "</th>");
  out += "</tr></thead><tbody>";
  for (const auto& row : rows) {
    out += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "<th scope=\"row\">" : "<td>", HtmlEscape(row[i]),
                      i == 0 ? "</th>" : "</td>");
    }
    out += "</tr>";
  }
  return out + "</tbody></table>\n";
}

absl::StatusOr<std::vector<InlineChart>> DrawInlineCharts(const ChartDrawer& draw) {
  char pattern[] = "/tmp/llm-d-bench-charts-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory: ", std::strerror(errno)));
  }
  const std::string directory = pattern;
  std::vector<InlineChart> charts;
  absl::StatusOr<std::vector<DrawnChart>> drawn = draw(directory);
  absl::Status status = drawn.status();
  if (drawn.ok()) {
    for (const DrawnChart& chart : *drawn) {
      std::ifstream file(directory + "/" + chart.file, std::ios::binary);
      if (!file) {
        status = absl::InternalError(absl::StrCat("gnuplot wrote no ", chart.file));
        break;
      }
      std::stringstream svg;
      svg << file.rdbuf();
      charts.push_back({chart, svg.str()});
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(directory, ignored);
  if (!status.ok()) return status;
  return charts;
}

}  // namespace bench::controller
