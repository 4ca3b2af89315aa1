#include "common/duration.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"

namespace bench {
namespace {

constexpr int64_t kNsPerUs = 1000;
constexpr int64_t kNsPerMs = 1000 * kNsPerUs;
constexpr int64_t kNsPerSecond = 1000 * kNsPerMs;
constexpr int64_t kNsPerMinute = 60 * kNsPerSecond;
constexpr int64_t kNsPerHour = 60 * kNsPerMinute;
constexpr int64_t kMaxNs = 100000 * kNsPerHour;  // kMaxConfigDuration

// More digits than this in either part of a number cannot matter at nanosecond resolution
// below kMaxConfigDuration; fraction digits past it are dropped.
constexpr int kMaxDigits = 18;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status Fail(DurationError kind, DurationError* error, std::string message) {
  if (error != nullptr) *error = kind;
  return absl::InvalidArgumentError(std::move(message));
}

int64_t UnitNs(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return kNsPerUs;  // µs, μs
  if (unit == "ms") return kNsPerMs;
  if (unit == "s") return kNsPerSecond;
  if (unit == "m") return kNsPerMinute;
  if (unit == "h") return kNsPerHour;
  return 0;
}

// A decimal number without sign or exponent: digits, optionally '.', optionally digits, with at
// least one digit in all. Advances `pos`. Returns false when there is no number at `pos`.
struct Decimal {
  std::string_view integer;
  std::string_view fraction;
};
bool ScanDecimal(std::string_view text, size_t& pos, Decimal& out) {
  const size_t start = pos;
  while (pos < text.size() && IsDigit(text[pos])) ++pos;
  out.integer = text.substr(start, pos - start);
  out.fraction = {};
  if (pos < text.size() && text[pos] == '.') {
    const size_t frac_start = ++pos;
    while (pos < text.size() && IsDigit(text[pos])) ++pos;
    out.fraction = text.substr(frac_start, pos - frac_start);
  }
  if (out.integer.empty() && out.fraction.empty()) {
    pos = start;
    return false;
  }
  return true;
}

// value * unit_ns, rounded half up to whole nanoseconds; false when above kMaxNs.
bool DecimalToNs(const Decimal& value, int64_t unit_ns, int64_t& ns) {
  std::string_view integer = value.integer;
  while (integer.size() > 1 && integer.front() == '0') integer.remove_prefix(1);
  if (integer.size() > kMaxDigits) return false;
  __int128 whole = 0;
  for (char c : integer) whole = whole * 10 + (c - '0');
  __int128 total = whole * unit_ns;
  if (total > kMaxNs) return false;
  const std::string_view fraction = value.fraction.substr(0, kMaxDigits);
  if (!fraction.empty()) {
    __int128 numerator = 0;
    __int128 denominator = 1;
    for (char c : fraction) {
      numerator = numerator * 10 + (c - '0');
      denominator *= 10;
    }
    total += (numerator * unit_ns * 2 + denominator) / (denominator * 2);
  }
  if (total > kMaxNs) return false;
  ns = static_cast<int64_t>(total);
  return true;
}

std::string OutOfRangeMessage() {
  return "out of range (the maximum is " + FormatCompactDuration(kMaxConfigDuration) + ")";
}

absl::StatusOr<absl::Duration> ParseNonNegative(std::string_view text, DurationError* error) {
  if (text.empty()) return Fail(DurationError::kSyntax, error, "empty");
  // A bare number with an exponent ("1e3") is seconds; strtod reads it.
  if (text.find_first_of("eE") != std::string_view::npos &&
      text.find_first_not_of("0123456789.eE+-") == std::string_view::npos) {
    const std::string copy(text);
    char* end = nullptr;
    errno = 0;
    const double seconds = std::strtod(copy.c_str(), &end);
    const bool consumed = end == copy.c_str() + copy.size() && errno == 0;
    if (consumed && (IsDigit(copy.front()) || copy.front() == '.')) {
      return DurationFromSeconds(seconds, error);
    }
    return Fail(DurationError::kSyntax, error, "not a number with a unit");
  }
  size_t pos = 0;
  int64_t total_ns = 0;
  bool first = true;
  while (pos < text.size()) {
    Decimal number;
    const size_t number_start = pos;
    if (!ScanDecimal(text, pos, number)) {
      return Fail(DurationError::kSyntax, error, "not a number with a unit");
    }
    size_t unit_end = pos;
    while (unit_end < text.size() && !IsDigit(text[unit_end]) && text[unit_end] != '.') {
      ++unit_end;
    }
    const std::string_view unit = text.substr(pos, unit_end - pos);
    pos = unit_end;
    int64_t unit_ns = 0;
    if (unit.empty()) {
      // Only a lone number may omit its unit (it is seconds): "300", "0.5".
      if (!first) {
        return Fail(DurationError::kMissingUnit, error,
                    "missing unit after \"" +
                        std::string(text.substr(number_start, pos - number_start)) +
                        "\" (use ns, us, ms, s, m or h)");
      }
      if (pos != text.size()) return Fail(DurationError::kSyntax, error, "not a number");
      unit_ns = kNsPerSecond;
    } else {
      unit_ns = UnitNs(unit);
      if (unit_ns == 0) {
        return Fail(DurationError::kUnknownUnit, error,
                    "unknown unit \"" + std::string(unit) + "\" (use ns, us, ms, s, m or h)");
      }
    }
    int64_t part_ns = 0;
    if (!DecimalToNs(number, unit_ns, part_ns) || total_ns + part_ns > kMaxNs) {
      return Fail(DurationError::kOutOfRange, error, OutOfRangeMessage());
    }
    total_ns += part_ns;
    first = false;
  }
  return absl::Nanoseconds(total_ns);
}

// Appends `value / unit` with up to `digits` fraction digits, trailing zeros trimmed.
void AppendScaled(std::string& out, int64_t value, int64_t unit, int digits) {
  out += std::to_string(value / unit);
  int64_t rest = value % unit;
  if (rest == 0) return;
  std::string fraction(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    fraction[static_cast<size_t>(i)] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  }
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  out += '.';
  out += fraction;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text, DurationError* error) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '-') {
    // Name the real problem only when the rest is a well-formed duration.
    DurationError rest_error;
    if (ParseNonNegative(text.substr(1), &rest_error).ok()) {
      return Fail(DurationError::kNegative, error, "negative");
    }
    return Fail(DurationError::kSyntax, error, "not a number with a unit");
  }
  return ParseNonNegative(text, error);
}

