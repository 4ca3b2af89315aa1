#include "worker/engine/event_loop.h"

#include <utility>

#include "absl/base/config.h"

#ifdef ABSL_HAVE_THREAD_SANITIZER
#include <dlfcn.h>
#include <sanitizer/linux_syscall_hooks.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#endif

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace bench::engine {

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  std::unique_ptr<EventLoop> event_loop(new EventLoop());
  absl::Status status = event_loop->Init();
  if (!status.ok()) return status;
  return event_loop;
}

absl::Status EventLoop::Init() {
  BENCH_RETURN_IF_ERROR(UvError(uv_loop_init(&loop_), "uv_loop_init"));
  loop_initialised_ = true;
  loop_.data = this;
  absl::Status status = wake_.Init(&loop_, uv_async_init, "uv_async_init", [](uv_async_t* async) {
    auto* self = static_cast<EventLoop*>(async->data);
    if (self != nullptr) self->RunPostedTasks();
  });
  if (!status.ok()) return status;
  wake_.get()->data = this;
  return absl::OkStatus();
}

EventLoop::~EventLoop() {
  if (!loop_initialised_ || closed_) return;
  absl::Status status = Close();
  if (!status.ok()) {
    // The loop's memory must stay valid for the leaked handles: leak it rather than crash later.
    BENCH_LOG(ERROR) << "event loop destroyed with open handles: " << status;
  }
}

void EventLoop::Post(absl::AnyInvocable<void()> task) {
  {
    MutexLock lock(mu_);
    if (!accepting_posts_) return;
    pending_.push_back(std::move(task));
  }
  uv_async_send(wake_.get());  // The one libuv call that is safe from any thread.
}

void EventLoop::RunPostedTasks() {
  std::vector<absl::AnyInvocable<void()>> tasks;
  {
    MutexLock lock(mu_);
    tasks.swap(pending_);
  }
  for (auto& task : tasks) task();
}

void EventLoop::Run() {
  loop_thread_.store(std::this_thread::get_id());
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void EventLoop::Stop() {
  Post([this] { uv_stop(&loop_); });
}

void EventLoop::RunOnce() {
  loop_thread_.store(std::this_thread::get_id());
  uv_run(&loop_, UV_RUN_NOWAIT);
}

bool EventLoop::RunUntil(absl::AnyInvocable<bool()> done) {
  loop_thread_.store(std::this_thread::get_id());
  // The wake-up handle alone must not keep a test waiting forever.
  uv_unref(wake_.base());
  bool reached = true;
  while (!done()) {
    if (uv_run(&loop_, UV_RUN_ONCE) == 0 && !done()) {
      reached = false;
      break;
    }
  }
  uv_ref(wake_.base());
  return reached;
}

absl::Status EventLoop::Close() {
  if (closed_ || !loop_initialised_) return absl::OkStatus();
  std::vector<absl::AnyInvocable<void()>> dropped;
  {
    MutexLock lock(mu_);
    accepting_posts_ = false;
    dropped.swap(pending_);
  }
  dropped.clear();  // Destroy undelivered tasks here, on the loop's thread.
  wake_.Close();
  // Close callbacks run on the next iterations; a few NOWAIT turns deliver them all.
  for (int turn = 0; turn < 16; ++turn) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop_) == 0) {
      closed_ = true;
      return absl::OkStatus();
    }
  }
  int open_handles = 0;
  uv_walk(
      &loop_,
      [](uv_handle_t* handle, void* count) {
        if (!uv_is_closing(handle)) ++*static_cast<int*>(count);
      },
      &open_handles);
  return absl::FailedPreconditionError(
      absl::StrCat("event loop closed with ", open_handles, " handle(s) still open"));
}

Timer::Timer(EventLoop& loop, absl::AnyInvocable<void()> on_fire) : on_fire_(std::move(on_fire)) {
  BENCH_CHECK_OK(handle_.Init(loop.loop(), uv_timer_init, "uv_timer_init"));
  handle_.get()->data = this;
}

void Timer::Start(uint64_t timeout_ms, uint64_t repeat_ms) {
  uv_timer_start(
      handle_.get(),
      [](uv_timer_t* timer) {
        auto* self = static_cast<Timer*>(timer->data);
        if (self != nullptr) self->on_fire_();
      },
      timeout_ms, repeat_ms);
}

void Timer::Stop() { uv_timer_stop(handle_.get()); }

bool Timer::active() const { return uv_is_active(handle_.base()) != 0; }

}  // namespace bench::engine

#ifdef ABSL_HAVE_THREAD_SANITIZER
// libuv closes descriptors with syscall(SYS_close), which ThreadSanitizer does not see. It then
// takes a descriptor another thread opens later under the same number without telling it (a
// timerfd, OpenSSL's opendir) for the closed socket, and reports a race between threads that
// never shared a descriptor. In TSan builds libc's syscall() is replaced by one that reports those
// closes, as a libuv built with TSan does itself.
extern "C" long syscall(long number, ...) noexcept {
  std::va_list args;
  va_start(args, number);
  long arg[6];
  for (long& value : arg) value = va_arg(args, long);
  va_end(args);
  using Syscall = long (*)(long, ...);
  static const Syscall real_syscall = reinterpret_cast<Syscall>(dlsym(RTLD_NEXT, "syscall"));
  if (number == SYS_close) __sanitizer_syscall_pre_close(arg[0]);
  long result = real_syscall(number, arg[0], arg[1], arg[2], arg[3], arg[4], arg[5]);
  if (number == SYS_close) __sanitizer_syscall_post_close(result, arg[0]);
  return result;
}
#endif
