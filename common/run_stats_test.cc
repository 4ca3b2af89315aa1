#include "common/run_stats.h"

#include <string>
#include <vector>

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

TEST(RunStats, DeltasSinceAPastStateAddBackToTheWhole) {
  // A worker reports cumulative - last reported; the controller adds the deltas: the sum must be
  // the cumulative shard exactly, bucket for bucket.
  StatsShard cumulative, reported, applied;
  for (int round = 0; round < 5; ++round) {
    for (int i = 1; i <= 300; ++i) {
      cumulative.histogram(LatencyMetric::kTtft).Record(i * (round + 1) * 37);
      cumulative.histogram(LatencyMetric::kItl).Record(round * 1000 + i);
    }
    cumulative.succeeded += 300;
    cumulative.requests_sent += 301;
    cumulative.failed += 1;
    const std::string key = round % 2 == 0 ? "timeout" : "http_5xx:503";
    cumulative.errors[key] += 1;
    cumulative.AddErrorExample(key, "example " + std::to_string(round));
    // The last end is a maximum: it moves in some rounds only, and the deltas carry it then.
    if (round != 2) cumulative.last_end_ns = (round + 1) * 1'000'000'000LL;
    StatsShard delta = cumulative;
    ASSERT_TRUE(delta.Subtract(reported).ok());
    EXPECT_EQ(delta.succeeded, 300u);
    EXPECT_EQ(delta.histogram(LatencyMetric::kTtft).TotalCount(), 300);
    EXPECT_EQ(delta.errors.size(), 1u);
    EXPECT_EQ(delta.last_end_ns, round == 2 ? 0 : cumulative.last_end_ns);
    ASSERT_TRUE(applied.Merge(delta).ok());
    reported = cumulative;
  }
  EXPECT_TRUE(applied == cumulative);
  EXPECT_EQ(applied.error_examples.at("timeout"),
            (std::vector<std::string>{"example 0", "example 2", "example 4"}));
  StatsShard nothing = cumulative;
  ASSERT_TRUE(nothing.Subtract(cumulative).ok());
  EXPECT_TRUE(nothing.Empty());
  EXPECT_EQ(nothing.histogram(LatencyMetric::kTtft).Max(), 0);
}

TEST(RunStats, ErrorExamplesAreDistinctCappedAndCut) {
  StatsShard a, b;
  a.AddErrorExample("tls", "certificate has expired");
  a.AddErrorExample("tls", "certificate has expired");  // kept once
  a.AddErrorExample("tls", "");                         // nothing to say: not kept
  b.AddErrorExample("tls", "unable to get local issuer certificate");
  b.AddErrorExample("tls", "certificate has expired");
  b.AddErrorExample("tls", "hostname mismatch");
  b.AddErrorExample("tls", "a fourth reason");
  b.AddErrorExample("http_5xx:503", std::string(500, 'x'));
  ASSERT_TRUE(a.Merge(b).ok());
  EXPECT_EQ(
      a.error_examples.at("tls"),
      (std::vector<std::string>{"certificate has expired", "unable to get local issuer certificate",
                                "hostname mismatch"}));
  EXPECT_EQ(a.error_examples.at("http_5xx:503").front().size(), StatsShard::kMaxErrorExampleBytes);
}

TEST(RunStats, SubtractRefusesAStateThatIsNotInThePast) {
  StatsShard small, large;
  large.histogram(LatencyMetric::kTtft).Record(100);
  large.succeeded = 1;
  EXPECT_EQ(small.Subtract(large).code(), absl::StatusCode::kInvalidArgument);
  StatsShard other_bucket;
  other_bucket.histogram(LatencyMetric::kTtft).Record(5000);
  Histogram h = large.histogram(LatencyMetric::kTtft);
  EXPECT_EQ(h.Subtract(other_bucket.histogram(LatencyMetric::kTtft)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.TotalCount(), 1);  // Unchanged.
}

TEST(RunStats, IntervalDeltasSumCountersAndKeepTheLatestGauges) {
  IntervalPoint first{0, 5, 3, 2, 1, 40, 50, 7, 2};
  IntervalPoint later{0, 9, 6, 5, 1, 90, 95, 4, 0};
  IntervalPoint applied;
  applied.ApplyDelta(first.DeltaSince(IntervalPoint{}));
  applied.ApplyDelta(later.DeltaSince(first));
  EXPECT_EQ(applied, later);
}

}  // namespace
}  // namespace bench
