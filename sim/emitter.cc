#include "sim/emitter.h"

#include <utility>

#include "common/check.h"
#include "common/clock.h"

namespace bench::sim {

Emitter::Emitter(engine::EventLoop& loop, absl::AnyInvocable<void()> after_batch)
    : timer_(loop, [this] { OnTimer(); }), after_batch_(std::move(after_batch)) {}

bool Emitter::Before(size_t a, size_t b) const {
  const TimedTask* x = heap_[a];
  const TimedTask* y = heap_[b];
  return x->due_ns_ != y->due_ns_ ? x->due_ns_ < y->due_ns_ : x->order_ < y->order_;
}

void Emitter::Place(size_t index, TimedTask* task) {
  heap_[index] = task;
  task->heap_index_ = index;
}

void Emitter::SiftUp(size_t index) {
  while (index > 0) {
    const size_t parent = (index - 1) / 2;
    if (!Before(index, parent)) break;
    TimedTask* child = heap_[index];
    Place(index, heap_[parent]);
    Place(parent, child);
    index = parent;
  }
}

void Emitter::SiftDown(size_t index) {
  for (;;) {
    const size_t left = 2 * index + 1;
    if (left >= heap_.size()) break;
    size_t smallest = left;
    if (left + 1 < heap_.size() && Before(left + 1, left)) smallest = left + 1;
    if (!Before(smallest, index)) break;
    TimedTask* parent = heap_[index];
    Place(index, heap_[smallest]);
    Place(smallest, parent);
    index = smallest;
  }
}

void Emitter::Schedule(TimedTask* task, int64_t due_ns) {
  if (task->scheduled()) Cancel(task);
  task->due_ns_ = due_ns;
  task->order_ = next_order_++;
  heap_.push_back(task);
  task->heap_index_ = heap_.size() - 1;
  SiftUp(task->heap_index_);
  if (!dispatching_) Arm();
}

void Emitter::Cancel(TimedTask* task) {
  if (!task->scheduled()) return;
  const size_t index = task->heap_index_;
  BENCH_DCHECK(index < heap_.size() && heap_[index] == task);
  task->heap_index_ = TimedTask::kNotScheduled;
  TimedTask* last = heap_.back();
  heap_.pop_back();
  if (index < heap_.size()) {
    Place(index, last);
    SiftUp(index);
    SiftDown(last->heap_index_);
  }
  // A stale deadline only costs one empty wake-up; re-arming on every cancel would cost more.
}

void Emitter::Arm() {
  if (heap_.empty()) return;
  const int64_t due_ns = heap_.front()->due_ns_;
  if (due_ns == armed_ns_) return;
  armed_ns_ = due_ns;
  timer_.ArmAt(due_ns);
}

void Emitter::OnTimer() {
  armed_ns_ = -1;  // A one-shot timerfd that fired holds no deadline.
  dispatching_ = true;
  int64_t now_ns = MonotonicNowNs();
  int fired = 0;
  while (!heap_.empty() && fired < kMaxTasksPerWake) {
    TimedTask* task = heap_.front();
    if (task->due_ns_ > now_ns) {
      // Time moved while we worked: look again before sleeping.
      now_ns = MonotonicNowNs();
      if (task->due_ns_ > now_ns) break;
    }
    Cancel(task);
    const int64_t lateness_ns = now_ns - task->due_ns_;
    if (lateness_ns > stats_.max_lateness_ns) stats_.max_lateness_ns = lateness_ns;
    if (lateness_ns > 1'000'000) ++stats_.late_over_1ms;
    ++stats_.fired;
    ++fired;
    task->OnDue(now_ns);
    if ((fired & 63) == 0) now_ns = MonotonicNowNs();
  }
  dispatching_ = false;
  Arm();
  if (after_batch_) after_batch_();
}

}  // namespace bench::sim
