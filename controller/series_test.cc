#include "controller/series.h"

#include <string>
#include <vector>

#include "common/config_yaml.h"
#include "controller/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using ::testing::HasSubstr;

BenchmarkConfig Parse(const std::string& load, const std::string& slo = "") {
  const std::string yaml =
      "benchmark: {name: s, duration: 10s}\n"
      "target: {endpoint: 'http://127.0.0.1:1/v1/completions', model: m}\n"
      "load: " +
      load + "\n" + (slo.empty() ? "" : "slo: " + slo + "\n");
  absl::StatusOr<ParsedConfig> parsed = ParseConfig(yaml, "test.yaml", {});
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? parsed->config : BenchmarkConfig{};
}

// A server whose SLOs hold up to `knee` requests/s; drives the driver to its end and returns the
// rates it probed.
std::vector<double> SearchAgainst(SeriesDriver& driver, double knee) {
  std::vector<double> rates;
  while (std::optional<ProbeSpec> probe = driver.Next("/tmp/probes")) {
    EXPECT_EQ(probe->role, "rate");
    EXPECT_EQ(probe->config.load.series.kind, SeriesKind::kNone);
    EXPECT_EQ(probe->config.load.rate, probe->rate);
    rates.push_back(probe->rate);
    ProbeResult result;
    result.index = probe->index;
    result.role = probe->role;
    result.rate = probe->rate;
    result.completed_rate = std::min(probe->rate, knee * 1.1);
    result.slo_passed = probe->rate <= knee;
    result.exit_code = *result.slo_passed ? kExitOk : kExitSloFailed;
    driver.Record(result);
    if (rates.size() > 200) break;
  }
  return rates;
}

