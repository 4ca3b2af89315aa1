// A client TCP connection on one event loop, optionally wrapped in TLS: it owns the socket, takes
// the monotonic timestamp of every read before anything parses the bytes, and hands plaintext to
// its listener (an HTTP session's owner). Protocol code never sees the socket.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/tls.h"

namespace bench::engine {

// Why a connection ended, in the outcome categories of SPEC section 3.
enum class TransportError {
  kNone,            // closed by its owner
  kConnect,         // refused, unreachable, DNS
  kConnectTimeout,  // no connection (or TLS handshake) within the connect timeout
  kTls,             // handshake or verification failed, corrupt record
  kReset,           // ECONNRESET, EPIPE and other socket errors after connecting
  kPeerClosed,      // orderly EOF from the peer
};
const char* TransportErrorName(TransportError error);

// Called on the loop thread. The listener may call Write() and Close() from these calls but must
// not destroy the connection there (defer with EventLoop::Post).
class ConnectionListener {
 public:
  virtual ~ConnectionListener() = default;
  // TCP connected and, with TLS, the handshake completed. `alpn` is the negotiated protocol or
  // empty.
  virtual void OnConnected(std::string_view alpn) = 0;
  // Plaintext arrived; `read_time_ns` is MonotonicNowNs() taken when the read completed.
  virtual void OnBytes(std::string_view plaintext, int64_t read_time_ns) = 0;
  // The connection is gone (never after the owner's own Close()). `detail` names the cause
  // (e.g. "ECONNREFUSED (connection refused)") and never contains request data.
  virtual void OnDisconnected(TransportError error, const absl::Status& detail) = 0;
};

struct ConnectionOptions {
  int64_t connect_timeout_ms = 10'000;
  bool tcp_nodelay = true;
  // Server name for SNI and certificate verification (TLS only).
  std::string server_name;
};

// Owned by one object on the loop thread (a connection pool). `listener`, `loop` and `tls`
// (nullable: plaintext) must outlive it.
class Connection {
 public:
  Connection(EventLoop& loop, ConnectionListener* listener, const TlsContext* tls,
             ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;  // Pinned: libuv handles point here.
  Connection& operator=(const Connection&) = delete;

  // Starts connecting to `address` (IPv4 or IPv6). Errors come later through the listener, except
  // for immediate failures (bad address family, TLS session setup) returned here.
  absl::Status Connect(const sockaddr* address);
  // Sends plaintext (queued until connected; encrypted with TLS). Ignored after Close().
  void Write(std::string_view plaintext);
  // Closes the socket without calling the listener. Idempotent.
  void Close();

  bool connected() const { return state_ == State::kConnected; }
  bool closed() const { return state_ == State::kClosed; }
  // Bytes queued in libuv and not yet written to the socket.
  size_t write_queue_bytes() const;

 private:
  enum class State { kIdle, kConnecting, kHandshaking, kConnected, kClosed };
  struct WriteRequest;

  void OnTcpConnected(int status);
  void OnRead(ssize_t nread, const char* data);
  // The socket's pending error (SO_ERROR, which this read clears), or 0.
  int PendingSocketError() const;
  void Fail(TransportError error, absl::Status detail);
  void FlushCiphertext();
  void WriteRaw(std::string bytes);
  void BecomeConnected();

  EventLoop& loop_;
  ConnectionListener* listener_;
  const TlsContext* tls_context_;
  ConnectionOptions options_;
  State state_ = State::kIdle;
  UvHandle<uv_tcp_t> tcp_;
  Timer connect_timer_;
  std::unique_ptr<TlsSession> tls_;
  std::string queued_plaintext_;  // Written before the connection was ready.
  std::string decrypted_;         // Reused for every TLS read.
};

}  // namespace bench::engine
