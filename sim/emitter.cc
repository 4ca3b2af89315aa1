#include "sim/emitter.h"

#include <algorithm>
#include <utility>

#include "common/check.h"
#include "common/clock.h"

namespace bench::sim {

Emitter::Emitter(engine::EventLoop& loop, absl::AnyInvocable<void()> after_batch,
                 TokenLatenessRecorder* lateness)
    : timer_(loop, [this] { OnTimer(); }),
      after_batch_(std::move(after_batch)),
      lateness_(lateness) {}

void Emitter::Place(size_t index, const Entry& entry) {
  heap_[index] = entry;
  entry.task->heap_index_ = index;
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
  if (task->scheduled()) Cancel(task);
  task->due_ns_ = due_ns;
  heap_.push_back({due_ns, next_order_++, task});
  SiftUp(heap_.size() - 1);
  if (!dispatching_) Arm();
}

void Emitter::Cancel(TimedTask* task) {
  if (!task->scheduled()) return;
  const size_t index = task->heap_index_;
  BENCH_DCHECK(index < heap_.size() && heap_[index].task == task);
  task->heap_index_ = TimedTask::kNotScheduled;
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
  // A stale deadline only costs one empty wake-up; re-arming on every cancel would cost more.
}

void Emitter::Arm() {
  if (heap_.empty()) return;
  const int64_t due_ns = heap_.front().due_ns;
  if (due_ns == armed_ns_) return;
  armed_ns_ = due_ns;
  timer_.ArmAt(due_ns);
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
    TimedTask* task = heap_.front().task;
    Cancel(task);
    const int64_t lateness_ns = now_ns - due_ns;
    if (lateness_ns > stats_.max_lateness_ns) stats_.max_lateness_ns = lateness_ns;
    if (lateness_ns > 1'000'000) ++stats_.late_over_1ms;
    if (lateness_ != nullptr) batch_due_ns_.push_back(due_ns);
    ++stats_.fired;
    ++fired;
    task->OnDue(now_ns);
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
