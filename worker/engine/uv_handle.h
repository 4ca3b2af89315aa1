// Ownership of libuv handles: one owner, the destructor closes, the close callback frees.
// libuv may still touch a handle's memory after uv_close() returns, so the memory is released
// only in the close callback (libuv's own rule), never by the owner.
#pragma once

#include <uv.h>

#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace bench::engine {

// Turns a libuv return code into a Status naming the call, e.g. UvError(rc, "uv_tcp_connect").
inline absl::Status UvError(int rc, std::string_view what) {
  if (rc >= 0) return absl::OkStatus();
  const std::string message =
      absl::StrCat(std::string(what), ": ", uv_err_name(rc), " (", uv_strerror(rc), ")");
  switch (rc) {
    case UV_EINVAL:
      return absl::InvalidArgumentError(message);
    case UV_ENOMEM:
    case UV_EMFILE:
    case UV_ENFILE:
      return absl::ResourceExhaustedError(message);
    case UV_ETIMEDOUT:
      return absl::DeadlineExceededError(message);
    case UV_EADDRINUSE:
      return absl::AlreadyExistsError(message);
    case UV_ECANCELED:
      return absl::CancelledError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Owns one libuv handle of type T (uv_timer_t, uv_tcp_t, uv_async_t ...). Move-only.
// `data` of the handle is left to the user; Close() clears it so late callbacks can tell the
// owner is gone.
template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  ~UvHandle() { Close(); }
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      Close();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  // Allocates and initialises the handle with `init(loop, handle, args...)`.
  template <typename InitFn, typename... Args>
  absl::Status Init(uv_loop_t* loop, InitFn init, std::string_view what, Args&&... args) {
    Close();
    auto* handle = new T();
    const int rc = init(loop, handle, std::forward<Args>(args)...);
    if (rc < 0) {
      delete handle;  // Never registered with the loop: safe to free now.
      return UvError(rc, what);
    }
    handle_ = handle;
    return absl::OkStatus();
  }

  T* get() const { return handle_; }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  explicit operator bool() const { return handle_ != nullptr; }

  // Idempotent. The handle's memory outlives this call until libuv is done with it.
  void Close() {
    if (handle_ == nullptr) return;
    auto* base = reinterpret_cast<uv_handle_t*>(std::exchange(handle_, nullptr));
    base->data = nullptr;  // Callbacks check for null: the owner may already be gone.
    uv_close(base, [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
  }

  // TCP only: closes with a reset (RST) instead of an orderly FIN; unsent data is dropped.
  // Falls back to Close() when libuv refuses (the handle is shutting down).
  void CloseWithReset() requires std::is_same_v<T, uv_tcp_t> {
    if (handle_ == nullptr) return;
    handle_->data = nullptr;
    if (uv_tcp_close_reset(handle_, [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); }) == 0) {
      handle_ = nullptr;
      return;
    }
    Close();
  }

 private:
  T* handle_ = nullptr;
};

}  // namespace bench::engine
