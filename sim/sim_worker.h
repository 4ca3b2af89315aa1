// One bench-sim event-loop thread and everything on it: its listening sockets (one per --listen
// address, all threads sharing the port with SO_REUSEPORT), its connections, its token emitter
// and its request parser. What all threads share (settings, capacity, metrics, TLS) is in
// SimShared.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "sim/emitter.h"
#include "sim/failure.h"
#include "sim/metrics_exporter.h"
#include "sim/model.h"
#include "sim/openai_request.h"
#include "sim/prefix_cache.h"
#include "sim/scheduler.h"
#include "sim/sim_config.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/tls.h"
#include "worker/engine/uv_handle.h"

namespace bench::sim {

class Generation;
class ServerConnection;

// Immutable settings and thread-safe state shared by every worker. Outlives the workers.
struct SimShared {
  explicit SimShared(const SimConfig& sim_config)
      : config(sim_config),
        metrics(sim_config.model),
        load_gauges(&metrics),
        scheduler(sim_config.disaggregated
                      ? sim_config.prefill_max_num_seqs.value_or(sim_config.max_num_seqs)
                      : sim_config.max_num_seqs,
                  sim_config.max_queue, &load_gauges, 0),
        // Unbounded queue: a request that reaches decode was accepted and cannot get a 429 now.
        decode_scheduler(sim_config.disaggregated
                             ? std::make_unique<Scheduler>(sim_config.max_num_seqs,
                                                           std::numeric_limits<int64_t>::max(),
                                                           &load_gauges, 1)
                             : nullptr),
        latency(sim_config),
        prefix_cache(sim_config.kv_cache_blocks > 0
                         ? std::make_unique<PrefixCache>(sim_config.kv_cache_blocks)
                         : nullptr),
        failures(sim_config) {
    // Transfers happen with --disagg, and for requests with kv_transfer_params.do_remote_prefill
    // when a transfer time is set.
    if (sim_config.disaggregated || sim_config.kv_transfer_latency > absl::ZeroDuration() ||
        sim_config.kv_transfer_per_token > absl::ZeroDuration()) {
      metrics.EnableKvTransferMetrics();
    }
  }
  const SimConfig config;
  SimMetrics metrics;
  LoadGauges load_gauges;  // The running/waiting gauges over both schedulers.
  // Aggregated: the engine. Disaggregated (--disagg): the prefill instance.
  Scheduler scheduler;
  const std::unique_ptr<Scheduler> decode_scheduler;  // The decode instance; null unless --disagg.
  const LatencyModel latency;
  const std::unique_ptr<PrefixCache> prefix_cache;  // Null without --kv-cache-blocks.
  const FailurePolicy failures;
  std::unique_ptr<engine::TlsContext> tls;  // Null without --tls-cert.
  int64_t started_unix_seconds = 0;
  uint64_t id_nonce = 0;  // Makes response ids differ between runs.
  int first_port = 0;     // The first --listen address's bound port (port 0 resolved).
  std::atomic<int64_t> open_connections{0};        // all workers' (--max-connections)
  std::atomic<int64_t> buffered_request_bytes{0};  // all connections' (--max-buffered-bytes)
};

// Created on any thread; after Start() everything runs on its own thread. Stop() (any thread)
// shuts it down and joins.
class SimWorker {
 public:
  static absl::StatusOr<std::unique_ptr<SimWorker>> Create(SimShared& shared, int index);
  ~SimWorker();
  SimWorker(const SimWorker&) = delete;
  SimWorker& operator=(const SimWorker&) = delete;

  // Takes a bound socket (owning it from here, also on error) and listens on it. Before Start().
  absl::Status Listen(int fd);
  // Starts the loop thread.
  void Start();
  // Closes listeners and connections on the loop thread, stops the loop, joins the thread and
  // closes the loop (leaks abort there). Idempotent.
  void Stop();

  // Loop-thread API for connections and generations.
  engine::EventLoop& loop() { return *loop_; }
  SimShared& shared() { return shared_; }
  Emitter& emitter() { return *emitter_; }
  // Token metrics counted by this loop, flushed to shared().metrics after each emitter batch.
  PendingTokenMetrics& pending_metrics() { return pending_metrics_; }
  RequestParser& parser() { return parser_; }
  // A per-loop buffer for building one event; callers clear() it first.
  std::string& scratch() { return scratch_; }
  // A second one, for a token's text while scratch() holds the event around it.
  std::string& delta_scratch() { return delta_scratch_; }
  // Distinct per request within the process (the worker index is mixed in).
  uint64_t NextRequestSerial() { return (++request_counter_ << 8) | static_cast<uint64_t>(index_); }

  // The connection has output to write at the end of this loop turn.
  void MarkDirty(ServerConnection* connection);
  // Writes every dirty connection's output.
  void FlushDirty();
  // Destruction later, on a fresh loop turn (never under the object's own frames).
  void Retire(std::unique_ptr<Generation> generation);
  void RetireConnection(ServerConnection* connection);
  // A connection holding `held` bytes of requests not yet whole took the total to `total`, over
  // --max-buffered-bytes, and is being closed: counted, and warned once a second.
  void NoteBufferedBytesRefusal(int64_t held, int64_t total);

  size_t open_connections() const { return connections_.size(); }

 private:
  SimWorker(SimShared& shared, int index);
  absl::Status Init();
  void OnConnection(uv_stream_t* listener, int status);
  void Shutdown();
  void Reap();
  // The connections' abuse limits (ServerConnection::CheckTimeouts).
  void Sweep();

  SimShared& shared_;
  const int index_;
  std::unique_ptr<engine::EventLoop> loop_;
  std::unique_ptr<Emitter> emitter_;
  PendingTokenMetrics pending_metrics_;
  std::unique_ptr<engine::Timer> reaper_;
  std::unique_ptr<engine::Timer> sweeper_;  // every second: Sweep()
  RequestParser parser_;
  std::string scratch_;
  std::string delta_scratch_;
  uint64_t request_counter_ = 0;
  std::vector<engine::UvHandle<uv_tcp_t>> listeners_;
  absl::flat_hash_map<ServerConnection*, std::unique_ptr<ServerConnection>> connections_;
  std::vector<ServerConnection*> dirty_;
  std::vector<std::unique_ptr<ServerConnection>> dead_connections_;
  std::vector<std::unique_ptr<Generation>> dead_generations_;
  std::thread thread_;
  // Connections a cap closed, counted; the warning about them at most once a second.
  struct CapCloses {
    uint64_t count = 0;
    int64_t last_warned_ns = 0;
    // Counts one; true when a warning is due.
    bool CountAndWarn();
  };
  CapCloses rejected_connections_;  // --max-connections
  CapCloses buffer_cap_closes_;     // --max-buffered-bytes
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace bench::sim
