#include "common/run_stats.h"

#include "gtest/gtest.h"

namespace bench {
namespace {

TEST(RunStats, MetricNamesRoundTrip) {
  for (int i = 0; i < kLatencyMetricCount; ++i) {
    const auto metric = static_cast<LatencyMetric>(i);
    LatencyMetric parsed;
    ASSERT_TRUE(LatencyMetricFromName(LatencyMetricName(metric), &parsed));
    EXPECT_EQ(parsed, metric);
  }
  LatencyMetric unused;
  EXPECT_FALSE(LatencyMetricFromName("ttfb", &unused));
  EXPECT_EQ(LatencyMetricName(LatencyMetric::kE2eFromIntended), "e2e_from_intended");
}

TEST(RunStats, ErrorKeysCarryCodesWhereTheyMatter) {
  EXPECT_EQ(ErrorKey(Outcome::kHttp5xx, 503, 0), "http_5xx:503");
  EXPECT_EQ(ErrorKey(Outcome::kHttp4xx, 429, 0), "http_4xx:429");
  EXPECT_EQ(ErrorKey(Outcome::kRstStream, 0, 2), "rst_stream:2");
  EXPECT_EQ(ErrorKey(Outcome::kTimeout, 200, 0), "timeout");
  EXPECT_EQ(ErrorKey(Outcome::kTruncatedStream, 200, 0), "truncated_stream");
}

TEST(RunStats, MergeIsExactAndOrderFree) {
  StatsShard a, b, all;
  for (int i = 1; i <= 1000; ++i) {
    StatsShard& target = i % 3 == 0 ? a : b;
    target.histogram(LatencyMetric::kTtft).Record(i * 97);
    all.histogram(LatencyMetric::kTtft).Record(i * 97);
  }
  a.succeeded = 5;
  a.output_tokens = 100;
  a.errors["timeout"] = 2;
  b.succeeded = 7;
  b.output_tokens = 50;
  b.errors["timeout"] = 1;
  b.errors["http_5xx:503"] = 4;
  all.succeeded = 12;
  all.output_tokens = 150;
  all.errors = {{"timeout", 3}, {"http_5xx:503", 4}};

  StatsShard ab = a;
  ASSERT_TRUE(ab.Merge(b).ok());
  StatsShard ba = b;
  ASSERT_TRUE(ba.Merge(a).ok());
  EXPECT_EQ(ab, all);
  EXPECT_EQ(ba, all);
  EXPECT_FALSE(ab == a);
}

}  // namespace
}  // namespace bench
