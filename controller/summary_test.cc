#include "controller/summary.h"

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/run_stats.h"
#include "controller/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

constexpr int64_t kSecondNs = 1'000'000'000;

BenchmarkConfig BaseConfig() {
  BenchmarkConfig config;
  config.benchmark.name = "unit";
  config.load.type = LoadType::kConstant;
  config.load.rate = 100;
  config.metrics.percentiles = {50, 90, 99};
  return config;
}

// One stage, `window_s` long, requesting `rate` req/s (open loop).
RunResult BaseResult(int64_t window_s, double rate) {
  RunResult result;
  result.stages.resize(1);
  result.window_ns = window_s * kSecondNs;
  result.measured_window_ns = result.window_ns;
  result.requested_rate = rate;
  result.requested_requests = rate * static_cast<double>(window_s);
  result.engine_threads = 1;
  result.workers = 1;
  result.started_at_utc = "2024-01-02T03:04:05Z";
  result.finished_at_utc = "2024-01-02T03:05:05Z";
  return result;
}

// `count` successful requests, each sent with `lag_us` of schedule lag.
void AddSuccesses(StatsShard& shard, uint64_t count, int64_t lag_us = 100) {
  shard.requests_sent += count;
  shard.succeeded += count;
  shard.histogram(LatencyMetric::kScheduleLag).RecordN(lag_us, static_cast<int64_t>(count));
}

const MetricSummary& Metric(const BlockSummary& block, LatencyMetric metric) {
  return block.latency.at(static_cast<size_t>(metric));
}

double PercentileOf(const MetricSummary& metric, double percentile) {
  for (const PercentileValue& p : metric.percentiles) {
    if (p.percentile == percentile) return p.value_ms;
  }
  ADD_FAILURE() << "no p" << percentile << " in " << metric.name;
  return -1;
}

const Warning* FindWarning(const RunSummary& summary, const std::string& code) {
  for (const Warning& warning : summary.warnings) {
    if (warning.code == code) return &warning;
  }
  return nullptr;
}

// HdrHistogram at 3 significant digits: within 0.1% of the true value.
void ExpectWithinResolution(double actual, double expected) {
  EXPECT_NEAR(actual, expected, std::abs(expected) * 0.001) << "expected " << expected;
}

TEST(SummarizeTest, LatencyFiguresMatchTheRecordedSamples) {
  RunResult result = BaseResult(10, 100);
  StatsShard& shard = result.stages[0];
  AddSuccesses(shard, 1000);
  // TTFT samples 1, 2, ..., 1000 ms.
  for (int64_t ms = 1; ms <= 1000; ++ms) shard.histogram(LatencyMetric::kTtft).Record(ms * 1000);
  const RunSummary summary = Summarize(BaseConfig(), result);

  const MetricSummary& ttft = Metric(summary.overall, LatencyMetric::kTtft);
  EXPECT_EQ(ttft.name, "ttft");
  EXPECT_EQ(ttft.count, 1000u);
  // The k-th percentile of 1..1000 is the ceil(k * 10)-th sample, i.e. k * 10 ms.
  ExpectWithinResolution(PercentileOf(ttft, 50), 500);
  ExpectWithinResolution(PercentileOf(ttft, 90), 900);
  ExpectWithinResolution(PercentileOf(ttft, 99), 990);
  ExpectWithinResolution(ttft.mean_ms, 500.5);
  // Population standard deviation of 1..n is sqrt((n^2 - 1) / 12).
  ExpectWithinResolution(ttft.stddev_ms, std::sqrt((1000.0 * 1000.0 - 1) / 12));
  ExpectWithinResolution(ttft.min_ms, 1);
  ExpectWithinResolution(ttft.max_ms, 1000);
  // Percentiles come in config order.
  ASSERT_EQ(ttft.percentiles.size(), 3u);
  EXPECT_EQ(ttft.percentiles[0].percentile, 50);
  EXPECT_EQ(ttft.percentiles[2].percentile, 99);
  // Every latency metric is reported, in enum order.
  ASSERT_EQ(summary.overall.latency.size(), static_cast<size_t>(kLatencyMetricCount));
  EXPECT_EQ(summary.overall.latency[6].name, "e2e_from_intended");
}

TEST(SummarizeTest, MetricsWithoutSamplesAreNullNotZero) {
  RunResult result = BaseResult(10, 100);
  AddSuccesses(result.stages[0], 10);
  result.stages[0].histogram(LatencyMetric::kTtft).Record(5000);
  const RunSummary summary = Summarize(BaseConfig(), result);
  EXPECT_EQ(Metric(summary.overall, LatencyMetric::kItl).count, 0u);

  const Json json = Json::parse(SummaryToJson(summary));
  const Json& itl = json["latency"]["itl"];
  EXPECT_EQ(itl["count"], 0);
  for (const char* field : {"mean_ms", "stddev_ms", "min_ms", "max_ms"}) {
    EXPECT_TRUE(itl[field].is_null()) << field;
  }
  EXPECT_TRUE(itl["percentiles"]["p50"].is_null());
  EXPECT_TRUE(itl["percentiles"]["p99"].is_null());
  // A metric with samples has numbers.
  EXPECT_NEAR(json["latency"]["ttft"]["percentiles"]["p50"].get<double>(), 5.0, 0.005);
}

TEST(SummarizeTest, ErrorRateAndCategoriesByCount) {
  RunResult result = BaseResult(10, 10);
  StatsShard& shard = result.stages[0];
  AddSuccesses(shard, 90);
  shard.requests_sent += 12;
  shard.failed = 10;
  shard.incomplete = 2;
  shard.errors = {{"timeout", 3}, {"http_5xx:503", 7}};
  const RunSummary summary = Summarize(BaseConfig(), result);
  const RequestSummary& requests = summary.overall.requests;
  EXPECT_EQ(requests.in_window, 102u);
  EXPECT_EQ(requests.succeeded, 90u);
  EXPECT_EQ(requests.failed, 10u);
  EXPECT_EQ(requests.incomplete, 2u);
  ASSERT_TRUE(requests.error_rate.has_value());
  // Incomplete requests are neither successes nor failures: 10 / (90 + 10).
  EXPECT_DOUBLE_EQ(*requests.error_rate, 0.1);
  ASSERT_EQ(requests.errors.size(), 2u);
  EXPECT_EQ(requests.errors[0].first, "http_5xx:503");
  EXPECT_EQ(requests.errors[1].first, "timeout");

  const Json json = Json::parse(SummaryToJson(summary));
  EXPECT_DOUBLE_EQ(json["requests"]["error_rate"].get<double>(), 0.1);
  EXPECT_EQ(json["requests"]["errors"][0]["category"], "http_5xx:503");
  EXPECT_EQ(json["requests"]["errors"][0]["count"], 7);
  EXPECT_NE(FindWarning(summary, "incomplete"), nullptr);
}

