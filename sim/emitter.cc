#include "sim/emitter.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "common/check.h"
#include "common/clock.h"

namespace bench::sim {

Emitter::Emitter(engine::EventLoop& loop, absl::AnyInvocable<void()> after_batch,
                 TokenLatenessRecorder* lateness, int64_t tick_ns)
    : timer_(loop, [this] { OnTimer(); }),
      tick_ns_(tick_ns),
      bucket_ns_(tick_ns > 0 ? tick_ns : kExactBucketNs),
      after_batch_(std::move(after_batch)),
      buckets_(kBuckets),
      occupied_(kBuckets / 64),
      cursor_(BucketOf(MonotonicNowNs())),
      lateness_(lateness) {}

int64_t Emitter::BucketOf(int64_t due_ns) const {
  if (due_ns < 0) due_ns = 0;
  return tick_ns_ > 0 ? (due_ns + tick_ns_ - 1) / tick_ns_ : due_ns / bucket_ns_;
}

bool Emitter::FirstOccupied(int64_t* bucket) const {
  const size_t start = static_cast<size_t>(cursor_) % kBuckets;
  // The words from the cursor's to the end, then from the start: the wheel's buckets in order.
  for (size_t step = 0; step <= occupied_.size(); ++step) {
    const size_t word_index = (start / 64 + step) % occupied_.size();
    uint64_t word = occupied_[word_index];
    if (step == 0) word &= ~uint64_t{0} << (start % 64);  // buckets before the cursor's
    if (step == occupied_.size()) word &= (uint64_t{1} << (start % 64)) - 1;  // wrapped around
    if (word == 0) continue;
    const size_t index = word_index * 64 + static_cast<size_t>(std::countr_zero(word));
    *bucket = cursor_ + static_cast<int64_t>((index + kBuckets - start) % kBuckets);
    return true;
  }
  return false;
}

void Emitter::SortBucket(int64_t bucket) {
  Bucket& b = BucketAt(bucket);
  if (b.sorted) return;
  std::sort(b.entries.begin(), b.entries.end(), Before);
  b.min_due_ns = b.entries.empty() ? std::numeric_limits<int64_t>::max() : b.entries[0].due_ns;
  const auto bucket_index = static_cast<uint32_t>(static_cast<size_t>(bucket) % kBuckets);
  for (size_t i = 0; i < b.entries.size(); ++i) {
    positions_[b.entries[i].slot] = {bucket_index, static_cast<uint32_t>(i)};
  }
  b.sorted = true;
}

void Emitter::Insert(const Entry& entry) {
  const int64_t bucket = std::max(BucketOf(entry.due_ns), cursor_);  // the past: the first
  if (bucket - cursor_ >= static_cast<int64_t>(kBuckets)) {
    overflow_.push_back(entry);
    SiftUp(overflow_.size() - 1);
    return;
  }
  const size_t index = static_cast<size_t>(bucket) % kBuckets;
  Bucket& b = buckets_[index];
  if (!b.entries.empty() && Before(entry, b.entries.back())) b.sorted = false;
  b.min_due_ns = std::min(b.min_due_ns, entry.due_ns);
  positions_[entry.slot] = {static_cast<uint32_t>(index), static_cast<uint32_t>(b.entries.size())};
  b.entries.push_back(entry);
  occupied_[index / 64] |= uint64_t{1} << (index % 64);
}

void Emitter::Erase(Where where) {
  if (where.bucket == kInFiring) {
    firing_[where.index].task = nullptr;
    return;
  }
  if (where.bucket == kInOverflow) {
    const Entry last = overflow_.back();
    overflow_.pop_back();
    if (where.index < overflow_.size()) {
      Place(where.index, last);
      if (where.index > 0 && Before(last, overflow_[(where.index - 1) / kArity])) {
        SiftUp(where.index);
      } else {
        SiftDown(where.index);
      }
    }
    return;
  }
  Bucket& b = buckets_[where.bucket];
  if (where.index + 1 < b.entries.size()) {
    b.entries[where.index] = b.entries.back();
    positions_[b.entries[where.index].slot].index = where.index;
    b.sorted = false;
  }
  b.entries.pop_back();
  if (b.entries.empty()) MarkEmpty(where.bucket);
}

void Emitter::MarkEmpty(size_t index) {
  Bucket& b = buckets_[index];
  b.sorted = true;
  b.min_due_ns = std::numeric_limits<int64_t>::max();
  occupied_[index / 64] &= ~(uint64_t{1} << (index % 64));
}

void Emitter::HintAhead(size_t running) const {
  const auto task_at = [this](size_t ahead) -> const TimedTask* {
    return ahead < firing_.size() ? firing_[ahead].task : nullptr;
  };
  // A prefetch never faults: the first line is asked for without looking at the task.
  if (running + kPrefetchFirstLineAhead < firing_.size()) {
    __builtin_prefetch(firing_[running + kPrefetchFirstLineAhead].task);
  }
  if (const TimedTask* task = task_at(running + kPrefetchSelfAhead)) {
    task->Prefetch(TimedTask::PrefetchStage::kSelf);
  }
  if (const TimedTask* task = task_at(running + kPrefetchReferencedAhead)) {
    task->Prefetch(TimedTask::PrefetchStage::kReferenced);
  }
}

void Emitter::ReleaseSlot(TimedTask* task) {
  free_slots_.push_back(task->slot_);
  task->slot_ = TimedTask::kNotScheduled;
  --size_;
}

void Emitter::Schedule(TimedTask* task, int64_t due_ns) {
  if (task->scheduled()) {
    Erase(positions_[task->slot_]);
  } else {
    if (free_slots_.empty()) {
      free_slots_.push_back(static_cast<uint32_t>(positions_.size()));
      positions_.push_back({});
    }
    task->slot_ = free_slots_.back();
    free_slots_.pop_back();
    ++size_;
  }
  task->due_ns_ = due_ns;
  int64_t first = 0;
  if (!dispatching_ && !FirstOccupied(&first)) {
    // An empty wheel may start at now: after a quiet spell its start lies far behind, and
    // everything scheduled would wait in the overflow heap until the next wake-up.
    AdvanceTo(BucketOf(MonotonicNowNs()));
  }
  Insert({due_ns, next_order_++, task, task->slot_});
  if (!dispatching_) Arm();
}

void Emitter::Cancel(TimedTask* task) {
  if (!task->scheduled()) return;
  Erase(positions_[task->slot_]);
  ReleaseSlot(task);
  // A stale deadline only costs one empty wake-up; re-arming on every cancel would cost more.
}

void Emitter::AdvanceTo(int64_t bucket) {
  if (bucket <= cursor_) return;
  cursor_ = bucket;
  while (!overflow_.empty() &&
         BucketOf(overflow_.front().due_ns) - cursor_ < static_cast<int64_t>(kBuckets)) {
    const Entry entry = overflow_.front();
    Erase({kInOverflow, 0});
    Insert(entry);
  }
}

void Emitter::Arm() {
  int64_t wake_ns;
  int64_t bucket = 0;
  if (FirstOccupied(&bucket)) {
    wake_ns = BucketAt(bucket).min_due_ns;
  } else if (!overflow_.empty()) {
    wake_ns = overflow_.front().due_ns;
  } else {
    return;
  }
  if (tick_ns_ > 0) {
    // The end of the tick the first task falls in: everything due by then runs together.
    wake_ns = BucketOf(wake_ns) * tick_ns_;
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
  while (fired < kMaxTasksPerWake) {
    int64_t bucket = 0;
    const bool found = FirstOccupied(&bucket);
    const int64_t now_bucket = BucketOf(now_ns);
    if (!found || bucket > now_bucket) {
      // Nothing due in the wheel: move its start up to now, which may bring in due tasks.
      const int64_t target = found ? std::min(bucket, now_bucket) : now_bucket;
      if (target <= cursor_) break;
      AdvanceTo(target);
      continue;
    }
    AdvanceTo(bucket);
    SortBucket(bucket);
    Bucket& b = BucketAt(bucket);
    // The bucket's due entries, in order, move out to run (the rest stay, still sorted).
    size_t due = 0;
    const size_t room = static_cast<size_t>(kMaxTasksPerWake - fired);
    while (due < b.entries.size() && due < room && b.entries[due].due_ns <= now_ns) ++due;
    if (due == 0) {
      // Time moved while we worked: look again before sleeping.
      now_ns = MonotonicNowNs();
      if (b.entries.front().due_ns > now_ns) break;
      continue;
    }
    firing_.assign(b.entries.begin(), b.entries.begin() + static_cast<std::ptrdiff_t>(due));
    b.entries.erase(b.entries.begin(), b.entries.begin() + static_cast<std::ptrdiff_t>(due));
    for (size_t i = 0; i < firing_.size(); ++i)
      positions_[firing_[i].slot] = {kInFiring, uint32_t(i)};
    for (size_t i = 0; i < b.entries.size(); ++i) positions_[b.entries[i].slot].index = uint32_t(i);
    if (b.entries.empty()) {
      MarkEmpty(static_cast<size_t>(bucket) % kBuckets);
    } else {
      b.min_due_ns = b.entries[0].due_ns;
    }
    for (size_t i = 0; i < firing_.size(); ++i) {
      HintAhead(i);
      TimedTask* task = firing_[i].task;
      if (task == nullptr) continue;  // cancelled or moved by a task that ran before it
      const int64_t due_ns = firing_[i].due_ns;
      ReleaseSlot(task);
      const int64_t lateness_ns = now_ns - due_ns;
      if (lateness_ns > stats_.max_lateness_ns) stats_.max_lateness_ns = lateness_ns;
      if (lateness_ns > 1'000'000) ++stats_.late_over_1ms;
      if (lateness_ != nullptr) batch_due_ns_.push_back(due_ns);
      ++stats_.fired;
      ++fired;
      task->OnDue(now_ns);
      if ((fired & 15) == 0) {
        now_ns = MonotonicNowNs();
        // A long batch (many streams due at once) goes out in parts, so the first events do
        // not wait for the last ones to be formatted.
        if (now_ns - flushed_ns >= kMaxHoldNs) {
          FinishBatch();
          flushed_ns = now_ns;
        }
      }
    }
    firing_.clear();
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

// ---- the overflow heap ----------------------------------------------------------------------

void Emitter::Place(size_t index, const Entry& entry) {
  overflow_[index] = entry;
  positions_[entry.slot] = {kInOverflow, static_cast<uint32_t>(index)};
}

// Both sifts carry the moving entry in hand and write it once, at its final place.
void Emitter::SiftUp(size_t index) {
  const Entry entry = overflow_[index];
  while (index > 0) {
    const size_t parent = (index - 1) / kArity;
    if (!Before(entry, overflow_[parent])) break;
    Place(index, overflow_[parent]);
    index = parent;
  }
  Place(index, entry);
}

void Emitter::SiftDown(size_t index) {
  const Entry entry = overflow_[index];
  const size_t size = overflow_.size();
  for (;;) {
    const size_t first = kArity * index + 1;
    if (first >= size) break;
    size_t child = first;
    const size_t end = std::min(first + kArity, size);
    for (size_t other = first + 1; other < end; ++other) {
      if (Before(overflow_[other], overflow_[child])) child = other;
    }
    if (!Before(overflow_[child], entry)) break;
    Place(index, overflow_[child]);
    index = child;
  }
  Place(index, entry);
}

}  // namespace bench::sim
