#include "controller/results.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/config_yaml.h"
#include "common/histogram_codec.h"
#include "common/run_stats.h"
#include "controller/request_log.h"
#include "controller/summary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kSecondNs = 1'000'000'000;

// A fresh directory under the test's temporary directory, removed at the end.
class ResultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/results_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    root_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  BenchmarkConfig Config(const std::string& extra_yaml = "") {
    const std::string yaml =
        "benchmark: {name: results-unit, duration: 4, warmup: 1}\n"
        "target:\n"
        "  endpoint: http://127.0.0.1:8000/v1/chat/completions\n"
        "  model: m\n"
        "load: {type: constant, rate: 10}\n"
        "output: {dir: " +
        root_ + "/out}\n" + extra_yaml;
    auto parsed = ParseConfig(yaml, "test.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed.ok() ? parsed->config : BenchmarkConfig{};
  }

  // A run with a 1 s warmup, a 4 s window, samples in each histogram and a full series.
  static RunResult Result() {
    RunResult result;
    result.stages.resize(1);
    StatsShard& shard = result.stages[0];
    shard.requests_sent = 40;
    shard.succeeded = 40;
    for (int i = 1; i <= 40; ++i) {
      shard.histogram(LatencyMetric::kTtft).Record(i * 1000);
      shard.histogram(LatencyMetric::kE2eLatency).Record(i * 7000);
      shard.histogram(LatencyMetric::kScheduleLag).Record(50 + i);
    }
    result.interval_ns = kSecondNs / 2;
    result.warmup_ns = kSecondNs;
    result.window_ns = 4 * kSecondNs;
    result.measured_window_ns = 4 * kSecondNs;
    result.requested_rate = 10;
    for (int i = 0; i < 12; ++i) {
      IntervalPoint point;
      point.start_ns = i * result.interval_ns;
      point.started = 5;
      point.completed = 5;
      point.succeeded = 4;
      point.failed = 1;
      point.output_tokens = 100 + i;
      point.output_chunks = 90;
      point.in_flight = 3;
      point.client_queue = 0;
      result.series.push_back(point);
    }
    return result;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  const absl::Time kStart = absl::FromUnixSeconds(1704164645);  // 2024-01-02 03:04:05 UTC
  std::string root_;
};

TEST_F(ResultsTest, WritesItsFilesUnderANameAndUtcTime) {
  const BenchmarkConfig config = Config();
  const RunResult result = Result();
  const RunSummary summary = Summarize(config, result);
  absl::StatusOr<std::string> directory = WriteResults(config, result, summary, kStart);
  ASSERT_TRUE(directory.ok()) << directory.status();
  EXPECT_EQ(*directory, root_ + "/out/results-unit-20240102-030405");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(*directory)) {
    files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"config.yaml", "histograms.hlog", "metrics.json",
                                             "summary.json"}));

  // config.yaml reads back to the same config.
  auto reparsed = ParseConfig(ReadFile(*directory + "/config.yaml"), "config.yaml");
  ASSERT_TRUE(reparsed.ok()) << reparsed.status();
  EXPECT_EQ(reparsed->config, config);

  // summary.json is SummaryToJson's text.
  const std::string summary_text = ReadFile(*directory + "/summary.json");
  EXPECT_EQ(summary_text, SummaryToJson(summary) + "\n");
  EXPECT_EQ(Json::parse(summary_text)["requests"]["succeeded"], 40);
}