TEST(SummarizeTest, ErrorRateIsNullWithoutFinishedRequests) {
  RunResult result = BaseResult(10, 10);
  result.stages[0].requests_sent = 3;
  result.stages[0].incomplete = 3;
  const RunSummary summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.requests.error_rate.has_value());
  EXPECT_TRUE(Json::parse(SummaryToJson(summary))["requests"]["error_rate"].is_null());
}

TEST(SummarizeTest, ThroughputOverTheMeasuredWindow) {
  RunResult result = BaseResult(10, 20);
  StatsShard& shard = result.stages[0];
  AddSuccesses(shard, 200);
  shard.input_tokens = 20000;
  shard.output_tokens = 5000;
  const RunSummary summary = Summarize(BaseConfig(), result);
  const ThroughputSummary& t = summary.overall.throughput;
  EXPECT_DOUBLE_EQ(*t.requests_per_s, 200.0 / 10);
  EXPECT_DOUBLE_EQ(*t.output_tokens_per_s, 5000.0 / 10);
  EXPECT_DOUBLE_EQ(*t.total_tokens_per_s, 25000.0 / 10);

  // Cancelled after 4 s of the window: rates use the 4 s that were measured.
  result.cancelled = true;
  result.measured_window_ns = 4 * kSecondNs;
  const RunSummary partial = Summarize(BaseConfig(), result);
  EXPECT_DOUBLE_EQ(*partial.overall.throughput.requests_per_s, 200.0 / 4);
  EXPECT_NE(FindWarning(partial, "cancelled"), nullptr);
}

// Offered 20 req/s, the target finishes 10 a second: the headline is the 10 that ended in the
// window, the offered 20 stands apart, the drain is as long as the window, and a warning says
// the target could not keep up. The same run keeping up has no warning.
TEST(SummarizeTest, OverloadHeadlineIsWhatTheTargetCompleted) {
  RunResult result = BaseResult(6, 20);
  for (int i = 0; i < 12; ++i) {  // 6 s window, 6 s drain
    IntervalPoint point;
    point.start_ns = i * kSecondNs;
    point.started = i < 6 ? 20 : 0;
    point.succeeded = point.completed = 10;
    point.output_tokens = 10 * 50;
    point.input_tokens = 10 * 100;
    result.series.push_back(point);
  }
  AddSuccesses(result.stages[0], 120);  // every request of the window succeeded, in the end
  result.stages[0].output_tokens = 120 * 50;
  result.stages[0].input_tokens = 120 * 100;
  result.stages[0].last_end_ns = 12 * kSecondNs - 1;
  RunSummary summary = Summarize(BaseConfig(), result);
  const ThroughputSummary& t = summary.overall.throughput;
  EXPECT_DOUBLE_EQ(*t.requests_per_s, 10);
  EXPECT_EQ(t.completed_in_window, 60u);
  EXPECT_DOUBLE_EQ(*t.output_tokens_per_s, 500);
  EXPECT_DOUBLE_EQ(*t.total_tokens_per_s, 1500);
  EXPECT_DOUBLE_EQ(*summary.overall.rates.achieved_rate, 20);
  EXPECT_NEAR(*t.drain_s, 6, 1e-6);
  EXPECT_TRUE(t.target_behind);
  ASSERT_NE(FindWarning(summary, "target-behind"), nullptr);
  EXPECT_THAT(FindWarning(summary, "target-behind")->message,
              HasSubstr("finished 10 req/s over the window's second half while 20 req/s"));
  const Json json = Json::parse(SummaryToJson(summary));
  EXPECT_EQ(json["throughput"]["requests_per_s"], 10);
  EXPECT_EQ(json["throughput"]["offered_requests_per_s"], 20);
  EXPECT_EQ(json["throughput"]["target_behind"], true);
  const std::string table = RenderSummaryTable(summary);
  EXPECT_THAT(table, HasSubstr("10 req/s completed in the window"));
  EXPECT_THAT(table, HasSubstr("20 req/s sent (20 requested); the last request ended 6 s after"));

  // Keeping up: 20 a second end, the drain is short, no warning.
  for (IntervalPoint& point : result.series) {
    point.succeeded = point.completed = point.start_ns < 6 * kSecondNs ? 20 : 0;
  }
  result.stages[0].last_end_ns = 6 * kSecondNs + 200'000'000;
  summary = Summarize(BaseConfig(), result);
  EXPECT_DOUBLE_EQ(*summary.overall.throughput.requests_per_s, 20);
  EXPECT_FALSE(summary.overall.throughput.target_behind);
  EXPECT_EQ(FindWarning(summary, "target-behind"), nullptr);
  EXPECT_NEAR(*summary.overall.throughput.drain_s, 0.2, 1e-6);
}

// Responses without cached-token counts: the hit ratio comes from vLLM's counters read from
// Prometheus, and says so; with counts in the responses, those win and the counters are shown.
TEST(SummarizeTest, CacheHitRatioFallsBackToPrometheusCounters) {
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 100);
  result.stages[0].input_tokens = 100 * 200;
  result.prometheus_hit_ratio = 0.4;
  RunSummary summary = Summarize(BaseConfig(), result);
  ASSERT_TRUE(summary.overall.cache.hit_ratio.has_value());
  EXPECT_DOUBLE_EQ(*summary.overall.cache.hit_ratio, 0.4);
  EXPECT_EQ(summary.overall.cache.source, "prometheus counters");
  Json json = Json::parse(SummaryToJson(summary));
  EXPECT_EQ(json["cache"]["source"], "prometheus counters");
  EXPECT_TRUE(json["cache"]["reason"].is_null());

  result.stages[0].cached_tokens = 100 * 50;
  result.stages[0].input_tokens_with_cache_info = 100 * 200;
  summary = Summarize(BaseConfig(), result);
  EXPECT_DOUBLE_EQ(*summary.overall.cache.hit_ratio, 0.25);
  EXPECT_EQ(summary.overall.cache.source, "usage");
  EXPECT_DOUBLE_EQ(*summary.overall.cache.hit_ratio_from_counters, 0.4);

  result.prometheus_error = "num_requests_running: cannot connect to prom:9090";
  summary = Summarize(BaseConfig(), result);
  ASSERT_NE(FindWarning(summary, "prometheus-unavailable"), nullptr);
  EXPECT_THAT(FindWarning(summary, "prometheus-unavailable")->message, HasSubstr("cannot connect"));
}

