#include "worker/engine/connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/status_macros.h"

namespace bench::engine {

const char* TransportErrorName(TransportError error) {
  switch (error) {
    case TransportError::kNone:
      return "none";
    case TransportError::kConnect:
      return "connect";
    case TransportError::kConnectTimeout:
      return "connect_timeout";
    case TransportError::kTls:
      return "tls";
    case TransportError::kReset:
      return "reset";
    case TransportError::kPeerClosed:
      return "peer_closed";
  }
  return "unknown";
}

// A write in flight: libuv holds `request` until the callback, which frees this.
struct Connection::WriteRequest {
  uv_write_t request;
  std::string bytes;
};

Connection::Connection(EventLoop& loop, ConnectionListener* listener, const TlsContext* tls,
                       ConnectionOptions options)
    : loop_(loop),
      listener_(listener),
      tls_context_(tls),
      options_(std::move(options)),
      connect_timer_(loop, [this] {
        Fail(TransportError::kConnectTimeout,
             absl::DeadlineExceededError(
                 absl::StrCat("no connection within ", options_.connect_timeout_ms, " ms")));
      }) {}

Connection::~Connection() { Close(); }

absl::Status Connection::Connect(const sockaddr* address) {
  BENCH_CHECK(state_ == State::kIdle) << "Connect() called twice";
  if (address->sa_family != AF_INET && address->sa_family != AF_INET6) {
    return absl::InvalidArgumentError("connect: not an IPv4 or IPv6 address");
  }
  BENCH_RETURN_IF_ERROR(tcp_.Init(loop_.loop(), uv_tcp_init, "uv_tcp_init"));
  tcp_.get()->data = this;
  if (options_.tcp_nodelay) uv_tcp_nodelay(tcp_.get(), 1);
  // The request frees itself in the callback; it may outlive this object (ECANCELED on close).
  auto* request = new uv_connect_t;
  const int rc = uv_tcp_connect(request, tcp_.get(), address, [](uv_connect_t* req, int status) {
    auto* self = static_cast<Connection*>(req->handle->data);
    delete req;
    if (self != nullptr) self->OnTcpConnected(status);
  });
  if (rc < 0) {
    delete request;
    tcp_.Close();
    state_ = State::kClosed;
    return UvError(rc, "uv_tcp_connect");
  }
  state_ = State::kConnecting;
  connect_timer_.Start(static_cast<uint64_t>(options_.connect_timeout_ms));
  return absl::OkStatus();
}

void Connection::OnTcpConnected(int status) {
  if (status < 0) {
    Fail(TransportError::kConnect, UvError(status, "connect"));
    return;
  }
  const int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(tcp_.get()),
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* self = static_cast<Connection*>(handle->data);
        if (self == nullptr) {
          *buf = uv_buf_init(nullptr, 0);
          return;
        }
        *buf = uv_buf_init(self->loop_.read_buffer(), EventLoop::kReadBufferBytes);
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<Connection*>(stream->data);
        if (self != nullptr) self->OnRead(nread, buf->base);
      });
  if (rc < 0) {
    Fail(TransportError::kReset, UvError(rc, "uv_read_start"));
    return;
  }
  if (tls_context_ == nullptr) {
    BecomeConnected();
    return;
  }
  auto tls = TlsSession::CreateClient(*tls_context_, options_.server_name);
  if (!tls.ok()) {
    Fail(TransportError::kTls, tls.status());
    return;
  }
  tls_ = std::move(tls).value();
  state_ = State::kHandshaking;
  FlushCiphertext();  // The ClientHello.
}

void Connection::BecomeConnected() {
  state_ = State::kConnected;
  connect_timer_.Stop();
  if (!queued_plaintext_.empty()) {
    std::string queued;
    queued.swap(queued_plaintext_);
    Write(queued);
  }
  listener_->OnConnected(tls_ != nullptr ? tls_->alpn_selected() : std::string());
}

int Connection::PendingSocketError() const {
  uv_os_fd_t fd;
  if (!tcp_ || uv_fileno(tcp_.base(), &fd) != 0) return 0;
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return 0;
  return error;
}

