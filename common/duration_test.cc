#include "common/duration.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

absl::Duration Parsed(std::string_view text) {
  absl::StatusOr<absl::Duration> value = ParseDuration(text);
  EXPECT_TRUE(value.ok()) << text << ": " << value.status();
  return value.ok() ? *value : absl::InfiniteDuration();
}

DurationError ErrorKind(std::string_view text) {
  DurationError kind = DurationError::kSyntax;
  absl::StatusOr<absl::Duration> value = ParseDuration(text, &kind);
  EXPECT_FALSE(value.ok()) << text << " parsed as " << *value;
  if (!value.ok()) {
    EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
  }
  return kind;
}

TEST(ParseDurationTest, BareNumbersAreSeconds) {
  EXPECT_EQ(Parsed("300"), absl::Seconds(300));
  EXPECT_EQ(Parsed("0.5"), absl::Milliseconds(500));
  EXPECT_EQ(Parsed(".25"), absl::Milliseconds(250));
  EXPECT_EQ(Parsed("0"), absl::ZeroDuration());
  EXPECT_EQ(Parsed("1e3"), absl::Seconds(1000));
  EXPECT_EQ(Parsed("  7 "), absl::Seconds(7));
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(Parsed("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(Parsed("5m"), absl::Minutes(5));
  EXPECT_EQ(Parsed("1h"), absl::Hours(1));
  EXPECT_EQ(Parsed("2s"), absl::Seconds(2));
  EXPECT_EQ(Parsed("100us"), absl::Microseconds(100));
  EXPECT_EQ(Parsed("100\xC2\xB5s"), absl::Microseconds(100));  // µs
  EXPECT_EQ(Parsed("42ns"), absl::Nanoseconds(42));
  EXPECT_EQ(Parsed("1m30s"), absl::Seconds(90));
  EXPECT_EQ(Parsed("1h30m"), absl::Minutes(90));
  EXPECT_EQ(Parsed("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(Parsed("2m0.5s"), absl::Milliseconds(120500));
}

TEST(ParseDurationTest, DecimalFractionsAreExact) {
  // 0.1 has no exact binary form; the parser must not go through double for it.
  EXPECT_EQ(Parsed("0.1"), absl::Milliseconds(100));
  EXPECT_EQ(Parsed("0.3s"), absl::Milliseconds(300));
  EXPECT_EQ(Parsed("1.000000001s"), absl::Seconds(1) + absl::Nanoseconds(1));
  // Rounded half up to whole nanoseconds.
  EXPECT_EQ(Parsed("1.5ns"), absl::Nanoseconds(2));
  EXPECT_EQ(Parsed("1.4ns"), absl::Nanoseconds(1));
}

TEST(ParseDurationTest, RejectsGarbageWithItsKind) {
  EXPECT_EQ(ErrorKind("fast"), DurationError::kSyntax);
  EXPECT_EQ(ErrorKind(""), DurationError::kSyntax);
  EXPECT_EQ(ErrorKind("."), DurationError::kSyntax);
  EXPECT_EQ(ErrorKind("s"), DurationError::kSyntax);
  EXPECT_EQ(ErrorKind("5x"), DurationError::kUnknownUnit);
  EXPECT_EQ(ErrorKind("5 sec"), DurationError::kUnknownUnit);
  EXPECT_EQ(ErrorKind("5M"), DurationError::kUnknownUnit);
  EXPECT_EQ(ErrorKind("1m30"), DurationError::kMissingUnit);
  EXPECT_EQ(ErrorKind("-5s"), DurationError::kNegative);
  EXPECT_EQ(ErrorKind("-3"), DurationError::kNegative);
  EXPECT_EQ(ErrorKind("100001h"), DurationError::kOutOfRange);
  EXPECT_EQ(ErrorKind("99999999999999999999999"), DurationError::kOutOfRange);
  EXPECT_EQ(ErrorKind("1e300"), DurationError::kOutOfRange);
}

TEST(ParseDurationTest, MessagesSayWhatToFix) {
  EXPECT_EQ(ParseDuration("5x").status().message(),
            "unknown unit \"x\" (use ns, us, ms, s, m or h)");
  EXPECT_EQ(ParseDuration("1m30").status().message(),
            "missing unit after \"30\" (use ns, us, ms, s, m or h)");
  EXPECT_EQ(ParseDuration("-5s").status().message(), "negative");
  EXPECT_EQ(ParseDuration("200000h").status().message(), "out of range (the maximum is 100000h)");
}

TEST(DurationFromSecondsTest, ChecksRange) {
  EXPECT_EQ(*DurationFromSeconds(0.25), absl::Milliseconds(250));
  DurationError kind = DurationError::kSyntax;
  EXPECT_EQ(DurationFromSeconds(-1, &kind).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kind, DurationError::kNegative);
  EXPECT_FALSE(DurationFromSeconds(std::nan(""), &kind).ok());
  EXPECT_FALSE(DurationFromSeconds(HUGE_VAL, &kind).ok());
  EXPECT_EQ(kind, DurationError::kOutOfRange);
}

TEST(FormatCompactDurationTest, CompactForms) {
  EXPECT_EQ(FormatCompactDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatCompactDuration(absl::Milliseconds(250)), "250ms");
  EXPECT_EQ(FormatCompactDuration(absl::Microseconds(1500)), "1.5ms");
  EXPECT_EQ(FormatCompactDuration(absl::Microseconds(100)), "100us");
  EXPECT_EQ(FormatCompactDuration(absl::Nanoseconds(7)), "7ns");
  EXPECT_EQ(FormatCompactDuration(absl::Seconds(2)), "2s");
  EXPECT_EQ(FormatCompactDuration(absl::Milliseconds(1250)), "1.25s");
  EXPECT_EQ(FormatCompactDuration(absl::Minutes(5)), "5m");
  EXPECT_EQ(FormatCompactDuration(absl::Minutes(90)), "1h30m");
  EXPECT_EQ(FormatCompactDuration(absl::Hours(1) + absl::Milliseconds(500)), "1h0.5s");
  EXPECT_EQ(FormatCompactDuration(absl::Seconds(90)), "1m30s");
  EXPECT_EQ(FormatCompactDuration(-absl::Seconds(3)), "-3s");
  EXPECT_EQ(FormatCompactDuration(absl::InfiniteDuration()), "inf");
}

// Every nanosecond value up to the maximum must survive format -> parse. The seed is fixed so a
// failure reproduces.
TEST(FormatCompactDurationTest, RoundTripsThroughParse) {
  std::mt19937_64 rng(20240611);
  const int64_t max_ns = absl::ToInt64Nanoseconds(kMaxConfigDuration);
  for (int i = 0; i < 20000; ++i) {
    // Spread over magnitudes: pick a digit count, then a value below 10^digits.
    const int digits = static_cast<int>(rng() % 18) + 1;
    int64_t bound = 1;
    for (int d = 0; d < digits; ++d) bound *= 10;
    const int64_t ns = static_cast<int64_t>(rng() % static_cast<uint64_t>(std::min(bound, max_ns)));
    const absl::Duration value = absl::Nanoseconds(ns);
    const std::string text = FormatCompactDuration(value);
    absl::StatusOr<absl::Duration> back = ParseDuration(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    ASSERT_EQ(*back, value) << text;
  }
}

}  // namespace
}  // namespace bench