TEST(SummarizeTest, PerIntervalDistributionExcludesWarmup) {
  RunResult result = BaseResult(4, 20);
  result.warmup_ns = 2 * kSecondNs;
  // Whole run: 2 s warmup (busy), a 4 s window, then drain.
  const std::vector<uint64_t> succeeded = {100, 100, 10, 20, 30, 40, 100};
  for (size_t i = 0; i < succeeded.size(); ++i) {
    IntervalPoint point;
    point.start_ns = static_cast<int64_t>(i) * kSecondNs;
    point.succeeded = succeeded[i];
    result.series.push_back(point);
  }
  RunSummary summary = Summarize(BaseConfig(), result);
  ASSERT_TRUE(summary.overall.throughput.per_interval.has_value());
  IntervalDistribution d = *summary.overall.throughput.per_interval;
  EXPECT_EQ(d.intervals, 4u);
  EXPECT_DOUBLE_EQ(d.min, 10);
  EXPECT_DOUBLE_EQ(d.max, 40);
  EXPECT_DOUBLE_EQ(d.mean, 25);
  EXPECT_DOUBLE_EQ(d.p50, 20);  // nearest rank: the 2nd of 4

  // An interval the series never reached had no completions: it counts as zero.
  result.series.erase(result.series.begin() + 4);
  summary = Summarize(BaseConfig(), result);
  d = *summary.overall.throughput.per_interval;
  EXPECT_EQ(d.intervals, 4u);
  EXPECT_DOUBLE_EQ(d.min, 0);
  EXPECT_DOUBLE_EQ(d.mean, 70.0 / 4);

  // Half an interval measured: only full intervals count.
  result.measured_window_ns = kSecondNs * 3 / 2;
  summary = Summarize(BaseConfig(), result);
  d = *summary.overall.throughput.per_interval;
  EXPECT_EQ(d.intervals, 1u);
  EXPECT_DOUBLE_EQ(d.max, 10);

  result.measured_window_ns = kSecondNs / 2;
  summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.throughput.per_interval.has_value());
  EXPECT_TRUE(
      Json::parse(SummaryToJson(summary))["throughput"]["per_interval_requests_per_s"].is_null());
}

TEST(SummarizeTest, GeneratorLimitedWhenAchievedRateIsShort) {
  RunResult result = BaseResult(30, 2000);
  AddSuccesses(result.stages[0], 1932 * 30, /*lag_us=*/200);
  const RunSummary summary = Summarize(BaseConfig(), result);
  const RateSummary& rates = summary.overall.rates;
  EXPECT_DOUBLE_EQ(*rates.requested_rate, 2000);
  EXPECT_DOUBLE_EQ(*rates.achieved_rate, 1932);
  EXPECT_DOUBLE_EQ(*rates.achieved_ratio, 0.966);
  EXPECT_EQ(rates.sent, 1932u * 30);
  EXPECT_TRUE(summary.overall.generator_limited);
  const Warning* warning = FindWarning(summary, "generator-limited");
  ASSERT_NE(warning, nullptr);
  EXPECT_THAT(warning->message,
              AllOf(HasSubstr("rule rate: achieved 1,932 req/s of 2,000 requested (96.6%)"),
                    HasSubstr("client timing noise: schedule lag p50 0.2 ms, p90 0.2 ms, p99 0.2 "
                              "ms")));
  EXPECT_EQ(summary.overall.generator_rules.size(), 1u);
}

// Timer wake-up jitter is not saturation: a p99 of several ms with a low median is reported as
// the client's timing noise and warns of nothing.
TEST(SummarizeTest, HighP99LagAloneIsTimingNoiseNotAWarning) {
  RunResult result = BaseResult(10, 100);
  StatsShard& shard = result.stages[0];
  AddSuccesses(shard, 980, /*lag_us=*/100);
  AddSuccesses(shard, 20, /*lag_us=*/3200);  // the top 2%: p99 is 3.2 ms
  const RunSummary summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.generator_limited);
  EXPECT_EQ(FindWarning(summary, "generator-limited"), nullptr);
  EXPECT_THAT(summary.overall.generator_message,
              HasSubstr("client timing noise: schedule lag p50 0.1 ms, p90 0.1 ms, p99 3.2 ms"));
  // The bucket's highest value: within 0.1%.
  EXPECT_NEAR(*summary.overall.timing_noise_p99_ms, 3.2, 0.0033);
  const Json json = Json::parse(SummaryToJson(summary));
  EXPECT_NEAR(json["generator"]["timing_noise_p99_ms"].get<double>(), 3.2, 0.0033);
  EXPECT_TRUE(json["generator"]["rules"].empty());
}

TEST(SummarizeTest, GeneratorLimitedWhenOneRequestInTenIsLate) {
  RunResult result = BaseResult(10, 100);
  StatsShard& shard = result.stages[0];
  AddSuccesses(shard, 850, /*lag_us=*/100);
  AddSuccesses(shard, 150, /*lag_us=*/2600);  // p90: 2.6 ms
  RunSummary summary = Summarize(BaseConfig(), result);
  EXPECT_DOUBLE_EQ(*summary.overall.rates.achieved_ratio, 1.0);
  const Warning* warning = FindWarning(summary, "generator-limited");
  ASSERT_NE(warning, nullptr);
  EXPECT_THAT(warning->message, HasSubstr("rule lag-p90: schedule lag p90 2.6 ms, above 2 ms"));
  const Json json = Json::parse(SummaryToJson(summary));
  ASSERT_EQ(json["generator"]["rules"].size(), 1u);
  EXPECT_THAT(json["generator"]["rules"][0].get<std::string>(), HasSubstr("rule lag-p90"));

  // The same lag while the concurrency cap held requests is the target's doing.
  result.peak_client_queue = 7;
  summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.generator_limited);
  EXPECT_EQ(FindWarning(summary, "generator-limited"), nullptr);
  EXPECT_THAT(summary.overall.generator_message, HasSubstr("peak client queue 7"));
}

TEST(SummarizeTest, GeneratorLimitedWhenTheLagGrowsOverTheWindow) {
  RunResult result = BaseResult(8, 100);
  result.interval_ns = kSecondNs;
  AddSuccesses(result.stages[0], 800, /*lag_us=*/300);  // p90 under the threshold
  // 100 sent per second; the mean lag climbs from 0.2 ms to 4 ms.
  for (int i = 0; i < 8; ++i) {
    IntervalPoint point;
    point.start_ns = i * kSecondNs;
    point.started = 100;
    point.schedule_lag_us =
        static_cast<uint64_t>(i < 2 ? 200 * 100 : (i < 6 ? 500 * 100 : 4000 * 100));
    result.series.push_back(point);
  }
  RunSummary summary = Summarize(BaseConfig(), result);
  const Warning* warning = FindWarning(summary, "generator-limited");
  ASSERT_NE(warning, nullptr);
  EXPECT_THAT(warning->message,
              HasSubstr("rule lag-growing: mean schedule lag grew from 0.2 ms (first quarter of "
                        "the window) to 4 ms (last quarter)"));

  // A steady lag of the same size is no backlog.
  for (IntervalPoint& point : result.series) point.schedule_lag_us = 300 * 100;
  summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.generator_limited) << summary.overall.generator_message;
}

