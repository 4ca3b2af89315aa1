#include "controller/summary_format.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bench::controller {

// "1234567.891" -> "1,234,567.891" (decimals fixed, thousands separated).
std::string WithCommas(double value, int decimals) {
  const std::string text = absl::StrFormat("%.*f", decimals, value);
  const size_t sign = (!text.empty() && text[0] == '-') ? 1 : 0;
  size_t end = text.find('.');
  if (end == std::string::npos) end = text.size();
  std::string out = text.substr(0, sign);
  for (size_t i = sign; i < end; ++i) {
    if (i > sign && (end - i) % 3 == 0) out += ',';
    out += text[i];
  }
  out += text.substr(end);
  return out;
}

// Drops a fractional part that is all zeros: "50.00" -> "50", "49.50" -> "49.5".
std::string TrimZeros(std::string text) {
  if (text.find('.') == std::string::npos) return text;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string FormatCount(uint64_t value) { return WithCommas(static_cast<double>(value), 0); }

// Requests or tokens per second: three significant figures at least, thousands separated.
std::string FormatRate(double value) {
  const double magnitude = std::fabs(value);
  const int decimals = magnitude >= 100 ? 0 : (magnitude >= 10 ? 1 : 2);
  return TrimZeros(WithCommas(value, decimals));
}

// A measured value (ms, s) in sentences: "0.452", "3.2", "512.3", "1,250".
std::string FormatValue(double value) {
  const double magnitude = std::fabs(value);
  const int decimals = magnitude < 1 ? 3 : (magnitude < 1000 ? 1 : 0);
  return TrimZeros(WithCommas(value, decimals));
}

// A ratio as a percentage; two decimals below 1% so that 0.03% does not read as 0.
std::string FormatPercent(double ratio) {
  const double percent = ratio * 100;
  const int decimals = (percent > 0 && percent < 1) ? 2 : 1;
  return absl::StrFormat("%.*f%%", decimals, percent);
}

// A latency table cell: at most 7 characters up to 1 h (3,600,000 ms).
std::string FormatCell(double value_ms) {
  const double magnitude = std::fabs(value_ms);
  const int decimals = magnitude < 10 ? 3 : (magnitude < 100 ? 2 : (magnitude < 100000 ? 1 : 0));
  return absl::StrFormat("%.*f", decimals, value_ms);
}

// A count in the latency table's 10-character column: millions beyond 9,999,999.
std::string FormatCountCell(uint64_t value) {
  if (value < 10'000'000) return FormatCount(value);
  return FormatCount(value / 1'000'000) + "M";
}

std::string PercentileLabel(double percentile) { return absl::StrCat("p", percentile); }

std::string OptionalRate(const std::optional<double>& value) {
  return value.has_value() ? FormatRate(*value) : "-";
}

// "ttft p99 812 ms (limit 500 ms) FAIL", "errorRate 0.1% (max 1%) pass".
std::string VerdictText(const SloVerdict& v) {
  std::string text;
  if (v.metric == "errorRate") {
    text = absl::StrCat("errorRate ", v.has_actual ? FormatPercent(v.actual_error_rate) : "n/a",
                        " (max ", FormatPercent(v.limit_error_rate), ")");
  } else {
    text = absl::StrCat(v.metric, " ", PercentileLabel(v.percentile), " ",
                        v.has_actual ? FormatCell(v.actual_ms) + " ms" : "n/a (no samples)",
                        " (limit ", FormatValue(v.limit_ms), " ms)");
  }
  absl::StrAppend(&text, v.passed ? " pass" : " FAIL");
  return text;
}

}  // namespace bench::controller
