// One libuv loop driven by one thread, with Post() as the only way in from other threads
// (Envoy's dispatcher model). Every engine object lives on exactly one EventLoop.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "worker/engine/uv_handle.h"

namespace bench::engine {

// Owns a uv_loop_t. Create it on any thread; Run() it on the thread that will own it. Post() and
// Stop() are safe from any thread; everything else is for the loop thread only. The loop must
// outlive every handle, timer and connection created on it; Close() checks that none is left.
class EventLoop {
 public:
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  // Closes the loop if Close() was not called; aborts if handles are still open there (a leak).
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* loop() { return &loop_; }

  // Runs `task` on the loop thread, in posting order. Tasks posted after Close() are dropped.
  void Post(absl::AnyInvocable<void()> task);

  // Runs the loop on the calling thread until Stop(). Returns when stopped.
  void Run();
  // Makes Run() return after the current iteration. Any thread.
  void Stop();
  // Runs one non-blocking iteration (tests drive the loop by hand).
  void RunOnce();
  // Runs iterations until `done()` is true or no handle is active (then returns false).
  bool RunUntil(absl::AnyInvocable<bool()> done);

  // Closes the wake-up handle, lets pending close callbacks run and closes the loop. Returns
  // FailedPrecondition naming the count of handles still open (their owners leaked them).
  absl::Status Close();

  bool InLoopThread() const { return std::this_thread::get_id() == loop_thread_.load(); }

  // Scratch memory for socket reads on this loop. A read callback consumes its bytes before the
  // next read starts, so one buffer serves every connection of the loop (no per-connection
  // buffer: 10,000 idle connections cost no read memory).
  char* read_buffer() { return read_buffer_.get(); }
  static constexpr size_t kReadBufferBytes = 64 * 1024;

 private:
  EventLoop() = default;
  absl::Status Init();
  void RunPostedTasks();

  uv_loop_t loop_;  // Pinned: libuv keeps pointers to it.
  bool loop_initialised_ = false;
  bool closed_ = false;
  UvHandle<uv_async_t> wake_;
  std::atomic<std::thread::id> loop_thread_{};
  Mutex mu_;
  std::vector<absl::AnyInvocable<void()>> pending_ ABSL_GUARDED_BY(mu_);
  bool accepting_posts_ ABSL_GUARDED_BY(mu_) = true;
  std::unique_ptr<char[]> read_buffer_ = std::make_unique<char[]>(kReadBufferBytes);
};

// A one-shot or repeating timer on a loop, with millisecond resolution (libuv's). The callback
// runs on the loop thread. Not thread-safe; must not outlive its loop.
class Timer {
 public:
  explicit Timer(EventLoop& loop, absl::AnyInvocable<void()> on_fire);
  ~Timer() = default;
  Timer(const Timer&) = delete;  // Pinned: the handle's data points here.
  Timer& operator=(const Timer&) = delete;

  void Start(uint64_t timeout_ms, uint64_t repeat_ms = 0);
  void Stop();
  bool active() const;

 private:
  UvHandle<uv_timer_t> handle_;
  absl::AnyInvocable<void()> on_fire_;
};

}  // namespace bench::engine