TEST(SummarizeTest, NoGeneratorWarningOnRateWithLowLag) {
  RunResult result = BaseResult(10, 100);
  AddSuccesses(result.stages[0], 995, /*lag_us=*/200);  // 99.5%
  const RunSummary summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.generator_limited);
  EXPECT_EQ(FindWarning(summary, "generator-limited"), nullptr);
  EXPECT_THAT(summary.overall.generator_message, HasSubstr("(99.5%)"));
  const Json json = Json::parse(SummaryToJson(summary));
  EXPECT_EQ(json["generator"]["limited"], false);
}

TEST(SummarizeTest, PoissonShortfallWithinArrivalNoiseIsNotGeneratorLimited) {
  BenchmarkConfig config = BaseConfig();
  config.load.type = LoadType::kPoisson;
  config.load.rate = 10;
  RunResult result = BaseResult(10, 10);  // 100 arrivals expected, standard deviation 10
  AddSuccesses(result.stages[0], 95);
  EXPECT_FALSE(Summarize(config, result).overall.generator_limited);
  // Far outside three standard deviations: the generator fell behind.
  result.stages[0] = StatsShard();
  AddSuccesses(result.stages[0], 60);
  EXPECT_TRUE(Summarize(config, result).overall.generator_limited);
  // A constant schedule has no such noise: 95% is short.
  config.load.type = LoadType::kConstant;
  result.stages[0] = StatsShard();
  AddSuccesses(result.stages[0], 95);
  EXPECT_TRUE(Summarize(config, result).overall.generator_limited);
}

TEST(SummarizeTest, ClosedLoopHasNoRequestedRate) {
  BenchmarkConfig config = BaseConfig();
  config.load.type = LoadType::kConcurrency;
  config.load.concurrency = 8;
  RunResult result = BaseResult(10, 0);
  result.closed_loop = true;
  result.concurrency = 8;
  AddSuccesses(result.stages[0], 500, /*lag_us=*/50);
  RunSummary summary = Summarize(config, result);
  EXPECT_FALSE(summary.overall.rates.requested_rate.has_value());
  EXPECT_DOUBLE_EQ(*summary.overall.rates.achieved_rate, 50);
  EXPECT_FALSE(summary.overall.generator_limited);
  EXPECT_THAT(summary.overall.generator_message, HasSubstr("closed loop"));
  Json json = Json::parse(SummaryToJson(summary));
  EXPECT_TRUE(json["rates"]["requested_rate"].is_null());
  EXPECT_TRUE(json["rates"]["achieved_ratio"].is_null());
  EXPECT_EQ(json["rates"]["closed_loop"], true);

  // The lag rule still applies: a closed loop's slot should be refilled at once.
  AddSuccesses(result.stages[0], 600, /*lag_us=*/5000);
  summary = Summarize(config, result);
  EXPECT_TRUE(summary.overall.generator_limited);
  EXPECT_THAT(FindWarning(summary, "generator-limited")->message,
              HasSubstr("rule lag-p90: schedule lag p90 5 ms"));
}

