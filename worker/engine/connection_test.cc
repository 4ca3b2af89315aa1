#include "worker/engine/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_certs.h"

namespace bench::engine {
namespace {

// A loopback echo server on the test's loop, optionally speaking TLS; port chosen by the OS.
class EchoServer {
 public:
  // kSendThenReset / kSendThenClose: answers the first bytes with "last words", then resets (RST)
  // or closes (FIN) at once, so both reach the client before it reads.
  enum class Mode { kEcho, kCloseOnAccept, kSendThenReset, kSendThenClose };
  EchoServer(EventLoop& loop, Mode mode, const TlsContext* tls = nullptr)
      : loop_(loop), mode_(mode), tls_(tls) {
    EXPECT_TRUE(listener_.Init(loop.loop(), uv_tcp_init, "uv_tcp_init").ok());
    listener_.get()->data = this;
    sockaddr_in address;
    uv_ip4_addr("127.0.0.1", 0, &address);
    EXPECT_EQ(uv_tcp_bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), 0), 0);
    EXPECT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(listener_.get()), 16,
                        [](uv_stream_t* server, int status) {
                          if (status == 0) static_cast<EchoServer*>(server->data)->Accept();
                        }),
              0);
    sockaddr_storage bound;
    int length = sizeof(bound);
    uv_tcp_getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  struct Peer {
    EchoServer* server;
    UvHandle<uv_tcp_t> tcp;
    std::unique_ptr<TlsSession> tls;
  };

  void Accept() {
    auto peer = std::make_unique<Peer>();
    peer->server = this;
    ASSERT_TRUE(peer->tcp.Init(loop_.loop(), uv_tcp_init, "uv_tcp_init").ok());
    peer->tcp.get()->data = peer.get();
    ASSERT_EQ(uv_accept(reinterpret_cast<uv_stream_t*>(listener_.get()),
                        reinterpret_cast<uv_stream_t*>(peer->tcp.get())),
              0);
    ++accepted_;
    if (mode_ == Mode::kCloseOnAccept) return;  // `peer` goes out of scope: the socket closes.
    if (tls_ != nullptr) peer->tls = std::move(TlsSession::CreateServer(*tls_)).value();
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(peer->tcp.get()),
        [](uv_handle_t*, size_t size, uv_buf_t* buf) { *buf = uv_buf_init(new char[size], size); },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
          std::unique_ptr<char[]> owned(buf->base);
          auto* peer = static_cast<Peer*>(stream->data);
          if (peer == nullptr || nread <= 0) return;
          const Mode mode = peer->server->mode_;
          if (mode == Mode::kSendThenReset || mode == Mode::kSendThenClose) {
            uv_buf_t words = uv_buf_init(const_cast<char*>("last words"), 10);
            EXPECT_EQ(uv_try_write(stream, &words, 1), 10);
            if (mode == Mode::kSendThenReset) {
              peer->tcp.CloseWithReset();
            } else {
              peer->tcp.Close();
            }
            return;
          }
          std::string bytes(buf->base, nread);
          std::string out;
          if (peer->tls != nullptr) {
            std::string plaintext;
            if (!peer->tls->ReceiveCiphertext(bytes, plaintext).ok()) {
              peer->tls->DrainCiphertext(out);  // the alert
            } else {
              (void)peer->tls->SendPlaintext(plaintext);
              peer->tls->DrainCiphertext(out);
            }
          } else {
            out = bytes;
          }
          if (out.empty()) return;
          auto* request = new std::pair<uv_write_t, std::string>();
          request->second = std::move(out);
          uv_buf_t write_buf = uv_buf_init(request->second.data(), request->second.size());
          uv_write(&request->first, stream, &write_buf, 1, [](uv_write_t* req, int) {
            delete reinterpret_cast<std::pair<uv_write_t, std::string>*>(req);
          });
        });
    peers_.push_back(std::move(peer));
  }

  EventLoop& loop_;
  Mode mode_;
  const TlsContext* tls_;
  UvHandle<uv_tcp_t> listener_;
  std::vector<std::unique_ptr<Peer>> peers_;
  int port_ = 0;
  int accepted_ = 0;
};