absl::StatusOr<absl::Duration> DurationFromSeconds(double seconds, DurationError* error) {
  if (std::isnan(seconds)) return Fail(DurationError::kSyntax, error, "not a number");
  if (seconds < 0) return Fail(DurationError::kNegative, error, "negative");
  if (!(seconds <= absl::ToDoubleSeconds(kMaxConfigDuration))) {
    return Fail(DurationError::kOutOfRange, error, OutOfRangeMessage());
  }
  return absl::Nanoseconds(std::llround(seconds * 1e9));
}

std::string FormatCompactDuration(absl::Duration duration) {
  if (duration == absl::InfiniteDuration()) return "inf";
  if (duration == -absl::InfiniteDuration()) return "-inf";
  std::string out;
  if (duration < absl::ZeroDuration()) {
    out = "-";
    duration = -duration;
  }
  const int64_t ns = absl::ToInt64Nanoseconds(duration);
  if (ns == 0) return out + "0s";
  if (ns < kNsPerUs) return out + std::to_string(ns) + "ns";
  if (ns < kNsPerMs) {
    AppendScaled(out, ns, kNsPerUs, 3);
    return out + "us";
  }
  if (ns < kNsPerSecond) {
    AppendScaled(out, ns, kNsPerMs, 6);
    return out + "ms";
  }
  const int64_t hours = ns / kNsPerHour;
  const int64_t minutes = ns % kNsPerHour / kNsPerMinute;
  const int64_t rest_ns = ns % kNsPerMinute;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (minutes > 0) out += std::to_string(minutes) + "m";
  if (rest_ns > 0) {
    AppendScaled(out, rest_ns, kNsPerSecond, 9);
    out += "s";
  }
  return out;
}

}  // namespace bench