TEST(SummarizeTest, SloVerdictsAndExitCodes) {
  BenchmarkConfig config = BaseConfig();
  config.slo.thresholds = {{"ttft", 99, absl::Milliseconds(500)},
                           {"itl", 50, absl::Milliseconds(20)}};
  config.slo.max_error_rate = 0.05;
  RunResult result = BaseResult(10, 10);
  StatsShard& shard = result.stages[0];
  AddSuccesses(shard, 100);
  shard.requests_sent += 2;
  shard.failed = 2;
  shard.errors = {{"http_5xx:500", 2}};
  shard.slo_met = 98;
  shard.histogram(LatencyMetric::kTtft).RecordN(100'000, 98);
  shard.histogram(LatencyMetric::kTtft).RecordN(600'000, 2);  // p99 = 600 ms > 500 ms
  shard.histogram(LatencyMetric::kItl).RecordN(10'000, 1000);
  RunSummary summary = Summarize(config, result);
  ASSERT_EQ(summary.slo.size(), 3u);
  EXPECT_EQ(summary.slo[0].metric, "ttft");
  EXPECT_TRUE(summary.slo[0].has_actual);
  ExpectWithinResolution(summary.slo[0].actual_ms, 600);
  EXPECT_DOUBLE_EQ(summary.slo[0].limit_ms, 500);
  EXPECT_FALSE(summary.slo[0].passed);
  EXPECT_EQ(summary.slo[1].metric, "itl");
  EXPECT_TRUE(summary.slo[1].passed);
  EXPECT_EQ(summary.slo[2].metric, "errorRate");
  EXPECT_DOUBLE_EQ(summary.slo[2].actual_error_rate, 2.0 / 102);
  EXPECT_TRUE(summary.slo[2].passed);
  EXPECT_EQ(ExitCodeFor(summary), kExitSloFailed);

  Json json = Json::parse(SummaryToJson(summary));
  EXPECT_EQ(json["slo"]["configured"], true);
  EXPECT_EQ(json["slo"]["passed"], false);
  EXPECT_EQ(json["slo"]["verdicts"][0]["metric"], "ttft");
  EXPECT_EQ(json["slo"]["verdicts"][0]["percentile"], 99);
  EXPECT_EQ(json["slo"]["verdicts"][0]["limit_ms"], 500);
  EXPECT_EQ(json["slo"]["verdicts"][0]["passed"], false);
  EXPECT_DOUBLE_EQ(json["slo"]["verdicts"][2]["limit"].get<double>(), 0.05);

  // Goodput: successes that met every SLO, per second of the window.
  EXPECT_DOUBLE_EQ(*summary.overall.goodput_rps, 9.8);
  EXPECT_DOUBLE_EQ(json["goodput"]["requests_per_s"].get<double>(), 9.8);
  EXPECT_EQ(json["goodput"]["slo_met"], 98);

  config.slo.thresholds[0].max = absl::Milliseconds(700);
  summary = Summarize(config, result);
  EXPECT_TRUE(summary.slo[0].passed);
  EXPECT_EQ(ExitCodeFor(summary), kExitOk);

  config.slo.max_error_rate = 0.01;
  summary = Summarize(config, result);
  EXPECT_FALSE(summary.slo[2].passed);
  EXPECT_EQ(ExitCodeFor(summary), kExitSloFailed);

  // Cancelled wins over everything.
  result.cancelled = true;
  EXPECT_EQ(ExitCodeFor(Summarize(config, result)), kExitCancelled);
}

TEST(SummarizeTest, SloOnMetricWithoutSamplesFails) {
  BenchmarkConfig config = BaseConfig();
  config.slo.thresholds = {{"tpot", 90, absl::Milliseconds(30)}};
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 100);
  const RunSummary summary = Summarize(config, result);
  ASSERT_EQ(summary.slo.size(), 1u);
  EXPECT_FALSE(summary.slo[0].has_actual);
  EXPECT_FALSE(summary.slo[0].passed);
  EXPECT_EQ(ExitCodeFor(summary), kExitSloFailed);
  const Json json = Json::parse(SummaryToJson(summary));
  EXPECT_TRUE(json["slo"]["verdicts"][0]["actual_ms"].is_null());
}

TEST(SummarizeTest, UnreachableTargetIsARunFailure) {
  BenchmarkConfig config = BaseConfig();
  config.slo.thresholds = {{"ttft", 99, absl::Milliseconds(500)}};
  RunResult result = BaseResult(10, 10);
  StatsShard& shard = result.stages[0];
  // 100 requests on schedule: 60 sent and reset by the target, 40 refused at connect, so never
  // sent (no schedule_lag sample).
  shard.requests_sent = 100;
  shard.failed = 100;
  shard.errors = {{"connect", 40}, {"reset", 60}};
  shard.histogram(LatencyMetric::kScheduleLag).RecordN(100, 60);
  const RunSummary summary = Summarize(config, result);
  EXPECT_EQ(ExitCodeFor(summary), kExitRunFailed);
  EXPECT_NE(FindWarning(summary, "no-successes"), nullptr);
  // The generator dispatched all 100 on time: the refusals are no generator shortfall.
  EXPECT_EQ(summary.overall.rates.sent, 60u);
  EXPECT_DOUBLE_EQ(*summary.overall.rates.achieved_rate, 6);
  EXPECT_EQ(summary.overall.rates.failed_before_send, 40u);
  EXPECT_EQ(FindWarning(summary, "generator-limited"), nullptr);
  EXPECT_THAT(summary.overall.generator_message, HasSubstr("40 requests failed before"));
  EXPECT_THAT(RenderSummaryTable(summary), HasSubstr("reset 60, connect 40"));

  // Had only 60 of the 100 been dispatched at all, the generator fell short.
  shard.requests_sent = 60;
  shard.failed = 60;
  shard.errors = {{"reset", 60}};
  EXPECT_NE(FindWarning(Summarize(config, result), "generator-limited"), nullptr);

  RunResult fine = BaseResult(10, 10);
  AddSuccesses(fine.stages[0], 100);
  EXPECT_EQ(ExitCodeFor(Summarize(BaseConfig(), fine)), kExitOk);
}

TEST(SummarizeTest, ConnectionFiguresWarnAndNote) {
  BenchmarkConfig config = BaseConfig();
  config.target.connections = 8;
  config.target.max_streams_per_connection = 100;
  RunResult result = BaseResult(5, 10);
  result.stages[0].requests_sent = 13;
  result.stages[0].failed = 13;
  result.stages[0].errors = {{"connect", 13}};
  result.connections.opened = 13;
  result.connections.failed = 13;
  result.connections.unreachable_ns = 5'200'000'000;
  RunSummary summary = Summarize(config, result);
  const Warning* unreachable = FindWarning(summary, "target-unreachable");
  ASSERT_NE(unreachable, nullptr);
  EXPECT_THAT(unreachable->message, HasSubstr("no connection to the target for 5.2 s"));
  EXPECT_THAT(unreachable->message, HasSubstr("13 of 13 attempts failed"));
  EXPECT_THAT(absl::StrJoin(summary.notes, "\n"),
              HasSubstr("target.connections asked for 8 connections; 0 connected"));

  // A reachable target whose server allows fewer streams per connection than asked.
  RunResult reachable = BaseResult(5, 10);
  AddSuccesses(reachable.stages[0], 50);
  reachable.connections.opened = 8;
  for (int i = 0; i < 8; ++i) reachable.connections.connect_time.Record(150 + i);
  reachable.connections.streams = 50;
  reachable.connections.max_streams = 7;
  reachable.connections.server_max_streams = 10;
  summary = Summarize(config, reachable);
  EXPECT_EQ(FindWarning(summary, "target-unreachable"), nullptr);
  const std::string notes = absl::StrJoin(summary.notes, "\n");
  EXPECT_THAT(notes, HasSubstr("the server allows 10 streams per connection"));
  EXPECT_THAT(notes, Not(HasSubstr("target.connections asked")));
  const std::string table = RenderSummaryTable(summary);
  EXPECT_THAT(table, HasSubstr("busiest carried 7 requests"));
  EXPECT_THAT(table, HasSubstr("(mean 6.2)"));
}

TEST(SummarizeTest, GoodputOnlyWithLatencySlos) {
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 100);
  result.stages[0].slo_met = 100;
  const RunSummary summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.goodput_rps.has_value());
  EXPECT_TRUE(Json::parse(SummaryToJson(summary))["goodput"].is_null());
}

TEST(SummarizeTest, CacheHitRatioOnlyWhenTheServerReportedIt) {
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 10);
  result.stages[0].input_tokens = 1500;
  result.stages[0].input_tokens_with_cache_info = 1000;
  result.stages[0].cached_tokens = 300;
  RunSummary summary = Summarize(BaseConfig(), result);
  ASSERT_TRUE(summary.overall.cache.hit_ratio.has_value());
  EXPECT_DOUBLE_EQ(*summary.overall.cache.hit_ratio, 0.3);
  Json json = Json::parse(SummaryToJson(summary));
  EXPECT_DOUBLE_EQ(json["cache"]["hit_ratio"].get<double>(), 0.3);
  EXPECT_TRUE(json["cache"]["reason"].is_null());

  result.stages[0].input_tokens_with_cache_info = 0;
  result.stages[0].cached_tokens = 0;
  summary = Summarize(BaseConfig(), result);
  EXPECT_FALSE(summary.overall.cache.hit_ratio.has_value());
  json = Json::parse(SummaryToJson(summary));
  EXPECT_TRUE(json["cache"]["hit_ratio"].is_null());
  EXPECT_THAT(json["cache"]["reason"].get<std::string>(), HasSubstr("cached_tokens"));
}

