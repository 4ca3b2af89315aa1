// The server side of HTTP/2 as a bytes-only object: nghttp2's server session behind
// Receive()/DrainOutput(), the mirror of http2_session.h's client. No sockets, no clock;
// bench-sim's connection feeds it what it read and writes what it drains.
//
// Response bodies are framed here, not by nghttp2: a token event is one DATA frame, and
// nghttp2's per-frame work (its send queue, a data-provider call to read and one more to defer,
// a resume per event) was most of bench-sim's cost per token. nghttp2 keeps everything else -
// request parsing, HEADERS, SETTINGS, resets, GOAWAY, and each stream's end (an empty DATA frame
// with END_STREAM, so its stream states stay right). The flow control of those DATA frames is
// therefore ours: WINDOW_UPDATE frames are taken out of the input before nghttp2 sees them (its
// own send windows, never spent, would otherwise overflow), and SETTINGS are read on their way
// in for the peer's initial window and largest frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct nghttp2_session;

namespace bench::engine {

// One complete request (HEADERS and all DATA up to END_STREAM). Views are valid only during the
// listener call.
struct Http2ServerRequest {
  int32_t stream_id = 0;
  std::string_view method;
  std::string_view path;  // :path as sent, with any query
  std::string_view authority;
  std::string_view scheme;
  std::string_view body;
  // The body went over Http2ServerOptions::max_body_bytes; `body` is then empty and the listener
  // should answer 413.
  bool body_too_large = false;
  // The value of Http2ServerOptions::capture_header, or empty.
  std::string_view captured_header;
};

// Called on the session's thread. OnRequest() comes from inside Receive(); OnStreamClosed() from
// inside Receive() (the client reset the stream) or DrainOutput() (the response's last frame went
// out). The listener may submit responses and resets from these calls but must not destroy the
// session or call Receive()/DrainOutput() again (record, then act after the call returns).
class Http2ServerListener {
 public:
  virtual ~Http2ServerListener() = default;
  virtual void OnRequest(const Http2ServerRequest& request) = 0;
  // The stream is gone; error_code 0 is a clean end, otherwise an RST_STREAM code.
  virtual void OnStreamClosed(int32_t stream_id, uint32_t error_code) = 0;
};

struct Http2ServerOptions {
  uint32_t max_concurrent_streams = 10'000;
  // Our receive window per stream and per connection (request bodies); large, so a prompt never
  // waits for a WINDOW_UPDATE round trip.
  uint32_t stream_window_bytes = 1u << 20;
  uint32_t connection_window_bytes = 1u << 30;
  size_t max_body_bytes = size_t{8} << 20;
  // One request header (lower-case name) whose value reaches the listener as
  // Http2ServerRequest::captured_header; empty for none.
  std::string capture_header;
};

// One HTTP/2 server connection's protocol state. Owned by its connection; single-threaded; the
// listener must outlive it.
class Http2ServerSession {
 public:
  static absl::StatusOr<std::unique_ptr<Http2ServerSession>> Create(
      Http2ServerListener* listener, const Http2ServerOptions& options);
  ~Http2ServerSession();
  Http2ServerSession(const Http2ServerSession&) = delete;  // Pinned: nghttp2 holds `this`.
  Http2ServerSession& operator=(const Http2ServerSession&) = delete;

  using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;

  // Queues a whole response (HEADERS, then DATA with END_STREAM). Header names must be
  // lower-case. kNotFound when the stream is gone (the client reset it).
  absl::Status SubmitResponse(int32_t stream_id, int http_status, std::string_view content_type,
                              std::string_view body, const HeaderList& extra_headers = {});
  // Queues the HEADERS of a streamed response; its body follows with SendStreamData().
  absl::Status SubmitStreamHead(int32_t stream_id, int http_status, std::string_view content_type);
  // Sends `data` on a streamed response. `out` is the buffer DrainOutput() appends to, written
  // to the peer in order: when none of the stream's bytes wait and the windows take `data` whole,
  // it goes there at once as one DATA frame (the common case, and the cheap one: no copy kept per
  // stream). Otherwise, or with no `out` (a connection not writing for now), it is queued behind
  // the waiting bytes and framed by DrainOutput(), as far as the frame size and the windows let
  // it; what a stream queued between two DrainOutput() calls leaves as one frame.
  absl::Status SendStreamData(int32_t stream_id, std::string_view data, std::string* out);
  // Starts loading a stream's state (a hint for a caller about to send on it).
  void PrefetchStream(int32_t stream_id) const;
  // Ends a streamed response (END_STREAM after the queued data).
  absl::Status EndStream(int32_t stream_id);
  // Queues RST_STREAM for a stream.
  absl::Status ResetStream(int32_t stream_id, uint32_t error_code);
  // Queues GOAWAY; the session then takes no new streams.
  absl::Status Terminate(uint32_t error_code);

