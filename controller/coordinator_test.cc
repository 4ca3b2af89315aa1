// The coordinator against fake worker streams: shards apply exactly once (duplicates and gaps
// ignored), a worker lost under onWorkerLoss fail ends the run with partial results, and
// submit-time checks (caps, allow-list) refuse with the right codes.
#include "controller/coordinator.h"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/config_yaml.h"
#include "common/rpc_share.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using bench::v1::ControllerMessage;
using bench::v1::WorkerMessage;

// Records what the coordinator sends; tests wait for a message with WaitFor (bounded).
class FakePeer : public WorkerPeer {
 public:
  void Send(const ControllerMessage& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(message);
    cv_.notify_all();
  }
  void Disconnect(const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    disconnected_ = reason;
    cv_.notify_all();
  }
  void Refuse(const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    refused_ = reason;
    cv_.notify_all();
  }
  std::string refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  // The first message (received so far or within 10 s) that `match` accepts; removes it.
  std::optional<ControllerMessage> WaitFor(std::function<bool(const ControllerMessage&)> match) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<ControllerMessage> found;
    cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
        if (match(*it)) {
          found = *it;
          inbox_.erase(it);
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ControllerMessage> inbox_;
  std::string disconnected_;
  std::string refused_;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    options_.results_dir = dir_.string();
    options_.start_delay = absl::Milliseconds(20);
    options_.ping_interval = absl::Milliseconds(10);
    options_.lease = absl::Milliseconds(300);
  }

  // A worker that says hello and answers its first ping (so it has a clock offset).
  uint64_t Join(Coordinator& coordinator, FakePeer& peer, const std::string& id) {
    const uint64_t key = coordinator.AttachWorker(&peer, "test");
    WorkerMessage hello;
    hello.mutable_hello()->set_worker_id(id);
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_engine_threads(1);
    coordinator.OnWorkerMessage(key, hello);
    auto ping = peer.WaitFor([](const ControllerMessage& m) { return m.has_ping(); });
    EXPECT_TRUE(ping.has_value());
    WorkerMessage pong;
    pong.mutable_pong()->set_nonce(ping->ping().nonce());
    pong.mutable_pong()->set_worker_unix_ns(absl::ToUnixNanos(absl::Now()));
    coordinator.OnWorkerMessage(key, pong);
    return key;
  }

  BenchmarkConfig Config(const std::string& extra = "", const std::string& benchmark_extra = "") {
    auto parsed =
        ParseConfig("benchmark: {name: unit, duration: 1" + benchmark_extra +
                        "}\n"
                        "target: {endpoint: 'http://127.0.0.1:9/v1/completions', model: m}\n"
                        "load: {type: constant, rate: 10}\n"
                        "output: {formats: [json]}\n" +
                        extra,
                    "test.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed->config;
  }

  // Waits until the run is over; returns what clients see.
  RunInfo WaitDone(Coordinator& coordinator, const std::string& id) {
    absl::StatusOr<RunInfo> info = coordinator.GetRun(id);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (info.ok() && !IsTerminal(info->phase) && absl::Now() < deadline) {
      info = coordinator.WaitForChange(id, info->version, absl::Seconds(1));
    }
    EXPECT_TRUE(info.ok());
    return *info;
  }

  static WorkerMessage Shard(const std::string& run_id, uint64_t sequence, int successes,
                             bool final) {
    StatsShard stats;
    for (int i = 0; i < successes; ++i) stats.histogram(LatencyMetric::kTtft).Record(50'000 + i);
    stats.requests_sent = stats.succeeded = static_cast<uint64_t>(successes);
    WorkerMessage message;
    bench::v1::ReportShard* shard = message.mutable_shard();
    shard->set_run_id(run_id);
    shard->set_worker_id("w1");
    shard->set_sequence(sequence);
    shard->set_final(final);
    ToProto(stats, shard->add_stages());
    return message;
  }

  std::filesystem::path dir_;
  CoordinatorOptions options_;
};

TEST_F(CoordinatorTest, ShardsApplyExactlyOnce) {
  Coordinator coordinator(options_);
  coordinator.Start();
  FakePeer peer;
  const uint64_t key = Join(coordinator, peer, "w1");
  absl::StatusOr<std::string> id = coordinator.Submit(Config(), {}, "test");
  ASSERT_TRUE(id.ok()) << id.status();
  auto assignment = peer.WaitFor([](const ControllerMessage& m) { return m.has_assignment(); });
  ASSERT_TRUE(assignment.has_value());
  WorkerMessage ack;
  ack.mutable_assignment_ack()->set_run_id(*id);
  ack.mutable_assignment_ack()->set_generation(1);
  ack.mutable_assignment_ack()->set_accepted(true);
  coordinator.OnWorkerMessage(key, ack);

  coordinator.OnWorkerMessage(key, Shard(*id, 1, 5, false));
  coordinator.OnWorkerMessage(key, Shard(*id, 1, 5, false));  // A duplicate: ignored.
  coordinator.OnWorkerMessage(key, Shard(*id, 3, 5, false));  // A gap: waits for its resend.
  coordinator.OnWorkerMessage(key, Shard(*id, 2, 5, false));
  coordinator.OnWorkerMessage(key, Shard(*id, 3, 5, true));
  const RunInfo info = WaitDone(coordinator, *id);
  EXPECT_EQ(info.phase, RunPhase::kDone) << info.error;
  const nlohmann::json summary = nlohmann::json::parse(info.summary_json);
  EXPECT_EQ(summary["requests"]["succeeded"], 15);
  EXPECT_EQ(summary["latency"]["ttft"]["count"], 15);
  const ControllerMetrics metrics = coordinator.Metrics();
  EXPECT_EQ(metrics.shards_applied, 3u);
  EXPECT_EQ(metrics.shards_duplicate, 1u);
  EXPECT_EQ(metrics.totals.succeeded, 15u);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(info.results_path) / "run.json"));
  // The acknowledgement of the final shard covers every sequence up to it.
  auto last_ack = peer.WaitFor([](const ControllerMessage& m) {
    return m.has_shard_ack() && m.shard_ack().sequence() == 3;
  });
  EXPECT_TRUE(last_ack.has_value());
}

