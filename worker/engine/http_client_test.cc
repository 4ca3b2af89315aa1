// HttpClient against real peers from Debian: nginx (HTTP/1.1, h2c, TLS with ALPN) and nghttpd
// (an HTTP/2 server that caps concurrent streams).
#include "worker/engine/http_client.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/nginx_suite.h"
#include "tests/testing/peers.h"

namespace bench::engine {
namespace {

using ::bench::testing::NghttpdPeer;
using ::bench::testing::NginxPeer;
using ::bench::testing::NginxSuite;

constexpr char kEvent[] = R"(data: {"choices":[{"delta":{"content":"hi"}}]})";

// Three events and [DONE], each flushed by nginx as it is produced; /slow waits 3 s first.
std::string Locations() {
  return absl::StrCat(
      "    location /v1/ {\n"
      "      default_type text/event-stream;\n"
      "      echo_read_request_body;\n"
      "      echo_duplicate 3 '",
      kEvent,
      "\\n\\n';\n"
      "      echo_flush;\n"
      "      echo 'data: [DONE]';\n"
      "      echo '';\n"
      "    }\n"
      "    location /slow {\n"
      "      echo_read_request_body;\n"
      "      echo 'data: first';\n"
      "      echo_flush;\n"
      "      echo_sleep 3;\n"
      "      echo 'data: late';\n"
      "    }\n");
}

std::string ExpectedBody() {
  std::string body;
  for (int i = 0; i < 3; ++i) absl::StrAppend(&body, kEvent, "\n\n");
  absl::StrAppend(&body, "data: [DONE]\n\n");
  return body;
}

// Records one request's events and checks their order.
class Recorder : public ResponseObserver {
 public:
  void OnRequestSent(int64_t sent, int64_t) override { sent_ns = sent; }
  void OnResponseHeaders(const ResponseHead& head, int64_t t) override {
    http_status = head.http_status;
    headers_ns = t;
  }
  void OnResponseBody(std::string_view bytes, int64_t t) override {
    if (first_body_ns == 0) first_body_ns = t;
    body.append(bytes);
  }
  void OnRequestEnd(const RequestEnd& request_end, int64_t t) override {
    ++ends;
    end = request_end;
    end_ns = t;
    if (on_end) on_end();
  }
  bool done() const { return ends > 0; }

  int64_t sent_ns = 0, headers_ns = 0, first_body_ns = 0, end_ns = 0;
  int http_status = 0;
  std::string body;
  int ends = 0;
  RequestEnd end;
  std::function<void()> on_end;
};

struct Fixture {
  std::unique_ptr<EventLoop> loop = std::move(EventLoop::Create()).value();
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<HttpClient> client;

  void Connect(const std::string& url, HttpProtocol protocol, const std::string& ca_pem = "",
               size_t max_connections = 16384, HttpClientOptions options = {}) {
    auto endpoint = ParseEndpointUrl(url);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    auto addresses = ResolveEndpoint(*endpoint);
    ASSERT_TRUE(addresses.ok()) << addresses.status();
    if (endpoint->tls) {
      TlsClientOptions tls_options;
      tls_options.ca_pem = ca_pem;
      tls_options.alpn = protocol == HttpProtocol::kHttp1
                             ? std::vector<std::string>{"http/1.1"}
                             : std::vector<std::string>{"h2", "http/1.1"};
      tls = std::move(TlsContext::CreateClient(tls_options)).value();
    }
    options.protocol = protocol;
    options.max_connections = max_connections;
    options.connect_timeout_ms = 5000;
    client = std::make_unique<HttpClient>(*loop, *endpoint, *addresses, tls.get(), options);
  }

  RequestHead Head(const std::string& path = "/v1/chat/completions") {
    RequestHead head;
    head.scheme = client->endpoint().tls ? "https" : "http";
    head.authority = client->endpoint().authority;
    head.path = path;
    head.headers = {{"content-type", "application/json"}};
    return head;
  }

  // Sends `count` requests at once and runs the loop until all ended.
  std::vector<std::unique_ptr<Recorder>> SendAll(int count, const std::string& path = "/v1/x") {
    std::vector<std::unique_ptr<Recorder>> recorders;
    for (int i = 0; i < count; ++i) {
      recorders.push_back(std::make_unique<Recorder>());
      client->Send(Head(path), absl::StrCat(R"({"model":"m","i":)", i, "}"),
                   recorders.back().get());
    }
    EXPECT_TRUE(loop->RunUntil([&] {
      for (auto& r : recorders) {
        if (!r->done()) return false;
      }
      return true;
    }));
    return recorders;
  }

