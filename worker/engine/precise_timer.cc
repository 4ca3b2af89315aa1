#include "worker/engine/precise_timer.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/check.h"

namespace bench::engine {

PreciseTimer::PreciseTimer(EventLoop& loop, absl::AnyInvocable<void()> on_fire)
    : on_fire_(std::move(on_fire)) {
  fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  BENCH_CHECK(fd_ >= 0) << "timerfd_create: " << std::strerror(errno);
  BENCH_CHECK_OK(poll_.Init(loop.loop(), uv_poll_init, "uv_poll_init", fd_));
  poll_.get()->data = this;
  uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* handle, int status, int) {
    auto* self = static_cast<PreciseTimer*>(handle->data);
    if (self != nullptr && status == 0) self->OnReadable();
  });
}

PreciseTimer::~PreciseTimer() {
  // Stop polling before the descriptor goes away; the handle's memory is freed by libuv later.
  uv_poll_stop(poll_.get());
  poll_.Close();
  close(fd_);
}

void PreciseTimer::ArmAt(int64_t deadline_ns) {
  // An absolute deadline of 0 would disarm: never pass it.
  if (deadline_ns < 1) deadline_ns = 1;
  itimerspec spec;
  std::memset(&spec, 0, sizeof(spec));
  spec.it_value.tv_sec = deadline_ns / 1'000'000'000;
  spec.it_value.tv_nsec = deadline_ns % 1'000'000'000;
  timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void PreciseTimer::Disarm() {
  itimerspec spec;
  std::memset(&spec, 0, sizeof(spec));
  timerfd_settime(fd_, 0, &spec, nullptr);
}

void PreciseTimer::OnReadable() {
  uint64_t expirations = 0;
  // EAGAIN when a re-arm raced the wake-up: nothing to do.
  if (read(fd_, &expirations, sizeof(expirations)) != sizeof(expirations)) return;
  on_fire_();
}

}  // namespace bench::engine
