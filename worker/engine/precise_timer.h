// A timer with microsecond precision on a libuv loop. libuv's own timers have millisecond
// resolution, too coarse for a schedule of thousands of requests per second; this one arms a
// timerfd (CLOCK_MONOTONIC, absolute time) that the loop polls like a socket.
#pragma once

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "worker/engine/event_loop.h"

namespace bench::engine {

// Owned by one object on the loop thread; must not outlive the loop. Not thread-safe.
class PreciseTimer {
 public:
  PreciseTimer(EventLoop& loop, absl::AnyInvocable<void()> on_fire);
  ~PreciseTimer();
  PreciseTimer(const PreciseTimer&) = delete;  // Pinned: the poll handle points here.
  PreciseTimer& operator=(const PreciseTimer&) = delete;

  // Fires once at `deadline_ns` on the MonotonicNowNs() clock (at once if it has passed).
  // Re-arming replaces the previous deadline.
  void ArmAt(int64_t deadline_ns);
  void Disarm();

 private:
  void OnReadable();

  int fd_ = -1;
  UvHandle<uv_poll_t> poll_;
  absl::AnyInvocable<void()> on_fire_;
};

}  // namespace bench::engine