  ~Fixture() {
    client.reset();
    // Closing handles needs a loop turn or two; then the loop must close clean.
    EXPECT_TRUE(loop->Close().ok());
  }
};

void ExpectAllCompleted(const std::vector<std::unique_ptr<Recorder>>& recorders) {
  for (const auto& r : recorders) {
    EXPECT_EQ(r->ends, 1);
    EXPECT_EQ(r->end.outcome, TransportOutcome::kCompleted) << r->end.detail;
    EXPECT_EQ(r->http_status, 200);
    EXPECT_EQ(r->body, ExpectedBody());
    EXPECT_LE(r->sent_ns, r->headers_ns);
    EXPECT_LE(r->headers_ns, r->first_body_ns);
    EXPECT_LE(r->first_body_ns, r->end_ns);
  }
}

class HttpClientNginx : public NginxSuite<HttpClientNginx> {
 protected:
  static void SetUpTestSuite() { StartNginx(Locations()); }
  static void TearDownTestSuite() { StopNginx(); }
  static std::string Url(int port, bool tls = false) {
    return absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", port, "/v1/chat/completions");
  }
};

TEST_F(HttpClientNginx, Http1KeepAliveReusesOneConnectionForSequentialRequests) {
  Fixture f;
  f.Connect(Url(nginx_->ports().http1), HttpProtocol::kAuto);
  for (int i = 0; i < 20; ++i) ExpectAllCompleted(f.SendAll(1));
  EXPECT_EQ(f.client->stats().connections.opened, 1u);
}

TEST_F(HttpClientNginx, Http1OpensOneConnectionPerConcurrentRequest) {
  Fixture f;
  f.Connect(Url(nginx_->ports().http1), HttpProtocol::kHttp1);
  ExpectAllCompleted(f.SendAll(20));
  EXPECT_EQ(f.client->stats().connections.opened, 20u);
  ExpectAllCompleted(f.SendAll(20));
  EXPECT_EQ(f.client->stats().connections.opened, 20u) << "the second wave reuses them";
}

TEST_F(HttpClientNginx, Http1RespectsTheConnectionCap) {
  Fixture f;
  f.Connect(Url(nginx_->ports().http1), HttpProtocol::kHttp1, "", /*max_connections=*/4);
  ExpectAllCompleted(f.SendAll(30));
  EXPECT_EQ(f.client->stats().connections.opened, 4u);
}

TEST_F(HttpClientNginx, H2cMultiplexesOnOneConnection) {
  Fixture f;
  f.Connect(Url(nginx_->ports().h2c), HttpProtocol::kH2c);
  ExpectAllCompleted(f.SendAll(100));
  EXPECT_EQ(f.client->stats().connections.opened, 1u);
}

TEST_F(HttpClientNginx, H2cSpreadsStreamsOverConnectionsOfTheConfiguredSize) {
  Fixture f;
  HttpClientOptions options;
  options.max_streams_per_connection = 10;
  f.Connect(Url(nginx_->ports().h2c), HttpProtocol::kH2c, "", 16384, options);
  ExpectAllCompleted(f.SendAll(100));
  const ConnectionStats stats = f.client->stats().connections;
  EXPECT_EQ(stats.opened, 10u);
  EXPECT_EQ(stats.connect_time.TotalCount(), 10);
  EXPECT_EQ(stats.streams, 100u);
  EXPECT_EQ(stats.max_streams, 10u);
  EXPECT_EQ(stats.max_concurrent_streams, 10u);
  EXPECT_GE(stats.bytes, 100 * ExpectedBody().size()) << "every body was read";
  EXPECT_GE(stats.max_bytes, 10 * ExpectedBody().size());
  EXPECT_EQ(stats.server_max_streams, 1000u)
      << "the suite sets nginx's http2_max_concurrent_streams";
}

TEST_F(HttpClientNginx, MinimumPoolSpreadsStreamsEvenly) {
  Fixture f;
  HttpClientOptions options;
  options.min_connections = 4;
  f.Connect(Url(nginx_->ports().h2c), HttpProtocol::kH2c, "", 16384, options);
  ExpectAllCompleted(f.SendAll(40));
  const ConnectionStats stats = f.client->stats().connections;
  EXPECT_EQ(stats.opened, 4u);
  EXPECT_EQ(stats.streams, 40u);
  EXPECT_EQ(stats.max_streams, 10u) << "each new stream went to the least-loaded connection";
}

// A closed loop's connections are made before its first request: the requests then find them
// ready (HTTP/1.1: one each; HTTP/2: by streams per connection, not the limit assumed before
// the server's SETTINGS).
TEST_F(HttpClientNginx, PreconnectOpensWhatTheRequestsWillNeed) {
  {
    Fixture f;
    f.Connect(Url(nginx_->ports().http1), HttpProtocol::kHttp1);
    f.client->Preconnect(5);
    EXPECT_EQ(f.client->stats().connections.opened, 5u);
    ASSERT_TRUE(f.loop->RunUntil(
        [&] { return f.client->stats().connections.connect_time.TotalCount() == 5; }));
    ExpectAllCompleted(f.SendAll(5));
    EXPECT_EQ(f.client->stats().connections.opened, 5u) << "the requests used them";
  }
  {
    Fixture f;
    HttpClientOptions options;
    options.max_streams_per_connection = 250;
    f.Connect(Url(nginx_->ports().h2c), HttpProtocol::kH2c, "", 16384, options);
    f.client->Preconnect(500);
    EXPECT_EQ(f.client->stats().connections.opened, 2u);
    // As in a run's start delay: the server's SETTINGS (1000 streams) arrive before the load.
    ASSERT_TRUE(
        f.loop->RunUntil([&] { return f.client->stats().connections.server_max_streams != 0; }));
    ExpectAllCompleted(f.SendAll(500));
    EXPECT_EQ(f.client->stats().connections.opened, 2u);
  }
}

TEST_F(HttpClientNginx, TlsAutoNegotiatesH2) {
  Fixture f;
  f.Connect(Url(nginx_->ports().tls, true), HttpProtocol::kAuto, nginx_->cert_pem());
  ExpectAllCompleted(f.SendAll(50));
  EXPECT_EQ(f.client->stats().connections.opened, 1u);
}

TEST_F(HttpClientNginx, TlsAutoFallsBackToHttp1) {
  Fixture f;
  f.Connect(Url(nginx_->ports().tls_http1, true), HttpProtocol::kAuto, nginx_->cert_pem());
  ExpectAllCompleted(f.SendAll(10));
  EXPECT_GE(f.client->stats().connections.opened, 10u) << "HTTP/1.1: one per concurrent request";
}

TEST_F(HttpClientNginx, H2RequiredButNotNegotiatedIsAProtocolFailure) {
  Fixture f;
  f.Connect(Url(nginx_->ports().tls_http1, true), HttpProtocol::kH2, nginx_->cert_pem());
  auto recorders = f.SendAll(3);
  for (const auto& r : recorders) {
    EXPECT_EQ(r->end.outcome, TransportOutcome::kProtocol);
    EXPECT_NE(r->end.detail.message().find("did not negotiate h2"), std::string::npos);
  }
}

TEST_F(HttpClientNginx, UntrustedCertificateFailsEveryRequestAsTls) {
  Fixture f;
  f.Connect(Url(nginx_->ports().tls, true), HttpProtocol::kAuto, /*ca_pem=*/"");
  auto recorders = f.SendAll(5);
  for (const auto& r : recorders) {
    EXPECT_EQ(r->end.outcome, TransportOutcome::kTls) << r->end.detail;
    EXPECT_EQ(r->sent_ns, 0) << "a request that never left must not look sent";
  }
}

TEST_F(HttpClientNginx, CancelEndsOnlyThatRequest) {
  for (HttpProtocol protocol : {HttpProtocol::kHttp1, HttpProtocol::kH2c}) {
    Fixture f;
    f.Connect(Url(protocol == HttpProtocol::kH2c ? nginx_->ports().h2c : nginx_->ports().http1),
              protocol);
    Recorder slow;
    const HttpClient::RequestId slow_id = f.client->Send(f.Head("/slow"), "{}", &slow);
    ASSERT_TRUE(f.loop->RunUntil([&] { return !slow.body.empty(); }));
    EXPECT_EQ(slow.body, "data: first\n");
    f.client->Cancel(slow_id);
    EXPECT_EQ(slow.ends, 1);
    EXPECT_EQ(slow.end.outcome, TransportOutcome::kCancelled);
    f.client->Cancel(slow_id);  // a second cancel is ignored
    EXPECT_EQ(slow.ends, 1);
    ExpectAllCompleted(f.SendAll(5));
  }
}

TEST(HttpClient, RefusedConnectionFailsRequestsAsConnect) {
  Fixture f;
  const int port = testing::PickFreePort();  // nothing listens there
  f.Connect(absl::StrCat("http://127.0.0.1:", port, "/v1/completions"), HttpProtocol::kH2c);
  auto recorders = f.SendAll(4);
  for (const auto& r : recorders) {
    EXPECT_EQ(r->end.outcome, TransportOutcome::kConnect);
    EXPECT_NE(r->end.detail.message().find("ECONNREFUSED"), std::string::npos) << r->end.detail;
  }
}

// A closed loop of one user against a closed port: without backoff it would connect tens of
// thousands of times a second.
TEST(HttpClient, ConnectFailuresBackOff) {
  Fixture f;
  const int port = testing::PickFreePort();  // nothing listens there
  f.Connect(absl::StrCat("http://127.0.0.1:", port, "/v1/completions"), HttpProtocol::kHttp1);
  const int64_t start_ns = MonotonicNowNs();
  const int64_t stop_ns = start_ns + 2'000'000'000;
  std::vector<std::unique_ptr<Recorder>> recorders;
  bool running = true;
  std::function<void()> send_next = [&] {
    recorders.push_back(std::make_unique<Recorder>());
    recorders.back()->on_end = [&] {
      if (MonotonicNowNs() < stop_ns) {
        f.loop->Post([&] { send_next(); });
      } else {
        running = false;
      }
    };
    f.client->Send(f.Head(), "{}", recorders.back().get());
  };
  send_next();
  ASSERT_TRUE(f.loop->RunUntil([&] { return !running; }));
  const ConnectionStats stats = f.client->stats().connections;
  EXPECT_GE(stats.opened, 5u);
  EXPECT_LE(stats.opened, 15u) << "10 ms doubling to 1 s: about 9 attempts in 2 s";
  EXPECT_EQ(stats.connect_time.TotalCount(), 0);
  EXPECT_GE(stats.unreachable_ns, 1'900'000'000);
  for (const auto& r : recorders) {
    EXPECT_EQ(r->end.outcome, TransportOutcome::kConnect) << r->end.detail;
  }
}

// nginx ends a connection after keepalive_requests requests with GOAWAY(NO_ERROR); streams the
// client had already opened above its last stream id were not processed (RFC 9113 8.7) and go
// out again on a new connection, counted as retries, not as failures.
TEST(HttpClient, StreamsAboveAGracefulGoawayAreRetried) {
  auto peer = NginxPeer::Start(Locations() + "    keepalive_requests 5;\n");
  ASSERT_TRUE(peer.ok()) << peer.status();
  Fixture f;
  f.Connect(absl::StrCat("http://127.0.0.1:", (*peer)->ports().h2c, "/v1/chat/completions"),
            HttpProtocol::kH2c);
  // 12 at once: 5 served on the first connection, 7 resent; 5 on the second, 2 resent; 2 on the
  // third (each request may be sent three times).
  ExpectAllCompleted(f.SendAll(12));
  const ConnectionStats stats = f.client->stats().connections;
  EXPECT_EQ(stats.retries, 9u);
  EXPECT_EQ(stats.opened, 3u);
  EXPECT_EQ(stats.failed, 0u);
}

TEST(HttpClient, OpensMoreConnectionsWhenTheServerCapsStreamsAtTen) {
  const std::string body = ExpectedBody();
  auto peer = NghttpdPeer::Start({{"stream", body}}, /*max_concurrent_streams=*/10, false);
  ASSERT_TRUE(peer.ok()) << peer.status();
  Fixture f;
  f.Connect(absl::StrCat("http://127.0.0.1:", (*peer)->port(), "/stream"), HttpProtocol::kH2c);
  // The first connection must learn the cap first: one request opens it.
  ExpectAllCompleted(f.SendAll(1, "/stream"));
  ExpectAllCompleted(f.SendAll(60, "/stream"));
  EXPECT_GE(f.client->stats().connections.opened, 6u);
  EXPECT_EQ(f.client->stats().connections.server_max_streams, 10u);
  EXPECT_LE(f.client->stats().connections.max_concurrent_streams, 10u);
}

TEST(HttpClient, H2OverTlsWithNghttpd) {
  auto peer = NghttpdPeer::Start({{"stream", ExpectedBody()}}, 100, /*tls=*/true);
  ASSERT_TRUE(peer.ok()) << peer.status();
  Fixture f;
  f.Connect(absl::StrCat("https://localhost:", (*peer)->port(), "/stream"), HttpProtocol::kH2,
            (*peer)->cert_pem());
  ExpectAllCompleted(f.SendAll(30, "/stream"));
  EXPECT_EQ(f.client->stats().connections.opened, 1u);
}

}  // namespace
}  // namespace bench::engine
