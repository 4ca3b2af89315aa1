// bench-sim's disaggregated prefill/decode mode (--disagg): its settings, and the whole server
// in-process on 127.0.0.1 port 0 measured by the engine's HTTP client against the aggregated
// default under the same load. Tests named Timing* assert milliseconds and are skipped by the
// sanitizer run (scripts/test.sh).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "sim/server.h"
#include "sim/sim_config.h"
#include "sim/sim_server_fixture.h"
#include "sim/sim_test_client.h"

namespace bench::sim {
namespace {

using testing::ChatBody;
using testing::Exchange;
using testing::SimClient;
using testing::Transport;

absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) { return ParseCommandLine(args); }

TEST(DisaggConfigTest, FlagsSetTheDisaggregatedModel) {
  auto parsed =
      Parse({"--disagg", "true", "--kv-transfer-latency", "20ms", "--kv-transfer-per-token",
             "100us", "--prefill-max-num-seqs", "4", "--max-num-seqs", "16"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const SimConfig& config = parsed->config;
  EXPECT_TRUE(config.disaggregated);
  EXPECT_EQ(config.kv_transfer_latency, absl::Milliseconds(20));
  EXPECT_EQ(config.kv_transfer_per_token, absl::Microseconds(100));
  EXPECT_EQ(config.prefill_max_num_seqs, 4);
  EXPECT_EQ(config.max_num_seqs, 16);
  // The default stays aggregated, with no transfer settings.
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->config.disaggregated);
  EXPECT_FALSE(defaults->config.kv_transfer_latency.has_value());
}

TEST(DisaggConfigTest, YamlKeysAreTheFlagNames) {
  char path[] = "/tmp/disagg_config_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "disagg: true\n"
                         "kv_transfer_latency: 5ms\n"
                         "kvTransferPerToken: 2us\n"
                         "prefill-max-num-seqs: 3\n";
  auto parsed = Parse({"--config", path, "--kv-transfer-latency", "7ms"});
  std::remove(path);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->config.disaggregated);
  EXPECT_EQ(parsed->config.kv_transfer_latency, absl::Milliseconds(7));  // The flag wins.
  EXPECT_EQ(parsed->config.kv_transfer_per_token, absl::Microseconds(2));
  EXPECT_EQ(parsed->config.prefill_max_num_seqs, 3);
}

// The KV transfer settings stand alone (they time kv_transfer_params.do_remote_prefill requests
// in the aggregated mode too); the prefill instance's slots need the prefill instance.
TEST(DisaggConfigTest, TransferSettingsWorkWithoutDisaggPrefillSlotsDoNot) {
  auto transfer = Parse({"--kv-transfer-latency", "1ms", "--kv-transfer-per-token", "2us"});
  ASSERT_TRUE(transfer.ok()) << transfer.status();
  EXPECT_FALSE(transfer->config.disaggregated);
  EXPECT_EQ(transfer->config.kv_transfer_latency, absl::Milliseconds(1));
  EXPECT_EQ(transfer->config.kv_transfer_per_token, absl::Microseconds(2));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--prefill-max-num-seqs", "2"},
        std::vector<std::string>{"--disagg", "false", "--prefill-max-num-seqs", "2"}}) {
    auto parsed = Parse(args);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("prefill-max-num-seqs"), absl::string_view::npos);
  }
}

TEST(DisaggConfigTest, ValuesOutOfRangeAreRejectedByName) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--disagg", "maybe"}, "disagg"},
      {{"--disagg", "true", "--kv-transfer-latency", "-5ms"}, "kv-transfer-latency"},
      {{"--disagg", "true", "--kv-transfer-latency", "2h"}, "kv-transfer-latency"},
      {{"--disagg", "true", "--kv-transfer-per-token", "fast"}, "kv-transfer-per-token"},
      {{"--disagg", "true", "--kv-transfer-per-token", "2s"}, "kv-transfer-per-token"},
      {{"--disagg", "true", "--prefill-max-num-seqs", "0"}, "prefill-max-num-seqs"},
      // The ranges hold without --disagg too.
      {{"--kv-transfer-latency", "2h"}, "kv-transfer-latency"},
      {{"--kv-transfer-per-token", "2s"}, "kv-transfer-per-token"},
  };
  for (const auto& [args, key] : cases) {
    auto parsed = Parse(args);
    ASSERT_FALSE(parsed.ok()) << args.back();
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << parsed.status();
    EXPECT_NE(parsed.status().message().find(key), absl::string_view::npos) << parsed.status();
  }
}

