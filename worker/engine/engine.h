// The load engine: N threads, each with its own event loop, HTTP client, load driver and
// recorder, sharing nothing but read-only prompts and request templates. The caller gives it a
// plain plan and reads merged snapshots; it knows nothing of gRPC, YAML or Prometheus.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/arrival.h"
#include "common/mutex.h"
#include "common/run_stats.h"
#include "worker/engine/endpoint.h"
#include "worker/engine/http_client.h"
#include "worker/engine/load_driver.h"
#include "worker/engine/prompts.h"
#include "worker/engine/recorder.h"
#include "worker/engine/request_builder.h"
#include "worker/engine/tls.h"

namespace bench::engine {

struct EnginePlan {
  Endpoint endpoint;
  std::vector<sockaddr_storage> addresses;  // Resolved by the caller (ResolveEndpoint).
  HttpClientOptions client;
  TlsClientOptions tls;  // Used when endpoint.tls.
  RequestTemplate request;
  // As configured: values may hold ${env:NAME}; the engine resolves them (ResolveHeaders).
  std::vector<std::pair<std::string, std::string>> headers;
  PromptSpec prompts;
  // prompts.tokenizer: counts the reply text of successes that report no usage (null: their
  // output chunks are counted instead).
  std::shared_ptr<const Tokenizer> output_tokenizer;

  bool closed_loop = false;
  uint32_t concurrency = 0;  // Cap (open loop, 0 = none) or users (closed loop), all threads.
  // Open loop: the whole run's schedule over warmup + duration, as phases back to back.
  std::vector<ArrivalPhase> phases;
  int64_t warmup_ns = 0;
  int64_t duration_ns = 0;
  uint64_t max_requests = 0;
  // Prompt indices of random schedules and closed loops: this engine's part of a split prompt
  // sequence (k * prompt_stride + prompt_offset), divided again among its threads.
  uint32_t prompt_stride = 1;
  uint32_t prompt_offset = 0;
  int64_t not_before_ns = 0;  // Nothing is sent before this run time (a share handed over).
  int64_t timeout_ns = 600'000'000'000;
  size_t max_response_bytes = size_t{16} << 20;  // DriverPlan's
  int64_t max_response_tokens = 0;
  int64_t interval_ns = 1'000'000'000;
  // metrics.raw: each thread keeps up to this many RequestRecords between TakeRecords calls
  // (0: none kept).
  size_t max_pending_records = 0;
  bool record_chunk_gaps = false;  // metrics.rawTokenTimes: records list every chunk gap
  int stage_count = 1;
  // Conversations (prompts.conversation; a closed loop): per-turn shards, the last holding every
  // later turn (0 = not a conversation run), the think time before each later turn, and the
  // header that carries each conversation's id (session_id_prefix + its index; "" = none).
  int turn_count = 0;
  int64_t think_ns = 0;
  std::string session_header;
  std::string session_id_prefix;
  SloLimits slo;
  int threads = 1;
  // Time 0 of the schedule is this long after Start(), so every thread is ready for it.
  int64_t start_delay_ns = 100'000'000;
};

// Everything measured so far, merged over threads.
struct EngineSnapshot {
  std::vector<StatsShard> stages;     // In-window requests, per stage.
  std::vector<IntervalPoint> series;  // Whole run.
  std::vector<StatsShard> turns;      // Conversations: in-window requests per turn.
  uint64_t started = 0;
  uint32_t in_flight = 0;
  uint32_t client_queue = 0;
  bool finished = false;
  HttpClientStats client;
  int64_t run_start_ns = 0;
  int64_t taken_ns = 0;  // MonotonicNowNs() when taken.
};

// Thread-safe: every public method may be called from any thread (the engine's own threads
// excepted).
class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(EnginePlan plan);
  // Stops sending, cancels what is open and joins the threads.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  absl::Status Start();
  // Starts with time 0 of the schedule at `run_start_ns` (MonotonicNowNs() clock), e.g. a common
  // start agreed across workers. It should leave the threads time to get ready (~100 ms).
  absl::Status StartAt(int64_t run_start_ns);
  // Stops every thread from sending; open requests get `drain_ns` to finish.
  void StopSending(int64_t drain_ns);
  // Ends the schedule at run time `run_ns` on every thread (LoadDriver::CutAt).
  void CutScheduleAt(int64_t run_ns);
  // True when every thread finished (schedule done, drained) within `timeout`.
  bool WaitUntilFinished(absl::Duration timeout);
  EngineSnapshot Snapshot();
  // metrics.raw: appends the records of requests that ended before the last Snapshot() (and
  // not taken yet) to *out, and adds how many a thread could not keep.
  void TakeRecords(std::vector<RequestRecord>* out, uint64_t* dropped);

  int64_t run_start_ns() const { return run_start_ns_; }
  const EnginePlan& plan() const { return plan_; }

 private:
  class Worker;
  explicit Engine(EnginePlan plan);

  EnginePlan plan_;
  std::unique_ptr<TlsContext> tls_;
  std::unique_ptr<PromptSource> prompts_;
  std::unique_ptr<RequestBuilder> builder_;
  RequestHead head_;
  std::vector<std::unique_ptr<Worker>> workers_;
  int64_t run_start_ns_ = 0;
};

// Splits `total` into `parts` integers that differ by at most one and sum to `total`.
std::vector<uint64_t> SplitEvenly(uint64_t total, int parts);

}  // namespace bench::engine
