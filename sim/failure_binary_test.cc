// Failure injection end to end: the bench-sim binary fails requests on purpose and counts what
// it did (bench_sim:injected_failures_total by kind); every kind is produced on request (the
// x-sim-failure header) over HTTP/1.1 and h2c; and the engine, driving a real run with a
// random mix, puts each failure in its category with counts equal to the sim's, and counts no
// failure as a success.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/failure.h"
#include "sim/sim_test_client.h"
#include "worker/engine/engine.h"

namespace bench::sim {
namespace {

using testing::ChatBody;
using testing::Exchange;
using testing::MetricValue;
using testing::SimClient;
using testing::SimProcess;
using testing::Transport;

// Debian's Abseil does not take std::string_view.
std::string Name(FailureKind kind) { return std::string(FailureKindName(kind)); }

std::string Scrape(int port) {
  SimClient client(port, Transport::kHttp1);
  Exchange* metrics = client.Send("GET", "/metrics", "");
  EXPECT_TRUE(client.WaitAll(10'000));
  EXPECT_EQ(metrics->http_status, 200);
  return metrics->body;
}

// The sim's count of requests failed with `kind`.
int64_t Injected(const std::string& metrics, FailureKind kind) {
  const auto value = MetricValue(metrics, absl::StrCat("bench_sim:injected_failures_total{kind=\"",
                                                       Name(kind), "\",model_name=\"sim-model\"}"));
  EXPECT_TRUE(value.has_value()) << FailureKindName(kind) << " missing from\n" << metrics;
  return value.has_value() ? static_cast<int64_t>(*value) : -1;
}

int64_t Successes(const std::string& metrics) {
  double total = 0;
  for (const char* reason : {"length", "stop"}) {
    total += MetricValue(metrics, absl::StrCat("vllm:request_success_total{finish_reason=\"",
                                               reason, "\",model_name=\"sim-model\"}"))
                 .value_or(0);
  }
  return static_cast<int64_t>(total);
}

std::vector<std::string> SimFlags(const std::string& rate, const std::string& kinds) {
  std::vector<std::string> flags = {"--listen",       "127.0.0.1:0", "--ttft",          "2ms",
                                    "--itl",          "1ms",         "--failure-stall", "5s",
                                    "--failure-rate", rate,          "--seed",          "3"};
  if (!kinds.empty()) {
    flags.push_back("--failure-kinds");
    flags.push_back(kinds);
  }
  return flags;
}

// What one forced kind looks like to a client, per protocol.
struct Forced {
  FailureKind kind;
  int http_status;                    // 0: the response head may or may not have arrived
  engine::TransportOutcome outcome;   // for HTTP/2
  engine::TransportOutcome outcome1;  // for HTTP/1.1
  FailureKind counted_as1;            // what the sim counts over HTTP/1.1
};

TEST(FailureInjectionTest, EveryKindIsProducedOnRequestAndCounted) {
  using engine::TransportOutcome;
  const std::vector<Forced> cases = {
      {FailureKind::kStatus429, 429, TransportOutcome::kCompleted, TransportOutcome::kCompleted,
       FailureKind::kStatus429},
      {FailureKind::kStatus500, 500, TransportOutcome::kCompleted, TransportOutcome::kCompleted,
       FailureKind::kStatus500},
      {FailureKind::kStatus503, 503, TransportOutcome::kCompleted, TransportOutcome::kCompleted,
       FailureKind::kStatus503},
      {FailureKind::kReset, 0, TransportOutcome::kReset, TransportOutcome::kReset,
       FailureKind::kReset},
      {FailureKind::kTruncate, 200, TransportOutcome::kCompleted, TransportOutcome::kCompleted,
       FailureKind::kTruncate},
      {FailureKind::kRstStream, 200, TransportOutcome::kRstStream, TransportOutcome::kReset,
       FailureKind::kReset},
      {FailureKind::kGoaway, 200, TransportOutcome::kGoaway, TransportOutcome::kReset,
       FailureKind::kReset},
  };
  for (const Transport transport : {Transport::kH2c, Transport::kHttp1}) {
    const bool h2 = transport == Transport::kH2c;
    SimProcess sim(BENCH_SIM_BINARY, SimFlags("0", ""));
    ASSERT_GT(sim.port(), 0);
    std::map<FailureKind, int64_t> expected;
    for (const Forced& c : cases) {
      SCOPED_TRACE(absl::StrCat(Name(c.kind), h2 ? " h2c" : " http/1.1"));
      // A fresh client each time: a reset or GOAWAY takes its connection down.
      SimClient client(sim.port(), transport);
      const std::string header(FailureKindName(c.kind));
      Exchange* exchange = client.Send("POST", "/v1/chat/completions", ChatBody(8, 10, true),
                                       {{std::string(kFailureHeader), header}});
      ASSERT_TRUE(client.WaitAll(10'000));
      EXPECT_EQ(exchange->end.outcome, h2 ? c.outcome : c.outcome1) << exchange->end.detail;
      if (c.http_status != 0) {
        EXPECT_EQ(exchange->http_status, c.http_status);
      }
      const auto content = exchange->ContentEvents();
      if (c.http_status == 200) {
        EXPECT_EQ(content.size(), 5u) << "half of the 10 tokens went out before it struck";
      }
      bool done_seen = false;
      for (const auto& event : exchange->events) done_seen |= event.data == "[DONE]";
      EXPECT_FALSE(done_seen);
      ++expected[h2 ? c.kind : c.counted_as1];
    }
    {
      // A stall holds the stream back for --failure-stall: the client gives up first.
      SimClient client(sim.port(), transport);
      Exchange* exchange = client.Send("POST", "/v1/chat/completions", ChatBody(8, 10, true),
                                       {{std::string(kFailureHeader), "stall"}});
      EXPECT_FALSE(client.WaitAll(300)) << "nothing ends while the stream stalls";
      EXPECT_EQ(exchange->ContentEvents().size(), 5u);
      client.CancelAll();
      ++expected[FailureKind::kStall];
    }
    const std::string metrics = Scrape(sim.port());
    for (int i = 1; i < kFailureKindCount; ++i) {
      const auto kind = static_cast<FailureKind>(i);
      EXPECT_EQ(Injected(metrics, kind), expected[kind])
          << FailureKindName(kind) << (h2 ? " h2c" : " http/1.1");
    }
    EXPECT_EQ(Successes(metrics), 0);
  }
}

// A closed-loop run of the whole engine against a sim that fails `rate` of the requests with
// `kinds`. Short outputs (6 tokens at 1 ms) and a 400 ms timeout against a 5 s stall.
engine::EngineSnapshot RunEngine(int port, engine::HttpProtocol protocol, uint32_t users) {
  engine::EnginePlan plan;
  auto endpoint =
      engine::ParseEndpointUrl(absl::StrCat("http://127.0.0.1:", port, "/v1/chat/completions"));
  EXPECT_TRUE(endpoint.ok());
  plan.endpoint = *endpoint;
  plan.addresses = *engine::ResolveEndpoint(plan.endpoint);
  plan.client.protocol = protocol;
  plan.request.model = "sim-model";
  plan.prompts.input_length = {20, 0, 1, 100};
  plan.prompts.output_length = {6, 0, 6, 6};
  plan.closed_loop = true;
  plan.concurrency = users;
  plan.duration_ns = 2'000'000'000;
  plan.timeout_ns = 400'000'000;
  plan.interval_ns = 250'000'000;
  plan.start_delay_ns = 20'000'000;
  plan.threads = 1;
  auto engine = engine::Engine::Create(std::move(plan));
  EXPECT_TRUE(engine.ok()) << engine.status();
  if (!engine.ok()) return {};
  EXPECT_TRUE((*engine)->Start().ok());
  EXPECT_TRUE((*engine)->WaitUntilFinished(absl::Seconds(30)));
  return (*engine)->Snapshot();
}

// The client's category for each kind the sim injects.
std::string CategoryOf(FailureKind kind) {
  switch (kind) {
    case FailureKind::kStatus429:
      return "http_4xx:429";
    case FailureKind::kStatus500:
      return "http_5xx:500";
    case FailureKind::kStatus503:
      return "http_5xx:503";
    case FailureKind::kReset:
      return "reset";
    case FailureKind::kTruncate:
      return "truncated_stream";
    case FailureKind::kRstStream:
      return "rst_stream:2";  // INTERNAL_ERROR
    case FailureKind::kGoaway:
      return "goaway";
    case FailureKind::kStall:
      return "timeout";  // The client's timeout is shorter than the stall.
    case FailureKind::kNone:
      break;
  }
  return "";
}

// Every failure the sim injected is in its category, with the sim's count, and every success
// the engine counted is one the sim completed.
void ExpectCountsAgree(const engine::EngineSnapshot& snapshot, const std::string& metrics,
                       const std::string& what) {
  SCOPED_TRACE(what);
  StatsShard window;
  for (const StatsShard& stage : snapshot.stages) ASSERT_TRUE(window.Merge(stage).ok());
  std::map<std::string, uint64_t> unexplained = window.errors;
  int64_t injected_total = 0;
  for (int i = 1; i < kFailureKindCount; ++i) {
    const auto kind = static_cast<FailureKind>(i);
    const int64_t injected = Injected(metrics, kind);
    injected_total += injected;
    const std::string category = CategoryOf(kind);
    EXPECT_EQ(static_cast<int64_t>(window.errors.count(category) ? window.errors.at(category) : 0),
              injected)
        << FailureKindName(kind) << " -> " << category;
    unexplained.erase(category);
  }
  EXPECT_TRUE(unexplained.empty())
      << "categories the sim did not inject: " << unexplained.begin()->first;
  EXPECT_GE(injected_total, 20) << "too few failures to show anything:\n" << metrics;
  EXPECT_EQ(static_cast<int64_t>(window.failed), injected_total);
  EXPECT_EQ(static_cast<int64_t>(window.succeeded), Successes(metrics));
  EXPECT_GT(window.succeeded, 40u);
  EXPECT_EQ(window.incomplete, 0u);
  EXPECT_EQ(window.requests_sent, window.succeeded + window.failed);
  std::printf("%s: started %llu, retries %llu; %llu ok, %llu failed:", what.c_str(),
              static_cast<unsigned long long>(snapshot.started),
              static_cast<unsigned long long>(snapshot.client.connections.retries),
              static_cast<unsigned long long>(window.succeeded),
              static_cast<unsigned long long>(window.failed));
  for (const auto& [category, count] : window.errors) {
    std::printf(" %s=%llu", category.c_str(), static_cast<unsigned long long>(count));
  }
  std::printf("\n");
}

TEST(FailureInjectionTest, EngineCategoriesEqualTheSimsCountsOneUser) {
  // One request at a time, so a connection-level failure (reset, GOAWAY) fails exactly one.
  for (const engine::HttpProtocol protocol :
       {engine::HttpProtocol::kH2c, engine::HttpProtocol::kHttp1}) {
    SimProcess sim(BENCH_SIM_BINARY, SimFlags("0.3", ""));
    ASSERT_GT(sim.port(), 0);
    const engine::EngineSnapshot snapshot = RunEngine(sim.port(), protocol, 1);
    ExpectCountsAgree(snapshot, Scrape(sim.port()),
                      protocol == engine::HttpProtocol::kH2c ? "h2c, 1 user" : "http/1.1, 1 user");
  }
}

TEST(FailureInjectionTest, EngineCategoriesEqualTheSimsCountsManyUsers) {
  // HTTP/1.1 carries one request per connection: every kind, 8 users. Over h2c the streams of
  // 8 users share a connection, so the stream-level kinds only: a reset or GOAWAY would also
  // fail requests still on their way, which the sim never saw and cannot count.
  {
    SimProcess sim(BENCH_SIM_BINARY, SimFlags("0.3", ""));
    ASSERT_GT(sim.port(), 0);
    const engine::EngineSnapshot snapshot = RunEngine(sim.port(), engine::HttpProtocol::kHttp1, 8);
    ExpectCountsAgree(snapshot, Scrape(sim.port()), "http/1.1, 8 users");
  }
  {
    SimProcess sim(BENCH_SIM_BINARY, SimFlags("0.3", "429,500,503,truncate,rst_stream,stall"));
    ASSERT_GT(sim.port(), 0);
    const engine::EngineSnapshot snapshot = RunEngine(sim.port(), engine::HttpProtocol::kH2c, 8);
    ExpectCountsAgree(snapshot, Scrape(sim.port()), "h2c, 8 users");
  }
}

}  // namespace
}  // namespace bench::sim