TEST_F(CoordinatorTest, AWorkerOfAnotherProtocolVersionIsRefusedWithBothVersions) {
  Coordinator coordinator(options_);
  FakePeer peer;
  const uint64_t key = coordinator.AttachWorker(&peer, "test");
  WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w9");
  hello.mutable_hello()->set_protocol_version(2);
  coordinator.OnWorkerMessage(key, hello);
  EXPECT_EQ(peer.refused(),
            "the worker speaks protocol version 2, this controller speaks 1 (bench.v1): use "
            "matching releases");
  EXPECT_TRUE(coordinator.View().workers.empty()) << "a refused worker is not counted";
}

TEST_F(CoordinatorTest, ALostWorkerFailsTheRunWithPartialResults) {
  Coordinator coordinator(options_);
  coordinator.Start();
  FakePeer peer;
  const uint64_t key = Join(coordinator, peer, "w1");
  absl::StatusOr<std::string> id = coordinator.Submit(Config(), {}, "test");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(
      peer.WaitFor([](const ControllerMessage& m) { return m.has_assignment(); }).has_value());
  WorkerMessage ack;
  ack.mutable_assignment_ack()->set_run_id(*id);
  ack.mutable_assignment_ack()->set_generation(1);
  ack.mutable_assignment_ack()->set_accepted(true);
  coordinator.OnWorkerMessage(key, ack);
  coordinator.OnWorkerMessage(key, Shard(*id, 1, 4, false));
  coordinator.DetachWorker(key, "test: stream ended");
  const RunInfo info = WaitDone(coordinator, *id);
  EXPECT_EQ(info.phase, RunPhase::kFailed);
  EXPECT_EQ(info.exit_code, 1);
  EXPECT_NE(info.error.find("worker w1 lost"), std::string::npos) << info.error;
  const nlohmann::json summary = nlohmann::json::parse(info.summary_json);
  EXPECT_EQ(summary["requests"]["succeeded"], 4);
  EXPECT_EQ(summary["workers"][0]["lost"], true);
}

TEST_F(CoordinatorTest, SubmitRefusesOverCapsAndOutsideTheAllowList) {
  options_.enforce_allow_list = true;
  options_.allowed_targets = {"10.0.0.0/8"};
  options_.caps.max_rate = 5;
  Coordinator coordinator(options_);
  EXPECT_EQ(coordinator.Submit(Config(), {}, "test").status().code(),
            absl::StatusCode::kResourceExhausted);  // 10 req/s over a cap of 5.
  options_.caps.max_rate = 0;
  Coordinator open_rate(options_);
  const absl::Status denied = open_rate.Submit(Config(), {}, "test").status();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("outside the allow-list"), std::string::npos) << denied;
  const absl::Status rebalance =
      open_rate.Submit(Config("cluster: {onWorkerLoss: rebalance}\n", ", maxRequests: 5"), {}, "t")
          .status();
  EXPECT_EQ(rebalance.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(rebalance.message().find("cluster.onWorkerLoss"), std::string::npos) << rebalance;
}

TEST_F(CoordinatorTest, AResultsDirectoryThatCannotBeWrittenIsRefusedBeforeTheRun) {
  std::filesystem::create_directories(dir_);
  const std::filesystem::path file = dir_ / "a-file";
  { std::ofstream(file) << "not a directory"; }
  options_.results_dir = file.string();
  Coordinator coordinator(options_);
  const absl::Status status = coordinator.Submit(Config(), {}, "test").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("output.dir: cannot write results under " + file.string()),
            std::string::npos)
      << status;
  EXPECT_TRUE(coordinator.ListRuns(0).empty());  // Nothing was queued.
}

}  // namespace
}  // namespace bench::controller
