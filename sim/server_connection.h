// One accepted client connection of bench-sim: it owns the socket and the optional TLS session,
// tells HTTP/2 (by the connection preface or ALPN) from HTTP/1.1, feeds the bytes-only protocol
// session from worker/engine/, and writes what the session encodes. Requests go to the service;
// responses come back by stream (an HTTP/2 stream id, or 0 for HTTP/1.1's one request at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "sim/failure.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/http1_server_session.h"
#include "worker/engine/http2_server_session.h"
#include "worker/engine/tls.h"
#include "worker/engine/uv_handle.h"

namespace bench::sim {

class Generation;
class SimWorker;

using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;

// Owned by its SimWorker, on the worker's loop thread only. Destroyed only by the worker's
// reaper (never under its own frames): Close() hands it back to the worker.
class ServerConnection final : public engine::Http1ServerListener,
                               public engine::Http2ServerListener {
 public:
  ServerConnection(SimWorker& worker, const engine::TlsContext* tls);
  ~ServerConnection() override;
  ServerConnection(const ServerConnection&) = delete;  // Pinned: libuv and sessions point here.
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Takes an accepted TCP handle and starts reading. On error the caller discards the object.
  absl::Status Start(engine::UvHandle<uv_tcp_t> tcp);

  // Answers a request whole (Content-Length / one DATA run with END_STREAM).
  void Respond(int32_t stream, int http_status, std::string_view content_type,
               std::string_view body, const HeaderList& extra_headers = {});
  // Starts a streamed response; events follow with SendEvent(), the end with FinishStream().
  void BeginStream(int32_t stream, int http_status, std::string_view content_type);
  // One event: one HTTP/1.1 chunk, or one DATA frame when drained alone.
  void SendEvent(int32_t stream, std::string_view bytes);
  // Starts loading an HTTP/2 stream's state before SendEvent() needs it.
  void PrefetchStream(int32_t stream) const {
    if (http2_ != nullptr) http2_->PrefetchStream(stream);
  }
  // The generation serving `stream` is done: it is retired (destroyed later), a streamed
  // response is ended, and HTTP/1.1 input pipelined behind it is parsed. The generation must
  // not touch itself after this call.
  void FinishStream(int32_t stream, bool streamed);

  // Injects a connection- or stream-level failure (failure.h) into `stream`, counting every
  // request it fails: kRstStream resets the stream over HTTP/2; kGoaway sends GOAWAY over
  // HTTP/2 and closes after writing it; kReset, and the other two over HTTP/1.1, reset the TCP
  // connection. The generations failed are stopped and retired: the caller must not touch
  // itself after this call.
  void FailStream(int32_t stream, FailureKind kind);

  // Gives the connection the generation serving `stream`; it is stopped and retired when the
  // stream or the connection ends.
  void Adopt(int32_t stream, std::unique_ptr<Generation> generation);

  // Writes everything encoded so far. Called by the worker for dirty connections and by the
  // connection itself after each read.
  void Flush();
  // The abuse limits (--header-timeout, --idle-timeout), checked by the worker every second:
  // closes a connection that owes a whole request for too long, or sat idle too long.
  void CheckTimeouts(int64_t now_ns);
  // Closes at once (queued writes are dropped), stops the generations and hands the object
  // back to the worker. Idempotent.
  void Close();
  bool closed() const { return closed_; }
  // Generations this connection serves.
  size_t active_generations() const { return generations_.size(); }

 private:
  enum class Protocol { kUnknown, kHttp1, kHttp2 };
  struct WriteRequest;

  // engine::Http1ServerListener
  void OnRequest(const engine::Http1ServerRequest& request) override;
  // engine::Http2ServerListener
  void OnRequest(const engine::Http2ServerRequest& request) override;
  void OnStreamClosed(int32_t stream_id, uint32_t error_code) override;

  void OnRead(ssize_t nread, const char* data);
  void OnPlaintext(std::string_view bytes);
  absl::Status ChooseProtocol(Protocol protocol);
  void HandleHttp1Failure(const absl::Status& status);
  void ResumeHttp1();
  void StopGeneration(int32_t stream);
  void MarkDirty();
  void WriteRaw(std::string_view bytes);
  // True while the client reads slower than we write (see kWriteHighWater); closes a connection
  // whose client stopped reading.
  bool WriteBlocked();
  void CloseAfterWrites();
  // Brings this connection's part of SimShared::buffered_request_bytes up to date; closes the
  // connection (false) when it grew and the total is over --max-buffered-bytes.
  bool AccountBufferedRequests();
  void StopGenerations();
  // Close(), with a TCP reset (RST) instead of a FIN when `reset`.
  void CloseNow(bool reset);

  SimWorker& worker_;
  const engine::TlsContext* tls_context_;
  engine::UvHandle<uv_tcp_t> tcp_;
  std::unique_ptr<engine::TlsSession> tls_;
  Protocol protocol_ = Protocol::kUnknown;
  std::string preface_;  // Bytes read before the protocol was known.
  std::unique_ptr<engine::Http1ServerSession> http1_;
  std::unique_ptr<engine::Http2ServerSession> http2_;
  std::string out_;         // Plaintext encoded and not yet written; keeps its capacity.
  std::string ciphertext_;  // TLS output being written; keeps its capacity.
  std::string decrypted_;   // TLS input; keeps its capacity.
  absl::flat_hash_map<int32_t, std::unique_ptr<Generation>> generations_;
  int64_t read_time_ns_ = 0;  // Arrival time of the requests being parsed.
  int64_t accepted_ns_ = 0;
  int64_t last_read_ns_ = 0;
  int64_t last_request_ns_ = 0;          // the last request that arrived whole (or the accept)
  int64_t incomplete_since_ns_ = 0;      // HTTP/1.1: the first read of a request not yet whole
  int64_t accounted_request_bytes_ = 0;  // this connection's part of buffered_request_bytes
  bool in_receive_ = false;  // Inside a session's Receive()/Resume(): it continues by itself.
  bool dirty_ = false;
  bool write_blocked_ = false;
  int64_t last_write_progress_ns_ = 0;
  bool closing_ = false;  // Shutting down after the queued writes.
  bool closed_ = false;
  friend class SimWorker;  // Reads dirty_.
};

}  // namespace bench::sim
