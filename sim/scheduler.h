// bench-sim's capacity model: continuous batching with at most max_num_seqs sequences running
// and a bounded waiting queue (429 beyond it), shared by every event loop of the process like
// one GPU's engine is shared by its API servers. Disaggregated mode has two: the prefill and the
// decode instance, whose counts the vLLM gauges show summed (LoadGauges).
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>

#include "common/mutex.h"
#include "worker/engine/event_loop.h"

namespace bench::sim {

class SimMetrics;

// Told, on its own loop, that its queued request may start.
class AdmissionListener {
 public:
  virtual ~AdmissionListener() = default;
  // `start_ns` (MonotonicNowNs()) is when the slot freed: the queue wait ends there.
  virtual void OnAdmitted(int64_t start_ns) = 0;
};

// One request's place in the capacity model. Shared by the request (which holds it while it
// waits or runs) and the scheduler (its queue, then the posted start task).
struct AdmissionTicket {
  explicit AdmissionTicket(engine::EventLoop* ticket_loop) : loop(ticket_loop) {}
  engine::EventLoop* const loop;
  // Read and written on `loop`'s thread only: the request to start, or null once it is gone
  // (the posted start then returns the slot).
  AdmissionListener* listener = nullptr;
  // Scheduler-private: the queue position while waiting.
  std::list<std::shared_ptr<AdmissionTicket>>::iterator queue_position;
  bool queued = false;
};

// vllm:num_requests_running and vllm:num_requests_waiting as sums over the schedulers that report
// here: aggregated mode's one engine, or disaggregated mode's prefill and decode instances.
// Thread-safe. Must outlive its schedulers; `metrics` (nullable) must outlive it.
class LoadGauges {
 public:
  static constexpr int kMaxSources = 2;

  explicit LoadGauges(SimMetrics* metrics) : metrics_(metrics) {}
  LoadGauges(const LoadGauges&) = delete;
  LoadGauges& operator=(const LoadGauges&) = delete;

  // Scheduler `source` (0 <= source < kMaxSources) now has these counts.
  void Report(int source, int64_t running, int64_t waiting);
  int64_t running() const;
  int64_t waiting() const;

 private:
  SimMetrics* const metrics_;
  mutable Mutex mu_;
  int64_t running_[kMaxSources] ABSL_GUARDED_BY(mu_) = {};
  int64_t waiting_[kMaxSources] ABSL_GUARDED_BY(mu_) = {};
};

// Thread-safe. Must outlive every loop that holds its tickets (posted starts call back into it).
class Scheduler {
 public:
  enum class Admission { kRunning, kQueued, kRejected };

  // The only scheduler: `metrics` (nullable) gets the running and waiting counts at every change.
  Scheduler(int64_t max_running, int64_t max_waiting, SimMetrics* metrics);
  // One of the schedulers reporting to `gauges` (which must outlive it) as `source`.
  Scheduler(int64_t max_running, int64_t max_waiting, LoadGauges* gauges, int source);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // kRunning: a slot was free and is now the caller's. kQueued: OnAdmitted() follows on the
  // ticket's loop when a slot frees (oldest first). kRejected: the queue is full.
  Admission Admit(const std::shared_ptr<AdmissionTicket>& ticket);
  // A running sequence ended (or its request went away): frees the slot, which the oldest
  // waiting ticket takes at once.
  void Finish();
  // A queued request went away. True: it was still waiting and is removed. False: it was
  // already promoted; its posted start sees no listener and calls Finish() itself.
  bool CancelWaiting(AdmissionTicket& ticket);

  // Lock-free snapshot (read for every token's ITL slowdown).
  int64_t running() const { return running_snapshot_.load(std::memory_order_relaxed); }
  int64_t waiting() const;

 private:
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t max_running_;
  const int64_t max_waiting_;
  std::unique_ptr<LoadGauges> own_gauges_;  // The only scheduler's; null when shared.
  LoadGauges* const gauges_;
  const int source_;
  mutable Mutex mu_;
  int64_t running_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> running_snapshot_{0};
  std::list<std::shared_ptr<AdmissionTicket>> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bench::sim
