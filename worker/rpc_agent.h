// The worker's link to its controller (SPEC section 5): dials, says hello, runs the assignments it
// receives on a ShareRunner, sends a delta shard every report interval and resends shards the
// controller has not acknowledged after a reconnect. Reconnects with jittered exponential backoff;
// stops sending new requests when the controller has been silent for the lease. Opens no port.
// bench-worker runs one; `bench-controller run` runs its in-process workers with the same class.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/mutex.h"
#include "common/rpc_credentials.h"
#include "grpcpp/channel.h"

namespace bench::worker {

struct AgentOptions {
  std::string worker_id;  // stable for the process; empty: a random one
  std::string name;       // shown by the controller; empty: the host name
  int threads = 0;        // engine threads; 0: one per core
  std::string token;      // bearer token sent in call metadata; empty: none
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(10);
  // Test hook: append every shard sent (4-byte little-endian length, then the serialized
  // ReportShard) to this file, so a test can check the controller's merge against them.
  std::string record_shards_path;
};

// Owns its threads; thread-safe. The channel must be usable for the agent's lifetime.
class WorkerAgent {
 public:
  WorkerAgent(std::shared_ptr<grpc::Channel> channel, AgentOptions options);
  // Dials `address` with `dial`'s credentials; the token comes from `dial`.
  WorkerAgent(const std::string& address, const Dial& dial, AgentOptions options);
  ~WorkerAgent();  // Shutdown().
  WorkerAgent(const WorkerAgent&) = delete;
  WorkerAgent& operator=(const WorkerAgent&) = delete;

  void Start();
  // Stops any run (in-flight requests cancelled), closes the stream and joins. Idempotent.
  void Shutdown();
  // Blocks until Shutdown() or a fatal rejection; returns the process exit code: 0 after
  // Shutdown(), 6 when the controller refused the credentials.
  int Wait();
  const std::string& worker_id() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// For `validate`: the files a run's config names that a worker reads (CheckConfigFiles in
// share_runner.h), read now.
absl::StatusOr<std::vector<std::string>> CheckRunFiles(const BenchmarkConfig& config);

}  // namespace bench::worker
