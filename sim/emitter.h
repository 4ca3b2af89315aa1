// When bench-sim writes: one timer per event loop over a min-heap of due tasks (token events).
// Each task is due at a time computed from its own schedule, so a late wake-up delays one event
// and never the ones after it. The timer wakes on a grid of `tick_ns`: every task due in one tick
// runs in one wake-up and its output leaves in one write per connection, as a model server's
// decode step emits one token for every sequence in its batch.
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

  bool scheduled() const { return slot_ != kNotScheduled; }
  int64_t due_ns() const { return due_ns_; }

 private:
  friend class Emitter;
  static constexpr uint32_t kNotScheduled = std::numeric_limits<uint32_t>::max();
  int64_t due_ns_ = 0;
  uint32_t slot_ = kNotScheduled;  // while scheduled: its row in the emitter's position table
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
  // `tick_ns` > 0: wake-ups fall on multiples of it (a task runs up to one tick after it is due,
  // never before); 0: at each task's due time.
  Emitter(engine::EventLoop& loop, absl::AnyInvocable<void()> after_batch,
          TokenLatenessRecorder* lateness = nullptr, int64_t tick_ns = 0);
  Emitter(const Emitter&) = delete;
  Emitter& operator=(const Emitter&) = delete;

  // Schedules `task` at `due_ns` (MonotonicNowNs() clock), or moves it there (in place: a task
  // that schedules its next event from OnDue costs one sift, not a removal and an insertion).
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
  // The heap holds the keys beside the pointers, and each task's place in the heap is kept in a
  // table of its own (positions_, a row per scheduled task): a sift through 10,000 tasks then
  // touches contiguous entries and a 40 KB table, never the tasks themselves (a cache miss per
  // level, most of a token's cost at 10,000 open streams). Four children per node: half the
  // levels of a binary heap.
  static constexpr size_t kArity = 4;
  struct Entry {
    int64_t due_ns;
    uint64_t order;  // Ties on due_ns run in scheduling order.
    TimedTask* task;
    uint32_t slot;  // task->slot_
  };
  static bool Before(const Entry& a, const Entry& b) {
    return a.due_ns != b.due_ns ? a.due_ns < b.due_ns : a.order < b.order;
  }

  void OnTimer();
  // Runs after_batch (the writes) and records the lateness of the events fired since the last
  // call.
  void FinishBatch();
  void Arm();
  void Remove(size_t index);
  void SiftUp(size_t index);
  void SiftDown(size_t index);
  void Place(size_t index, const Entry& entry);

  engine::PreciseTimer timer_;
  const int64_t tick_ns_;
  absl::AnyInvocable<void()> after_batch_;
  std::vector<Entry> heap_;
  std::vector<uint32_t> positions_;   // per slot: the heap index of the task holding it
  std::vector<uint32_t> free_slots_;  // rows of positions_ no task holds
  uint64_t next_order_ = 0;
  int64_t armed_ns_ = -1;  // The deadline the timerfd holds; -1: none.
  bool dispatching_ = false;
  EmitterStats stats_;
  TokenLatenessRecorder* const lateness_;
  std::vector<int64_t> batch_due_ns_;  // Due times of the batch being fired; keeps its capacity.
};

}  // namespace bench::sim