class RecordingListener : public ConnectionListener {
 public:
  void OnConnected(std::string_view alpn_selected) override {
    connected = true;
    alpn = std::string(alpn_selected);
  }
  void OnBytes(std::string_view plaintext, int64_t read_time_ns) override {
    received.append(plaintext);
    last_read_time_ns = read_time_ns;
  }
  void OnDisconnected(TransportError transport_error, const absl::Status& status) override {
    disconnected = true;
    error = transport_error;
    detail = status;
  }
  bool connected = false;
  std::string alpn;
  std::string received;
  int64_t last_read_time_ns = 0;
  bool disconnected = false;
  TransportError error = TransportError::kNone;
  absl::Status detail;
};

sockaddr_in Loopback(int port) {
  sockaddr_in address;
  uv_ip4_addr("127.0.0.1", port, &address);
  return address;
}

std::unique_ptr<EventLoop> NewLoop() { return std::move(EventLoop::Create()).value(); }

TEST(Connection, PlaintextRoundTripWithReadTimestamps) {
  auto loop = NewLoop();
  {
    EchoServer server(*loop, EchoServer::Mode::kEcho);
    RecordingListener listener;
    Connection connection(*loop, &listener, nullptr, ConnectionOptions());
    const sockaddr_in address = Loopback(server.port());
    ASSERT_TRUE(connection.Connect(reinterpret_cast<const sockaddr*>(&address)).ok());
    connection.Write("queued before connect;");  // held until connected
    ASSERT_TRUE(loop->RunUntil([&] { return listener.connected; }));
    EXPECT_EQ(listener.alpn, "");
    const int64_t sent_ns = MonotonicNowNs();
    connection.Write("hello");
    ASSERT_TRUE(loop->RunUntil([&] { return listener.received.size() >= 27; }));
    EXPECT_EQ(listener.received, "queued before connect;hello");
    EXPECT_GE(listener.last_read_time_ns, sent_ns);
    EXPECT_LE(listener.last_read_time_ns, MonotonicNowNs());
    connection.Close();
    EXPECT_FALSE(listener.disconnected) << "the owner's own Close() is not reported";
  }
  EXPECT_TRUE(loop->Close().ok());
}

TEST(Connection, RefusedConnectionIsAConnectError) {
  auto loop = NewLoop();
  int port = 0;
  {
    // Bind a port and close it again: nothing listens there afterwards.
    EchoServer server(*loop, EchoServer::Mode::kEcho);
    port = server.port();
  }
  {
    RecordingListener listener;
    Connection connection(*loop, &listener, nullptr, ConnectionOptions());
    const sockaddr_in address = Loopback(port);
    ASSERT_TRUE(connection.Connect(reinterpret_cast<const sockaddr*>(&address)).ok());
    ASSERT_TRUE(loop->RunUntil([&] { return listener.disconnected; }));
    EXPECT_EQ(listener.error, TransportError::kConnect);
    EXPECT_NE(listener.detail.message().find("ECONNREFUSED"), std::string::npos) << listener.detail;
    EXPECT_FALSE(listener.connected);
  }
  EXPECT_TRUE(loop->Close().ok());
}

TEST(Connection, PeerCloseIsReported) {
  auto loop = NewLoop();
  {
    EchoServer server(*loop, EchoServer::Mode::kCloseOnAccept);
    RecordingListener listener;
    Connection connection(*loop, &listener, nullptr, ConnectionOptions());
    const sockaddr_in address = Loopback(server.port());
    ASSERT_TRUE(connection.Connect(reinterpret_cast<const sockaddr*>(&address)).ok());
    ASSERT_TRUE(loop->RunUntil([&] { return listener.disconnected; }));
    EXPECT_TRUE(listener.connected);
    EXPECT_TRUE(listener.error == TransportError::kPeerClosed ||
                listener.error == TransportError::kReset)
        << TransportErrorName(listener.error);
  }
  EXPECT_TRUE(loop->Close().ok());
}

// Data and a reset that arrive together: libuv says EOF without reading the error, and the
// connection still reports a reset, after the data. A clean close after data stays a close.
TEST(Connection, ResetRightBehindDataIsAResetAndCloseIsAClose) {
  auto loop = NewLoop();
  for (const auto mode : {EchoServer::Mode::kSendThenReset, EchoServer::Mode::kSendThenClose}) {
    EchoServer server(*loop, mode);
    RecordingListener listener;
    Connection connection(*loop, &listener, nullptr, ConnectionOptions());
    const sockaddr_in address = Loopback(server.port());
    ASSERT_TRUE(connection.Connect(reinterpret_cast<const sockaddr*>(&address)).ok());
    connection.Write("go");
    ASSERT_TRUE(loop->RunUntil([&] { return listener.disconnected; }));
    EXPECT_EQ(listener.received, "last words");
    EXPECT_EQ(listener.error, mode == EchoServer::Mode::kSendThenReset
                                  ? TransportError::kReset
                                  : TransportError::kPeerClosed)
        << TransportErrorName(listener.error) << " " << listener.detail;
  }
  EXPECT_TRUE(loop->Close().ok());
}

