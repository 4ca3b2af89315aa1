#include "controller/metrics_exporter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "common/run_stats.h"
#include "controller/coordinator.h"
#include "controller/http_endpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// One answer as a plain socket client saw it.
struct ClientReply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// Connects to 127.0.0.1:port, writes `request` as given, reads until the server closes.
ClientReply Exchange(int port, const std::string& request) {
  ClientReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ADD_FAILURE() << "connect: " << std::strerror(errno);
    ::close(fd);
    return reply;
  }
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // The server may answer (and close) before reading everything.
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    ADD_FAILURE() << "no complete response head: " << raw;
    return reply;
  }
  reply.head = raw.substr(0, end);
  reply.body = raw.substr(end + 4);
  EXPECT_TRUE(raw.rfind("HTTP/1.1 ", 0) == 0 && absl::SimpleAtoi(raw.substr(9, 3), &reply.status))
      << raw;
  return reply;
}

ClientReply Get(int port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

TEST(MetricsExporterTest, IdleCoordinator) {
  Coordinator coordinator(CoordinatorOptions{});
  coordinator.Start();
  MetricsExporter exporter(coordinator);
  const std::string text = exporter.Scrape();
  EXPECT_THAT(text, HasSubstr("\nllmd_bench_workers_connected 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE llmd_bench_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("llmd_bench_requests_total{outcome=\"success\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("llmd_bench_runs_finished_total{state=\"done\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("llmd_bench_run_active 0\n"));
  EXPECT_THAT(text, HasSubstr("llmd_bench_ready 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE llmd_bench_ttft_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("llmd_bench_ttft_seconds_count 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("llmd_bench_run_info{")));
}

TEST(MetricsExporterTest, SnapshotAsText) {
  ControllerMetrics metrics;
  metrics.workers_connected = 3;
  metrics.workers_busy = 2;
  metrics.runs_queued = 1;
  metrics.runs_finished = {{"done", 4}, {"failed", 1}};
  metrics.run_active = true;
  metrics.run_id = "prom-20250101T000000Z";
  metrics.run_phase = "running";
  metrics.target_rate = 12.5;
  metrics.achieved_rate = 12;
  metrics.in_flight = 7;
  metrics.client_queue = 2;
  metrics.totals.succeeded = 3;
  metrics.totals.failed = 2;
  metrics.totals.incomplete = 1;
  metrics.totals.requests_sent = 6;
  metrics.totals.errors = {{"http_5xx:503", 1}, {"timeout", 1}};
  metrics.totals.input_tokens = 300;
  metrics.totals.output_tokens = 60;
  Histogram& ttft = metrics.totals.histogram(LatencyMetric::kTtft);
  ttft.Record(1'000);      // exactly 0.001 s (unit-wide buckets below 2048 us)
  ttft.Record(15'000);     // bucket [15000, 15007]: under 0.02
  ttft.Record(20'001);     // bucket [20000, 20015] straddles 0.02: counted under 0.04 only
  ttft.Record(3'000'000);  // 3 s
  for (int i = 0; i < 100; ++i) metrics.run_window.histogram(LatencyMetric::kTtft).Record(1'000);
  metrics.shards_applied = 9;
  metrics.shards_duplicate = 1;
  metrics.ready = true;

  const std::string text = FormatControllerMetrics(metrics);
  for (const char* line : {
           "llmd_bench_workers_connected 3\n",
           "llmd_bench_workers_busy 2\n",
           "llmd_bench_runs_queued 1\n",
           "# TYPE llmd_bench_runs_finished_total counter\n",
           "llmd_bench_runs_finished_total{state=\"done\"} 4\n",
           "llmd_bench_runs_finished_total{state=\"failed\"} 1\n",
           "llmd_bench_runs_finished_total{state=\"cancelled\"} 0\n",
           "llmd_bench_run_active 1\n",
           "llmd_bench_run_info{run_id=\"prom-20250101T000000Z\",phase=\"running\"} 1\n",
           "llmd_bench_target_rate_requests_per_second 12.5\n",
           "llmd_bench_achieved_rate_requests_per_second 12\n",
           "llmd_bench_requests_in_flight 7\n",
           "llmd_bench_requests_queued 2\n",
           "llmd_bench_requests_total{outcome=\"success\"} 3\n",
           "llmd_bench_requests_total{outcome=\"failed\"} 2\n",
           "llmd_bench_requests_total{outcome=\"incomplete\"} 1\n",
           "# TYPE llmd_bench_request_errors_total counter\n",
           "llmd_bench_request_errors_total{category=\"http_5xx:503\"} 1\n",
           "llmd_bench_request_errors_total{category=\"timeout\"} 1\n",
           "llmd_bench_input_tokens_total 300\n",
           "llmd_bench_output_tokens_total 60\n",
           "llmd_bench_ttft_seconds_bucket{le=\"0.001\"} 1\n",
           "llmd_bench_ttft_seconds_bucket{le=\"0.005\"} 1\n",
           "llmd_bench_ttft_seconds_bucket{le=\"0.02\"} 2\n",
           "llmd_bench_ttft_seconds_bucket{le=\"0.04\"} 3\n",
           "llmd_bench_ttft_seconds_bucket{le=\"2.5\"} 3\n",
           "llmd_bench_ttft_seconds_bucket{le=\"5\"} 4\n",
           "llmd_bench_ttft_seconds_bucket{le=\"2560\"} 4\n",
           "llmd_bench_ttft_seconds_bucket{le=\"+Inf\"} 4\n",
           "llmd_bench_ttft_seconds_count 4\n",
           "llmd_bench_itl_seconds_count 0\n",
           "llmd_bench_run_ttft_seconds{quantile=\"0.5\"} 0.001\n",
           "llmd_bench_run_ttft_seconds{quantile=\"0.99\"} 0.001\n",
           "llmd_bench_shards_applied_total 9\n",
           "llmd_bench_shards_duplicate_total 1\n",
           "llmd_bench_shard_apply_errors_total 0\n",
       }) {
    EXPECT_THAT(text, HasSubstr(line));
  }
  // No run_window samples yet: the family is there, its samples are not.
  EXPECT_THAT(text, Not(HasSubstr("llmd_bench_run_itl_seconds{")));

  // _sum is Mean() * count in seconds: about 3.036 s here (median equivalent values).
  std::smatch sum;
  ASSERT_TRUE(std::regex_search(text, sum, std::regex("\nllmd_bench_ttft_seconds_sum (\\S+)\n")));
  double sum_s = 0;
  ASSERT_TRUE(absl::SimpleAtod(sum[1].str(), &sum_s));
  EXPECT_NEAR(sum_s, 1e-6 * (1'000 + 15'000 + 20'001 + 3'000'000), 3e-3);

  // Every bound prints short (0.00025, not 0.0002499999999999999) and is a valid float.
  const std::regex le("le=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), le); it != std::sregex_iterator();
       ++it) {
    const std::string bound = (*it)[1].str();
    EXPECT_LE(bound.size(), 7u) << bound;
  }
}

TEST(HttpEndpointTest, RoutesOfAStartedCoordinator) {
  Coordinator coordinator(CoordinatorOptions{});
  coordinator.Start();
  MetricsExporter exporter(coordinator);
  HttpEndpoint endpoint;
  exporter.AddRoutes(endpoint);
  ASSERT_TRUE(endpoint.Start("127.0.0.1:0").ok());
  ASSERT_GT(endpoint.port(), 0);

  const ClientReply health = Get(endpoint.port(), "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");
  EXPECT_THAT(health.head, HasSubstr("\r\nContent-Length: 2\r\n"));
  EXPECT_THAT(health.head, HasSubstr("\r\nConnection: close"));

  const ClientReply ready = Get(endpoint.port(), "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready");

  EXPECT_EQ(Get(endpoint.port(), "/nope").status, 404);

  const ClientReply metrics = Get(endpoint.port(), "/metrics?debug=1");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.head, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(metrics.head,
              HasSubstr("\r\nContent-Length: " + std::to_string(metrics.body.size()) + "\r\n"));
  EXPECT_THAT(metrics.body, HasSubstr("\nllmd_bench_workers_connected 0\n"));
  endpoint.Stop();
}

TEST(HttpEndpointTest, ReadyzIsUnavailableBeforeTheCoordinatorStarts) {
  Coordinator coordinator(CoordinatorOptions{});
  MetricsExporter exporter(coordinator);
  HttpEndpoint endpoint;
  exporter.AddRoutes(endpoint);
  ASSERT_TRUE(endpoint.Start("127.0.0.1:0").ok());
  const ClientReply ready = Get(endpoint.port(), "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "not ready");
  EXPECT_EQ(Get(endpoint.port(), "/healthz").status, 200);
}

TEST(HttpEndpointTest, RejectsWhatItDoesNotServe) {
  HttpEndpoint endpoint;
  endpoint.Handle("/x", [] { return HttpResponse{200, "text/plain", "body"}; });
  ASSERT_TRUE(endpoint.Start("127.0.0.1:0").ok());
  const int port = endpoint.port();

  const ClientReply post = Exchange(port, "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.head, HasSubstr("\r\nAllow: GET, HEAD"));
  EXPECT_EQ(Exchange(port, "nonsense\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange(port, "GET x HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange(port, "GET /x HTTP/1.1\r\nX-Big: " +
                               std::string(HttpEndpoint::kMaxRequestBytes, 'a') + "\r\n\r\n")
                .status,
            431);

  const ClientReply head = Exchange(port, "HEAD /x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_THAT(head.head, HasSubstr("Content-Length: 4"));
  EXPECT_EQ(head.body, "");
  // Bare LF line ends (as some hand-written clients send) are accepted.
  const ClientReply lf = Exchange(port, "GET /x HTTP/1.0\n\n");
  EXPECT_EQ(lf.status, 200);
  EXPECT_EQ(lf.body, "body");
  EXPECT_THAT(lf.head, StartsWith("HTTP/1.1 200 OK"));
}

TEST(HttpEndpointTest, StopWakesAnIdleClientAndAccept) {
  HttpEndpoint endpoint;
  endpoint.Handle("/x", [] { return HttpResponse{}; });
  ASSERT_TRUE(endpoint.Start("127.0.0.1:0").ok());
  // A client that connects and says nothing: the server is in accept() or in its recv(); Stop()
  // must end either without waiting for the client timeout.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(endpoint.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  endpoint.Stop();
  char byte;
  EXPECT_LE(::recv(fd, &byte, 1, 0), 0);  // Closed without an answer.
  ::close(fd);
  endpoint.Stop();  // Idempotent.
}

TEST(HttpEndpointTest, ListenAddresses) {
  EXPECT_EQ(ParseListenAddress("127.0.0.1:9090", "--metrics-listen")->port, 9090);
  EXPECT_EQ(ParseListenAddress("[::1]:0", "--metrics-listen")->host, "::1");
  EXPECT_EQ(ParseListenAddress(":9090", "--metrics-listen")->host, "");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "h:70000", "h:-1"}) {
    absl::StatusOr<ListenAddress> parsed = ParseListenAddress(bad, "--metrics-listen");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("--metrics-listen")) << bad;
  }
  HttpEndpoint endpoint;
  EXPECT_EQ(endpoint.Start("nowhere").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(endpoint.Start("127.0.0.1:0").ok());
  EXPECT_EQ(endpoint.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
  HttpEndpoint second;  // The same port twice: kUnavailable naming the address.
  const std::string taken = "127.0.0.1:" + std::to_string(endpoint.port());
  const absl::Status status = second.Start(taken);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(taken));
}

}  // namespace
}  // namespace bench::controller