TEST(SeriesConfig, ParsesAndPrintsBack) {
  const BenchmarkConfig config = Parse(
      "{type: capacity, arrival: constant, concurrency: 64, capacity: {start: 2, max: 300, "
      "resolution: 2.5%, minRequests: 50, maxProbes: 12}}",
      "{ttft: {p99: 500ms}}");
  const CapacityConfig& c = config.load.series.capacity;
  EXPECT_EQ(config.load.series.kind, SeriesKind::kCapacity);
  EXPECT_EQ(config.load.type, LoadType::kConstant);
  EXPECT_EQ(c.start, 2);
  EXPECT_EQ(c.max, 300);
  EXPECT_DOUBLE_EQ(c.resolution, 0.025);
  EXPECT_TRUE(c.relative_resolution);
  EXPECT_EQ(c.min_requests, 50);
  EXPECT_EQ(c.max_probes, 12);
  // The printed config reads back as the same config.
  absl::StatusOr<ParsedConfig> again = ParseConfig(ConfigToYaml(config), "printed", {});
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << ConfigToYaml(config);
  EXPECT_EQ(again->config, config);

  const BenchmarkConfig sweep = Parse("{type: sweep, sweep: {points: 6}}");
  EXPECT_EQ(sweep.load.series.kind, SeriesKind::kSweep);
  EXPECT_EQ(sweep.load.type, LoadType::kPoisson);
  EXPECT_EQ(sweep.load.series.sweep.points, 6);
  EXPECT_EQ(sweep.load.series.sweep.throughput_concurrency, 256);
  again = ParseConfig(ConfigToYaml(sweep), "printed", {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->config, sweep);
  // load.concurrency is the throughput run's in-flight count unless given on its own.
  EXPECT_EQ(Parse("{type: sweep, concurrency: 40}").load.series.sweep.throughput_concurrency, 40);
}

TEST(SeriesConfig, RefusesWhatCannotWork) {
  const auto error = [](const std::string& load, const std::string& slo) {
    const std::string yaml =
        "benchmark: {name: s}\nload: " + load + "\n" + (slo.empty() ? "" : "slo: " + slo + "\n");
    absl::StatusOr<ParsedConfig> parsed = ParseConfig(yaml, "t.yaml", {});
    return parsed.ok() ? std::string("accepted") : std::string(parsed.status().message());
  };
  EXPECT_THAT(error("{type: capacity}", ""), HasSubstr("the config has none; add one"));
  EXPECT_THAT(error("{type: capacity, rate: 5}", "{ttft: {p99: 1s}}"),
              HasSubstr("load.rate is not used by load.type capacity"));
  EXPECT_THAT(error("{type: sweep, sweep: {points: 2}}", ""), HasSubstr("load.sweep.points"));
  EXPECT_THAT(error("{type: capacity, capacity: {resolution: 150%}}", "{ttft: {p99: 1s}}"),
              HasSubstr("load.capacity.resolution must be a percentage"));
  EXPECT_THAT(error("{type: capacity, capacity: {start: 10, max: 5}}", "{ttft: {p99: 1s}}"),
              HasSubstr("load.capacity.max (5) is below load.capacity.start (10)"));
  EXPECT_THAT(error("{type: sweep}", "{ttft: {p99: 1s}, abortOnFail: true}"),
              HasSubstr("slo.abortOnFail would cut short"));
  EXPECT_THAT(error("{type: poisson, rate: 5, arrival: constant}", ""),
              HasSubstr("load.arrival is not used by load.type poisson"));
  EXPECT_THAT(error("{type: sweep, capacity: {start: 1}}", ""),
              HasSubstr("load.capacity is not used by load.type sweep"));
  const std::string yaml = "benchmark: {name: s, maxRequests: 50}\nload: {type: sweep}\n";
  absl::StatusOr<ParsedConfig> capped = ParseConfig(yaml, "t.yaml", {});
  ASSERT_FALSE(capped.ok());
  EXPECT_THAT(capped.status().message(),
              HasSubstr("benchmark.maxRequests would end every probe of load.type sweep early"));
}

TEST(SeriesConfig, CapacityCountsErrorsUnlessTheConfigSays) {
  // Latencies count successes only: a rate answered with errors must not pass.
  EXPECT_EQ(Parse("{type: capacity}", "{ttft: {p99: 1s}}").slo.max_error_rate, 0.01);
  EXPECT_EQ(
      Parse("{type: capacity}", "{ttft: {p99: 1s}, errorRate: {max: 0.2}}").slo.max_error_rate,
      0.2);
  EXPECT_FALSE(Parse("{type: sweep}", "{ttft: {p99: 1s}}").slo.max_error_rate.has_value());
}

TEST(CapacitySearch, AProbeWhoseGeneratorFellBehindIsAMiss) {
  SeriesDriver driver(Parse("{type: capacity, capacity: {start: 10}}", "{ttft: {p99: 1s}}"));
  std::vector<double> rates;
  while (std::optional<ProbeSpec> probe = driver.Next("/p")) {
    rates.push_back(probe->rate);
    ProbeResult result;
    result.index = probe->index;
    result.rate = probe->rate;
    result.exit_code = kExitOk;
    // The server would hold anything; the generator cannot send more than 30 req/s.
    result.slo_passed = true;
    result.generator_limited = probe->rate > 30;
    driver.Record(result);
  }
  EXPECT_EQ(rates[2], 40);
  EXPECT_LE(driver.passing_rate(), 30);
  EXPECT_GT(driver.failing_rate(), 30);
  EXPECT_THAT(driver.Verdict(), HasSubstr("the load generator fell behind"));
}

TEST(CapacitySearch, BracketsThenBisectsToTheResolution) {
  SeriesDriver driver(
      Parse("{type: capacity, capacity: {start: 1, resolution: 5%}}", "{ttft: {p99: 500ms}}"));
  const std::vector<double> rates = SearchAgainst(driver, 37);
  // Doubling 1, 2, ..., 32 pass, 64 fails; then bisection in [32, 64].
  ASSERT_GE(rates.size(), 7u);
  EXPECT_EQ(std::vector<double>(rates.begin(), rates.begin() + 7),
            (std::vector<double>{1, 2, 4, 8, 16, 32, 64}));
  ASSERT_TRUE(driver.answer_probe().has_value());
  EXPECT_TRUE(driver.resolution_reached());
  EXPECT_LE(driver.passing_rate(), 37);
  EXPECT_GT(driver.failing_rate(), 37);
  EXPECT_LE(driver.failing_rate() - driver.passing_rate(), 0.05 * driver.passing_rate());
  EXPECT_EQ(driver.probes()[static_cast<size_t>(*driver.answer_probe() - 1)].rate,
            driver.passing_rate());
  EXPECT_THAT(driver.Verdict(), HasSubstr("capacity: "));
  EXPECT_THAT(driver.Verdict(), HasSubstr("(resolution 5%)"));
}

TEST(CapacitySearch, AbsoluteResolutionAndUpperBound) {
  SeriesDriver driver(Parse("{type: capacity, capacity: {start: 10, max: 100, resolution: 0.5}}",
                            "{errorRate: {max: 0.01}}"));
  SearchAgainst(driver, 63.2);
  EXPECT_LE(driver.failing_rate() - driver.passing_rate(), 0.5);
  EXPECT_LE(driver.passing_rate(), 63.2);

  // Every probe passes: doubling stops at max, which is the answer.
  SeriesDriver capped(
      Parse("{type: capacity, capacity: {start: 10, max: 50}}", "{ttft: {p99: 1s}}"));
  const std::vector<double> rates = SearchAgainst(capped, 1e9);
  EXPECT_EQ(rates, (std::vector<double>{10, 20, 40, 50}));
  EXPECT_EQ(capped.passing_rate(), 50);
  EXPECT_THAT(capped.Verdict(), HasSubstr("every SLO holds at load.capacity.max (50 req/s)"));
}

TEST(CapacitySearch, HalvesAFailingStartThenGivesUp) {
  SeriesDriver driver(Parse("{type: capacity, capacity: {start: 8}}", "{ttft: {p99: 1ms}}"));
  const std::vector<double> rates = SearchAgainst(driver, 0.5);
  EXPECT_EQ(rates, (std::vector<double>{8, 4, 2, 1}));
  EXPECT_FALSE(driver.answer_probe().has_value());
  EXPECT_THAT(driver.Verdict(), HasSubstr("no rate probed met every SLO"));

  SeriesDriver found(Parse("{type: capacity, capacity: {start: 8}}", "{ttft: {p99: 1ms}}"));
  SearchAgainst(found, 3);
  ASSERT_TRUE(found.answer_probe().has_value());
  EXPECT_LE(found.passing_rate(), 3);
  EXPECT_GT(found.failing_rate(), 3);
}

TEST(CapacitySearch, StopsAtMaxProbesAndOnAFailedProbe) {
  SeriesDriver driver(
      Parse("{type: capacity, capacity: {start: 1, resolution: 0.1%, maxProbes: 9}}",
            "{ttft: {p99: 1s}}"));
  EXPECT_EQ(SearchAgainst(driver, 37).size(), 9u);
  EXPECT_FALSE(driver.resolution_reached());
  EXPECT_THAT(driver.Verdict(), HasSubstr("load.capacity.maxProbes (9) ran out"));

  SeriesDriver broken(Parse("{type: capacity}", "{ttft: {p99: 1s}}"));
  std::optional<ProbeSpec> probe = broken.Next("/p");
  ASSERT_TRUE(probe.has_value());
  ProbeResult result;
  result.index = probe->index;
  result.rate = probe->rate;
  result.exit_code = kExitRunFailed;
  result.error = "target unreachable";
  broken.Record(result);
  EXPECT_FALSE(broken.Next("/p").has_value());
  EXPECT_TRUE(broken.stopped_early());
  EXPECT_THAT(broken.Verdict(), HasSubstr("stopped early: probe 1 ended with exit code 1"));
}

TEST(CapacitySearch, ProbesLastLongEnoughAndVaryTheirSeed) {
  SeriesDriver driver(
      Parse("{type: capacity, arrival: constant, capacity: {start: 4, "
            "minRequests: 200}}",
            "{ttft: {p99: 1s}}"));
  std::optional<ProbeSpec> first = driver.Next("/series/probes");
  ASSERT_TRUE(first.has_value());
  // 200 requests at 4 req/s need 50 s, more than the 10 s benchmark.duration.
  EXPECT_EQ(first->config.benchmark.duration, absl::Seconds(50));
  EXPECT_EQ(first->config.load.type, LoadType::kConstant);
  EXPECT_EQ(first->config.output.dir, "/series/probes");
  EXPECT_EQ(first->config.benchmark.name, "01-rate-4");
  ProbeResult result;
  result.index = 1;
  result.rate = 4;
  result.exit_code = kExitOk;
  result.slo_passed = true;
  driver.Record(result);
  std::optional<ProbeSpec> second = driver.Next("/series/probes");
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->rate, 8);
  EXPECT_EQ(second->config.benchmark.duration, absl::Seconds(25));
  EXPECT_NE(second->config.benchmark.seed, first->config.benchmark.seed);
}

