// The whole engine (threads, driver, client, recorder) against nginx streaming scripted SSE
// responses: counts, categories, timing and the client queue.
#include "worker/engine/engine.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/peers.h"

namespace bench::engine {
namespace {

using ::bench::testing::NginxPeer;

constexpr char kChunk[] =
    R"(data: {"choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]})";
constexpr char kUsage[] =
    R"(data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}})";

// /v1/fast: 5 chunks at once + usage + [DONE]. /v1/paced: 5 chunks 20 ms apart.
// /v1/truncated: chunks without [DONE]. /v1/unavailable: 503. /v1/slow: 2 s before anything.
std::string Locations() {
  std::string fast =
      absl::StrCat("      echo_duplicate 5 '", kChunk, "\\n\\n';\n      echo '", kUsage,
                   "';\n      echo '';\n      echo 'data: [DONE]';\n", "      echo '';\n");
  std::string paced;
  for (int i = 0; i < 5; ++i) {
    absl::StrAppend(&paced, "      echo '", kChunk, "';\n      echo '';\n      echo_flush;\n");
    if (i < 4) absl::StrAppend(&paced, "      echo_sleep 0.02;\n");
  }
  absl::StrAppend(&paced, "      echo 'data: [DONE]';\n      echo '';\n");
  auto location = [](const std::string& path, const std::string& body) {
    return absl::StrCat("    location ", path, " {\n      default_type text/event-stream;\n",
                        "      echo_read_request_body;\n", body, "    }\n");
  };
  return absl::StrCat(
      location("/v1/fast", fast), location("/v1/paced", paced),
      location("/v1/truncated", absl::StrCat("      echo '", kChunk, "';\n      echo '';\n")),
      "    location /v1/unavailable { return 503 '{\"error\":{}}'; }\n",
      location("/v1/slow", "      echo_sleep 2;\n      echo 'data: [DONE]';\n"));
}

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto peer = NginxPeer::Start(Locations());
    ASSERT_TRUE(peer.ok()) << peer.status();
    nginx_ = std::move(peer).value().release();
  }
  static void TearDownTestSuite() {
    delete nginx_;
    nginx_ = nullptr;
  }

  static EnginePlan Plan(const std::string& path, int port, HttpProtocol protocol) {
    EnginePlan plan;
    auto endpoint = ParseEndpointUrl(absl::StrCat("http://127.0.0.1:", port, path));
    EXPECT_TRUE(endpoint.ok());
    plan.endpoint = *endpoint;
    plan.addresses = *ResolveEndpoint(plan.endpoint);
    plan.client.protocol = protocol;
    plan.request.model = "m";
    plan.prompts.input_length = {20, 0, 1, 100};
    plan.prompts.output_length = {5, 0, 1, 10};
    plan.timeout_ns = 5'000'000'000;
    plan.interval_ns = 250'000'000;
    plan.start_delay_ns = 20'000'000;
    plan.threads = 2;
    return plan;
  }

  static ArrivalPhase Constant(double rate, int64_t duration_ns) {
    ArrivalSpec spec;
    spec.type = ArrivalSpec::Type::kConstant;
    spec.rate_per_s = rate;
    spec.duration_ns = duration_ns;
    return ArrivalPhase{0, spec, 0};
  }

  static EngineSnapshot Run(EnginePlan plan) {
    auto engine = Engine::Create(std::move(plan));
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (!engine.ok()) return {};
    EXPECT_TRUE((*engine)->Start().ok());
    EXPECT_TRUE((*engine)->WaitUntilFinished(absl::Seconds(30)));
    return (*engine)->Snapshot();
  }

  static StatsShard Window(const EngineSnapshot& snapshot) {
    StatsShard all;
    for (const StatsShard& stage : snapshot.stages) EXPECT_TRUE(all.Merge(stage).ok());
    return all;
  }

  static NginxPeer* nginx_;
};
NginxPeer* EngineTest::nginx_ = nullptr;

