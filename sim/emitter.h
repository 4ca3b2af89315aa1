// When bench-sim writes: one timer per event loop over a timing wheel of due tasks (token
// events). Each task is due at a time computed from its own schedule, so a late wake-up delays
// one event and never the ones after it. The timer wakes on a grid of `tick_ns`: every task due
// in one tick runs in one wake-up and its output leaves in one write per connection, as a model
// server's decode step emits one token for every sequence in its batch.
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
  // Hints, called ahead of OnDue() in a batch so its cache misses overlap the tasks before it;
  // they must not change anything. kSelf (8 tasks ahead, the first cache line loading since 12
  // ahead): start loading the rest of the task; kReferenced (4 ahead): what it points to.
  enum class PrefetchStage { kSelf, kReferenced };
  virtual void Prefetch(PrefetchStage) const {}

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

  // Schedules `task` at `due_ns` (MonotonicNowNs() clock), or moves it there. Tasks run in
  // (due time, scheduling order).
  void Schedule(TimedTask* task, int64_t due_ns);
  // Idempotent.
  void Cancel(TimedTask* task);

  size_t size() const { return size_; }
  const EmitterStats& stats() const { return stats_; }

  // Tasks run per wake-up before the loop gets to poll sockets again (zero-latency floods must
  // not starve reads).
  static constexpr int kMaxTasksPerWake = 4096;
  // In tasks: each stage far enough ahead to cover a miss, near enough not to evict.
  static constexpr size_t kPrefetchFirstLineAhead = 12;
  static constexpr size_t kPrefetchSelfAhead = 8;
  static constexpr size_t kPrefetchReferencedAhead = 4;
  // Events fired in one wake-up are written at least this often (checked every 16 events).
  static constexpr int64_t kMaxHoldNs = 100'000;

 private:
  // A wheel of kBuckets buckets, each the tasks due in one tick (or, without a tick, in
  // kExactBucketNs), covering the next kBuckets of them; tasks due later wait in a min-heap
  // (overflow_) until the wheel reaches them. Scheduling appends to a bucket; a bucket is sorted
  // only when it comes due, a few hundred contiguous entries at most. Each task's place is kept
  // in a table of its own (positions_, a row per scheduled task), so neither scheduling nor
  // firing touches any task but the one that runs (a cache miss per task was most of a token's
  // cost at 10,000 open streams with the min-heap this replaced).
  static constexpr size_t kBuckets = 4096;  // a power of two
  static constexpr int64_t kExactBucketNs = 65'536;
  static constexpr size_t kArity = 4;  // of the overflow heap
  struct Entry {
    int64_t due_ns;
    uint64_t order;  // Ties on due_ns run in scheduling order.
    TimedTask* task;
    uint32_t slot;  // task->slot_
  };
  static bool Before(const Entry& a, const Entry& b) {
    return a.due_ns != b.due_ns ? a.due_ns < b.due_ns : a.order < b.order;
  }
  // Where a scheduled task's entry is: a bucket's index, kInOverflow or kInFiring, and the
  // entry's index there.
  static constexpr uint32_t kInOverflow = std::numeric_limits<uint32_t>::max();
  static constexpr uint32_t kInFiring = kInOverflow - 1;
  struct Where {
    uint32_t bucket;
    uint32_t index;
  };
  struct Bucket {
    std::vector<Entry> entries;
    bool sorted = true;
    // At most the earliest due time in it (a removal may leave it early: one wake-up too many).
    int64_t min_due_ns = std::numeric_limits<int64_t>::max();
  };

  void OnTimer();
  // Runs after_batch (the writes) and records the lateness of the events fired since the last
  // call.
  void FinishBatch();
  void Arm();
  // The absolute number of the bucket a due time falls in; with a tick, bucket b holds the
  // tasks due in ((b - 1) x tick, b x tick] and comes due at its end.
  int64_t BucketOf(int64_t due_ns) const;
  // The first bucket at or after cursor_ holding tasks, as an absolute number; false if none.
  bool FirstOccupied(int64_t* bucket) const;
  Bucket& BucketAt(int64_t bucket) { return buckets_[static_cast<size_t>(bucket) % kBuckets]; }
  void SortBucket(int64_t bucket);
  // Moves the wheel's start to `bucket` (the buckets before it are empty) and brings in what of
  // overflow_ it now reaches.
  void AdvanceTo(int64_t bucket);
  void Insert(const Entry& entry);
  void Erase(Where where);       // the entry, wherever it is; the slot stays the task's
  void MarkEmpty(size_t index);  // a bucket that has just lost its last entry
  // Before running firing_[running]: the prefetch hints for the tasks a few places after it.
  void HintAhead(size_t running) const;
  void ReleaseSlot(TimedTask* task);
  void SiftUp(size_t index);
  void SiftDown(size_t index);
  void Place(size_t index, const Entry& entry);

  engine::PreciseTimer timer_;
  const int64_t tick_ns_;
  const int64_t bucket_ns_;  // tick_ns_, or kExactBucketNs without a tick
  absl::AnyInvocable<void()> after_batch_;
  std::vector<Bucket> buckets_;
  std::vector<uint64_t> occupied_;    // a bit per bucket holding tasks
  int64_t cursor_ = 0;                // the wheel's first bucket (absolute); earlier ones are empty
  std::vector<Entry> overflow_;       // min-heap of the tasks beyond the wheel
  std::vector<Entry> firing_;         // the entries of the wake-up being run
  std::vector<Where> positions_;      // per slot: where the task holding it is
  std::vector<uint32_t> free_slots_;  // rows of positions_ no task holds
  size_t size_ = 0;
  uint64_t next_order_ = 0;
  int64_t armed_ns_ = -1;  // The deadline the timerfd holds; -1: none.
  bool dispatching_ = false;
  EmitterStats stats_;
  TokenLatenessRecorder* const lateness_;
  std::vector<int64_t> batch_due_ns_;  // Due times of the batch being fired; keeps its capacity.
};

}  // namespace bench::sim
