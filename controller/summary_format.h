// Number formatting shared by the summary's figures and its console table: thousands
// separators, significant figures, percentages, table cells, SLO verdicts as text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "controller/summary.h"

namespace bench::controller {

// Nanoseconds to seconds; microseconds (the histograms' unit) to milliseconds.
inline double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }
inline double UsToMs(double us) { return us / 1000.0; }

// "1234567.891" -> "1,234,567.891" (decimals fixed, thousands separated).
std::string WithCommas(double value, int decimals);
// Drops a fractional part that is all zeros: "50.00" -> "50", "49.50" -> "49.5".
std::string TrimZeros(std::string text);
std::string FormatCount(uint64_t value);
// Requests or tokens per second: three significant figures at least, thousands separated.
std::string FormatRate(double value);
// A measured value (ms, s) in sentences: "0.452", "3.2", "512.3", "1,250".
std::string FormatValue(double value);
// A ratio as a percentage; two decimals below 1% so that 0.03% does not read as 0.
std::string FormatPercent(double ratio);
// A latency table cell: at most 7 characters up to 1 h (3,600,000 ms).
std::string FormatCell(double value_ms);
// A count in the latency table's 10-character column: millions beyond 9,999,999.
std::string FormatCountCell(uint64_t value);
std::string PercentileLabel(double percentile);                // "p99", "p99.9"
std::string OptionalRate(const std::optional<double>& value);  // "-" when unset
// "ttft p99 812 ms (limit 500 ms) FAIL", "errorRate 0.1% (max 1%) pass".
std::string VerdictText(const SloVerdict& v);

}  // namespace bench::controller