TEST_F(ResultsTest, MetricsJsonHasTheSeriesAndDecodableHistograms) {
  const BenchmarkConfig config = Config();
  const RunResult result = Result();
  absl::StatusOr<std::string> directory =
      WriteResults(config, result, Summarize(config, result), kStart);
  ASSERT_TRUE(directory.ok()) << directory.status();
  const Json metrics = Json::parse(ReadFile(*directory + "/metrics.json"));

  EXPECT_DOUBLE_EQ(metrics["interval_s"].get<double>(), 0.5);
  const Json& series = metrics["series"];
  ASSERT_EQ(series.size(), 12u);
  EXPECT_DOUBLE_EQ(series[3]["time_s"].get<double>(), 1.5);
  EXPECT_EQ(series[3]["started"], 5);
  EXPECT_EQ(series[3]["output_tokens"], 103);
  EXPECT_EQ(series[3]["in_flight"], 3);
  // Per-second rates of a half-second interval are twice the counts.
  EXPECT_DOUBLE_EQ(series[3]["succeeded_per_s"].get<double>(), 8);
  EXPECT_DOUBLE_EQ(series[3]["output_tokens_per_s"].get<double>(), 206);
  EXPECT_DOUBLE_EQ(series[3]["output_chunks_per_s"].get<double>(), 180);
  // Warmup is [0, 1 s), the window [1 s, 5 s).
  EXPECT_EQ(series[1]["in_window"], false);
  EXPECT_EQ(series[2]["in_window"], true);
  EXPECT_EQ(series[9]["in_window"], true);
  EXPECT_EQ(series[10]["in_window"], false);

  const Json& histograms = metrics["histograms"];
  EXPECT_EQ(histograms["unit"], "us");
  EXPECT_TRUE(histograms["stages"].empty());  // one stage: no per-stage copies
  for (int i = 0; i < kLatencyMetricCount; ++i) {
    const auto metric = static_cast<LatencyMetric>(i);
    const Json& entry = histograms["overall"][std::string(LatencyMetricName(metric))];
    EXPECT_EQ(entry["unit"], "us");
    absl::StatusOr<Histogram> decoded =
        DecodeCompressedBase64(entry["hdr_v2_compressed_base64"].get<std::string>());
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, result.stages[0].histogram(metric)) << LatencyMetricName(metric);
    EXPECT_EQ(entry["count"], result.stages[0].histogram(metric).TotalCount());
  }
}

TEST_F(ResultsTest, PerStageHistogramsWhenThereAreStages) {
  const BenchmarkConfig config = Config();
  RunResult result = Result();
  result.stages.resize(2);
  result.stages[1].histogram(LatencyMetric::kTtft).Record(123'456);
  const Json metrics = Json::parse(MetricsToJson(result));
  ASSERT_EQ(metrics["histograms"]["stages"].size(), 2u);
  EXPECT_EQ(metrics["histograms"]["stages"][1]["stage"], 2);
  absl::StatusOr<Histogram> stage2 = DecodeCompressedBase64(
      metrics["histograms"]["stages"][1]["metrics"]["ttft"]["hdr_v2_compressed_base64"]
          .get<std::string>());
  ASSERT_TRUE(stage2.ok()) << stage2.status();
  EXPECT_EQ(*stage2, result.stages[1].histogram(LatencyMetric::kTtft));
  EXPECT_EQ(metrics["histograms"]["overall"]["ttft"]["count"], 41);
}

TEST_F(ResultsTest, AnExistingDirectoryGetsASuffix) {
  const BenchmarkConfig config = Config();
  const RunResult result = Result();
  const RunSummary summary = Summarize(config, result);
  absl::StatusOr<std::string> first = WriteResults(config, result, summary, kStart);
  absl::StatusOr<std::string> second = WriteResults(config, result, summary, kStart);
  absl::StatusOr<std::string> third = WriteResults(config, result, summary, kStart);
  ASSERT_TRUE(first.ok() && second.ok() && third.ok());
  EXPECT_EQ(*second, *first + "-2");
  EXPECT_EQ(*third, *first + "-3");
  EXPECT_TRUE(fs::exists(*third + "/summary.json"));
}

TEST_F(ResultsTest, SecretsNeverReachAnyFile) {
  BenchmarkConfig config = Config("metrics: {percentiles: [50, 99]}\n");
  config.target.headers = {{"Authorization", "Bearer sk-secret"},
                           {"X-Api-Key", "sk-secret-2"},
                           {"X-Trace", "visible-value"}};
  RunResult result = Result();
  result.notes = {"target.headers: 3 headers"};
  absl::StatusOr<std::string> directory =
      WriteResults(config, result, Summarize(config, result), kStart);
  ASSERT_TRUE(directory.ok()) << directory.status();
  int files = 0;
  for (const auto& entry : fs::directory_iterator(*directory)) {
    const std::string text = ReadFile(entry.path().string());
    EXPECT_THAT(text, Not(HasSubstr("sk-secret"))) << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 4);
  const std::string yaml = ReadFile(*directory + "/config.yaml");
  EXPECT_THAT(yaml, HasSubstr(std::string(kRedacted)));
  EXPECT_THAT(yaml, HasSubstr("Authorization"));
  EXPECT_THAT(yaml, HasSubstr("visible-value"));  // not a secret: kept
}

TEST_F(ResultsTest, ErrorsNameThePathAndErrno) {
  // The output directory's parent is a regular file.
  const std::string blocker = root_ + "/blocker";
  std::ofstream(blocker) << "x";
  BenchmarkConfig config = Config();
  config.output.dir = blocker + "/results";
  const RunResult result = Result();
  absl::StatusOr<std::string> directory =
      WriteResults(config, result, Summarize(config, result), kStart);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().code(), absl::ErrnoToStatusCode(ENOTDIR));
  EXPECT_THAT(directory.status().message(), HasSubstr(blocker + "/results"));
  EXPECT_THAT(directory.status().message(), HasSubstr(std::strerror(ENOTDIR)));
}