TEST(Sweep, SynchronousThroughputThenRatesBetween) {
  SeriesDriver driver(
      Parse("{type: sweep, concurrency: 50, sweep: {points: 6, "
            "throughputConcurrency: 64}}"));
  std::vector<ProbeSpec> probes;
  while (std::optional<ProbeSpec> probe = driver.Next("/p")) {
    ProbeResult result;
    result.index = probe->index;
    result.role = probe->role;
    result.rate = probe->rate;
    result.concurrency = probe->concurrency;
    result.exit_code = kExitOk;
    result.completed_rate = probe->role == "synchronous"  ? 3
                            : probe->role == "throughput" ? 48
                                                          : probe->rate;
    probes.push_back(*probe);
    driver.Record(result);
  }
  ASSERT_EQ(probes.size(), 6u);
  EXPECT_EQ(probes[0].role, "synchronous");
  EXPECT_EQ(probes[0].config.load.type, LoadType::kConcurrency);
  EXPECT_EQ(probes[0].config.load.concurrency, 1);
  EXPECT_EQ(probes[1].role, "throughput");
  EXPECT_EQ(probes[1].config.load.concurrency, 64);
  // Four rates evenly between 3 and 48: 12, 21, 30, 39; each capped at load.concurrency.
  const std::vector<double> want = {12, 21, 30, 39};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_DOUBLE_EQ(probes[i + 2].rate, want[i]);
    EXPECT_EQ(probes[i + 2].config.load.type, LoadType::kPoisson);
    EXPECT_EQ(probes[i + 2].config.load.concurrency, 50);
  }
  const std::string table = SeriesTable(driver);
  EXPECT_THAT(table, HasSubstr("synchronous"));
  EXPECT_THAT(table, HasSubstr("39 req/s (cap 50)"));
  const nlohmann::json json = nlohmann::json::parse(SeriesJson(driver, "/d"));
  EXPECT_EQ(json["kind"], "sweep");
  EXPECT_EQ(json["probes"].size(), 6u);
  EXPECT_EQ(json["probes"][5]["requested_rate"], 39);
}