TEST(SummarizeTest, WarnsAboutMissingUsageClampingIncompleteAndCancel) {
  RunResult result = BaseResult(10, 10);
  StatsShard& shard = result.stages[0];
  AddSuccesses(shard, 100);
  shard.usage_missing = 5;
  shard.requests_sent += 3;
  shard.incomplete = 3;
  shard.histogram(LatencyMetric::kE2eLatency).Record(5'000'000'000);  // above 1 h
  RunSummary summary = Summarize(BaseConfig(), result);
  ASSERT_NE(FindWarning(summary, "usage-missing"), nullptr);
  EXPECT_THAT(FindWarning(summary, "usage-missing")->message, HasSubstr("5 of 100"));
  ASSERT_NE(FindWarning(summary, "histogram-clamped"), nullptr);
  EXPECT_THAT(FindWarning(summary, "histogram-clamped")->message, HasSubstr("e2e_latency 1"));
  EXPECT_EQ(Metric(summary.overall, LatencyMetric::kE2eLatency).clamped, 1u);
  ASSERT_NE(FindWarning(summary, "incomplete"), nullptr);
  EXPECT_THAT(FindWarning(summary, "incomplete")->message, HasSubstr("3 requests"));
  EXPECT_EQ(FindWarning(summary, "cancelled"), nullptr);

  result.cancelled = true;
  result.measured_window_ns = 4 * kSecondNs;
  summary = Summarize(BaseConfig(), result);
  ASSERT_NE(FindWarning(summary, "cancelled"), nullptr);
  EXPECT_THAT(FindWarning(summary, "cancelled")->message, HasSubstr("after 4 s of the 10 s"));

  // A clean run has no warnings at all.
  RunResult clean = BaseResult(10, 10);
  AddSuccesses(clean.stages[0], 100);
  EXPECT_TRUE(Summarize(BaseConfig(), clean).warnings.empty());
}

TEST(SummarizeTest, StagesGetTheirOwnBlocksAndWindows) {
  BenchmarkConfig config = BaseConfig();
  config.load.type = LoadType::kStages;
  config.load.stages = {{10, absl::Seconds(10)}, {20, absl::Seconds(10)}};
  RunResult result = BaseResult(20, 15);
  result.stages.resize(2);
  AddSuccesses(result.stages[0], 100);
  AddSuccesses(result.stages[1], 150);  // 15 req/s of 20 requested
  result.stages[1].histogram(LatencyMetric::kTtft).Record(42'000);
  RunSummary summary = Summarize(config, result);
  ASSERT_EQ(summary.stages.size(), 2u);
  EXPECT_EQ(summary.overall.requests.succeeded, 250u);
  EXPECT_EQ(Metric(summary.overall, LatencyMetric::kTtft).count, 1u);
  EXPECT_EQ(summary.stages[0].stage, 1);
  EXPECT_DOUBLE_EQ(*summary.stages[0].stage_rate, 10);
  EXPECT_DOUBLE_EQ(summary.stages[0].window_s, 10);
  EXPECT_DOUBLE_EQ(*summary.stages[0].rates.achieved_rate, 10);
  EXPECT_FALSE(summary.stages[0].generator_limited);
  EXPECT_DOUBLE_EQ(*summary.stages[1].rates.achieved_rate, 15);
  EXPECT_TRUE(summary.stages[1].generator_limited);
  bool stage_warning = false;
  for (const Warning& w : summary.warnings) {
    stage_warning |=
        w.message.rfind("stage 2: rule rate: achieved 15 req/s of 20 requested (75.0%)", 0) == 0;
  }
  EXPECT_TRUE(stage_warning);

  Json json = Json::parse(SummaryToJson(summary));
  ASSERT_EQ(json["stages"].size(), 2u);
  EXPECT_EQ(json["stages"][1]["stage"], 2);
  EXPECT_EQ(json["stages"][1]["rate"], 20);
  EXPECT_EQ(json["stages"][1]["requests"]["succeeded"], 150);
  EXPECT_EQ(json["stages"][1]["latency"]["ttft"]["count"], 1);
  EXPECT_EQ(json["stages"][0]["latency"]["ttft"]["count"], 0);

  // Cancelled 15 s in: the second stage was measured for 5 s.
  result.cancelled = true;
  result.measured_window_ns = 15 * kSecondNs;
  summary = Summarize(config, result);
  EXPECT_DOUBLE_EQ(summary.stages[1].window_s, 5);
  EXPECT_DOUBLE_EQ(*summary.stages[1].throughput.requests_per_s, 30);

  // One stage: no stage blocks.
  EXPECT_TRUE(
      Json::parse(SummaryToJson(Summarize(BaseConfig(), BaseResult(10, 10))))["stages"].empty());
}

TEST(SummarizeTest, JsonHasTheDocumentedFields) {
  BenchmarkConfig config = BaseConfig();
  config.target.endpoint = "http://user:s3cret@gpu-7:8000/v1/chat/completions";
  config.target.model = "m";
  config.slo.thresholds = {{"ttft", 99, absl::Milliseconds(500)}};
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 100);
  result.notes = {"load.concurrency defaulted to 10"};
  result.connections.opened = 4;
  result.engine_threads = 2;
  const RunSummary summary = Summarize(config, result);
  const std::string text = SummaryToJson(summary);
  const nlohmann::ordered_json json = nlohmann::ordered_json::parse(text);

  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"schema_version", "benchmark", "target", "tool",
                                            "requests", "latency", "throughput", "rates", "goodput",
                                            "cache", "generator", "slo", "warnings", "notes",
                                            "connections", "engine", "workers", "stages"}));
  // Self-describing: what was measured, with which build, from which config; no credentials.
  EXPECT_EQ(json["target"]["endpoint"], "http://gpu-7:8000/v1/chat/completions");
  EXPECT_EQ(json["target"]["model"], "m");
  EXPECT_EQ(json["target"]["api"], "chat completions");
  EXPECT_EQ(json["tool"]["name"], "llm-d-bench");
  EXPECT_FALSE(json["tool"]["version"].get<std::string>().empty());
  EXPECT_EQ(json["benchmark"]["config_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(text.find("s3cret"), std::string::npos);
  std::vector<std::string> benchmark_keys;
  for (const auto& item : json["benchmark"].items()) benchmark_keys.push_back(item.key());
  EXPECT_EQ(benchmark_keys,
            (std::vector<std::string>{"name", "load_type", "closed_loop", "concurrency",
                                      "percentiles", "warmup_s", "window_s", "measured_window_s",
                                      "interval_s", "started_at", "finished_at", "cancelled",
                                      "aborted", "window_started", "config_sha256", "collect"}));
  std::vector<std::string> slo_keys;
  for (const auto& item : json["slo"].items()) slo_keys.push_back(item.key());
  EXPECT_EQ(slo_keys, (std::vector<std::string>{"configured", "passed", "verdicts",
                                                "first_failed_stage", "abort_reason"}));
  EXPECT_EQ(json["benchmark"]["name"], "unit");
  EXPECT_EQ(json["benchmark"]["load_type"], "constant");
  EXPECT_EQ(json["benchmark"]["started_at"], "2024-01-02T03:04:05Z");
  EXPECT_EQ(json["notes"][0], "load.concurrency defaulted to 10");
  EXPECT_EQ(json["connections"]["opened"], 4);
  EXPECT_EQ(json["connections"]["connected"], 0);
  EXPECT_TRUE(json["connections"]["connect_ms"].is_null()) << "no connection, no connect time";
  EXPECT_TRUE(json["connections"]["streams_per_connection"]["mean"].is_null());
  EXPECT_EQ(json["engine"]["threads"], 2);
  EXPECT_EQ(json["generator"]["peak_client_queue"], 0);
  for (const char* metric :
       {"ttft", "itl", "tpot", "ntpot", "e2e_latency", "schedule_lag", "e2e_from_intended"}) {
    EXPECT_TRUE(json["latency"].contains(metric)) << metric;
  }
  for (const char* field : {"requests_per_s", "output_tokens_per_s", "total_tokens_per_s",
                            "input_tokens", "output_tokens", "per_interval_requests_per_s"}) {
    EXPECT_TRUE(json["throughput"].contains(field)) << field;
  }
  for (const char* field :
       {"closed_loop", "requested_rate", "achieved_rate", "achieved_ratio", "sent"}) {
    EXPECT_TRUE(json["rates"].contains(field)) << field;
  }
  // Stable: the same summary gives the same text.
  EXPECT_EQ(SummaryToJson(summary), text);
}

TEST(SummarizeTest, InvalidUtf8InNotesDoesNotBreakTheJson) {
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 1);
  result.notes = {std::string("bad \xff byte")};
  const std::string text = SummaryToJson(Summarize(BaseConfig(), result));
  EXPECT_TRUE(Json::accept(text));
}