int64_t Percentile(std::vector<int64_t> values, double q) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// The value of the sample line that starts with `name` in Prometheus text; -1 if absent.
double Sample(const std::string& metrics, const std::string& name) {
  return testing::MetricValue(metrics, name).value_or(-1);
}

struct Timings {
  std::vector<int64_t> ttft_ns;
  std::vector<int64_t> gap_ns;
};

// Each exchange's TTFT (first content event after the send) and token gaps.
Timings Measure(const std::vector<Exchange*>& exchanges, int tokens) {
  Timings timings;
  for (const Exchange* exchange : exchanges) {
    EXPECT_EQ(exchange->http_status, 200) << exchange->body;
    const auto content = exchange->ContentEvents();
    EXPECT_EQ(content.size(), static_cast<size_t>(tokens));
    if (content.empty()) continue;
    timings.ttft_ns.push_back(content.front()->read_ns - exchange->sent_ns);
    for (size_t i = 1; i < content.size(); ++i) {
      timings.gap_ns.push_back(content[i]->read_ns - content[i - 1]->read_ns);
    }
  }
  return timings;
}

class DisaggServerTest : public testing::SimServerTest {
 protected:
  static SimConfig BaseConfig() {
    SimConfig config;
    config.listen = {{"127.0.0.1", 0}};
    return config;
  }
  // Every slot and queue place of both schedulers is free.
  bool AllIdle() {
    SimShared& shared = server_->shared();
    return shared.scheduler.running() == 0 && shared.scheduler.waiting() == 0 &&
           (shared.decode_scheduler == nullptr ||
            (shared.decode_scheduler->running() == 0 && shared.decode_scheduler->waiting() == 0));
  }
};