void Connection::OnRead(ssize_t nread, const char* data) {
  // The timestamp comes first: nothing between the socket and the clock.
  const int64_t read_time_ns = MonotonicNowNs();
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_EOF) {
    // libuv reports EOF without reading further when data and a hang-up arrive together, so a
    // reset (RST) that came right behind the last bytes reads as EOF: the socket still holds
    // its error.
    if (PendingSocketError() == ECONNRESET) {
      Fail(TransportError::kReset, absl::UnavailableError("connection reset by the peer"));
      return;
    }
    Fail(TransportError::kPeerClosed, absl::UnavailableError("connection closed by the peer"));
    return;
  }
  if (nread < 0) {
    Fail(TransportError::kReset, UvError(static_cast<int>(nread), "read"));
    return;
  }
  const std::string_view bytes(data, static_cast<size_t>(nread));
  if (tls_ == nullptr) {
    listener_->OnBytes(bytes, read_time_ns);
    return;
  }
  decrypted_.clear();
  const bool was_handshaking = state_ == State::kHandshaking;
  const absl::Status status = tls_->ReceiveCiphertext(bytes, decrypted_);
  FlushCiphertext();  // Handshake replies, alerts.
  if (!status.ok()) {
    Fail(TransportError::kTls, status);
    return;
  }
  if (was_handshaking && tls_->handshake_done()) {
    BecomeConnected();
    if (state_ != State::kConnected) return;  // The listener closed us.
  }
  if (!decrypted_.empty()) listener_->OnBytes(decrypted_, read_time_ns);
  if (state_ == State::kConnected && tls_->peer_closed()) {
    Fail(TransportError::kPeerClosed, absl::UnavailableError("TLS close_notify from the peer"));
  }
}

void Connection::Write(std::string_view plaintext) {
  if (plaintext.empty() || state_ == State::kClosed) return;
  if (state_ != State::kConnected) {
    queued_plaintext_.append(plaintext);
    return;
  }
  if (tls_ == nullptr) {
    WriteRaw(std::string(plaintext));
    return;
  }
  const absl::Status status = tls_->SendPlaintext(plaintext);
  if (!status.ok()) {
    Fail(TransportError::kTls, status);
    return;
  }
  FlushCiphertext();
}

void Connection::FlushCiphertext() {
  std::string ciphertext;
  tls_->DrainCiphertext(ciphertext);
  if (!ciphertext.empty()) WriteRaw(std::move(ciphertext));
}

void Connection::WriteRaw(std::string bytes) {
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_.get());
  size_t offset = 0;
  // Try the socket directly first: most writes go out whole without a request allocation.
  if (stream->write_queue_size == 0) {
    uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    const int written = uv_try_write(stream, &buf, 1);
    if (written == static_cast<int>(bytes.size())) return;
    if (written > 0) {
      offset = static_cast<size_t>(written);
    } else if (written != UV_EAGAIN && written != UV_ENOSYS) {
      Fail(TransportError::kReset, UvError(written, "write"));
      return;
    }
  }
  auto* request = new WriteRequest{{}, offset == 0 ? std::move(bytes) : bytes.substr(offset)};
  uv_buf_t buf = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  const int rc = uv_write(&request->request, stream, &buf, 1, [](uv_write_t* req, int status) {
    auto* self = static_cast<Connection*>(req->handle->data);
    delete reinterpret_cast<WriteRequest*>(req);
    if (self != nullptr && status < 0 && status != UV_ECANCELED) {
      self->Fail(TransportError::kReset, UvError(status, "write"));
    }
  });
  if (rc < 0) {
    delete request;
    Fail(TransportError::kReset, UvError(rc, "uv_write"));
  }
}

size_t Connection::write_queue_bytes() const { return tcp_ ? tcp_.get()->write_queue_size : 0; }

void Connection::Fail(TransportError error, absl::Status detail) {
  if (state_ == State::kClosed) return;
  Close();
  listener_->OnDisconnected(error, detail);
}

void Connection::Close() {
  if (state_ == State::kClosed && !tcp_) return;
  state_ = State::kClosed;
  connect_timer_.Stop();
  tcp_.Close();
  tls_.reset();
  queued_plaintext_.clear();
}

}  // namespace bench::engine