TEST(RenderSummaryTableTest, FitsOneHundredColumnsAndShowsTheKeyFigures) {
  BenchmarkConfig config = BaseConfig();
  config.metrics.percentiles = {50, 75, 90, 95, 99, 99.9, 99.99, 99.999};
  config.load.type = LoadType::kStages;
  config.load.stages = {{1000, absl::Seconds(5)}, {3000, absl::Seconds(5)}};
  config.slo.thresholds = {{"ttft", 99, absl::Milliseconds(500)}};
  config.slo.max_error_rate = 0.01;
  RunResult result = BaseResult(10, 2000);
  result.stages.resize(2);
  AddSuccesses(result.stages[0], 5000, 150);
  AddSuccesses(result.stages[1], 9000, 2500);
  for (StatsShard& shard : result.stages) {
    for (int64_t ms = 1; ms <= 1000; ++ms) {
      shard.histogram(LatencyMetric::kTtft).Record(ms * 1000);
      shard.histogram(LatencyMetric::kE2eFromIntended).Record(ms * 3'000'000);
    }
  }
  result.stages[1].requests_sent += 40;
  result.stages[1].failed = 40;
  result.stages[1].errors = {{"http_5xx:503", 30}, {"timeout", 10}};
  result.notes = {std::string(150, 'x') + " a very long note that must wrap onto more lines"};
  result.connections.opened = 12;
  const RunSummary summary = Summarize(config, result);
  const std::string table = RenderSummaryTable(summary);

  for (const auto line : absl::StrSplit(table, '\n')) {
    EXPECT_LE(line.size(), 100u) << line;
  }
  const MetricSummary& ttft = Metric(summary.overall, LatencyMetric::kTtft);
  EXPECT_THAT(table, HasSubstr(absl::StrFormat("%.1f", PercentileOf(ttft, 99))));
  EXPECT_THAT(table, HasSubstr("p99.999"));
  EXPECT_THAT(table, HasSubstr("e2e_from_intended"));
  EXPECT_THAT(table, HasSubstr("14,000 succeeded, 40 failed"));
  EXPECT_THAT(table, HasSubstr("http_5xx:503 30, timeout 10"));
  EXPECT_THAT(table, HasSubstr("WARNING    generator-limited"));
  EXPECT_THAT(table, HasSubstr("ttft p99"));
  EXPECT_THAT(table, HasSubstr("FAIL"));
  EXPECT_THAT(table, HasSubstr("SLO FAILED"));
  EXPECT_THAT(table, HasSubstr("12 opened"));
  EXPECT_THAT(table, HasSubstr("a very long note"));
  // Wrapping keeps a unit with its number.
  EXPECT_THAT(table, Not(HasSubstr("\n           ms")));
  EXPECT_THAT(table, Not(HasSubstr("\n           s ")));
  // The stage table has one row per stage.
  EXPECT_THAT(table, HasSubstr("stage"));
  EXPECT_THAT(table, AllOf(HasSubstr("\n1 "), HasSubstr("\n2 ")));
}

