#include "sim/scheduler.h"

#include "common/check.h"
#include "common/clock.h"
#include "sim/metrics_exporter.h"

namespace bench::sim {

void LoadGauges::Report(int source, int64_t running, int64_t waiting) {
  BENCH_CHECK(source >= 0 && source < kMaxSources);
  MutexLock lock(mu_);
  running_[source] = running;
  waiting_[source] = waiting;
  if (metrics_ == nullptr) return;
  int64_t running_sum = 0;
  int64_t waiting_sum = 0;
  for (int i = 0; i < kMaxSources; ++i) {
    running_sum += running_[i];
    waiting_sum += waiting_[i];
  }
  // Under mu_, so two sources' reports reach the gauges in the order they were summed.
  metrics_->SetRunning(running_sum);
  metrics_->SetWaiting(waiting_sum);
}

int64_t LoadGauges::running() const {
  MutexLock lock(mu_);
  int64_t sum = 0;
  for (int64_t count : running_) sum += count;
  return sum;
}

int64_t LoadGauges::waiting() const {
  MutexLock lock(mu_);
  int64_t sum = 0;
  for (int64_t count : waiting_) sum += count;
  return sum;
}

Scheduler::Scheduler(int64_t max_running, int64_t max_waiting, SimMetrics* metrics)
    : max_running_(max_running),
      max_waiting_(max_waiting),
      own_gauges_(std::make_unique<LoadGauges>(metrics)),
      gauges_(own_gauges_.get()),
      source_(0) {
  MutexLock lock(mu_);
  PublishLocked();
}

Scheduler::Scheduler(int64_t max_running, int64_t max_waiting, LoadGauges* gauges, int source)
    : max_running_(max_running), max_waiting_(max_waiting), gauges_(gauges), source_(source) {
  MutexLock lock(mu_);
  PublishLocked();
}

Scheduler::Admission Scheduler::Admit(const std::shared_ptr<AdmissionTicket>& ticket) {
  MutexLock lock(mu_);
  // Waiting requests go first: a newcomer never overtakes the queue.
  if (running_ < max_running_ && queue_.empty()) {
    ++running_;
    PublishLocked();
    return Admission::kRunning;
  }
  if (static_cast<int64_t>(queue_.size()) >= max_waiting_) return Admission::kRejected;
  queue_.push_back(ticket);
  ticket->queue_position = std::prev(queue_.end());
  ticket->queued = true;
  PublishLocked();
  return Admission::kQueued;
}

void Scheduler::Finish() {
  std::shared_ptr<AdmissionTicket> next;
  {
    MutexLock lock(mu_);
    if (queue_.empty()) {
      if (running_ > 0) --running_;
    } else {
      // The slot passes straight to the oldest waiting request.
      next = std::move(queue_.front());
      queue_.pop_front();
      next->queued = false;
    }
    PublishLocked();
  }
  if (next == nullptr) return;
  const int64_t start_ns = MonotonicNowNs();
  engine::EventLoop* loop = next->loop;
  loop->Post([this, ticket = std::move(next), start_ns] {
    if (ticket->listener != nullptr) {
      ticket->listener->OnAdmitted(start_ns);
    } else {
      Finish();  // Its request went away after promotion: pass the slot on.
    }
  });
}

bool Scheduler::CancelWaiting(AdmissionTicket& ticket) {
  MutexLock lock(mu_);
  if (!ticket.queued) return false;
  queue_.erase(ticket.queue_position);
  ticket.queued = false;
  PublishLocked();
  return true;
}

int64_t Scheduler::waiting() const {
  MutexLock lock(mu_);
  return static_cast<int64_t>(queue_.size());
}

void Scheduler::PublishLocked() {
  running_snapshot_.store(running_, std::memory_order_relaxed);
  gauges_->Report(source_, running_, static_cast<int64_t>(queue_.size()));
}

}  // namespace bench::sim
