// The server side of HTTP/1.1 as a bytes-only object: http-parser in request mode behind
// Receive(), and response encoders (Content-Length or chunked streaming) that append to the
// caller's buffer. No sockets, no clock. Used by bench-sim; the connection owns the socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

struct http_parser;

namespace bench::engine {

// One complete request (head and whole body). Views are valid only during the listener call.
struct Http1ServerRequest {
  std::string_view method;  // "GET", "POST" ...
  std::string_view target;  // The request-target as sent: "/v1/models?x=1".
  std::string_view body;    // Chunked framing removed.
  int http_minor = 1;       // 0 for HTTP/1.0.
  // The value of Http1ServerOptions::capture_header (cut at 32 bytes), or empty.
  std::string_view captured_header;
};

// Called on the session's thread from inside Receive()/Resume(). The listener may encode the
// response from OnRequest() (then parsing continues with the next pipelined request) or later;
// it must not destroy the session or call Receive()/Resume() from the call.
class Http1ServerListener {
 public:
  virtual ~Http1ServerListener() = default;
  virtual void OnRequest(const Http1ServerRequest& request) = 0;
};

struct Http1ServerOptions {
  // Larger bodies are refused with 413 (before the body is read when Content-Length says so).
  size_t max_body_bytes = size_t{8} << 20;
  // Pipelined bytes held while a response is in progress; more is a protocol error.
  size_t max_pending_input_bytes = size_t{1} << 20;
  // Request-targets longer than this get 414.
  size_t max_target_bytes = 8192;
  // One request header (lower-case name, at most 16 bytes) whose value reaches the listener as
  // Http1ServerRequest::captured_header; empty for none.
  std::string capture_header;
};

// One HTTP/1.1 server connection's protocol state: requests are handled one at a time, in order
// (pipelined requests wait in a bounded buffer until the current response ends). Owned by its
// connection; single-threaded; the listener must outlive it.
//
// Receive() errors (after one, the session only encodes the error response, then the connection
// closes); FailureHttpStatus() gives the status to answer with:
//   kInvalidArgument    malformed request (400), or an unsupported HTTP version (505);
//   kOutOfRange         body over max_body_bytes (413) or target over max_target_bytes (414);
//   kResourceExhausted  head over http-parser's 80 KiB (431) or too much pipelined input (400).
class Http1ServerSession {
 public:
  Http1ServerSession(Http1ServerListener* listener, Http1ServerOptions options = {});
  ~Http1ServerSession();
  Http1ServerSession(const Http1ServerSession&) = delete;  // Pinned: http-parser holds `this`.
  Http1ServerSession& operator=(const Http1ServerSession&) = delete;

  // Processes bytes read from the peer; OnRequest() calls happen inside. Protocol replies the
  // session makes itself (100 Continue) are appended to `out`. While a response is in progress
  // the bytes are only buffered.
  absl::Status Receive(std::string_view bytes, std::string& out);
  // Parses input buffered during the response that just ended. Call after EndStream() (or a
  // deferred EncodeResponse()) when has_pending_input().
  absl::Status Resume(std::string& out);
  bool has_pending_input() const { return !pending_input_.empty(); }

  // Appends a whole response with Content-Length. `extra_headers` are "Name: value" pairs the
  // caller vouches for (no CR/LF). Allowed while a request awaits its response, and after a
  // Receive() error (the response then says Connection: close). kFailedPrecondition otherwise.
  absl::Status EncodeResponse(
      int http_status, std::string_view content_type, std::string_view body, std::string& out,
      const std::vector<std::pair<std::string_view, std::string_view>>& extra_headers = {});
  // Starts a streamed response: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
  absl::Status BeginStream(int http_status, std::string_view content_type, std::string& out);
  // Appends `data` as one chunk (nothing for empty data: an empty chunk would end the body).
  void EncodeStreamData(std::string_view data, std::string& out);
  // Ends the streamed response (the last chunk).
  void EndStream(std::string& out);

  // Part of a request has been parsed, not yet all of it.
  bool request_incomplete() const { return message_begun_; }
  // Bytes held for requests not yet whole: the one being parsed (target and body so far) and
  // input buffered behind a response.
  size_t buffered_request_bytes() const {
    return pending_input_.size() + (message_begun_ ? target_.size() + body_.size() : 0);
  }
  // A request has been delivered and its response has not ended.
  bool response_in_progress() const { return phase_ != Phase::kIdle; }
  bool streaming() const { return phase_ == Phase::kStreaming; }
  // The last response ended the connection (Connection: close, HTTP/1.0, a Receive() error):
  // close after writing what was encoded.
  bool should_close() const { return should_close_; }
  // The HTTP status to answer a Receive() error with (0 when there was none).
  int failure_http_status() const { return failure_http_status_; }

 private:
  struct Callbacks;
  enum class Phase { kIdle, kAwaitingResponse, kStreaming };

  void StartRequest();
  absl::Status Parse(std::string_view bytes, std::string& out);
  absl::Status Fail(absl::StatusCode code, int http_status, std::string_view message);
  void AppendHead(int http_status, std::string_view content_type, std::string& out);
  void FinishResponse();

  Http1ServerListener* listener_;
  Http1ServerOptions options_;
  std::unique_ptr<http_parser> parser_;
  Phase phase_ = Phase::kIdle;
  bool failed_ = false;
  bool should_close_ = false;
  int failure_http_status_ = 0;
  std::string pending_input_;
  std::string* out_ = nullptr;  // The caller's output buffer, during Parse() only.

  // The request being parsed (reset by StartRequest()); buffers keep their capacity.
  std::string target_;
  std::string body_;
  std::string header_name_;  // Lower-cased, cut at kMaxTrackedNameBytes.
  bool in_header_field_ = false;
  bool value_is_expect_ = false;
  bool value_is_captured_ = false;
  std::string captured_value_;
  bool expect_continue_ = false;
  bool message_complete_ = false;
  bool message_begun_ = false;    // A request's first bytes were parsed, not yet its end.
  int callback_http_status_ = 0;  // Set by a callback that rejects the request.
  absl::StatusCode callback_code_ = absl::StatusCode::kOk;
  const char* callback_error_ = nullptr;

  // The request being answered.
  bool request_is_head_ = false;
  bool request_keep_alive_ = true;
  int request_http_minor_ = 1;
};

}  // namespace bench::engine
