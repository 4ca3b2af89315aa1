#include "sim/failure.h"

#include <array>

#include "gtest/gtest.h"
#include "sim/sim_config.h"

namespace bench::sim {
namespace {

TEST(FailureKindTest, NamesRoundTrip) {
  for (int i = 0; i < kFailureKindCount; ++i) {
    const auto kind = static_cast<FailureKind>(i);
    EXPECT_EQ(ParseFailureKind(FailureKindName(kind)), kind) << FailureKindName(kind);
  }
  EXPECT_EQ(ParseFailureKind("RESET"), std::nullopt);
  EXPECT_EQ(ParseFailureKind(""), std::nullopt);
  EXPECT_EQ(FailureHttpStatus(FailureKind::kStatus503), 503);
  EXPECT_EQ(FailureHttpStatus(FailureKind::kReset), 0);
}

TEST(FailurePolicyTest, RateZeroNeverFailsUnlessAsked) {
  SimConfig config;
  const FailurePolicy policy(config);
  for (uint64_t serial = 0; serial < 10'000; ++serial) {
    ASSERT_EQ(*policy.Choose("", serial), FailureKind::kNone);
  }
  EXPECT_EQ(*policy.Choose("goaway", 1), FailureKind::kGoaway);
  EXPECT_EQ(*policy.Choose("stall", 1), FailureKind::kStall);
  const auto bad = policy.Choose("teapot", 1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'teapot'"), std::string_view::npos);
}

TEST(FailurePolicyTest, DrawsTheRateAndOnlyTheListedKinds) {
  SimConfig config;
  config.failure_rate = 0.25;
  config.failure_kinds = {"503", "reset", "stall"};
  config.seed = 7;
  const FailurePolicy policy(config);
  std::array<int, kFailureKindCount> counts{};
  constexpr int kRequests = 40'000;
  for (uint64_t serial = 0; serial < kRequests; ++serial) {
    ++counts[static_cast<int>(*policy.Choose("", serial))];
  }
  const int failed = kRequests - counts[0];
  // 10,000 expected; the binomial standard deviation is ~87.
  EXPECT_NEAR(failed, 10'000, 500);
  for (FailureKind kind : {FailureKind::kStatus503, FailureKind::kReset, FailureKind::kStall}) {
    EXPECT_NEAR(counts[static_cast<int>(kind)], failed / 3, 300) << FailureKindName(kind);
  }
  EXPECT_EQ(counts[0] + counts[static_cast<int>(FailureKind::kStatus503)] +
                counts[static_cast<int>(FailureKind::kReset)] +
                counts[static_cast<int>(FailureKind::kStall)],
            kRequests)
      << "no unlisted kind";
  // A header still forces a kind outside the list, or none at all.
  EXPECT_EQ(*policy.Choose("429", 3), FailureKind::kStatus429);
  for (uint64_t serial = 0; serial < 100; ++serial) {
    EXPECT_EQ(*policy.Choose("none", serial), FailureKind::kNone);
  }
}

TEST(FailurePolicyTest, SameSeedSameChoicesOtherSeedOthers) {
  SimConfig config;
  config.failure_rate = 0.5;
  config.seed = 1;
  const FailurePolicy a(config);
  const FailurePolicy b(config);
  config.seed = 2;
  const FailurePolicy c(config);
  int differ = 0;
  for (uint64_t serial = 0; serial < 1'000; ++serial) {
    ASSERT_EQ(*a.Choose("", serial), *b.Choose("", serial));
    if (*a.Choose("", serial) != *c.Choose("", serial)) ++differ;
  }
  EXPECT_GT(differ, 300);
}

TEST(FailurePolicyTest, EmptyKindListMeansEveryKind) {
  SimConfig config;
  config.failure_rate = 1;
  const FailurePolicy policy(config);
  std::array<int, kFailureKindCount> counts{};
  for (uint64_t serial = 0; serial < 8'000; ++serial) {
    ++counts[static_cast<int>(*policy.Choose("", serial))];
  }
  EXPECT_EQ(counts[0], 0);
  for (int i = 1; i < kFailureKindCount; ++i) EXPECT_GT(counts[i], 800) << i;
}

}  // namespace
}  // namespace bench::sim