// --ttft 20ms of prefill, then 20ms + 100 prompt tokens x 100us of KV transfer: the first token
// comes 50 ms after the request, against 20 ms aggregated. The decode is the same in both.
TEST_F(DisaggServerTest, TimingTtftIncludesTheKvTransfer) {
  constexpr int kRequests = 20;
  constexpr int kPromptTokens = 100;
  constexpr int kTokens = 4;
  int64_t ttft_p50[2] = {};
  int64_t gap_p50[2] = {};
  for (const bool disaggregated : {false, true}) {
    SimConfig config = BaseConfig();
    config.ttft = absl::Milliseconds(20);
    config.itl = absl::Milliseconds(5);
    if (disaggregated) {
      config.disaggregated = true;
      config.kv_transfer_latency = absl::Milliseconds(20);
      config.kv_transfer_per_token = absl::Microseconds(100);
    }
    StartServer(config);
    SimClient client(port_, Transport::kH2c);
    ASSERT_NE(client.Send("GET", "/health", ""), nullptr);  // Connect first.
    ASSERT_TRUE(client.WaitAll());
    std::vector<Exchange*> exchanges;
    for (int i = 0; i < kRequests; ++i) {
      const int64_t send_at_ns = MonotonicNowNs() + 3'000'000;
      ASSERT_TRUE(client.WaitUntil([&] { return MonotonicNowNs() >= send_at_ns; }));
      exchanges.push_back(
          client.Send("POST", "/v1/chat/completions", ChatBody(kPromptTokens, kTokens, true)));
    }
    ASSERT_TRUE(client.WaitAll());
    for (const Exchange* exchange : exchanges) {
      ASSERT_FALSE(exchange->events.empty());
      ASSERT_TRUE(exchange->events.back().payload.done);
      const auto& usage = exchange->events[exchange->events.size() - 2].payload.usage;
      ASSERT_TRUE(usage.has_value());
      EXPECT_EQ(usage->prompt_tokens, kPromptTokens);
      EXPECT_EQ(usage->completion_tokens, kTokens);
    }
    const Timings timings = Measure(exchanges, kTokens);
    ttft_p50[disaggregated] = Percentile(timings.ttft_ns, 0.5);
    gap_p50[disaggregated] = Percentile(timings.gap_ns, 0.5);

    const std::string metrics = MetricsText();
    const std::string transfers = "vllm:nixl_xfer_time_seconds_count{model_name=\"sim-model\"}";
    if (disaggregated) {
      EXPECT_EQ(Sample(metrics, transfers), kRequests) << metrics;
      EXPECT_NEAR(Sample(metrics, "vllm:nixl_xfer_time_seconds_sum{model_name=\"sim-model\"}"),
                  kRequests * 0.030, 1e-9);
    } else {
      EXPECT_EQ(metrics.find("vllm:nixl_xfer_time_seconds"), std::string::npos);
    }
    EXPECT_EQ(Sample(metrics, "vllm:num_requests_running{model_name=\"sim-model\"}"), 0);
    EXPECT_TRUE(AllIdle());
  }
  std::printf(
      "%d requests of %d prompt tokens, --ttft 20ms --itl 5ms: aggregated TTFT p50 %.3f ms, "
      "ITL p50 %.3f ms; disaggregated (transfer 20ms + 100 x 100us) TTFT p50 %.3f ms, ITL p50 "
      "%.3f ms\n",
      kRequests, kPromptTokens, ttft_p50[0] / 1e6, gap_p50[0] / 1e6, ttft_p50[1] / 1e6,
      gap_p50[1] / 1e6);
  EXPECT_NEAR(static_cast<double>(ttft_p50[0]), 20e6, 3e6);
  EXPECT_NEAR(static_cast<double>(ttft_p50[1]), 50e6, 3e6);
  EXPECT_NEAR(static_cast<double>(gap_p50[0]), 5e6, 1e6);
  EXPECT_NEAR(static_cast<double>(gap_p50[1]), 5e6, 1e6);
}

// Prefill-heavy load: ten 3,000-token prompts (300 ms of prefill each, one output token) are in
// prefill while a short probe request decodes 20 tokens at --itl 10ms with --itl-slowdown 0.1.
// Aggregated, the ten prefills share the probe's batch: its gaps are 10 ms x (1 + 0.1 x 10) =
// 20 ms while they run. Disaggregated, they run on the prefill instance: the probe decodes
// alone at 10 ms.
TEST_F(DisaggServerTest, TimingPrefillsSlowDecodeOnlyWhenAggregated) {
  constexpr int kBackground = 10;
  constexpr int kProbeTokens = 20;
  int64_t ttft_p50[2] = {};
  int64_t gap_p50[2] = {};
  for (const bool disaggregated : {false, true}) {
    SimConfig config = BaseConfig();
    config.prefill_per_token = absl::Microseconds(100);
    config.itl = absl::Milliseconds(10);
    config.itl_slowdown = 0.1;
    if (disaggregated) {
      config.disaggregated = true;
      config.kv_transfer_latency = absl::Milliseconds(2);
    }
    StartServer(config);
    SimClient client(port_, Transport::kH2c);
    std::vector<Exchange*> background;
    for (int i = 0; i < kBackground; ++i) {
      background.push_back(
          client.Send("POST", "/v1/chat/completions", ChatBody(3000 + i, 1, true)));
    }
    SimShared& shared = server_->shared();
    ASSERT_TRUE(client.WaitUntil([&] { return shared.scheduler.running() == kBackground; }));
    Exchange* probe = client.Send("POST", "/v1/chat/completions", ChatBody(10, kProbeTokens, true));
    ASSERT_TRUE(client.WaitUntil([&] { return probe->ContentEvents().size() >= 2; }));
    // The background is still in prefill (300 ms); the gauges count it either way.
    EXPECT_EQ(Sample(MetricsText(), "vllm:num_requests_running{model_name=\"sim-model\"}"),
              kBackground + 1);
    if (disaggregated) {
      EXPECT_EQ(shared.scheduler.running(), kBackground);
      EXPECT_EQ(shared.decode_scheduler->running(), 1);
    } else {
      EXPECT_EQ(shared.scheduler.running(), kBackground + 1);
    }
    for (const Exchange* exchange : background) EXPECT_FALSE(exchange->done());
    ASSERT_TRUE(client.WaitAll());
    Measure(background, 1);
    const Timings timings = Measure({probe}, kProbeTokens);
    ttft_p50[disaggregated] = Percentile(timings.ttft_ns, 0.5);
    gap_p50[disaggregated] = Percentile(timings.gap_ns, 0.5);
    EXPECT_TRUE(AllIdle());
  }
  std::printf(
      "probe of 20 tokens beside 10 prefills of 300 ms, --itl 10ms --itl-slowdown 0.1: "
      "aggregated TTFT %.3f ms, ITL p50 %.3f ms; disaggregated (transfer 2ms) TTFT %.3f ms, "
      "ITL p50 %.3f ms\n",
      ttft_p50[0] / 1e6, gap_p50[0] / 1e6, ttft_p50[1] / 1e6, gap_p50[1] / 1e6);
  // The probe's prefill: 10 tokens x 100 us, plus the transfer when disaggregated.
  EXPECT_NEAR(static_cast<double>(ttft_p50[0]), 1e6, 2e6);
  EXPECT_NEAR(static_cast<double>(ttft_p50[1]), 3e6, 2e6);
  EXPECT_NEAR(static_cast<double>(gap_p50[0]), 20e6, 1.5e6);
  EXPECT_NEAR(static_cast<double>(gap_p50[1]), 10e6, 1.5e6);
}

