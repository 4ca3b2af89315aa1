// The engine's HTTP client for one endpoint on one event loop: a pool of HTTP/1.1 keep-alive and
// HTTP/2 connections (h2c by prior knowledge, h2 by ALPN) that carries requests and reports each
// response's bytes with the time they were read. It decides nothing about load: the driver says
// when to send.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "worker/engine/connection.h"
#include "worker/engine/endpoint.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/http2_session.h"
#include "worker/engine/request_head.h"
#include "worker/engine/tls.h"

namespace bench::engine {

enum class HttpProtocol {
  kAuto,   // https: ALPN (h2, then http/1.1); http: HTTP/1.1
  kHttp1,  // HTTP/1.1 over TCP or TLS
  kH2c,    // HTTP/2 over TCP with prior knowledge
  kH2,     // HTTP/2 over TLS (ALPN must select h2)
};

// How a request ended below the application layer. HTTP status codes and stream contents are
// judged above (a 503 is kCompleted here).
enum class TransportOutcome {
  kCompleted,  // the response ended normally
  kConnect,    // no connection: refused, unreachable, connect timeout
  kTls,        // TLS handshake or verification failed
  kReset,      // the connection broke or closed while the request was open
  kRstStream,  // the server reset the HTTP/2 stream (code in h2_error_code)
  kGoaway,     // the server's GOAWAY excluded the stream
  kProtocol,   // malformed HTTP from the server
  kTruncated,  // the response ended before its framing said it would
  kCancelled,  // Cancel() (e.g. the request timed out)
};
const char* TransportOutcomeName(TransportOutcome outcome);

struct RequestEnd {
  TransportOutcome outcome = TransportOutcome::kCompleted;
  uint32_t h2_error_code = 0;
  absl::Status detail;  // Why, for logs; never contains request headers.
};

// Receives one request's events on the loop thread, in order: OnRequestSent, OnResponseHeaders,
// OnResponseBody..., then exactly one OnRequestEnd (which may come at any point). The observer
// may call Send() and Cancel() from these calls but must not destroy the client there, and must
// outlive its request.
class ResponseObserver {
 public:
  virtual ~ResponseObserver() = default;
  // The request's bytes were handed to the connection at `sent_ns` (MonotonicNowNs()).
  virtual void OnRequestSent(int64_t sent_ns) = 0;
  virtual void OnResponseHeaders(int http_status, int64_t read_time_ns) = 0;
  // `bytes` are valid only during the call; `read_time_ns` was taken when they were read.
  virtual void OnResponseBody(std::string_view bytes, int64_t read_time_ns) = 0;
  virtual void OnRequestEnd(const RequestEnd& end, int64_t end_ns) = 0;
};

struct HttpClientOptions {
  HttpProtocol protocol = HttpProtocol::kAuto;
  int64_t connect_timeout_ms = 10'000;
  // Cap on open connections (HTTP/1.1 needs one per request in flight).
  size_t max_connections = 16'384;
  Http2Options http2;
};

struct HttpClientStats {
  uint64_t connections_opened = 0;
  uint64_t connection_failures = 0;  // connections that ended with an error
  uint64_t retries = 0;              // re-sent: stale keep-alive connection, REFUSED_STREAM
  size_t open_connections = 0;
  size_t queued_requests = 0;  // waiting for a connection or a stream slot
};

// Owned by an engine thread; single-threaded. `loop` and `tls` (nullable for plaintext) must
// outlive it. Destroying it closes every connection; requests still open get no OnRequestEnd.
class HttpClient {
 public:
  using RequestId = uint64_t;

  HttpClient(EventLoop& loop, Endpoint endpoint, std::vector<sockaddr_storage> addresses,
             const TlsContext* tls, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends now if a connection or stream slot is free, else queues (the wait is the caller's
  // schedule lag: OnRequestSent says when it really went out).
  RequestId Send(RequestHead head, std::string body, ResponseObserver* observer);
  // Ends the request (OnRequestEnd with kCancelled, before Cancel returns): an HTTP/2 stream is
  // reset, an HTTP/1.1 connection closed. Unknown or finished ids are ignored.
  void Cancel(RequestId id);

  HttpClientStats stats() const;
  const Endpoint& endpoint() const { return endpoint_; }

 private:
  class PooledConnection;
  struct InFlight;
  enum class Mode { kUnknown, kHttp1, kHttp2 };

  void Dispatch();
  PooledConnection* OpenConnection();
  void Retire(PooledConnection* connection);
  void Finish(InFlight* request, RequestEnd end, int64_t end_ns);
  void Requeue(InFlight* request);

  EventLoop& loop_;
  Endpoint endpoint_;
  std::vector<sockaddr_storage> addresses_;
  const TlsContext* tls_;
  HttpClientOptions options_;
  Mode mode_ = Mode::kUnknown;  // Learned from the first connection with kAuto over TLS.
  // The server's SETTINGS_MAX_CONCURRENT_STREAMS as last seen on any connection.
  size_t peer_max_streams_;
  RequestId next_id_ = 1;
  size_t next_address_ = 0;
  absl::flat_hash_map<RequestId, std::unique_ptr<InFlight>> requests_;
  std::deque<InFlight*> pending_;  // Not yet assigned to a connection.
  std::vector<std::unique_ptr<PooledConnection>> connections_;
  std::vector<PooledConnection*> idle_http1_;  // Ready keep-alive connections with no request.
  // Retired connections, destroyed by reaper_ on a later loop turn: never under their own frames.
  std::vector<std::unique_ptr<PooledConnection>> graveyard_;
  Timer reaper_;
  bool dispatching_ = false;
  bool shutting_down_ = false;
  HttpClientStats stats_;
};

}  // namespace bench::engine
