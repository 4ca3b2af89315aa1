// What both HTTP sessions report of a final response's head, and the header checks the load
// driver makes on it (a stream request must get text/event-stream, unencoded).
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace bench::engine {

// The views are valid only during the call that passes the head.
struct ResponseHead {
  int http_status = 0;
  // Content-Type is text/event-stream (case-insensitive, parameters ignored).
  bool event_stream = false;
  // The last Content-Type and Content-Encoding values, each cut to kMaxHeaderValueBytes; empty
  // when absent.
  std::string_view content_type;
  std::string_view content_encoding;
  std::string_view location;  // likewise: where a redirect pointed
  // The declared Content-Length; -1 when none was sent (chunked, close-delimited, or an HTTP/2
  // response without the header).
  int64_t content_length = -1;
};

inline constexpr size_t kMaxHeaderValueBytes = 128;

// The media type is text/event-stream; parameters such as `; charset=utf-8` are ignored.
bool IsEventStream(std::string_view content_type);
// No content coding was applied: the header is absent or says identity.
bool IsIdentityEncoding(std::string_view content_encoding);

// Follows one header field, whose name arrives in pieces (HTTP/1.1 parser callbacks), and keeps
// its last value cut to kMaxHeaderValueBytes; names match case-insensitively.
class HeaderCapture {
 public:
  // `lower_name`: the field name in lower case; must outlive the object.
  explicit HeaderCapture(std::string_view lower_name) : name_(lower_name) {}

  void StartName() {
    matched_ = 0;
    may_match_ = true;
  }
  void NameBytes(std::string_view bytes);
  // The name ended and its value begins: a matching name starts a new value (the last wins).
  void StartValue();
  void ValueBytes(std::string_view bytes);
  std::string_view value() const { return std::string_view(value_.data(), length_); }
  void Reset();

 private:
  std::string_view name_;
  size_t matched_ = 0;
  bool may_match_ = false;
  bool capturing_ = false;
  size_t length_ = 0;
  std::array<char, kMaxHeaderValueBytes> value_{};
};

}  // namespace bench::engine
