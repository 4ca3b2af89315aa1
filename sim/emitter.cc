#include "sim/emitter.h"

#include <algorithm>
#include <utility>

#include "common/check.h"
#include "common/clock.h"

namespace bench::sim {

Emitter::Emitter(engine::EventLoop& loop, absl::AnyInvocable<void()> after_batch,
                 TokenLatenessRecorder* lateness, int64_t tick_ns)
    : timer_(loop, [this] { OnTimer(); }),
      tick_ns_(tick_ns),
      after_batch_(std::move(after_batch)),
      lateness_(lateness) {}

void Emitter::Place(size_t index, const Entry& entry) {
  heap_[index] = entry;
  positions_[entry.slot] = static_cast<uint32_t>(index);
}

// Both sifts carry the moving entry in hand and write it once, at its final place.
void Emitter::SiftUp(size_t index) {
  const Entry entry = heap_[index];
  while (index > 0) {
    const size_t parent = (index - 1) / kArity;
    if (!Before(entry, heap_[parent])) break;
    Place(index, heap_[parent]);
    index = parent;
  }
  Place(index, entry);
}

void Emitter::SiftDown(size_t index) {
  const Entry entry = heap_[index];
  const size_t size = heap_.size();
  for (;;) {
    const size_t first = kArity * index + 1;
    if (first >= size) break;
    size_t child = first;
    const size_t end = std::min(first + kArity, size);
    for (size_t other = first + 1; other < end; ++other) {
      if (Before(heap_[other], heap_[child])) child = other;
    }
    if (!Before(heap_[child], entry)) break;
    Place(index, heap_[child]);
    index = child;
  }
  Place(index, entry);
}

void Emitter::Schedule(TimedTask* task, int64_t due_ns) {
  task->due_ns_ = due_ns;
  if (task->scheduled()) {
    // Moved: the new key replaces the old where it stands and sifts whichever way it must.
    const size_t index = positions_[task->slot_];
    const Entry entry{due_ns, next_order_++, task, task->slot_};
    heap_[index] = entry;
    if (index > 0 && Before(entry, heap_[(index - 1) / kArity])) {
      SiftUp(index);
    } else {
      SiftDown(index);
    }
  } else {
    if (free_slots_.empty()) {
      free_slots_.push_back(static_cast<uint32_t>(positions_.size()));
      positions_.push_back(0);
    }
    task->slot_ = free_slots_.back();
    free_slots_.pop_back();
    heap_.push_back({due_ns, next_order_++, task, task->slot_});
    SiftUp(heap_.size() - 1);
  }
  if (!dispatching_) Arm();
}

void Emitter::Cancel(TimedTask* task) {
  if (!task->scheduled()) return;
  Remove(positions_[task->slot_]);
  // A stale deadline only costs one empty wake-up; re-arming on every cancel would cost more.
}

void Emitter::Remove(size_t index) {
  BENCH_DCHECK(index < heap_.size());
  heap_[index].task->slot_ = TimedTask::kNotScheduled;
  free_slots_.push_back(heap_[index].slot);
  const Entry last = heap_.back();
  heap_.pop_back();
  if (index < heap_.size()) {
    Place(index, last);
    if (index > 0 && Before(last, heap_[(index - 1) / kArity])) {
      SiftUp(index);
    } else {
      SiftDown(index);
    }
  }
}

void Emitter::Arm() {
  if (heap_.empty()) return;
  int64_t wake_ns = heap_.front().due_ns;
  if (tick_ns_ > 0) {
    // The end of the tick the first task falls in: everything due by then runs together.
    const int64_t rest = wake_ns % tick_ns_;
    if (rest != 0) wake_ns += tick_ns_ - rest;
  }
  if (wake_ns == armed_ns_) return;
  armed_ns_ = wake_ns;
  timer_.ArmAt(wake_ns);
}

void Emitter::OnTimer() {
  armed_ns_ = -1;  // A one-shot timerfd that fired holds no deadline.
  dispatching_ = true;
  int64_t now_ns = MonotonicNowNs();
  int64_t flushed_ns = now_ns;
  int fired = 0;
  while (!heap_.empty() && fired < kMaxTasksPerWake) {
    const int64_t due_ns = heap_.front().due_ns;
    if (due_ns > now_ns) {
      // Time moved while we worked: look again before sleeping.
      now_ns = MonotonicNowNs();
      if (due_ns > now_ns) break;
    }
    // The task stays in the heap while it runs: if it schedules its next event, that moves it
    // in place (one sift); otherwise it leaves afterwards.
    TimedTask* task = heap_.front().task;
    const uint64_t order = heap_.front().order;
    const int64_t lateness_ns = now_ns - due_ns;
    if (lateness_ns > stats_.max_lateness_ns) stats_.max_lateness_ns = lateness_ns;
    if (lateness_ns > 1'000'000) ++stats_.late_over_1ms;
    if (lateness_ != nullptr) batch_due_ns_.push_back(due_ns);
    ++stats_.fired;
    ++fired;
    task->OnDue(now_ns);
    // Neither moved nor cancelled by OnDue: it is done.
    if (task->scheduled() && heap_[positions_[task->slot_]].order == order) {
      Remove(positions_[task->slot_]);
    }
    if ((fired & 15) == 0) {
      now_ns = MonotonicNowNs();
      // A long batch (many streams due at once) goes out in parts, so the first events do not
      // wait for the last ones to be formatted.
      if (now_ns - flushed_ns >= kMaxHoldNs) {
        FinishBatch();
        flushed_ns = now_ns;
      }
    }
  }
  dispatching_ = false;
  Arm();
  FinishBatch();
}

void Emitter::FinishBatch() {
  if (after_batch_) after_batch_();
  // The events left in after_batch_'s writes: lateness is measured to then.
  if (lateness_ != nullptr && !batch_due_ns_.empty()) {
    const int64_t written_ns = MonotonicNowNs();
    for (const int64_t due_ns : batch_due_ns_) lateness_->Record(written_ns - due_ns);
    batch_due_ns_.clear();
  }
}

}  // namespace bench::sim