// A stage that breaks an SLO fails the run even when the whole window's percentile passes:
// three stages, the third slow; its TTFT p99 breaks the limit, the merged p99 does not.
TEST(SummarizeTest, AStageThatBreaksAnSloFailsTheRunAndIsNamed) {
  BenchmarkConfig config = BaseConfig();
  config.load.type = LoadType::kStages;
  config.load.stages = {{10, absl::Seconds(10)}, {20, absl::Seconds(10)}, {40, absl::Seconds(2)}};
  config.slo.thresholds = {{"ttft", 99, absl::Milliseconds(500)}};
  RunResult result = BaseResult(22, 15);
  result.stages.resize(3);
  AddSuccesses(result.stages[0], 1000);
  AddSuccesses(result.stages[1], 2000);
  AddSuccesses(result.stages[2], 80);
  for (int i = 0; i < 1000; ++i) result.stages[0].histogram(LatencyMetric::kTtft).Record(50'000);
  for (int i = 0; i < 2000; ++i) result.stages[1].histogram(LatencyMetric::kTtft).Record(80'000);
  // Stage 3: 80 requests, 10 of them at 900 ms: its p99 is 900 ms, the merged p99 is 80 ms.
  for (int i = 0; i < 80; ++i) {
    result.stages[2].histogram(LatencyMetric::kTtft).Record(i < 70 ? 100'000 : 900'000);
  }
  const RunSummary summary = Summarize(config, result);
  ASSERT_EQ(summary.slo.size(), 1u);
  EXPECT_TRUE(summary.slo[0].passed);  // the whole window alone would pass
  ASSERT_EQ(summary.stages.size(), 3u);
  EXPECT_TRUE(summary.stages[0].slo[0].passed);
  EXPECT_TRUE(summary.stages[1].slo[0].passed);
  EXPECT_FALSE(summary.stages[2].slo[0].passed);
  EXPECT_NEAR(summary.stages[2].slo[0].actual_ms, 900, 1);
  EXPECT_EQ(summary.first_failed_stage, 3);
  EXPECT_EQ(ExitCodeFor(summary), kExitSloFailed);

  const Json json = Json::parse(SummaryToJson(summary));
  EXPECT_EQ(json["slo"]["passed"], false);
  EXPECT_EQ(json["slo"]["first_failed_stage"], 3);
  EXPECT_EQ(json["stages"][2]["slo"]["passed"], false);
  EXPECT_EQ(json["stages"][0]["slo"]["passed"], true);
  const std::string table = RenderSummaryTable(summary);
  EXPECT_THAT(table, HasSubstr("stage 3 (40 req/s) is the first to break an SLO: ttft p99"));
  EXPECT_THAT(table, HasSubstr("SLO FAILED (first at stage 3)"));
  EXPECT_THAT(table, HasSubstr("itl p99"));
  for (const auto line : absl::StrSplit(table, '\n')) {
    EXPECT_LE(line.size(), 100u) << line;
  }

  // Every stage within its limits: exit 0, no stage named.
  result.stages[2].histogram(LatencyMetric::kTtft).Reset();
  for (int i = 0; i < 80; ++i) result.stages[2].histogram(LatencyMetric::kTtft).Record(100'000);
  const RunSummary passing = Summarize(config, result);
  EXPECT_EQ(passing.first_failed_stage, 0);
  EXPECT_EQ(ExitCodeFor(passing), kExitOk);
  EXPECT_TRUE(Json::parse(SummaryToJson(passing))["slo"]["first_failed_stage"].is_null());
}

// abortOnFail judges growing figures only once they can show a break: p99 needs 100 samples,
// an error rate of 1% needs 100 finished requests; finished figures are judged as they are.
TEST(BrokenSloTest, GrowingFiguresAreJudgedOnlyWithEnoughSamples) {
  BenchmarkConfig config = BaseConfig();
  config.slo.thresholds = {{"ttft", 99, absl::Milliseconds(500)}};
  config.slo.max_error_rate = 0.01;
  StatsShard figures;
  AddSuccesses(figures, 99);
  for (int i = 0; i < 99; ++i) figures.histogram(LatencyMetric::kTtft).Record(900'000);
  EXPECT_EQ(BrokenSlo(config, figures, /*complete=*/false), std::nullopt);
  ASSERT_TRUE(BrokenSlo(config, figures, /*complete=*/true).has_value());
  EXPECT_THAT(*BrokenSlo(config, figures, true), HasSubstr("ttft p99 900"));

  AddSuccesses(figures, 1);
  figures.histogram(LatencyMetric::kTtft).Record(900'000);
  ASSERT_TRUE(BrokenSlo(config, figures, false).has_value());
  EXPECT_THAT(*BrokenSlo(config, figures, false), HasSubstr("(limit 500 ms) FAIL"));

  // Fast, but 2 errors in 50 finished requests: too few to judge 1% while growing.
  StatsShard errors;
  AddSuccesses(errors, 48);
  for (int i = 0; i < 48; ++i) errors.histogram(LatencyMetric::kTtft).Record(10'000);
  errors.requests_sent += 2;
  errors.failed = 2;
  EXPECT_EQ(BrokenSlo(config, errors, false), std::nullopt);
  ASSERT_TRUE(BrokenSlo(config, errors, true).has_value());
  EXPECT_THAT(*BrokenSlo(config, errors, true), HasSubstr("errorRate"));
}

TEST(RenderSummaryTableTest, EmptyMetricsShowDashesAndNoSlo) {
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 100);
  const std::string table = RenderSummaryTable(Summarize(BaseConfig(), result));
  bool itl_row_dashed = false;
  for (const auto line : absl::StrSplit(table, '\n')) {
    if (absl::StartsWith(line, "itl ")) itl_row_dashed = absl::EndsWith(line, " -");
  }
  EXPECT_TRUE(itl_row_dashed) << table;
  EXPECT_THAT(table, Not(HasSubstr("SLO ")));
  EXPECT_THAT(table, HasSubstr("result     done"));
}

// metrics.collect picks the table's rows and lines; the generator's figures stay.
TEST(RenderSummaryTableTest, CollectSelectsWhatTheTableShows) {
  RunResult result = BaseResult(10, 10);
  AddSuccesses(result.stages[0], 100);
  result.stages[0].failed = 3;
  result.stages[0].requests_sent += 3;
  result.stages[0].errors = {{"timeout", 3}};
  for (int i = 0; i < 100; ++i) {
    for (const LatencyMetric metric :
         {LatencyMetric::kTtft, LatencyMetric::kItl, LatencyMetric::kNtpot}) {
      result.stages[0].histogram(metric).Record(1000);
    }
  }
  auto rows = [](const std::string& table) {
    std::set<std::string> names;
    for (const auto line : absl::StrSplit(table, '\n')) {
      const std::string first(line.substr(0, line.find(' ')));
      if (!first.empty()) names.insert(first);
    }
    return names;
  };
  BenchmarkConfig config = BaseConfig();
  config.metrics.collect = {"ttft", "throughput", "queue_depth"};
  std::set<std::string> shown = rows(RenderSummaryTable(Summarize(config, result)));
  for (const char* name : {"ttft", "schedule_lag", "e2e_from_intended", "throughput", "offered",
                           "generator", "queue", "requests"}) {
    EXPECT_EQ(shown.count(name), 1u) << name;
  }
  for (const char* name : {"itl", "ntpot", "tpot", "e2e_latency", "errors", "cache", "goodput"}) {
    EXPECT_EQ(shown.count(name), 0u) << name;
  }
  config.metrics.collect = {"ntpot", "errors", "cache_hit_ratio", "tokens_per_second", "goodput"};
  const std::string table = RenderSummaryTable(Summarize(config, result));
  shown = rows(table);
  for (const char* name : {"ntpot", "errors", "cache", "throughput", "goodput"}) {
    EXPECT_EQ(shown.count(name), 1u) << name;
  }
  EXPECT_EQ(shown.count("ttft"), 0u);
  EXPECT_THAT(table, Not(HasSubstr("req/s completed")));  // tokens only
  EXPECT_THAT(table, HasSubstr("goodput    n/a: no latency SLO"));
}

}  // namespace
}  // namespace bench::controller
