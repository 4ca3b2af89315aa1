// bench-sim's /metrics: the vLLM metric names (SPEC section 9) with label model_name, kept in a
// prometheus-cpp registry and served as Prometheus text by the sim's own HTTP route (no second
// server: prometheus-cpp's Exposer would bring civetweb and another port). prometheus-cpp is
// seen only by metrics_exporter.cc.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/mutex.h"
#include "sim/failure.h"

namespace bench::sim {

// Counts of token lateness (when the emitter fired a token minus when it was due) in fixed
// buckets, for bench_sim:token_lateness_seconds. One per event loop: Record() is called by that
// loop's thread only (200,000+ times a second: no lock, no read-modify-write instruction);
// Read() may run on any thread and sees each count whole (relaxed atomics), the buckets
// possibly a few tokens apart. Owned by SimMetrics, so it outlives every loop.
class alignas(64) TokenLatenessRecorder {
 public:
  // Upper bounds (inclusive, ns) of the finite buckets: steps of 200 us or less up to 1 ms and
  // of 250-500 us up to 5 ms, where p99 is read, then coarser; beyond the last, +Inf. Each is
  // a value whose double prints short (0.0006 would print as 0.0005999999999999999).
  static constexpr std::array<int64_t, 33> kBoundsNs = {
      10'000,      25'000,      50'000,      100'000,       150'000,      200'000,    250'000,
      300'000,     400'000,     500'000,     700'000,       850'000,      1'000'000,  1'250'000,
      1'500'000,   1'750'000,   2'000'000,   2'250'000,     2'500'000,    3'000'000,  3'500'000,
      4'000'000,   4'500'000,   5'000'000,   7'500'000,     10'000'000,   25'000'000, 50'000'000,
      100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 5'000'000'000};
  static constexpr size_t kBuckets = kBoundsNs.size() + 1;  // The last is +Inf.

  struct Snapshot {
    std::array<uint64_t, kBuckets> counts{};  // Per bucket, not cumulative.
    uint64_t count = 0;                       // The sum of `counts`.
    int64_t sum_ns = 0;
  };

  // Loop thread only. Negative lateness (cannot happen: tasks never run early) counts as 0.
  void Record(int64_t lateness_ns) {
    if (lateness_ns < 0) lateness_ns = 0;
    size_t bucket = 0;
    while (bucket < kBoundsNs.size() && lateness_ns > kBoundsNs[bucket]) ++bucket;
    Bump(counts_[bucket], 1);
    Bump(sum_ns_, lateness_ns);
  }
  // Any thread.
  Snapshot Read() const;

 private:
  // Single writer: a relaxed load and store is enough and costs no locked instruction.
  template <typename T>
  static void Bump(std::atomic<T>& value, std::type_identity_t<T> by) {
    value.store(value.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<int64_t> sum_ns_{0};
};

// The per-token metrics of one event loop since its last flush: counted by that loop's thread
// without a lock and handed to SimMetrics once per emitter wake-up (SimMetrics::Flush), so a
// token costs an array increment instead of prometheus-cpp's locked Observe and Increment.
class PendingTokenMetrics {
 public:
  PendingTokenMetrics();
  // As SimMetrics::ObserveInterTokenLatency and AddGenerationTokens, until the next flush.
  void ObserveInterTokenLatency(double seconds);
  void AddGenerationTokens(int64_t tokens) { generation_tokens_ += tokens; }

 private:
  friend class SimMetrics;
  std::vector<double> itl_bucket_increments_;  // one per bucket of vLLM's ITL histogram, +Inf
  double itl_sum_ = 0;
  int64_t itl_count_ = 0;
  int64_t generation_tokens_ = 0;
};

// Thread-safe (prometheus-cpp's metrics are); one per process, shared by every loop.
class SimMetrics {
 public:
  explicit SimMetrics(std::string model_name);
  ~SimMetrics();
  SimMetrics(const SimMetrics&) = delete;
  SimMetrics& operator=(const SimMetrics&) = delete;

  void SetRunning(int64_t running);
  void SetWaiting(int64_t waiting);
  void SetKvCacheUsage(double fraction);
  void AddPromptTokens(int64_t tokens);
  void AddGenerationTokens(int64_t tokens);
  void AddPrefixCacheQueries(int64_t tokens, int64_t hits);
  // A request finished with all its tokens; `finish_reason` is "length", "stop" or
  // "remote_decode".
  void AddRequestSuccess(std::string_view finish_reason);

  void ObserveTimeToFirstToken(double seconds);
  void ObserveInterTokenLatency(double seconds);
  // Adds what `pending` counted and clears it.
  void Flush(PendingTokenMetrics& pending);
  void ObserveE2eLatency(double seconds);
  void ObserveQueueTime(double seconds);
  // KV transfers (--disagg, or kv_transfer_params.do_remote_prefill), as
  // vllm:nixl_xfer_time_seconds (vLLM's NIXL connector). Enable once, before any Observe, from the
  // thread that creates this object; without it the histogram is not exposed and observations are
  // dropped.
  void EnableKvTransferMetrics();
  void ObserveKvTransferTime(double seconds);
  // `requests` requests failed on purpose with `kind` (a connection-level kind counts every
  // request on the connection).
  void AddInjectedFailures(FailureKind kind, int64_t requests);

  // A new recorder for one event loop, merged into bench_sim:token_lateness_seconds when
  // serialized. Any thread; it lives as long as this object.
  TokenLatenessRecorder* AddTokenLatenessRecorder();
  // All recorders merged.
  TokenLatenessRecorder::Snapshot TokenLateness() const;

  // The exposition text (Prometheus text format 0.0.4).
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  const std::string model_name_;
  mutable Mutex lateness_mu_;
  std::vector<std::unique_ptr<TokenLatenessRecorder>> lateness_recorders_
      ABSL_GUARDED_BY(lateness_mu_);
};

}  // namespace bench::sim
