// Time sources. Measurements use MonotonicClock (CLOCK_MONOTONIC, integer nanoseconds);
// tests substitute FakeClock so schedules and timeouts are deterministic.
#pragma once

#include <atomic>
#include <cstdint>

namespace bench {

// A monotonic time source in nanoseconds since an arbitrary epoch. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNs() const = 0;
};

// CLOCK_MONOTONIC: never jumps with wall-clock changes; vDSO-backed, about 20 ns a read.
class MonotonicClock final : public Clock {
 public:
  // The process-wide instance; never destroyed.
  static MonotonicClock& Get();
  int64_t NowNs() const override;
};

// Time moves only when a test moves it. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ns = 0) : now_ns_(start_ns) {}
  int64_t NowNs() const override { return now_ns_.load(std::memory_order_acquire); }
  void SetNs(int64_t now_ns) { now_ns_.store(now_ns, std::memory_order_release); }
  void AdvanceNs(int64_t delta_ns) { now_ns_.fetch_add(delta_ns, std::memory_order_acq_rel); }

 private:
  std::atomic<int64_t> now_ns_;
};

// Reads CLOCK_MONOTONIC directly; for hot paths that must not pay a virtual call.
int64_t MonotonicNowNs();

}  // namespace bench
