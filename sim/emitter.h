// When bench-sim writes: one microsecond timer per event loop over a min-heap of due tasks (token
// events). Each task is due at a time computed from its own schedule, so a late wake-up delays
// one event and never the ones after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/functional/any_invocable.h"
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
  uint64_t order_ = 0;  // Ties on due_ns_ run in scheduling order.
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
  // `after_batch` runs after each timer wake-up's tasks (the worker flushes connections there).
  Emitter(engine::EventLoop& loop, absl::AnyInvocable<void()> after_batch);
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

 private:
  void OnTimer();
  void Arm();
  bool Before(size_t a, size_t b) const;
  void SiftUp(size_t index);
  void SiftDown(size_t index);
  void Place(size_t index, TimedTask* task);

  engine::PreciseTimer timer_;
  absl::AnyInvocable<void()> after_batch_;
  std::vector<TimedTask*> heap_;
  uint64_t next_order_ = 0;
  int64_t armed_ns_ = -1;  // The deadline the timerfd holds; -1: none.
  bool dispatching_ = false;
  EmitterStats stats_;
};

}  // namespace bench::sim
