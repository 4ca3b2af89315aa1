// When bench-sim writes: one microsecond timer per event loop over a min-heap of due tasks (token
// events). Each task is due at a time computed from its own schedule, so a late wake-up delays
// one event and never the ones after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "sim/metrics_exporter.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/precise_timer.h"

namespace bench::sim {

class Emitter;

// Something due at a time, e.g. a generation's next token. Scheduled on at most one emitter;
// its owner must Cancel() it before destroying it.
class TimedTask {
 public:
  virtual ~TimedTask() = default;
  // Runs on the loop thread once the due time has passed; `now_ns` is MonotonicNowNs() taken
  // at most a few microseconds before. The task may Schedule() itself again from here, and may
  // hand itself to its owner for (deferred) destruction.
  virtual void OnDue(int64_t now_ns) = 0;

  bool scheduled() const { return heap_index_ != kNotScheduled; }
  int64_t due_ns() const { return due_ns_; }

 private:
  friend class Emitter;
  static constexpr size_t kNotScheduled = std::numeric_limits<size_t>::max();
  int64_t due_ns_ = 0;
  size_t heap_index_ = kNotScheduled;
};

struct EmitterStats {
  uint64_t fired = 0;           // OnDue calls
  int64_t max_lateness_ns = 0;  // the largest now_ns - due_ns seen
  uint64_t late_over_1ms = 0;   // OnDue calls more than 1 ms after their due time
};

// Owned by one loop's context; loop thread only; must not outlive the loop.
class Emitter {
 public:
  // `after_batch` runs after each timer wake-up's tasks, and within a long one every kMaxHoldNs
  // (the worker flushes connections there). `lateness`, if not null, gets every task's lateness
  // (the time after_batch returned, when its output was written, minus its due time) and must
  // outlive the emitter.
  Emitter(engine::EventLoop& loop, absl::AnyInvocable<void()> after_batch,
          TokenLatenessRecorder* lateness = nullptr);
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  // Schedules `task` at `due_ns` (MonotonicNowNs() clock), or moves it there.
  void Schedule(TimedTask* task, int64_t due_ns);
  // Idempotent.
  void Cancel(TimedTask* task);

  size_t size() const { return heap_.size(); }
  const EmitterStats& stats() const { return stats_; }

  // Tasks run per wake-up before the loop gets to poll sockets again (zero-latency floods must
  // not starve reads).
  static constexpr int kMaxTasksPerWake = 4096;
  // Events fired in one wake-up are written at least this often (checked every 16 events).
  static constexpr int64_t kMaxHoldNs = 100'000;

 private:
  // The heap holds the keys beside the pointers: sifting through 10,000 tasks compares
  // contiguous entries instead of chasing a pointer into each task (a cache miss per level).
  // Four children per node: half the levels of a binary heap, so half the tasks whose
  // heap_index_ a removal rewrites (each a cache miss at 10,000 open streams).
  static constexpr size_t kArity = 4;
  struct Entry {
    int64_t due_ns;
    uint64_t order;  // Ties on due_ns run in scheduling order.
    TimedTask* task;
  };
  static bool Before(const Entry& a, const Entry& b) {
    return a.due_ns != b.due_ns ? a.due_ns < b.due_ns : a.order < b.order;
  }

  void OnTimer();
  // Runs after_batch (the writes) and records the lateness of the events fired since the last
  // call.
  void FinishBatch();
  void Arm();
  void SiftUp(size_t index);
  void SiftDown(size_t index);
  void Place(size_t index, const Entry& entry);

  engine::PreciseTimer timer_;
  absl::AnyInvocable<void()> after_batch_;
  std::vector<Entry> heap_;
  uint64_t next_order_ = 0;
  int64_t armed_ns_ = -1;  // The deadline the timerfd holds; -1: none.
  bool dispatching_ = false;
  EmitterStats stats_;
  TokenLatenessRecorder* const lateness_;
  std::vector<int64_t> batch_due_ns_;  // Due times of the batch being fired; keeps its capacity.
};

}  // namespace bench::sim