// One decode slot: the second request's prefill (on the prefill instance's second slot) and
// transfer end at 20 ms, but its first token waits for the decode slot, which the first request
// holds until its last token at 20 + 4 x 10 = 60 ms.
TEST_F(DisaggServerTest, TimingDecodeAdmissionWaitAddsToTtft) {
  SimConfig config = BaseConfig();
  config.disaggregated = true;
  config.ttft = absl::Milliseconds(10);
  config.kv_transfer_latency = absl::Milliseconds(10);
  config.itl = absl::Milliseconds(10);
  config.max_num_seqs = 1;
  config.prefill_max_num_seqs = 2;
  StartServer(config);
  SimClient client(port_, Transport::kH2c);
  ASSERT_NE(client.Send("GET", "/health", ""), nullptr);  // Connect first.
  ASSERT_TRUE(client.WaitAll());
  Exchange* first = client.Send("POST", "/v1/chat/completions", ChatBody(5, 5, true));
  Exchange* second = client.Send("POST", "/v1/chat/completions", ChatBody(6, 5, true));
  ASSERT_TRUE(client.WaitUntil([&] { return server_->shared().decode_scheduler->waiting() == 1; }));
  EXPECT_EQ(Sample(MetricsText(), "vllm:num_requests_waiting{model_name=\"sim-model\"}"), 1);
  ASSERT_TRUE(client.WaitAll());
  const Timings timings = Measure({first, second}, 5);
  ASSERT_EQ(timings.ttft_ns.size(), 2u);
  std::printf("one decode slot: TTFT %.3f ms and %.3f ms\n", timings.ttft_ns[0] / 1e6,
              timings.ttft_ns[1] / 1e6);
  // Both arrive in one read and are due at the same time: either may take the slot first.
  const auto [quick, slow] = std::minmax(timings.ttft_ns[0], timings.ttft_ns[1]);
  // The schedule never runs early; a loaded machine only adds delay (tests run in parallel).
  EXPECT_GE(quick, 19'500'000);
  EXPECT_LE(quick, 28'000'000);
  EXPECT_GE(slow, 59'500'000) << "20 ms + the first one's 4 further tokens of 10 ms";
  EXPECT_LE(slow, 70'000'000);
  EXPECT_TRUE(AllIdle());
}