TEST(Connection, ConnectTimeoutWhenTheServerNeverAccepts) {
  auto loop = NewLoop();
  // A listening socket with a backlog of 0 whose queue is filled by connections nobody accepts:
  // Linux drops further SYNs, so the next connect can only time out.
  const int listener_fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(0);
  ASSERT_EQ(bind(listener_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener_fd, 0), 0);
  socklen_t length = sizeof(address);
  getsockname(listener_fd, reinterpret_cast<sockaddr*>(&address), &length);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    fillers.push_back(fd);
  }
  {
    RecordingListener listener;
    ConnectionOptions options;
    options.connect_timeout_ms = 300;
    Connection connection(*loop, &listener, nullptr, options);
    ASSERT_TRUE(connection.Connect(reinterpret_cast<const sockaddr*>(&address)).ok());
    ASSERT_TRUE(loop->RunUntil([&] { return listener.disconnected; }));
    EXPECT_EQ(listener.error, TransportError::kConnectTimeout) << listener.detail;
  }
  for (int fd : fillers) close(fd);
  close(listener_fd);
  EXPECT_TRUE(loop->Close().ok());
}

TEST(Connection, TlsWithAlpnAndVerification) {
  const auto cert = testing::MakeSelfSignedCertificate({"localhost", "127.0.0.1"});
  TlsServerOptions server_options;
  server_options.cert_pem = cert.cert_pem;
  server_options.key_pem = cert.key_pem;
  server_options.alpn = {"h2", "http/1.1"};
  auto server_tls = std::move(TlsContext::CreateServer(server_options)).value();
  TlsClientOptions client_options;
  client_options.ca_pem = cert.cert_pem;
  client_options.alpn = {"h2", "http/1.1"};
  auto client_tls = std::move(TlsContext::CreateClient(client_options)).value();

  auto loop = NewLoop();
  {
    EchoServer server(*loop, EchoServer::Mode::kEcho, server_tls.get());
    RecordingListener listener;
    ConnectionOptions options;
    options.server_name = "localhost";
    Connection connection(*loop, &listener, client_tls.get(), options);
    const sockaddr_in address = Loopback(server.port());
    ASSERT_TRUE(connection.Connect(reinterpret_cast<const sockaddr*>(&address)).ok());
    connection.Write("early;");
    ASSERT_TRUE(loop->RunUntil([&] { return listener.connected || listener.disconnected; }));
    ASSERT_TRUE(listener.connected) << listener.detail;
    EXPECT_EQ(listener.alpn, "h2");
    connection.Write(std::string(50000, 'z'));
    ASSERT_TRUE(loop->RunUntil([&] { return listener.received.size() >= 50006; }));
    EXPECT_EQ(listener.received, "early;" + std::string(50000, 'z'));
    connection.Close();
  }
  EXPECT_TRUE(loop->Close().ok());
}

TEST(Connection, UntrustedTlsCertificateIsATlsError) {
  const auto cert = testing::MakeSelfSignedCertificate({"localhost"});
  TlsServerOptions server_options;
  server_options.cert_pem = cert.cert_pem;
  server_options.key_pem = cert.key_pem;
  auto server_tls = std::move(TlsContext::CreateServer(server_options)).value();
  auto client_tls = std::move(TlsContext::CreateClient(TlsClientOptions())).value();
  auto loop = NewLoop();
  {
    EchoServer server(*loop, EchoServer::Mode::kEcho, server_tls.get());
    RecordingListener listener;
    ConnectionOptions options;
    options.server_name = "localhost";
    Connection connection(*loop, &listener, client_tls.get(), options);
    const sockaddr_in address = Loopback(server.port());
    ASSERT_TRUE(connection.Connect(reinterpret_cast<const sockaddr*>(&address)).ok());
    ASSERT_TRUE(loop->RunUntil([&] { return listener.disconnected; }));
    EXPECT_EQ(listener.error, TransportError::kTls);
    EXPECT_NE(listener.detail.message().find("certificate verify failed"), std::string::npos)
        << listener.detail;
    EXPECT_FALSE(listener.connected);
  }
  EXPECT_TRUE(loop->Close().ok());
}

}  // namespace
}  // namespace bench::engine
