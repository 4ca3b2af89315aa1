// Incremental text/event-stream (Server-Sent Events) parser that follows the WHATWG HTML
// "Server-sent events" interpretation rules. Bytes in, events out: it never reads a clock or a
// socket, so the caller timestamps bytes when it reads them and then feeds them here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace bench::engine {

// One dispatched event. The views are valid only during the on_event call.
struct SseEvent {
  std::string_view type;  // "message" unless an `event:` field set another type.
  std::string_view data;  // The data lines joined with LF (final LF removed).
  std::string_view id;    // The last event ID buffer (persists across events, per WHATWG).
};

// Parses one response body at a time; Reset() prepares it for the next. Owned by one connection
// or stream, used from its thread only. Allocation-free in steady state: a partial line or
// multi-line data is copied into internal buffers that keep their capacity.
class SseParser {
 public:
  static constexpr size_t kDefaultMaxLineBytes = size_t{1} << 20;
  static constexpr size_t kDefaultMaxEventDataBytes = size_t{4} << 20;

  // `max_line_bytes` bounds one line (without its terminator); `max_event_data_bytes` bounds the
  // data of one event (lines joined with LF). Both must be > 0.
  explicit SseParser(size_t max_line_bytes = kDefaultMaxLineBytes,
                     size_t max_event_data_bytes = kDefaultMaxEventDataBytes);

  SseParser(const SseParser&) = delete;
  SseParser& operator=(const SseParser&) = delete;

  // Calls `on_event` for each event completed by `bytes`, in order. `on_event` must not call
  // back into this parser. A line or event over its limit returns ResourceExhaustedError; the
  // parser then stays failed (every later Feed returns the same error) until Reset().
  absl::Status Feed(std::string_view bytes, absl::FunctionRef<void(const SseEvent&)> on_event);

  // For end of stream: true when the bytes so far end inside a line, or after a field line that
  // no empty line has closed yet (the engine counts such a stream as truncated). An unterminated
  // event is never dispatched (WHATWG). Always true after a failed Feed().
  bool EndedMidEvent() const;

  // Forgets everything, including the failed state and the last event ID; keeps capacity.
  void Reset();

  // Comment lines (starting with ':'); servers send them as keep-alives.
  uint64_t comment_count() const { return comment_count_; }
  // Events dispatched since construction or Reset().
  uint64_t event_count() const { return event_count_; }
  // The last valid `retry:` value in milliseconds (saturated), if any.
  std::optional<uint64_t> retry_ms() const { return retry_ms_; }
  size_t max_line_bytes() const { return max_line_bytes_; }
  size_t max_event_data_bytes() const { return max_event_data_bytes_; }

 private:
  void FeedLines(std::string_view bytes, absl::FunctionRef<void(const SseEvent&)> on_event);
  // `in_input` is true when `line` points into the caller's buffer (not into line_buf_).
  void ProcessLine(std::string_view line, bool in_input,
                   absl::FunctionRef<void(const SseEvent&)> on_event);
  void AppendData(std::string_view value, bool in_input);
  void Dispatch(absl::FunctionRef<void(const SseEvent&)> on_event);
  void Fail(absl::Status status);

  size_t max_line_bytes_;
  size_t max_event_data_bytes_;
  absl::Status status_;

  // Stream position state.
  uint8_t bom_matched_ = 0;  // Bytes of a leading UTF-8 BOM seen so far.
  bool bom_done_ = false;    // The BOM (or its absence) has been settled.
  bool skip_lf_ = false;     // The last line ended with CR: a following LF belongs to it.
  std::string line_buf_;     // The start of a line that the previous Feed() did not finish.

  // Event state.
  bool event_open_ = false;    // A field line was seen since the last empty line.
  bool has_data_ = false;      // The data buffer is not empty (at least one data line).
  bool data_in_view_ = false;  // The data is the single line data_view_, still in the input.
  std::string_view data_view_;
  std::string data_buf_;       // Joined data lines, without the final LF.
  std::string event_type_;     // Empty means "message".
  std::string last_event_id_;  // Persists across events.
  std::optional<uint64_t> retry_ms_;

  uint64_t comment_count_ = 0;
  uint64_t event_count_ = 0;
};

}  // namespace bench::engine