// New requests wait in the prefill queue (--max-queue); beyond it they get 429.
TEST_F(DisaggServerTest, PrefillQueueFullGets429) {
  SimConfig config = BaseConfig();
  config.disaggregated = true;
  config.ttft = absl::Seconds(10);
  config.prefill_max_num_seqs = 1;
  config.max_queue = 1;
  StartServer(config);
  SimClient client(port_, Transport::kH2c);
  Exchange* running = client.Send("POST", "/v1/chat/completions", ChatBody(5, 5, true));
  Exchange* waiting = client.Send("POST", "/v1/chat/completions", ChatBody(5, 5, true));
  ASSERT_TRUE(
      client.WaitUntil([&] { return running->http_status != 0 && waiting->http_status != 0; }));
  Exchange* refused = client.Send("POST", "/v1/chat/completions", ChatBody(5, 5, true));
  ASSERT_TRUE(client.WaitUntil([&] { return refused->done(); }));
  EXPECT_EQ(refused->http_status, 429);
  EXPECT_EQ(running->http_status, 200);
  EXPECT_EQ(waiting->http_status, 200);
  const std::string metrics = MetricsText();
  EXPECT_EQ(Sample(metrics, "vllm:num_requests_running{model_name=\"sim-model\"}"), 1);
  EXPECT_EQ(Sample(metrics, "vllm:num_requests_waiting{model_name=\"sim-model\"}"), 1);
  client.CancelAll();
  ASSERT_TRUE(client.WaitUntil([&] { return AllIdle(); }));
}

// A client that goes away in any stage gives back what it held: the prefill slot or queue place,
// nothing while its KV moves, the decode slot or queue place.
TEST_F(DisaggServerTest, CancelledRequestsGiveBackEverySlot) {
  SimConfig config = BaseConfig();
  config.disaggregated = true;
  config.ttft = absl::Milliseconds(400);
  config.kv_transfer_latency = absl::Seconds(5);
  config.prefill_max_num_seqs = 1;
  StartServer(config);
  SimShared& shared = server_->shared();
  {
    // A and B prefill one after the other (400 ms each) and then move their KV for 5 s; from
    // 800 ms C prefills while D waits.
    SimClient client(port_, Transport::kH2c);
    for (int i = 0; i < 4; ++i) client.Send("POST", "/v1/chat/completions", ChatBody(5, 5, true));
    ASSERT_TRUE(client.WaitUntil(
        [&] { return shared.scheduler.running() == 1 && shared.scheduler.waiting() == 1; }));
    EXPECT_EQ(shared.decode_scheduler->running(), 0);  // A and B are in transfer.
    client.CancelAll();
    ASSERT_TRUE(client.WaitUntil([&] { return AllIdle(); }));
  }
  // Decode: one slot held by a long generation, one request queued for it.
  SimConfig decode_config = BaseConfig();
  decode_config.disaggregated = true;
  decode_config.ttft = absl::Milliseconds(5);
  decode_config.kv_transfer_latency = absl::Milliseconds(5);
  decode_config.itl = absl::Milliseconds(10);
  decode_config.max_num_seqs = 1;
  StartServer(decode_config);
  SimShared& decode_shared = server_->shared();
  SimClient client(port_, Transport::kH2c);
  Exchange* holder = client.Send("POST", "/v1/chat/completions", ChatBody(5, 1000, true));
  client.Send("POST", "/v1/chat/completions", ChatBody(6, 1000, true));
  ASSERT_TRUE(client.WaitUntil([&] {
    return decode_shared.decode_scheduler->running() == 1 &&
           decode_shared.decode_scheduler->waiting() == 1;
  }));
  EXPECT_FALSE(holder->done());
  client.CancelAll();
  ASSERT_TRUE(client.WaitUntil([&] { return AllIdle(); }));
  // The slot is free again: a new request runs to its end.
  Exchange* next = client.Send("POST", "/v1/chat/completions", ChatBody(3, 3, true));
  ASSERT_TRUE(client.WaitAll());
  EXPECT_EQ(next->ContentEvents().size(), 3u);
  EXPECT_TRUE(AllIdle());
}

}  // namespace
}  // namespace bench::sim