TEST_F(EngineTest, OpenLoopSendsTheScheduleAndCountsEveryToken) {
  for (HttpProtocol protocol : {HttpProtocol::kH2c, HttpProtocol::kHttp1}) {
    const int port = protocol == HttpProtocol::kH2c ? nginx_->ports().h2c : nginx_->ports().http1;
    EnginePlan plan = Plan("/v1/fast", port, protocol);
    plan.phases = {Constant(200, 1'500'000'000)};  // 300 arrivals: 0.5 s warmup + 1 s window
    plan.warmup_ns = 500'000'000;
    plan.duration_ns = 1'000'000'000;
    const EngineSnapshot snapshot = Run(plan);
    const StatsShard window = Window(snapshot);
    EXPECT_EQ(snapshot.started, 300u);
    EXPECT_EQ(window.requests_sent, 200u) << "the window holds exactly its 200 arrivals";
    EXPECT_EQ(window.succeeded, 200u);
    EXPECT_EQ(window.failed, 0u);
    EXPECT_EQ(window.output_tokens, 200u * 5) << "usage.completion_tokens";
    EXPECT_EQ(window.input_tokens, 200u * 12) << "usage.prompt_tokens";
    EXPECT_EQ(window.cached_tokens, 200u * 4);
    EXPECT_EQ(window.usage_missing, 0u);
    EXPECT_EQ(window.histogram(LatencyMetric::kTtft).TotalCount(), 200);
    EXPECT_EQ(window.histogram(LatencyMetric::kItl).TotalCount(), 200 * 4);
    EXPECT_EQ(window.histogram(LatencyMetric::kScheduleLag).TotalCount(), 200);
    uint64_t completed = 0;
    for (const IntervalPoint& point : snapshot.series) completed += point.completed;
    EXPECT_EQ(completed, 300u);
  }
}

TEST_F(EngineTest, PacedTokensGiveTheirGapAsItl) {
  EnginePlan plan = Plan("/v1/paced", nginx_->ports().h2c, HttpProtocol::kH2c);
  plan.phases = {Constant(20, 1'000'000'000)};
  plan.duration_ns = 1'000'000'000;
  const StatsShard window = Window(Run(plan));
  ASSERT_EQ(window.succeeded, 20u);
  EXPECT_EQ(window.usage_missing, 20u) << "no usage chunk: N comes from the chunk count";
  EXPECT_EQ(window.output_tokens, 20u * 5);
  const Histogram& itl = window.histogram(LatencyMetric::kItl);
  ASSERT_EQ(itl.TotalCount(), 20 * 4);
  // nginx's echo_sleep 0.02 on a millisecond timer: the gap is 20 ms plus a little.
  EXPECT_GE(itl.ValueAtPercentile(50), 19'500);
  EXPECT_LE(itl.ValueAtPercentile(50), 25'000);
  const Histogram& tpot = window.histogram(LatencyMetric::kTpot);
  EXPECT_GE(tpot.ValueAtPercentile(50), 19'500);
}

TEST_F(EngineTest, FailuresLandInTheirCategories) {
  struct Case {
    std::string path;
    std::string key;
  };
  for (const Case& c :
       {Case{"/v1/truncated", "truncated_stream"}, Case{"/v1/unavailable", "http_5xx:503"}}) {
    EnginePlan plan = Plan(c.path, nginx_->ports().h2c, HttpProtocol::kH2c);
    plan.phases = {Constant(50, 400'000'000)};
    plan.duration_ns = 400'000'000;
    const StatsShard window = Window(Run(plan));
    EXPECT_EQ(window.succeeded, 0u) << c.path;
    EXPECT_EQ(window.failed, 20u) << c.path;
    ASSERT_EQ(window.errors.size(), 1u) << c.path;
    EXPECT_EQ(window.errors.begin()->first, c.key);
    EXPECT_EQ(window.errors.begin()->second, 20u);
    EXPECT_EQ(window.histogram(LatencyMetric::kTtft).TotalCount(), 0) << "failures give no TTFT";
  }
}

TEST_F(EngineTest, RequestsPastTheTimeoutAreTimeouts) {
  EnginePlan plan = Plan("/v1/slow", nginx_->ports().h2c, HttpProtocol::kH2c);
  plan.phases = {Constant(20, 200'000'000)};
  plan.duration_ns = 200'000'000;
  plan.timeout_ns = 300'000'000;
  const StatsShard window = Window(Run(plan));
  EXPECT_EQ(window.succeeded, 0u);
  EXPECT_EQ(window.errors.at("timeout"), 4u);
}

TEST_F(EngineTest, RefusedTargetCountsConnectErrors) {
  EnginePlan plan = Plan("/v1/fast", testing::PickFreePort(), HttpProtocol::kH2c);
  plan.phases = {Constant(50, 200'000'000)};
  plan.duration_ns = 200'000'000;
  const StatsShard window = Window(Run(plan));
  EXPECT_EQ(window.succeeded, 0u);
  EXPECT_EQ(window.errors.at("connect"), 10u);
}

TEST_F(EngineTest, ConcurrencyCapQueuesAndShowsAsScheduleLag) {
  EnginePlan plan = Plan("/v1/paced", nginx_->ports().h2c, HttpProtocol::kH2c);
  plan.threads = 1;
  plan.concurrency = 2;  // Each request takes ~80 ms: 2 slots carry ~25 req/s of the 100.
  plan.phases = {Constant(100, 500'000'000)};
  plan.duration_ns = 500'000'000;
  const EngineSnapshot snapshot = Run(plan);
  const StatsShard window = Window(snapshot);
  EXPECT_EQ(window.requests_sent, 50u);
  EXPECT_EQ(window.succeeded, 50u) << "queued requests are sent while the run drains";
  uint32_t peak_queue = 0, peak_in_flight = 0;
  for (const IntervalPoint& point : snapshot.series) {
    peak_queue = std::max(peak_queue, point.client_queue);
    peak_in_flight = std::max(peak_in_flight, point.in_flight);
  }
  EXPECT_GT(peak_queue, 10u);
  EXPECT_LE(peak_in_flight, 2u);
  EXPECT_GT(window.histogram(LatencyMetric::kScheduleLag).ValueAtPercentile(99), 500'000)
      << "the last queued requests waited far beyond their intended time";
}

TEST_F(EngineTest, ClosedLoopKeepsUsersBusy) {
  EnginePlan plan = Plan("/v1/paced", nginx_->ports().http1, HttpProtocol::kHttp1);
  plan.closed_loop = true;
  plan.concurrency = 4;
  plan.duration_ns = 1'000'000'000;
  const EngineSnapshot snapshot = Run(plan);
  const StatsShard window = Window(snapshot);
  // 4 users, ~80 ms per request, 1 s: about 50; never more than 4 at once.
  EXPECT_GE(window.succeeded, 30u);
  EXPECT_LE(window.succeeded, 60u);
  for (const IntervalPoint& point : snapshot.series) EXPECT_LE(point.in_flight, 4u);
}

TEST_F(EngineTest, StopSendingEndsEarlyAndCountsOpenRequestsAsIncomplete) {
  EnginePlan plan = Plan("/v1/slow", nginx_->ports().h2c, HttpProtocol::kH2c);
  plan.phases = {Constant(20, 10'000'000'000)};
  plan.duration_ns = 10'000'000'000;
  plan.timeout_ns = 10'000'000'000;
  auto engine = Engine::Create(plan);
  ASSERT_TRUE(engine.ok());
  ASSERT_TRUE((*engine)->Start().ok());
  // Wait until some requests are in flight, then stop with no drain.
  while ((*engine)->Snapshot().in_flight < 3) {
  }
  (*engine)->StopSending(0);
  ASSERT_TRUE((*engine)->WaitUntilFinished(absl::Seconds(5)));
  const StatsShard window = Window((*engine)->Snapshot());
  EXPECT_GE(window.incomplete, 3u);
  EXPECT_EQ(window.succeeded, 0u);
  EXPECT_EQ(window.failed, 0u) << "cut short by us: incomplete, not failed";
}

}  // namespace
}  // namespace bench::engine
