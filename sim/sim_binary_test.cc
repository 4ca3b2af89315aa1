// The bench-sim binary on 127.0.0.1 port 0 (read from its log line), measured by an independent
// client: the engine's HttpClient timestamps every read before parsing. Checks the timing
// contract (p50 TTFT and per-token gap within 1 ms of --ttft 50ms / --itl 10ms at 100 concurrent
// streams) and the capacity contract (8 running, 4 waiting, the 13th gets 429).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "sim/sim_test_client.h"

namespace bench::sim {
namespace {

using testing::ChatBody;
using testing::Exchange;
using testing::SimClient;
using testing::SimProcess;
using testing::Transport;

int64_t Percentile(std::vector<int64_t> values, double q) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  const size_t index = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// 100 streams of 30 tokens (340 ms each) started 1 ms apart: all 100 run at once from 100 ms
// to 340 ms. Arrivals are spread as in a real run, so the figures are the sim's schedule and
// not a burst of 100 requests queued in the kernel behind each other.
void CheckTiming(Transport transport, const char* name) {
  SimProcess sim(BENCH_SIM_BINARY, {"--listen", "127.0.0.1:0", "--ttft", "50ms", "--itl", "10ms"});
  ASSERT_GT(sim.port(), 0);
  SimClient client(sim.port(), transport);
  constexpr int kStreams = 100;
  constexpr int kTokens = 30;
  // Open the connections first (100 for HTTP/1.1, one for h2c), so a request's send time is
  // when its bytes left, not when it was queued behind a TCP handshake.
  for (int i = 0; i < kStreams; ++i) client.Send("GET", "/health", "");
  ASSERT_TRUE(client.WaitAll(30'000));
  std::vector<Exchange*> exchanges;
  const int64_t start_ns = MonotonicNowNs();
  for (int i = 0; i < kStreams; ++i) {
    const int64_t send_at_ns = start_ns + i * 1'000'000;
    ASSERT_TRUE(client.WaitUntil([&] { return MonotonicNowNs() >= send_at_ns; }));
    exchanges.push_back(
        client.Send("POST", "/v1/chat/completions", ChatBody(10 + i, kTokens, true)));
  }
  ASSERT_TRUE(client.WaitAll(30'000));
  std::vector<int64_t> ttft_ns;
  std::vector<int64_t> gap_ns;
  for (Exchange* exchange : exchanges) {
    ASSERT_EQ(exchange->http_status, 200) << exchange->body;
    const auto content = exchange->ContentEvents();
    ASSERT_EQ(content.size(), static_cast<size_t>(kTokens));
    // The last stream starts before the first ends: 100 concurrent streams.
    ASSERT_LT(exchanges.back()->sent_ns, exchanges.front()->end_ns);
    ttft_ns.push_back(content.front()->read_ns - exchange->sent_ns);
    for (size_t i = 1; i < content.size(); ++i) {
      gap_ns.push_back(content[i]->read_ns - content[i - 1]->read_ns);
    }
  }
  const int64_t ttft_p50 = Percentile(ttft_ns, 0.5);
  const int64_t gap_p50 = Percentile(gap_ns, 0.5);
  std::printf(
      "%s, %d concurrent streams: TTFT p50 %.3f ms p99 %.3f ms; token gap p50 %.3f ms "
      "p99 %.3f ms (%zu gaps)\n",
      name, kStreams, ttft_p50 / 1e6, Percentile(ttft_ns, 0.99) / 1e6, gap_p50 / 1e6,
      Percentile(gap_ns, 0.99) / 1e6, gap_ns.size());
  EXPECT_NEAR(static_cast<double>(ttft_p50), 50e6, 1e6);
  EXPECT_NEAR(static_cast<double>(gap_p50), 10e6, 1e6);
}

TEST(SimBinaryTest, TimingAt100StreamsOverH2c) { CheckTiming(Transport::kH2c, "h2c"); }

TEST(SimBinaryTest, TimingAt100StreamsOverHttp1) { CheckTiming(Transport::kHttp1, "http/1.1"); }

TEST(SimBinaryTest, ThirteenthConcurrentRequestGets429) {
  SimProcess sim(BENCH_SIM_BINARY, {"--listen", "127.0.0.1:0", "--max-num-seqs", "8", "--max-queue",
                                    "4", "--ttft", "10ms", "--itl", "10ms"});
  ASSERT_GT(sim.port(), 0);
  SimClient client(sim.port(), Transport::kH2c);
  std::vector<Exchange*> admitted;
  for (int i = 0; i < 12; ++i) {
    admitted.push_back(client.Send("POST", "/v1/chat/completions", ChatBody(5, 1000, true)));
  }
  // Each admitted stream (running or waiting) gets its 200 head at once.
  ASSERT_TRUE(client.WaitUntil([&] {
    return std::all_of(admitted.begin(), admitted.end(),
                       [](Exchange* exchange) { return exchange->http_status != 0; });
  }));
  for (Exchange* exchange : admitted) EXPECT_EQ(exchange->http_status, 200);
  Exchange* thirteenth = client.Send("POST", "/v1/chat/completions", ChatBody(5, 10, true));
  ASSERT_TRUE(client.WaitUntil([&] { return thirteenth->done(); }));
  EXPECT_EQ(thirteenth->http_status, 429);
  EXPECT_NE(thirteenth->body.find(R"({"error":{"message":)"), std::string::npos)
      << thirteenth->body;
  EXPECT_NE(thirteenth->body.find(R"("code":429)"), std::string::npos);

  SimClient scraper(sim.port(), Transport::kHttp1);
  Exchange* metrics = scraper.Send("GET", "/metrics", "");
  ASSERT_TRUE(scraper.WaitAll());
  EXPECT_NE(metrics->body.find("vllm:num_requests_running{model_name=\"sim-model\"} 8"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("vllm:num_requests_waiting{model_name=\"sim-model\"} 4"),
            std::string::npos)
      << metrics->body;
  // None of the twelve has finished meanwhile (1000 tokens take 10 s).
  for (Exchange* exchange : admitted) EXPECT_FALSE(exchange->done());
  client.CancelAll();
}

// A client that stops reading while tokens pour out gets them late, as from a real server, and
// not a dropped connection: the sim holds back writes above a high water instead of queueing
// without bound (it used to close at 64 MiB queued, failing every stream on the connection).
TEST(SimBinaryTest, AClientThatStopsReadingIsSlowedDownNotDropped) {
  SimProcess sim(BENCH_SIM_BINARY,
                 {"--listen", "127.0.0.1:0", "--max-model-len", "300000", "--itl", "0"});
  ASSERT_GT(sim.port(), 0);
  SimClient client(sim.port(), Transport::kH2c);
  // Each stream under the client's 16 MiB stream window, so flow control does not hold them back.
  constexpr int kStreams = 8;
  constexpr int kTokens = 60'000;  // about 12 MB of events each
  std::vector<Exchange*> exchanges;
  for (int i = 0; i < kStreams; ++i) {
    exchanges.push_back(client.Send("POST", "/v1/chat/completions", ChatBody(5, kTokens, true)));
    exchanges.back()->count_only = true;
  }
  ASSERT_TRUE(client.WaitUntil([&] {
    return std::all_of(exchanges.begin(), exchanges.end(),
                       [](Exchange* exchange) { return exchange->body_bytes > 0; });
  }));
  // The stimulus, not a synchronisation: the client reads nothing for 3 s while the sim makes
  // over 80 MiB of events for it.
  absl::SleepFor(absl::Seconds(3));
  ASSERT_TRUE(client.WaitAll(120'000));
  uint64_t bytes = 0;
  for (Exchange* exchange : exchanges) {
    EXPECT_EQ(exchange->end.outcome, engine::TransportOutcome::kCompleted) << exchange->end.detail;
    EXPECT_EQ(exchange->content_events, static_cast<uint64_t>(kTokens));
    EXPECT_TRUE(exchange->done_event);
    bytes += exchange->body_bytes;
  }
  EXPECT_GT(bytes, uint64_t{80} << 20) << "more than the old 64 MiB cap was held back";
}

// ---------------------------------------------------------------------------------------------
// Abuse limits: raw sockets, as a hostile client would hold them.

// A blocking TCP connection to 127.0.0.1:`port`; -1 on failure.
int ConnectRaw(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, std::string_view bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Reads until the server closes (EOF or reset) or `limit_ms` passes; returns the ms it took, or
// -1 when the connection was still open at the limit. `out` gets what was read.
int64_t MsUntilClosed(int fd, int64_t limit_ms, std::string* out = nullptr) {
  const int64_t start_ns = MonotonicNowNs();
  timeval tv{0, 100'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buffer[4096];
  while ((MonotonicNowNs() - start_ns) / 1'000'000 < limit_ms) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      if (out != nullptr) out->append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    return (MonotonicNowNs() - start_ns) / 1'000'000;  // EOF or reset
  }
  return -1;
}

constexpr char kHealthRequest[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

// Slowloris: half a request head, then nothing. The connection is closed after the header
// timeout; a client that sends whole requests is not touched.
TEST(SimAbuseTest, APartialRequestIsClosedAfterTheHeaderTimeout) {
  SimProcess sim(BENCH_SIM_BINARY, {"--listen", "127.0.0.1:0", "--header-timeout", "1s"});
  ASSERT_GT(sim.port(), 0);
  const int slow = ConnectRaw(sim.port());
  const int silent = ConnectRaw(sim.port());  // not even a byte: owes the request from accept
  ASSERT_GE(slow, 0);
  ASSERT_GE(silent, 0);
  SendAll(slow, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Len");
  SimClient healthy(sim.port(), Transport::kHttp1);
  Exchange* health = healthy.Send("GET", "/health", "");
  ASSERT_TRUE(healthy.WaitAll());
  EXPECT_EQ(health->http_status, 200);
  // Closed after 1 s (the sweep runs every second): between 1 and 3 s from here.
  const int64_t slow_ms = MsUntilClosed(slow, 5'000);
  EXPECT_GE(slow_ms, 0) << "the slow client still holds its connection";
  EXPECT_LE(slow_ms, 3'000);
  EXPECT_GE(MsUntilClosed(silent, 5'000), 0);
  close(slow);
  close(silent);
  EXPECT_NE(sim.Log().find("sent no whole request within 1s (--header-timeout"), std::string::npos)
      << sim.Log();
}

TEST(SimAbuseTest, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  SimProcess sim(BENCH_SIM_BINARY, {"--listen", "127.0.0.1:0", "--idle-timeout", "1s"});
  ASSERT_GT(sim.port(), 0);
  const int fd = ConnectRaw(sim.port());
  ASSERT_GE(fd, 0);
  SendAll(fd, kHealthRequest);
  std::string response;
  const int64_t ms = MsUntilClosed(fd, 5'000, &response);
  close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_GE(ms, 900) << "answered, then kept open while idle";
  EXPECT_LE(ms, 3'000);
}

TEST(SimAbuseTest, ConnectionsBeyondTheCapAreClosedWithAWarning) {
  SimProcess sim(BENCH_SIM_BINARY, {"--listen", "127.0.0.1:0", "--max-connections", "2"});
  ASSERT_GT(sim.port(), 0);
  const int first = ConnectRaw(sim.port());
  const int second = ConnectRaw(sim.port());
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  // Both admitted: each gets its answer (and so is counted before the third arrives).
  for (int fd : {first, second}) {
    SendAll(fd, kHealthRequest);
    char buffer[256];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string_view(buffer, static_cast<size_t>(n)).rfind("HTTP/1.1 200", 0), 0u);
  }
  const int third = ConnectRaw(sim.port());
  ASSERT_GE(third, 0);  // The kernel accepts; the sim closes it at once.
  EXPECT_GE(MsUntilClosed(third, 3'000), 0);
  close(third);
  EXPECT_NE(sim.Log().find("--max-connections 2 reached: closed 1 new connections so far"),
            std::string::npos)
      << sim.Log();
  // Once one of the two goes, a new connection is admitted again.
  close(first);
  bool admitted = false;
  for (int attempt = 0; attempt < 50 && !admitted; ++attempt) {
    const int fd = ConnectRaw(sim.port());
    ASSERT_GE(fd, 0);
    SendAll(fd, kHealthRequest);
    std::string response;
    MsUntilClosed(fd, 300, &response);
    admitted = response.rfind("HTTP/1.1 200", 0) == 0;
    close(fd);
  }
  EXPECT_TRUE(admitted);
  close(second);
}

// Requests not yet whole may hold --max-buffered-bytes over all connections: the connection
// whose bytes go beyond is closed with a warning; the one already holding its share is served.
TEST(SimAbuseTest, RequestsNotYetWholeBeyondTheBufferCapAreClosed) {
  SimProcess sim(BENCH_SIM_BINARY, {"--listen", "127.0.0.1:0", "--max-buffered-bytes", "1000000"});
  ASSERT_GT(sim.port(), 0);
  constexpr size_t kBody = 700'000;
  const std::string head = absl::StrCat(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: ",
      kBody, "\r\n\r\n");
  const std::string body(kBody, 'x');  // not JSON: the whole request gets a 400
  const int first = ConnectRaw(sim.port());
  ASSERT_GE(first, 0);
  SendAll(first, head + body.substr(0, 600'000));
  // One event loop: once a later connection's request is answered, the first one's bytes,
  // already in its socket, have been read.
  const int probe = ConnectRaw(sim.port());
  ASSERT_GE(probe, 0);
  SendAll(probe, kHealthRequest);
  char buffer[256];
  ASSERT_GT(recv(probe, buffer, sizeof(buffer), 0), 0);
  close(probe);
  // 600 KB held; another 600 KB would make 1.2 MB: this connection is closed, unanswered.
  const int second = ConnectRaw(sim.port());
  ASSERT_GE(second, 0);
  SendAll(second, head + body.substr(0, 600'000));
  std::string second_response;
  EXPECT_GE(MsUntilClosed(second, 5'000, &second_response), 0);
  EXPECT_EQ(second_response, "");
  close(second);
  // Its share given back, the first connection's request completes and is answered.
  SendAll(first, body.substr(600'000));
  std::string first_response;
  MsUntilClosed(first, 1'000, &first_response);
  EXPECT_EQ(first_response.rfind("HTTP/1.1 400", 0), 0u) << first_response.substr(0, 200);
  close(first);
  EXPECT_NE(sim.Log().find("--max-buffered-bytes 1000000 reached: requests not yet whole held "),
            std::string::npos)
      << sim.Log();
  EXPECT_NE(sim.Log().find("(1 closed so far)"), std::string::npos) << sim.Log();
}

}  // namespace
}  // namespace bench::sim