TEST(Sweep, ReadsAProbeSummary) {
  const std::string summary = R"({
    "benchmark": {"measured_window_s": 10},
    "requests": {"succeeded": 98, "failed": 2, "error_rate": 0.02},
    "rates": {"achieved_rate": 10.1},
    "throughput": {"requests_per_s": 9.8, "output_tokens_per_s": 490},
    "latency": {"ttft": {"percentiles": {"p50": 20.5, "p99": 612.25}},
                "e2e_latency": {"percentiles": {"p50": 300, "p99": null}}},
    "generator": {"limited": false},
    "slo": {"passed": false, "verdicts": [
      {"metric": "ttft", "percentile": 99, "limit_ms": 500, "actual_ms": 612.25, "passed": false},
      {"metric": "errorRate", "limit": 0.05, "actual": 0.02, "passed": true}]}})";
  ProbeResult result;
  ASSERT_TRUE(ReadProbeSummary(summary, &result).ok());
  EXPECT_EQ(result.succeeded, 98u);
  EXPECT_EQ(result.failed, 2u);
  EXPECT_DOUBLE_EQ(result.achieved_rate, 10.1);
  EXPECT_DOUBLE_EQ(result.completed_rate, 9.8);
  EXPECT_DOUBLE_EQ(result.ttft_p99_ms, 612.25);
  EXPECT_DOUBLE_EQ(result.e2e_p99_ms, -1);  // null: absent
  EXPECT_DOUBLE_EQ(result.itl_p50_ms, -1);
  ASSERT_TRUE(result.slo_passed.has_value());
  EXPECT_FALSE(*result.slo_passed);
  EXPECT_EQ(result.slo_failures, "ttft p99 612.2 ms > 500 ms");
  EXPECT_FALSE(ReadProbeSummary("[1, 2]", &result).ok());
}

}  // namespace
}  // namespace bench::controller
