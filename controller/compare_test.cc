#include "controller/compare.h"

#include <random>
#include <string>
#include <vector>

#include "common/run_stats.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench::controller {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

// A results directory in memory: `n` requests whose TTFT is lognormal around `ttft_ms` and whose
// ITL gaps (20 per request) are normal around `itl_ms`; per-second completions around `rate`
// with `rate_sd`, over a 20 s window; `failed` of `n + failed` requests failed; each request's
// gaps share a normal offset with `request_sd_ms` (0: the gaps are independent).
ResultsDirectory FakeRun(const std::string& name, uint32_t seed, int n, double ttft_ms,
                         double itl_ms, double rate = 10, double rate_sd = 0.5, int failed = 0,
                         double request_sd_ms = 0) {
  std::mt19937_64 random(seed);
  std::lognormal_distribution<double> ttft(std::log(ttft_ms * 1000), 0.2);
  std::normal_distribution<double> itl(itl_ms * 1000, itl_ms * 50);
  ResultsDirectory run;
  run.path = "/results/" + name;
  std::normal_distribution<double> request_speed(0, request_sd_ms * 1000);
  for (int i = 0; i < n; ++i) {
    run.charts.overall.histogram(LatencyMetric::kTtft).Record(static_cast<int64_t>(ttft(random)));
    const double own = request_speed(random);  // what this request's gaps share
    double sum = 0;
    for (int k = 0; k < 20; ++k) {
      const double gap = std::max(1.0, itl(random) + own);
      sum += gap;
      run.charts.overall.histogram(LatencyMetric::kItl).Record(static_cast<int64_t>(gap));
    }
    run.charts.overall.histogram(LatencyMetric::kTpot).Record(static_cast<int64_t>(sum / 20));
  }
  std::normal_distribution<double> per_second(rate, rate_sd);
  run.charts.interval_ns = 1'000'000'000;
  run.charts.warmup_ns = 0;
  run.charts.measured_window_ns = 20'000'000'000;
  double total = 0;
  for (int s = 0; s < 20; ++s) {
    IntervalPoint point;
    point.start_ns = int64_t{s} * 1'000'000'000;
    point.succeeded = static_cast<uint64_t>(std::max(0.0, std::round(per_second(random))));
    point.output_tokens = point.succeeded * 20;
    total += static_cast<double>(point.succeeded);
    run.charts.series.push_back(point);
  }
  run.summary = Json{
      {"benchmark", {{"name", name}, {"percentiles", {50, 90, 99}}, {"window_s", 20}}},
      {"target", {{"model", "m"}, {"endpoint", "http://127.0.0.1:1/v1/completions"}}},
      // One token per chunk: a first chunk and 20 gaps per request.
      {"throughput",
       {{"requests_per_s", total / 20}, {"output_tokens_per_s", total}, {"output_tokens", n * 21}}},
      {"requests",
       {{"succeeded", n}, {"failed", failed}, {"error_rate", double(failed) / (n + failed)}}},
      {"cache", {{"hit_ratio", 0.0}}},
      {"stages", Json::array()}};
  return run;
}

CompareOptions Threshold(double pct) {
  CompareOptions options;
  options.threshold_pct = pct;
  return options;
}

const MetricChange& Change(const Comparison& comparison, const std::string& metric) {
  for (const MetricChange& change : comparison.candidates.at(0).changes) {
    if (change.metric == metric) return change;
  }
  static const MetricChange kMissing;
  ADD_FAILURE() << "no change named " << metric;
  return kMissing;
}

TEST(CompareTest, TwoSamplesOfOneDistributionShowNoChange) {
  const Comparison comparison =
      Compare(FakeRun("a", 1, 2000, 50, 10), {FakeRun("b", 2, 2000, 50, 10)}, CompareOptions{});
  EXPECT_EQ(comparison.regressions, 0) << ComparisonText(comparison);
  for (const MetricChange& change : comparison.candidates[0].changes) {
    EXPECT_NE(change.verdict, ChangeVerdict::kImprovement) << change.metric;
  }
  EXPECT_THAT(ComparisonText(comparison), HasSubstr("verdict: no regression"));
}

