// The client side of HTTP/2 as a bytes-only object: nghttp2 behind Receive()/DrainOutput(), no
// sockets, no clock. The connection feeds it what it read and writes what it drains; tests wire it
// to an in-memory nghttp2 server session.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/engine/request_head.h"
#include "worker/engine/response_head.h"

struct nghttp2_session;

namespace bench::engine {

// What a response stream reports. Called on the session's thread from inside Receive(). A
// listener may submit new requests from these calls but must not destroy the session or call
// Receive() again: the session's frames are on the stack (record, then act after Receive()).
class Http2Listener {
 public:
  virtual ~Http2Listener() = default;
  virtual void OnResponseHeaders(int32_t stream_id, const ResponseHead& head) = 0;
  // `data` is valid only during the call.
  virtual void OnResponseData(int32_t stream_id, std::string_view data) = 0;
  // The stream ended: error_code 0 is a clean end; otherwise an RST_STREAM code (ours or the
  // peer's, see `reset_by_peer`).
  virtual void OnStreamClosed(int32_t stream_id, uint32_t error_code, bool reset_by_peer) = 0;
  // The peer sent GOAWAY: streams above `last_stream_id` were not processed.
  virtual void OnGoaway(int32_t last_stream_id, uint32_t error_code) = 0;
};

struct Http2Options {
  // Large windows so the client is never the flow-control bottleneck of a benchmark.
  uint32_t stream_window_bytes = 16u << 20;
  uint32_t connection_window_bytes = 1u << 30;
  // Assumed until the server's SETTINGS arrive (RFC 9113 recommends at least 100).
  uint32_t initial_peer_max_concurrent_streams = 100;
};

// One HTTP/2 client session. Owned by its connection; single-threaded; the listener must
// outlive it.
class Http2ClientSession {
 public:
  static absl::StatusOr<std::unique_ptr<Http2ClientSession>> Create(Http2Listener* listener,
                                                                    const Http2Options& options);
  ~Http2ClientSession();
  Http2ClientSession(const Http2ClientSession&) = delete;  // Pinned: nghttp2 holds `this`.
  Http2ClientSession& operator=(const Http2ClientSession&) = delete;

  // Queues a request with `body` (empty: no DATA frames). Returns the stream id.
  absl::StatusOr<int32_t> SubmitRequest(const RequestHead& head, std::string body);
  // Queues RST_STREAM(error_code) for a stream, e.g. CANCEL (8) on a client timeout.
  absl::Status ResetStream(int32_t stream_id, uint32_t error_code);
  // Queues GOAWAY; no new streams afterwards.
  absl::Status Terminate(uint32_t error_code);

  // Processes bytes read from the peer; listener calls happen inside. A malformed peer does not
  // return an error here: nghttp2 queues GOAWAY and WantsRead()/WantsWrite() turn false.
  absl::Status Receive(std::string_view bytes);
  // Appends everything queued for the peer to `out`.
  absl::Status DrainOutput(std::string& out);

  bool WantsRead() const;
  bool WantsWrite() const;
  // The server's SETTINGS_MAX_CONCURRENT_STREAMS (or the assumed value before its SETTINGS).
  uint32_t PeerMaxConcurrentStreams() const;
  bool peer_settings_received() const { return peer_settings_received_; }
  // Streams opened and not yet closed.
  size_t open_streams() const { return streams_.size(); }
  // False after a GOAWAY either way: the connection takes no new streams.
  bool AcceptsNewStreams() const;

 private:
  struct Callbacks;  // The C callbacks; they only forward to the listener.
  // Per-stream state: the request body being sent and what the response said so far.
  struct PendingBody {
    std::string body;
    size_t sent = 0;
    int http_status = 0;
    std::string content_type;      // the response's, cut to kMaxHeaderValueBytes
    std::string content_encoding;  // likewise
    std::string location;          // likewise
    int64_t content_length = -1;   // declared; nghttp2 checks the body against it
    bool reset_by_peer = false;
  };

  explicit Http2ClientSession(Http2Listener* listener) : listener_(listener) {}

  Http2Listener* listener_;
  Http2Options options_;
  // Per-stream state; nghttp2 holds raw pointers to it as stream user data.
  absl::flat_hash_map<int32_t, std::unique_ptr<PendingBody>> streams_;
  nghttp2_session* session_ = nullptr;
  bool goaway_ = false;
  bool peer_settings_received_ = false;
};

// Turns an nghttp2 error code into a Status naming the call.
absl::Status Nghttp2Error(int64_t rc, std::string_view what);

// Appends everything `session` has queued for the peer to `out` (client and server sessions).
absl::Status DrainNghttp2Output(nghttp2_session* session, std::string& out);

// The start of every session of ours, client or server: queues our SETTINGS (id, value pairs)
// and raises the connection-level receive window to `connection_window_bytes` (capped at 2^31-1).
absl::Status SubmitInitialSettings(nghttp2_session* session,
                                   std::initializer_list<std::pair<int32_t, uint32_t>> settings,
                                   uint32_t connection_window_bytes);

}  // namespace bench::engine
