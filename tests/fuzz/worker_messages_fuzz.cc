// Fuzz target for the controller's handling of worker messages (what a worker sends over the
// WorkerLink stream): arbitrary sequences of WorkerMessage must never crash the coordinator or
// make it misbehave, whatever their order, run ids, sequence numbers or histogram bytes.
//
// One coordinator (ticker running) lives across inputs with one run in progress, assigned to a
// first worker "w1". Each input is a new stream: records of [u16 little-endian length][bytes],
// each parsed as a WorkerMessage and handed to OnWorkerMessage; the run id "RUN" in a message is
// replaced by the live run's id so that shards and acks reach it. The stream is detached at the
// end of the input.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "bench.pb.h"
#include "common/check.h"
#include "common/config_yaml.h"
#include "controller/coordinator.h"

namespace {

using bench::controller::Coordinator;
using bench::controller::CoordinatorOptions;

// Drops what the coordinator sends.
class NullPeer : public bench::controller::WorkerPeer {
 public:
  void Send(const bench::v1::ControllerMessage&) override {}
  void Disconnect(const std::string&) override {}
};

// The first worker's stream: keeps the first ping's nonce so the harness can answer it (the
// coordinator needs a worker's clock offset before it assigns it a share).
class PingPeer : public bench::controller::WorkerPeer {
 public:
  void Send(const bench::v1::ControllerMessage& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (message.has_ping() && !nonce_) nonce_ = message.ping().nonce();
    if (message.has_assignment()) assigned_ = true;
    cv_.notify_all();
  }
  void Disconnect(const std::string&) override {}
  std::optional<uint64_t> WaitForPing() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [this] { return nonce_.has_value(); });
    return nonce_;
  }
  bool WaitForAssignment() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [this] { return assigned_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<uint64_t> nonce_;
  bool assigned_ = false;
};

struct Harness {
  Harness() {
    CoordinatorOptions options;
    options.results_dir = (std::filesystem::temp_directory_path() /
                           ("worker-messages-fuzz-" + std::to_string(getpid())))
                              .string();
    options.start_delay = absl::Milliseconds(1);
    options.ping_interval = absl::Milliseconds(50);
    options.lease = absl::Hours(1);
    coordinator = std::make_unique<Coordinator>(options);
    coordinator->Start();
    const uint64_t key = coordinator->AttachWorker(&first_peer, "fuzz");
    bench::v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_id("w1");
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_engine_threads(1);
    coordinator->OnWorkerMessage(key, hello);
    const std::optional<uint64_t> nonce = first_peer.WaitForPing();
    BENCH_CHECK(nonce.has_value()) << "no ping";
    bench::v1::WorkerMessage pong;
    pong.mutable_pong()->set_nonce(*nonce);
    pong.mutable_pong()->set_worker_unix_ns(absl::ToUnixNanos(absl::Now()));
    coordinator->OnWorkerMessage(key, pong);
    auto parsed = bench::ParseConfig(
        "benchmark: {name: fuzz, duration: 1h}\n"
        "target: {endpoint: 'http://127.0.0.1:9/v1/completions', model: m}\n"
        "load: {type: constant, rate: 10}\n"
        "cluster: {onWorkerLoss: rebalance}\n"
        "output: {formats: [json]}\n",
        "fuzz.yaml");
    BENCH_CHECK(parsed.ok()) << parsed.status();
    auto id = coordinator->Submit(parsed->config, {}, "fuzz");
    BENCH_CHECK(id.ok()) << id.status();
    run_id = *id;
    BENCH_CHECK(first_peer.WaitForAssignment()) << "the run was not assigned";
  }
  PingPeer first_peer;
  std::unique_ptr<Coordinator> coordinator;
  std::string run_id;
};

void SubstituteRunId(bench::v1::WorkerMessage& message, const std::string& run_id) {
  const auto fix = [&run_id](std::string* id) {
    if (*id == "RUN") *id = run_id;
  };
  if (message.has_shard()) fix(message.mutable_shard()->mutable_run_id());
  if (message.has_assignment_ack()) fix(message.mutable_assignment_ack()->mutable_run_id());
  if (message.has_hello()) {
    for (std::string& pending : *message.mutable_hello()->mutable_pending_run_ids()) fix(&pending);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* const harness = new Harness();
  NullPeer peer;
  const uint64_t key = harness->coordinator->AttachWorker(&peer, "fuzz");
  size_t at = 0;
  while (at + 2 <= size) {
    const size_t length = data[at] | (static_cast<size_t>(data[at + 1]) << 8);
    at += 2;
    if (length > size - at) break;
    bench::v1::WorkerMessage message;
    if (message.ParseFromArray(data + at, static_cast<int>(length))) {
      SubstituteRunId(message, harness->run_id);
      harness->coordinator->OnWorkerMessage(key, message);
    }
    at += length;
  }
  harness->coordinator->DetachWorker(key, "fuzz: end of input");
  // Views the coordinator serves to clients must still be consistent.
  (void)harness->coordinator->GetRun(harness->run_id);
  (void)harness->coordinator->Metrics();
  return 0;
}