TEST(CompareTest, ASlowerItlIsARegressionAtEveryPercentile) {
  const Comparison comparison =
      Compare(FakeRun("a", 1, 400, 50, 10), {FakeRun("b", 2, 400, 50, 12)}, Threshold(10));
  for (const char* metric : {"itl p50", "itl p90", "itl p99"}) {
    const MetricChange& change = Change(comparison, metric);
    EXPECT_EQ(change.verdict, ChangeVerdict::kRegression) << metric << ": " << change.evidence;
    EXPECT_NEAR(*change.relative, 0.2, 0.03) << metric;
    EXPECT_TRUE(change.significant);
  }
  EXPECT_EQ(Change(comparison, "ttft p50").verdict, ChangeVerdict::kSame);
  // TPOT, the mean gap per request, moves with ITL; where 400 requests bound it, it regresses.
  EXPECT_EQ(Change(comparison, "tpot p50").verdict, ChangeVerdict::kRegression);
  EXPECT_EQ(comparison.regressions, 5);
  EXPECT_THAT(ComparisonText(comparison), HasSubstr("5 regressions: itl +"));
}

// The evidence names each run's sample count: gaps that move with their request count as fewer.
TEST(CompareTest, ItlSamplesAreEffectiveGapsNotRawGaps) {
  const Comparison independent =
      Compare(FakeRun("a", 1, 500, 50, 10), {FakeRun("b", 2, 500, 50, 10)}, CompareOptions{});
  const Comparison correlated =
      Compare(FakeRun("a", 1, 500, 50, 10, 10, 0.5, 0, 2),
              {FakeRun("b", 2, 500, 50, 10, 10, 0.5, 0, 2)}, CompareOptions{});
  auto n_of = [](const Comparison& c) {
    const std::string& evidence = Change(c, "itl p50").evidence;
    const size_t at = evidence.find("(n ");
    return std::stoll(evidence.substr(at + 3));
  };
  // 10,000 gaps: independent ones count nearly whole; with a 2 ms per-request offset against
  // 0.5 ms of gap noise (rho about 0.94) they count as little more than the 500 requests.
  EXPECT_GT(n_of(independent), 8000) << Change(independent, "itl p50").evidence;
  EXPECT_LT(n_of(correlated), 600) << Change(correlated, "itl p50").evidence;
  EXPECT_GE(n_of(correlated), 500);
}

TEST(CompareTest, AFasterRunIsAnImprovement) {
  const Comparison comparison =
      Compare(FakeRun("a", 1, 1000, 60, 10), {FakeRun("b", 2, 1000, 40, 10)}, CompareOptions{});
  EXPECT_EQ(Change(comparison, "ttft p50").verdict, ChangeVerdict::kImprovement);
  EXPECT_EQ(comparison.regressions, 0);
}

TEST(CompareTest, AChangeBeyondTheThresholdButWithinTheNoiseOfFewSamplesIsNotCalled) {
  // TTFT 8% slower at the median: within the noise of 15 requests (the p50's 99% interval spans
  // about the 20th to the 80th percentile), clear with 2,000.
  const Comparison few =
      Compare(FakeRun("a", 1, 15, 50, 10), {FakeRun("b", 2, 15, 54, 10)}, Threshold(5));
  const MetricChange& p50 = Change(few, "ttft p50");
  EXPECT_FALSE(p50.significant) << p50.evidence;
  EXPECT_EQ(p50.verdict, ChangeVerdict::kSame);
  EXPECT_THAT(p50.evidence, HasSubstr("overlap"));
  // Tail percentiles of 15 samples are not bounded above at all.
  EXPECT_THAT(Change(few, "ttft p99").evidence, HasSubstr("+inf]"));
  const Comparison many =
      Compare(FakeRun("a", 1, 2000, 50, 10), {FakeRun("b", 2, 2000, 54, 10)}, Threshold(5));
  EXPECT_EQ(Change(many, "ttft p50").verdict, ChangeVerdict::kRegression)
      << Change(many, "ttft p50").evidence;
}

