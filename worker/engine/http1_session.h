// The client side of HTTP/1.1 as a bytes-only object: http-parser behind EncodeRequest()/
// Receive()/OnPeerClosed(), no sockets, no clock. One request at a time on a keep-alive
// connection; the connection writes what EncodeRequest() produced and feeds what it read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "worker/engine/request_head.h"
#include "worker/engine/response_head.h"

struct http_parser;

namespace bench::engine {

// The head of a final (non-1xx) response. Views are valid only during the listener call.
struct Http1ResponseHead : ResponseHead {
  int http_major = 1;
  int http_minor = 1;  // 0 for an HTTP/1.0 response.
};

// What a response reports. Called on the session's thread from inside Receive() or
// OnPeerClosed(). The listener must not destroy the session or call Receive()/OnPeerClosed()
// from these calls (the session's frames are on the stack); it may call EncodeRequest() from
// OnResponseComplete() to queue the next request on a keep-alive connection.
class Http1Listener {
 public:
  virtual ~Http1Listener() = default;
  // Once per response, after any 1xx interim responses (which are skipped).
  virtual void OnResponseHeaders(const Http1ResponseHead& head) = 0;
  // Body bytes with the chunked framing removed, as soon as a Receive() contains them. `data`
  // is valid only during the call.
  virtual void OnResponseData(std::string_view data) = 0;
  // The response ended. `keep_alive` false: the connection must be closed, no further request.
  virtual void OnResponseComplete(bool keep_alive) = 0;
};

// One HTTP/1.1 client connection's protocol state. Owned by its connection; single-threaded;
// the listener must outlive it. Allocation-free per response (beyond what the listener and the
// caller's output buffer do).
//
// Errors, for the engine's outcome categories (SPEC section 3):
//   kInvalidArgument     malformed response (protocol), or bytes with no request pending;
//   kDataLoss            the peer closed mid-response (truncated_stream);
//   kUnavailable         the peer closed before any byte of a response (idle or just-sent
//                        request: the engine decides whether to retry);
//   kFailedPrecondition  misuse: a request while one is in progress, or after a failure/close.
// After an error from Receive() or OnPeerClosed() the session is finished.
class Http1ClientSession {
 public:
  // Reason phrases longer than this are a protocol error (bounds the status line; the whole
  // head is bounded by http-parser's HTTP_MAX_HEADER_SIZE, 80 KiB).
  static constexpr size_t kMaxReasonPhraseBytes = 1024;
  static constexpr size_t kMaxContentTypeBytes = kMaxHeaderValueBytes;

  explicit Http1ClientSession(Http1Listener* listener);
  ~Http1ClientSession();
  Http1ClientSession(const Http1ClientSession&) = delete;  // Pinned: http-parser holds `this`.
  Http1ClientSession& operator=(const Http1ClientSession&) = delete;

  // Appends the request (head and body) to `out`. Adds Host (from `head.authority`) and, when
  // there is a body or the method expects one, Content-Length. Rejects with kInvalidArgument
  // a method, path, authority or header that would break the framing (CR, LF, NUL; names must
  // be tokens) and headers the session owns (host, content-length, transfer-encoding); nothing
  // is appended then. kFailedPrecondition while a request is in progress or the connection is
  // closing or failed.
  absl::Status EncodeRequest(const RequestHead& head, std::string_view body, std::string& out);

  // Processes bytes read from the peer; listener calls happen inside. Bytes after a complete
  // response are parsed as the next response if the listener queued a request in
  // OnResponseComplete(), otherwise they are an error (stray CR/LF between responses aside).
  absl::Status Receive(std::string_view bytes);

  // The peer closed the connection (EOF). Completes a body delimited by the close; see the
  // class comment for the error codes. OK also when idle after a response that ended the
  // connection (Connection: close).
  absl::Status OnPeerClosed();

  // A request was encoded and its final response has not completed.
  bool request_in_progress() const { return phase_ != Phase::kIdle; }
  // At least one byte of the current response has arrived.
  bool response_started() const { return phase_ == Phase::kInResponse; }
  // A new request may be encoded now.
  bool ready_for_request() const { return phase_ == Phase::kIdle && !closing_ && !finished_; }

 private:
  struct Callbacks;  // The C callbacks; they record and forward to the listener.
  enum class Phase { kIdle, kAwaitingResponse, kInResponse };

  absl::Status Fail(absl::Status status);
  // Resets http-parser and the per-response state for the next response head.
  void StartResponse();
  // Called after http-parser paused at a message end: skips an interim response or reports the
  // final one.
  void FinishMessage();
  absl::Status TruncatedError() const;

  Http1Listener* listener_;
  std::unique_ptr<http_parser> parser_;
  Phase phase_ = Phase::kIdle;
  bool request_is_head_ = false;
  bool request_asked_close_ = false;  // The request carried `connection: close`.
  bool closing_ = false;              // The last response ended the connection.
  bool finished_ = false;             // Failed or peer-closed: no further use.

  // Per response (reset by StartResponse()).
  bool interim_ = false;           // The current message is a 1xx response.
  bool headers_done_ = false;      // The final head was reported; later header calls are trailers.
  bool message_complete_ = false;  // http-parser reported the end of a message and paused.
  bool in_header_field_ = false;   // The last header callback was for a name (not a value).
  HeaderCapture content_type_{"content-type"};
  HeaderCapture content_encoding_{"content-encoding"};
  HeaderCapture location_{"location"};
  size_t reason_phrase_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  // Set by a callback that rejects the response; becomes the returned error.
  const char* callback_error_ = nullptr;
};

}  // namespace bench::engine