TEST_F(ResultsTest, ANameThatCannotNameADirectoryIsRejected) {
  BenchmarkConfig config = Config();
  const RunResult result = Result();
  const RunSummary summary = Summarize(config, result);
  for (const std::string name : {"", ".", "..", "../escape", "a/b"}) {
    config.benchmark.name = name;
    EXPECT_EQ(WriteResults(config, result, summary, kStart).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_FALSE(fs::exists(root_ + "/escape-20240102-030405"));
}

TEST_F(ResultsTest, RequestLogLinesAreJsonWithNullsForWhatDidNotHappen) {
  RequestRecord record;
  record.intended_ns = 0;
  record.sent_ns = 1'500'000;
  record.end_ns = 2'001'500'000;
  record.input_tokens = 10;
  record.stage = 0;
  record.outcome = "timeout";
  const std::string line = RequestRecordJson("w\"1", record);
  EXPECT_EQ(line,
            "{\"worker\":\"w\\\"1\",\"stage\":1,\"turn\":null,\"in_window\":false,"
            "\"outcome\":\"timeout\","
            "\"intended_s\":0.000000,\"sent_s\":0.001500,\"first_chunk_s\":null,"
            "\"last_chunk_s\":null,\"end_s\":2.001500,\"ttft_ms\":null,\"e2e_ms\":2000.000,"
            "\"input_tokens\":10,\"output_tokens\":0,\"cached_tokens\":null,\"chunks\":0}");
  EXPECT_FALSE(nlohmann::json::parse(line).is_discarded());
  record.turn = 2;  // 0-based in the record, 1-based in the file, as summary.json's turns
  EXPECT_EQ(nlohmann::json::parse(RequestRecordJson("w", record))["turn"], 3);

  const std::string path = root_ + "/requests.jsonl";
  absl::StatusOr<std::unique_ptr<RequestLog>> log = RequestLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->Append("a", {record, record}).ok());
  ASSERT_TRUE((*log)->Append("b", {record}).ok());
  EXPECT_EQ((*log)->written(), 3u);
  std::ifstream file(path);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_FALSE(RequestLog::Open(root_ + "/no/such/dir/requests.jsonl").ok());
}

}  // namespace
}  // namespace bench::controller