  // Processes bytes read from the peer; listener calls happen inside. A protocol error by the
  // peer does not return an error: nghttp2 queues GOAWAY and WantsRead()/WantsWrite() turn false.
  // The exception is a bad connection preface (not HTTP/2 at all): kInvalidArgument.
  absl::Status Receive(std::string_view bytes);
  // Appends everything queued for the peer to `out`.
  absl::Status DrainOutput(std::string& out);

  bool WantsRead() const;
  bool WantsWrite() const;
  // Streams with state in this session (request or response not finished).
  size_t open_streams() const { return streams_.size(); }
  // Response bytes queued by SendStreamData()/SubmitResponse() and not yet framed (flow control
  // or the owner not draining). Walks the streams: for occasional checks.
  size_t PendingBytes() const;
  // Streams whose request has begun (HEADERS) and not yet arrived whole.
  size_t IncompleteRequests() const;
  // Request body bytes held for requests not yet whole (a body is let go once delivered).
  size_t buffered_request_bytes() const { return buffered_request_bytes_; }

 private:
  struct Callbacks;  // The C callbacks; they record and forward to the listener.
  // Per-stream state: the request as it arrives, then the response body waiting to be framed.
  struct Stream {
    // What SendStreamData() reads first, together in one cache line.
    bool response_submitted = false;
    bool head_sent = false;  // nghttp2 has written the response's HEADERS
    bool end_after_pending = false;
    bool dirty = false;     // in dirty_
    bool deferred = false;  // The data provider (the stream's end) returned DEFERRED.
    int32_t id = 0;
    int64_t send_window = 0;  // the peer's flow-control window for this stream
    size_t pending_offset = 0;
    std::string pending;  // Response bytes not yet framed; keeps its capacity.

    std::string method;
    std::string path;
    std::string authority;
    std::string scheme;
    std::string captured_header;
    std::string body;
    bool body_too_large = false;
    bool request_delivered = false;
  };

  // Where Receive() is in the peer's byte stream.
  enum class InputState {
    kMagic,         // the client connection preface
    kHeader,        // collecting a frame header (in frame_)
    kPassPayload,   // inside a frame nghttp2 reads (a SETTINGS one is also kept in frame_)
    kWindowUpdate,  // collecting a WINDOW_UPDATE frame (in frame_)
  };

  explicit Http2ServerSession(Http2ServerListener* listener) : listener_(listener) {}
  Stream* FindStream(int32_t stream_id);
  // Hands feed_ to nghttp2.
  absl::Status FlushFeed();
  // Ends the connection with FLOW_CONTROL_ERROR (a window past 2^31-1).
  absl::Status FlowControlError();
  // The session is not over (nghttp2 still reads or writes): response bodies may go out.
  bool SendsBodies() const;
  // A whole WINDOW_UPDATE frame (in frame_): ours, or handed to nghttp2.
  absl::Status OnWindowUpdate();
  // A whole SETTINGS frame nghttp2 has been given (in frame_): the peer's window and frame size;
  // an initial window that overflows a stream's window ends the connection.
  absl::Status OnSettings();
  void MarkDirty(Stream* stream);
  // Our DATA frames for the dirty streams, as far as the windows let them.
  void WriteData(std::string& out);
  absl::Status Submit(int32_t stream_id, int http_status, std::string_view content_type,
                      const HeaderList& extra_headers, Stream* stream);

  Http2ServerListener* listener_;
  Http2ServerOptions options_;
  // nghttp2 holds raw pointers to these as stream user data.
  absl::flat_hash_map<int32_t, std::unique_ptr<Stream>> streams_;
  size_t buffered_request_bytes_ = 0;  // the bodies in streams_ not yet delivered
  std::string* out_ = nullptr;         // where DrainOutput() is appending, during the call

  InputState input_state_ = InputState::kMagic;
  size_t input_left_ = 24;      // bytes of the preface or of the current payload still to come
  std::string frame_;           // a frame header, a WINDOW_UPDATE, or a SETTINGS frame's payload
  bool keep_settings_ = false;  // the payload passing to nghttp2 is a SETTINGS one to read
  std::string feed_;            // input for nghttp2 not handed over yet
  int64_t connection_window_ = 65'535;
  int64_t peer_initial_window_ = 65'535;
  size_t peer_max_frame_ = 16'384;
  std::vector<int32_t> dirty_;    // streams with response bytes to frame
  std::vector<int32_t> ending_;   // streams whose end can go (all their bytes framed)
  std::vector<int32_t> blocked_;  // streams waiting for the connection's window
  nghttp2_session* session_ = nullptr;
};

}  // namespace bench::engine
