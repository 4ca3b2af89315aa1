// Durations as users write them in configs and flags: plain seconds ("300", "0.5") or numbers
// with units ("250ms", "5m", "1h", "1m30s", "100us"), and the compact form used to print them
// back ("1h30m", "250ms"). Parsing is exact to the nanosecond; FormatCompactDuration round-trips.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench {

// The largest duration accepted anywhere in a config: longer runs are certainly a typo, and
// the bound keeps nanosecond arithmetic far from int64 overflow.
inline constexpr absl::Duration kMaxConfigDuration = absl::Hours(100000);

// Why a text is not a duration; lets callers word the message for their context.
enum class DurationError {
  kSyntax,       // No number-with-unit shape at all: "fast", "", "5 m m".
  kUnknownUnit,  // A number followed by something that is not a unit: "5x", "5 sec".
  kMissingUnit,  // A bare number after a unit-tagged part: "1m30".
  kNegative,     // "-5s".
  kOutOfRange,   // Above kMaxConfigDuration, or not finite.
};

// Parses `text` (surrounding spaces allowed). Forms: a bare number is seconds ("300", "0.5",
// "1e3"); otherwise one or more <number><unit> parts, units ns, us (or µs), ms, s, m, h
// ("1h30m", "1.5s", "2m0.5s"). Rounded to whole nanoseconds. Never negative. On failure the
// status is InvalidArgument with a short reason that does not repeat `text`; `error` (optional)
// receives the kind.
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text, DurationError* error = nullptr);

// Seconds given as a number (a YAML 300 or 0.25): rejects negative, NaN and out-of-range values.
// Rounded to whole nanoseconds.
absl::StatusOr<absl::Duration> DurationFromSeconds(double seconds, DurationError* error = nullptr);

// Compact, exact text that ParseDuration reads back to the same value: "0s", "250ms", "1.5ms",
// "100us", "7ns", "2s", "1.25s", "5m", "1h30m", "1h0.5s". Negative or infinite durations are
// printed with a leading '-' or as "inf" (they are never produced by the parser). Not named
// FormatDuration: argument-dependent lookup would make calls ambiguous with absl's.
std::string FormatCompactDuration(absl::Duration duration);

}  // namespace bench
