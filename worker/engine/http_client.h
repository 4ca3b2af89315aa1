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
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "common/run_stats.h"
#include "worker/engine/connection.h"
#include "worker/engine/endpoint.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/http2_session.h"
#include "worker/engine/request_head.h"
#include "worker/engine/response_head.h"
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
  // The request's bytes were handed to the connection at `sent_ns` (MonotonicNowNs()), after
  // waiting `connect_wait_ns` of that for its new connection to be established (0 when it went
  // out on a ready one): connection setup, not the generator's lag.
  virtual void OnRequestSent(int64_t sent_ns, int64_t connect_wait_ns) = 0;
  // `head`'s views are valid only during the call.
  virtual void OnResponseHeaders(const ResponseHead& head, int64_t read_time_ns) = 0;
  // `bytes` are valid only during the call; `read_time_ns` was taken when they were read.
  virtual void OnResponseBody(std::string_view bytes, int64_t read_time_ns) = 0;
  virtual void OnRequestEnd(const RequestEnd& end, int64_t end_ns) = 0;
};

struct HttpClientOptions {
  HttpProtocol protocol = HttpProtocol::kAuto;
  int64_t connect_timeout_ms = 10'000;
  // Cap on open connections (HTTP/1.1 needs one per request in flight).
  size_t max_connections = 16'384;
  // HTTP/2: streams one connection carries at most (the server's SETTINGS may lower it). New
  // requests go to the least-loaded connection; a new connection opens when all are full.
  size_t max_streams_per_connection = 100;
  // The pool opens new connections, rather than sharing open ones, until this many are open.
  size_t min_connections = 0;
  // After a failed connect the pool waits this long (doubling to the cap, +-20% jitter) and then
  // tries one connection at a time until one connects.
  int64_t connect_backoff_initial_ms = 10;
  int64_t connect_backoff_max_ms = 1'000;
  Http2Options http2;
};

struct HttpClientStats {
  ConnectionStats connections;
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

  // Opens, ahead of the load, the connections `requests_in_flight` requests will need (HTTP/1.1:
  // one each; HTTP/2: by maxStreamsPerConnection; not knowing yet, over TLS with ALPN: one) and at
  // least min_connections, so connection setup does not land in the measured schedule lag.
  void Preconnect(size_t requests_in_flight);

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
  // Folds what `connection` carried into `stats` (sums and maxima): a retired one into stats_,
  // the open ones into a snapshot.
  static void AddConnection(const PooledConnection& connection, ConnectionStats& stats);
  void OnConnectSucceeded(int64_t connect_ns);
  // A connection attempt failed (refused, timed out, TLS): back off, and when the target was
  // already unreachable, fail what waits for a connection with the same cause.
  void OnConnectFailed(const RequestEnd& cause);

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
  // HTTP/1.1 connections Preconnect() opened that are still connecting, with no request yet.
  std::vector<PooledConnection*> warming_http1_;
  // Retired connections, destroyed by reaper_ on a later loop turn: never under their own frames.
  std::vector<std::unique_ptr<PooledConnection>> graveyard_;
  Timer reaper_;
  // Connect backoff (see HttpClientOptions): while unreachable_, at most one connection attempt
  // is in flight and none starts while backoff_ runs.
  Timer backoff_;
  bool unreachable_ = false;
  bool probe_in_flight_ = false;
  int64_t backoff_ms_ = 0;
  int64_t unreachable_since_ns_ = 0;
  absl::BitGen jitter_;
  bool dispatching_ = false;
  bool shutting_down_ = false;
  HttpClientStats stats_;
};

}  // namespace bench::engine