TEST(CompareTest, ThroughputNoiseComesFromThePerIntervalRates) {
  // 8% fewer completions: called when the rate is steady, not when it swings widely.
  const Comparison steady = Compare(FakeRun("a", 1, 200, 50, 10, 50, 1),
                                    {FakeRun("b", 2, 200, 50, 10, 46, 1)}, Threshold(5));
  EXPECT_EQ(Change(steady, "throughput").verdict, ChangeVerdict::kRegression)
      << Change(steady, "throughput").evidence;
  const Comparison noisy = Compare(FakeRun("a", 1, 200, 50, 10, 50, 25),
                                   {FakeRun("b", 2, 200, 50, 10, 46, 25)}, Threshold(5));
  EXPECT_EQ(Change(noisy, "throughput").verdict, ChangeVerdict::kSame)
      << Change(noisy, "throughput").evidence;
}

TEST(CompareTest, ErrorRateNeedsSignificanceAndHalfAPoint) {
  const Comparison worse = Compare(FakeRun("a", 1, 1000, 50, 10, 10, 0.5, 0),
                                   {FakeRun("b", 2, 1000, 50, 10, 10, 0.5, 30)}, CompareOptions{});
  EXPECT_EQ(Change(worse, "error rate").verdict, ChangeVerdict::kRegression);
  const Comparison one = Compare(FakeRun("a", 1, 100, 50, 10, 10, 0.5, 0),
                                 {FakeRun("b", 2, 100, 50, 10, 10, 0.5, 1)}, CompareOptions{});
  EXPECT_EQ(Change(one, "error rate").verdict, ChangeVerdict::kSame)
      << Change(one, "error rate").evidence;
  // 0 vs 40 failures in 20,000: significant (z about 6.3) but 0.2 points: not worth a verdict.
  const Comparison small = Compare(FakeRun("a", 1, 20000, 50, 10, 10, 0.5, 0),
                                   {FakeRun("b", 2, 20000, 50, 10, 10, 0.5, 40)}, CompareOptions{});
  EXPECT_TRUE(Change(small, "error rate").significant) << Change(small, "error rate").evidence;
  EXPECT_EQ(Change(small, "error rate").verdict, ChangeVerdict::kSame);
}

TEST(CompareTest, NotesWhatElseDiffers) {
  ResultsDirectory candidate = FakeRun("b", 2, 100, 50, 10);
  candidate.summary["target"]["model"] = "other";
  candidate.summary["cache"]["hit_ratio"] = 0.4;
  const Comparison comparison =
      Compare(FakeRun("a", 1, 100, 50, 10), {candidate}, CompareOptions{});
  const std::vector<std::string>& notes = comparison.candidates[0].notes;
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_THAT(notes[0], HasSubstr("the model differs: \"m\" vs \"other\""));
  EXPECT_THAT(notes[1], HasSubstr("prefix cache hit ratio differs (0.0% vs 40.0%)"));
}

TEST(CompareTest, LabelsNameTheRunsAndJsonCarriesEveryChange) {
  CompareOptions options;
  options.labels = {"1 replica", "2 replicas", "4 replicas"};
  const Comparison comparison =
      Compare(FakeRun("a", 1, 100, 50, 10),
              {FakeRun("b", 2, 100, 50, 10), FakeRun("c", 3, 100, 50, 10)}, options);
  ASSERT_EQ(comparison.runs.size(), 3u);
  EXPECT_EQ(comparison.runs[2].label, "4 replicas");
  const Json json = Json::parse(ComparisonJson(comparison));
  ASSERT_EQ(json["candidates"].size(), 2u);
  EXPECT_EQ(json["candidates"][1]["label"], "4 replicas");
  EXPECT_EQ(json["candidates"][0]["changes"].size(), comparison.candidates[0].changes.size());
  // throughput, output tokens/s, ttft, itl and tpot at three percentiles, error rate
  EXPECT_EQ(comparison.candidates[0].changes.size(), 2u + 9u + 1u);
}

}  // namespace
}  // namespace bench::controller
