// The whole bench-sim server in-process on 127.0.0.1 port 0, driven by the engine's HTTP client
// (HTTP/1.1, h2c, TLS) and by raw sockets for what a well-behaved client never sends.
#include "sim/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/sim_server_fixture.h"
#include "sim/sim_test_client.h"
#include "tests/testing/test_certs.h"

namespace bench::sim {
namespace {

using testing::ChatBody;
using testing::Exchange;
using testing::SimClient;
using testing::Transport;

SimConfig FastConfig() {
  SimConfig config;
  config.listen = {{"127.0.0.1", 0}};
  config.ttft = absl::Milliseconds(2);
  config.itl = absl::Milliseconds(1);
  return config;
}

using ServerTest = testing::SimServerTest;

// Replaces the value after `key` up to the first of `stops` with `replacement`.
std::string Blank(std::string text, std::string_view key, std::string_view stops,
                  std::string_view replacement) {
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    const size_t start = at + key.size();
    const size_t end = text.find_first_of(stops, start);
    if (end == std::string::npos) break;
    text.replace(start, end - start, replacement);
  }
  return text;
}

// Event data with the per-request id and timestamp blanked, for comparing streams. (No
// std::regex: GCC 12's sanitizer builds warn inside it.)
std::vector<std::string> Normalized(const Exchange& exchange) {
  std::vector<std::string> events;
  for (const auto& event : exchange.events) {
    events.push_back(Blank(Blank(event.data, R"("id":")", "\"", "X"), R"("created":)", ",", "0"));
  }
  return events;
}

// Checks a streamed chat response: role, `tokens` content deltas, finish, usage, [DONE].
void ExpectChatStream(const Exchange& exchange, int prompt_tokens, int tokens) {
  ASSERT_EQ(exchange.http_status, 200) << exchange.body;
  ASSERT_EQ(exchange.end.outcome, engine::TransportOutcome::kCompleted);
  ASSERT_EQ(exchange.events.size(), static_cast<size_t>(tokens + 4)) << exchange.body;
  for (const auto& event : exchange.events) ASSERT_TRUE(event.decode_ok) << event.data;
  EXPECT_TRUE(exchange.events[0].payload.has_role);
  EXPECT_FALSE(exchange.events[0].payload.has_output);
  EXPECT_EQ(exchange.ContentEvents().size(), static_cast<size_t>(tokens));
  const auto& finish = exchange.events[tokens + 1].payload;
  EXPECT_EQ(finish.finish_reason, "length");
  const auto& usage = exchange.events[tokens + 2].payload.usage;
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, prompt_tokens);
  EXPECT_EQ(usage->completion_tokens, tokens);
  EXPECT_EQ(usage->total_tokens, prompt_tokens + tokens);
  EXPECT_EQ(usage->cached_tokens, 0);
  EXPECT_TRUE(exchange.events.back().payload.done);
}

TEST_F(ServerTest, ChatStreamIsTheSameOverHttp1AndH2c) {
  StartServer(FastConfig());
  std::vector<std::vector<std::string>> streams;
  for (Transport transport : {Transport::kHttp1, Transport::kH2c}) {
    SimClient client(port_, transport);
    Exchange* exchange = client.Send("POST", "/v1/chat/completions", ChatBody(12, 5, true));
    ASSERT_TRUE(client.WaitAll());
    ExpectChatStream(*exchange, 12, 5);
    streams.push_back(Normalized(*exchange));
  }
  EXPECT_EQ(streams[0], streams[1]);
}

TEST_F(ServerTest, CompletionsStreamCarriesFinishOnTheLastToken) {
  StartServer(FastConfig());
  SimClient client(port_, Transport::kH2c);
  Exchange* exchange = client.Send(
      "POST", "/v1/completions",
      R"({"model":"sim-model","prompt":"a b c d","max_tokens":4,"ignore_eos":true,"stream":true})");
  ASSERT_TRUE(client.WaitAll());
  ASSERT_EQ(exchange->http_status, 200);
  ASSERT_EQ(exchange->events.size(), 5u);  // 4 tokens and [DONE]: no usage unless asked.
  EXPECT_FALSE(exchange->events[0].payload.has_role);
  EXPECT_EQ(exchange->events[2].payload.finish_reason, "");
  EXPECT_EQ(exchange->events[3].payload.finish_reason, "length");
  EXPECT_TRUE(exchange->events[4].payload.done);
  EXPECT_NE(exchange->events[0].data.find(R"("object":"text_completion")"), std::string::npos);
}

TEST_F(ServerTest, NonStreamingResponses) {
  StartServer(FastConfig());
  SimClient client(port_, Transport::kHttp1);
  Exchange* chat = client.Send("POST", "/v1/chat/completions", ChatBody(3, 7, false));
  Exchange* completion =
      client.Send("POST", "/v1/completions",
                  R"({"model":"sim-model","prompt":"x y","max_tokens":3,"ignore_eos":true})");
  ASSERT_TRUE(client.WaitAll());
  engine::OpenAiDecoder decoder;
  engine::OpenAiPayload payload;
  ASSERT_EQ(chat->http_status, 200);
  ASSERT_TRUE(decoder.DecodeResponse(chat->body, payload).ok()) << chat->body;
  EXPECT_EQ(payload.finish_reason, "length");
  ASSERT_TRUE(payload.usage.has_value());
  EXPECT_EQ(payload.usage->prompt_tokens, 3);
  EXPECT_EQ(payload.usage->completion_tokens, 7);
  ASSERT_EQ(completion->http_status, 200);
  ASSERT_TRUE(decoder.DecodeResponse(completion->body, payload).ok()) << completion->body;
  EXPECT_EQ(payload.usage->completion_tokens, 3);
  EXPECT_GT(payload.output_bytes, 0u);
}

TEST_F(ServerTest, EchoModeRepeatsThePrompt) {
  SimConfig config = FastConfig();
  config.mode = OutputMode::kEcho;
  StartServer(config);
  SimClient client(port_, Transport::kHttp1);
  Exchange* exchange = client.Send("POST", "/v1/completions",
                                   R"({"model":"sim-model","prompt":"alpha beta, gamma"})");
  ASSERT_TRUE(client.WaitAll());
  EXPECT_NE(exchange->body.find(R"("text":"alpha beta , gamma")"), std::string::npos)
      << exchange->body;
  EXPECT_NE(exchange->body.find(R"("finish_reason":"stop")"), std::string::npos);
}

// Every error is OpenAI JSON with the right status, and the server keeps serving.
TEST_F(ServerTest, ErrorsAreOpenAiJsonAndTheServerSurvives) {
  SimConfig config = FastConfig();
  config.max_model_len = 64;
  config.max_body_bytes = 4096;
  StartServer(config);
  struct Case {
    std::string method;
    std::string path;
    std::string body;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/chat/completions", "{bad", 400},
      {"POST", "/v1/chat/completions", R"({"messages":[]})", 400},
      {"POST", "/v1/chat/completions", ChatBody(3, 5, true, true, "other-model"), 404},
      {"POST", "/v1/chat/completions", ChatBody(100, 5, false), 400},  // prompt over 64
      {"POST", "/v1/chat/completions", ChatBody(10, 60, false), 400},  // 10 + 60 > 64
      {"POST", "/v1/completions", R"({"model":"sim-model","prompt":"a","n":3})", 400},
      {"GET", "/v1/chat/completions", "", 405},
      {"POST", "/health", "{}", 405},
      {"POST", "/v2/anything", "{}", 404},
      {"POST", "/v1/chat/completions", std::string(5000, ' '), 413},
  };
  for (Transport transport : {Transport::kHttp1, Transport::kH2c}) {
    SimClient client(port_, transport);
    std::vector<Exchange*> exchanges;
    for (const Case& c : cases) exchanges.push_back(client.Send(c.method, c.path, c.body));
    Exchange* health = client.Send("GET", "/health", "");
    Exchange* models = client.Send("GET", "/v1/models?x=1", "");
    ASSERT_TRUE(client.WaitAll());
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(absl::StrCat(cases[i].method, " ", cases[i].path, " ", cases[i].body));
      EXPECT_EQ(exchanges[i]->http_status, cases[i].status) << exchanges[i]->body;
      engine::OpenAiDecoder decoder;
      engine::OpenAiPayload payload;
      ASSERT_TRUE(decoder.DecodeResponse(exchanges[i]->body, payload).ok()) << exchanges[i]->body;
      ASSERT_TRUE(payload.error.has_value()) << exchanges[i]->body;
      EXPECT_EQ(payload.error->code, std::to_string(cases[i].status));
      EXPECT_FALSE(payload.error->message.empty());
    }
    EXPECT_EQ(health->http_status, 200);
    EXPECT_EQ(health->body, "OK");
    EXPECT_EQ(models->http_status, 200);
    EXPECT_NE(models->body.find(R"("id":"sim-model")"), std::string::npos);
  }
}

TEST_F(ServerTest, OverloadGets429WhileRunningAndWaitingAreFull) {
  SimConfig config = FastConfig();
  config.max_num_seqs = 2;
  config.max_queue = 1;
  config.itl = absl::Milliseconds(5);
  StartServer(config);
  SimClient client(port_, Transport::kH2c);
  std::vector<Exchange*> admitted;
  for (int i = 0; i < 3; ++i) {
    admitted.push_back(client.Send("POST", "/v1/chat/completions", ChatBody(4 + i, 2000, true)));
  }
  // Streamed responses send their head on admission, queued or running.
  ASSERT_TRUE(client.WaitUntil([&] {
    for (Exchange* exchange : admitted) {
      if (exchange->http_status == 0) return false;
    }
    return true;
  }));
  for (Exchange* exchange : admitted) EXPECT_EQ(exchange->http_status, 200);
  Exchange* rejected = client.Send("POST", "/v1/chat/completions", ChatBody(3, 5, true));
  ASSERT_TRUE(client.WaitUntil([&] { return rejected->done(); }));
  EXPECT_EQ(rejected->http_status, 429);
  EXPECT_NE(rejected->body.find(R"("code":429)"), std::string::npos) << rejected->body;
  const std::string metrics = MetricsText();
  EXPECT_NE(metrics.find("vllm:num_requests_running{model_name=\"sim-model\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("vllm:num_requests_waiting{model_name=\"sim-model\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(server_->shared().scheduler.running(), 2);
  // Resetting the streams gives the slots and the queue place back.
  client.CancelAll();
  ASSERT_TRUE(client.WaitUntil([&] {
    return server_->shared().scheduler.running() == 0 && server_->shared().scheduler.waiting() == 0;
  }));
  Exchange* after = client.Send("POST", "/v1/chat/completions", ChatBody(3, 2, true));
  ASSERT_TRUE(client.WaitUntil([&] { return after->done(); }));
  ExpectChatStream(*after, 3, 2);
}

TEST_F(ServerTest, QueuedRequestStartsWhenTheSlotFrees) {
  SimConfig config = FastConfig();
  config.max_num_seqs = 1;
  config.ttft = absl::Milliseconds(20);
  StartServer(config);
  SimClient client(port_, Transport::kH2c);
  Exchange* first = client.Send("POST", "/v1/chat/completions", ChatBody(3, 10, true));
  Exchange* second = client.Send("POST", "/v1/chat/completions", ChatBody(4, 10, true));
  ASSERT_TRUE(client.WaitAll());
  ExpectChatStream(*first, 3, 10);
  ExpectChatStream(*second, 4, 10);
  const int64_t first_last_token = first->ContentEvents().back()->read_ns;
  const int64_t second_first_token = second->ContentEvents().front()->read_ns;
  // The second prefill (20 ms) starts only when the first sequence ends.
  EXPECT_GE(second_first_token - first_last_token, 15'000'000);
}

TEST_F(ServerTest, ClosedConnectionFreesItsSlot) {
  SimConfig config = FastConfig();
  config.max_num_seqs = 1;
  StartServer(config);
  {
    SimClient client(port_, Transport::kHttp1);
    Exchange* hog = client.Send("POST", "/v1/chat/completions", ChatBody(3, 8000, true));
    ASSERT_TRUE(client.WaitUntil([&] { return hog->ContentEvents().size() >= 2; }));
    EXPECT_EQ(server_->shared().scheduler.running(), 1);
  }  // The client closes its connection.
  SimClient client(port_, Transport::kHttp1);
  Exchange* next = client.Send("POST", "/v1/chat/completions", ChatBody(3, 3, true));
  ASSERT_TRUE(client.WaitAll());
  ExpectChatStream(*next, 3, 3);
}

TEST_F(ServerTest, MetricsCountTokensAndLatencies) {
  StartServer(FastConfig());
  SimClient client(port_, Transport::kH2c);
  for (int i = 0; i < 3; ++i) client.Send("POST", "/v1/chat/completions", ChatBody(10, 4, true));
  ASSERT_TRUE(client.WaitAll());
  const std::string metrics = MetricsText();
  EXPECT_NE(metrics.find("vllm:prompt_tokens_total{model_name=\"sim-model\"} 30"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("vllm:generation_tokens_total{model_name=\"sim-model\"} 12"),
            std::string::npos);
  EXPECT_NE(metrics.find("vllm:time_to_first_token_seconds_count{model_name=\"sim-model\"} 3"),
            std::string::npos);
  EXPECT_NE(metrics.find("vllm:inter_token_latency_seconds_count{model_name=\"sim-model\"} 9"),
            std::string::npos);
  EXPECT_NE(metrics.find("vllm:request_success_total{finish_reason=\"length\",model_name="
                         "\"sim-model\"} 3"),
            std::string::npos);
}

// A chat body whose user message is `shared` common words then `own` words unique to `tag`.
std::string PrefixBody(int shared, int own, const std::string& tag) {
  std::string content;
  for (int i = 0; i < shared; ++i) absl::StrAppend(&content, i > 0 ? " " : "", "w", i % 97);
  for (int i = 0; i < own; ++i) absl::StrAppend(&content, " ", tag, i);
  return absl::StrCat(R"({"model":"sim-model","messages":[{"role":"user","content":")", content,
                      R"("}],"max_tokens":2,"ignore_eos":true,"stream":true,)",
                      R"("stream_options":{"include_usage":true}})");
}

struct CachedRun {
  int64_t cached_tokens = -1;
  int64_t ttft_ns = 0;
};

CachedRun RunOne(int port, const std::string& body) {
  SimClient client(port, Transport::kH2c);
  Exchange* exchange = client.Send("POST", "/v1/chat/completions", body);
  EXPECT_TRUE(client.WaitAll());
  CachedRun run;
  for (const auto& event : exchange->events) {
    if (event.payload.usage.has_value()) run.cached_tokens = *event.payload.usage->cached_tokens;
  }
  const auto content = exchange->ContentEvents();
  if (!content.empty()) run.ttft_ns = content.front()->read_ns - exchange->sent_ns;
  return run;
}

// Two requests sharing a 1,024-token prefix: the second finds 64 blocks of 16 in the cache and
// its prefill is shorter by 1,024 x 20 us.
TEST_F(ServerTest, PrefixCacheSkipsPrefillOfSharedBlocks) {
  SimConfig config = FastConfig();
  config.ttft.reset();
  config.prefill_overhead = absl::Milliseconds(1);
  config.prefill_per_token = absl::Microseconds(20);
  config.kv_cache_blocks = 70;
  config.block_size = 16;
  StartServer(config);
  const CachedRun first = RunOne(port_, PrefixBody(1024, 10, "a"));
  EXPECT_EQ(first.cached_tokens, 0);
  // Three requests sharing the cached prefix. Scheduling noise on a busy machine only ever adds
  // delay, so the quickest of the three is the cleanest reading of the warm TTFT.
  CachedRun second;
  int64_t warm_hits = 0;
  for (const char* tag : {"b", "d", "e"}) {
    const CachedRun warm = RunOne(port_, PrefixBody(1024, 10, tag));
    EXPECT_GE(warm.cached_tokens, 1008);
    EXPECT_LE(warm.cached_tokens, 1024);
    warm_hits += warm.cached_tokens;
    if (second.cached_tokens < 0 || warm.ttft_ns < second.ttft_ns) second = warm;
  }
  // The cold request is one sample, and noise only ever adds to it: it is at least its model
  // (1 ms + 1,034 x 20 us); the quickest warm one is near its own model, and the difference at
  // least the modelled saving (20 us per cached token).
  const double first_ms = first.ttft_ns / 1e6;
  const double warm_ms = second.ttft_ns / 1e6;
  const double modelled_cold_ms = 1 + 1034 * 0.020;
  const double modelled_warm_ms = 1 + (1034 - second.cached_tokens) * 0.020;
  const double modelled_saving_ms = second.cached_tokens * 0.020;
  EXPECT_GE(first_ms, modelled_cold_ms - 0.5) << "first " << first_ms << " ms";
  EXPECT_NEAR(warm_ms, modelled_warm_ms, 3.0) << "warm " << warm_ms << " ms";
  EXPECT_GE(first_ms - warm_ms, modelled_saving_ms - 3.0)
      << "first " << first_ms << " ms, warm " << warm_ms << " ms";
  // A different 1,034-token prompt needs 64 blocks of the 70: most of the shared prefix goes.
  const CachedRun other = RunOne(port_, PrefixBody(0, 1034, "c"));
  EXPECT_EQ(other.cached_tokens, 0);
  const CachedRun again = RunOne(port_, PrefixBody(1024, 10, "a"));
  EXPECT_LT(again.cached_tokens, 1008);
  const std::string metrics = MetricsText();
  // Six requests of 1,034 prompt tokens each.
  EXPECT_NE(metrics.find("vllm:prefix_cache_queries_total{model_name=\"sim-model\"} 6204"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(absl::StrCat("vllm:prefix_cache_hits_total{model_name=\"sim-model\"} ",
                                      warm_hits + again.cached_tokens)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("vllm:kv_cache_usage_perc{model_name=\"sim-model\"} 1"),
            std::string::npos);
}

TEST_F(ServerTest, TlsWithAlpnH2AndHttp1) {
  const bench::testing::TestCertificate cert =
      bench::testing::MakeSelfSignedCertificate({"127.0.0.1"});
  char dir[] = "/tmp/sim_tls_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string cert_path = std::string(dir) + "/cert.pem";
  const std::string key_path = std::string(dir) + "/key.pem";
  std::ofstream(cert_path) << cert.cert_pem;
  std::ofstream(key_path) << cert.key_pem;
  SimConfig config = FastConfig();
  config.tls_cert = cert_path;
  config.tls_key = key_path;
  StartServer(config);
  EXPECT_EQ(server_->addresses()[0].Describe(),
            absl::StrCat("127.0.0.1:", port_, " (https: h2, http/1.1)"));
  for (Transport transport : {Transport::kTlsH2, Transport::kTlsHttp1}) {
    SimClient client(port_, transport, cert.cert_pem);
    Exchange* exchange = client.Send("POST", "/v1/chat/completions", ChatBody(5, 3, true));
    ASSERT_TRUE(client.WaitAll());
    ExpectChatStream(*exchange, 5, 3);
  }
  std::remove(cert_path.c_str());
  std::remove(key_path.c_str());
  rmdir(dir);
}

TEST_F(ServerTest, SeveralThreadsShareThePort) {
  SimConfig config = FastConfig();
  config.threads = 3;
  StartServer(config);
  SimClient client(port_, Transport::kHttp1);
  std::vector<Exchange*> exchanges;
  for (int i = 0; i < 40; ++i) {
    exchanges.push_back(client.Send("POST", "/v1/chat/completions", ChatBody(i + 1, 3, true)));
  }
  ASSERT_TRUE(client.WaitAll());
  for (int i = 0; i < 40; ++i) ExpectChatStream(*exchanges[i], i + 1, 3);
}

// A blocking loopback socket for bytes no well-behaved client sends.
class RawSocket {
 public:
  explicit RawSocket(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawSocket() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `marker` has appeared `count` times, EOF, or the 5 s timeout.
  std::string ReadUntil(const std::string& marker, int count, bool* eof = nullptr) {
    std::string text;
    char buffer[4096];
    for (;;) {
      if (!marker.empty()) {
        int seen = 0;
        for (size_t at = text.find(marker); at != std::string::npos;
             at = text.find(marker, at + marker.size())) {
          ++seen;
        }
        if (seen >= count) return text;
      }
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        if (eof != nullptr) *eof = n == 0;
        return text;
      }
      text.append(buffer, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST_F(ServerTest, Http1PipelinedRequestsAreAnsweredInOrder) {
  StartServer(FastConfig());
  RawSocket socket(port_);
  ASSERT_TRUE(socket.connected());
  const std::string body = ChatBody(2, 3, true, false);
  socket.Send(absl::StrCat("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ",
                           body.size(), "\r\n\r\n", body,
                           "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                           "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string text = socket.ReadUntil("HTTP/1.1 200 OK", 3);
  const size_t stream_end = text.find("data: [DONE]\n\n\r\n0\r\n\r\n");
  const size_t health = text.find("\r\n\r\nOK");
  const size_t models = text.find(R"("object":"list")");
  ASSERT_NE(stream_end, std::string::npos) << text;
  ASSERT_NE(health, std::string::npos) << text;
  ASSERT_NE(models, std::string::npos) << text;
  EXPECT_LT(stream_end, health);
  EXPECT_LT(health, models);
  EXPECT_NE(text.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
}

TEST_F(ServerTest, MalformedHttp1GetsA400AndAClose) {
  StartServer(FastConfig());
  for (const std::string& garbage :
       {std::string("NOT HTTP AT ALL\r\n\r\n"), std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n")}) {
    RawSocket socket(port_);
    ASSERT_TRUE(socket.connected());
    socket.Send(garbage);
    bool eof = false;
    const std::string text = socket.ReadUntil("", 0, &eof);
    EXPECT_TRUE(eof) << "the server must close after a malformed request";
    EXPECT_EQ(text.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << text;
    EXPECT_NE(text.find("Connection: close\r\n"), std::string::npos);
    EXPECT_NE(text.find(R"({"error":{"message":)"), std::string::npos);
  }
  // Still serving.
  SimClient client(port_, Transport::kHttp1);
  Exchange* health = client.Send("GET", "/health", "");
  ASSERT_TRUE(client.WaitAll());
  EXPECT_EQ(health->http_status, 200);
}

TEST_F(ServerTest, GarbageAfterTheHttp2PrefaceClosesOnlyThatConnection) {
  StartServer(FastConfig());
  {
    RawSocket socket(port_);
    ASSERT_TRUE(socket.connected());
    socket.Send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string(64, '\xff'));
    bool eof = false;
    socket.ReadUntil("", 0, &eof);
    EXPECT_TRUE(eof);
  }
  SimClient client(port_, Transport::kH2c);
  Exchange* health = client.Send("GET", "/health", "");
  ASSERT_TRUE(client.WaitAll());
  EXPECT_EQ(health->http_status, 200);
}

// llm-d's per-request P/D (kv_transfer_params): `params` appended to a ChatBody.
std::string WithKvTransfer(std::string body, std::string_view params) {
  body.pop_back();  // The closing brace.
  body.append(R"(,"kv_transfer_params":)").append(params).append("}");
  return body;
}

// As llm-d's sidecar sends the two legs.
constexpr std::string_view kPrefillLeg =
    R"({"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
    R"("remote_block_ids":null,"remote_host":null,"remote_port":null})";
constexpr std::string_view kDecodeLeg =
    R"({"do_remote_decode":false,"do_remote_prefill":true,"remote_engine_id":"p-1",)"
    R"("remote_block_ids":[0,1,2,3,4,5,6],"remote_host":"10.0.0.9","remote_port":8000,)"
    R"("tp_size":1})";

// Whether every slot and queue place of both schedulers is free.
bool AllIdle(SimShared& shared) {
  return shared.scheduler.running() == 0 && shared.scheduler.waiting() == 0 &&
         (shared.decode_scheduler == nullptr ||
          (shared.decode_scheduler->running() == 0 && shared.decode_scheduler->waiting() == 0));
}

// --ttft 100ms, and a KV transfer of 20 ms + 100 prompt tokens x 100 us = 30 ms. A decode leg
// (do_remote_prefill) gets its first token after the transfer, not after --ttft, aggregated or
// disaggregated (where it skips the prefill instance); a prefill leg (do_remote_decode) answers
// right after its prefill whatever max_tokens says; a plain request still waits --ttft.
TEST_F(ServerTest, TimingRemotePrefillWaitsTheKvTransferInsteadOfThePrefill) {
  constexpr int kRequests = 5;
  for (const bool disaggregated : {false, true}) {
    SCOPED_TRACE(disaggregated ? "disaggregated" : "aggregated");
    SimConfig config = FastConfig();
    config.ttft = absl::Milliseconds(100);
    config.itl = absl::Milliseconds(20);
    config.kv_transfer_latency = absl::Milliseconds(20);
    config.kv_transfer_per_token = absl::Microseconds(100);
    config.disaggregated = disaggregated;
    StartServer(config);
    SimClient client(port_, Transport::kH2c);
    ASSERT_NE(client.Send("GET", "/health", ""), nullptr);  // Connect first.
    ASSERT_TRUE(client.WaitAll());
    // One at a time: no queueing, so TTFT is the modelled time plus the loopback.
    std::vector<int64_t> remote_ttft_ns;
    for (int i = 0; i < kRequests; ++i) {
      Exchange* exchange = client.Send("POST", "/v1/chat/completions",
                                       WithKvTransfer(ChatBody(100, 3, true), kDecodeLeg));
      ASSERT_TRUE(client.WaitAll());
      ExpectChatStream(*exchange, 100, 3);
      remote_ttft_ns.push_back(exchange->ContentEvents().front()->read_ns - exchange->sent_ns);
    }
    std::sort(remote_ttft_ns.begin(), remote_ttft_ns.end());
    EXPECT_NEAR(remote_ttft_ns[kRequests / 2] / 1e6, 30.0, 3.0);
    EXPECT_GE(remote_ttft_ns.front(), 29'000'000);  // Never early.

    Exchange* plain = client.Send("POST", "/v1/chat/completions", ChatBody(100, 3, true));
    Exchange* prefill_leg = client.Send("POST", "/v1/chat/completions",
                                        WithKvTransfer(ChatBody(100, 50, false), kPrefillLeg));
    ASSERT_TRUE(client.WaitAll());
    ExpectChatStream(*plain, 100, 3);
    const int64_t plain_ttft_ns = plain->ContentEvents().front()->read_ns - plain->sent_ns;
    const int64_t transfer_ns = disaggregated ? 30'000'000 : 0;
    EXPECT_GE(plain_ttft_ns, 99'000'000 + transfer_ns);
    EXPECT_LT(plain_ttft_ns, 115'000'000 + transfer_ns);
    // The prefill leg: 100 ms of prefill, then the answer; 50 tokens would take another second.
    ASSERT_EQ(prefill_leg->http_status, 200) << prefill_leg->body;
    const int64_t prefill_leg_ns = prefill_leg->end_ns - prefill_leg->sent_ns;
    EXPECT_GE(prefill_leg_ns, 99'000'000);
    EXPECT_LT(prefill_leg_ns, 115'000'000);
    ASSERT_TRUE(client.WaitUntil([&] { return AllIdle(server_->shared()); }));
  }
}

// The prefill leg's answer: one token, finish_reason remote_decode, and kv_transfer_params
// pointing the decode leg here; streamed, the same token and finish reason.
TEST_F(ServerTest, RemoteDecodeAnswersWithKvTransferParams) {
  SimConfig config = FastConfig();
  config.block_size = 16;
  StartServer(config);
  SimClient client(port_, Transport::kHttp1);
  Exchange* whole = client.Send("POST", "/v1/chat/completions",
                                WithKvTransfer(ChatBody(40, 50, false), kPrefillLeg));
  Exchange* streamed = client.Send("POST", "/v1/chat/completions",
                                   WithKvTransfer(ChatBody(40, 50, true), kPrefillLeg));
  Exchange* completion = client.Send(
      "POST", "/v1/completions",
      std::string(R"({"model":"sim-model","prompt":"a b c","max_tokens":1,"kv_transfer_params":)")
          .append(kPrefillLeg)
          .append("}"));
  Exchange* malformed =
      client.Send("POST", "/v1/chat/completions",
                  WithKvTransfer(ChatBody(3, 5, false), R"({"do_remote_decode":"yes"})"));
  ASSERT_TRUE(client.WaitAll());

  ASSERT_EQ(whole->http_status, 200) << whole->body;
  engine::OpenAiDecoder decoder;
  engine::OpenAiPayload payload;
  ASSERT_TRUE(decoder.DecodeResponse(whole->body, payload).ok()) << whole->body;
  EXPECT_EQ(payload.finish_reason, "remote_decode");
  ASSERT_TRUE(payload.usage.has_value());
  EXPECT_EQ(payload.usage->prompt_tokens, 40);
  EXPECT_EQ(payload.usage->completion_tokens, 1);
  // The engine's decoder checked that the body is JSON; the test client has no JSON parser of
  // its own, so the fields are read from the text (vLLM's order, openai_test.cc).
  const std::string& body = whole->body;
  EXPECT_NE(body.find(R"("kv_transfer_params":{"do_remote_decode":false,"do_remote_prefill":true,)"
                      R"("remote_engine_id":"bench-sim-)"),
            std::string::npos)
      << body;
  // 40 prompt tokens in blocks of 16; the --listen host and the port bound for port 0.
  EXPECT_NE(body.find(absl::StrCat(R"(,"remote_block_ids":[0,1,2],"remote_host":"127.0.0.1",)",
                                   R"("remote_port":)", port_, R"(,"tp_size":1}})")),
            std::string::npos)
      << body;
  ASSERT_EQ(streamed->http_status, 200);
  ASSERT_EQ(streamed->events.size(), 5u) << streamed->body;  // role, token, finish, usage, DONE
  EXPECT_EQ(streamed->ContentEvents().size(), 1u);
  EXPECT_EQ(streamed->events[2].payload.finish_reason, "remote_decode");
  ASSERT_TRUE(streamed->events[3].payload.usage.has_value());
  EXPECT_EQ(streamed->events[3].payload.usage->completion_tokens, 1);
  EXPECT_EQ(streamed->body.find("kv_transfer_params"), std::string::npos);

  ASSERT_EQ(completion->http_status, 200) << completion->body;
  ASSERT_TRUE(decoder.DecodeResponse(completion->body, payload).ok()) << completion->body;
  EXPECT_EQ(payload.finish_reason, "remote_decode");
  EXPECT_NE(completion->body.find(R"("remote_block_ids":[0],)"), std::string::npos)
      << completion->body;  // 3 tokens: one partial block.

  EXPECT_EQ(malformed->http_status, 400);
  ASSERT_TRUE(decoder.DecodeResponse(malformed->body, payload).ok()) << malformed->body;
  ASSERT_TRUE(payload.error.has_value());
  EXPECT_EQ(payload.error->message, "'kv_transfer_params.do_remote_decode' must be a boolean");
  EXPECT_NE(malformed->body.find(R"("param":"kv_transfer_params")"), std::string::npos)
      << malformed->body;
  // Three prefill legs completed: whole chat, streamed chat, completion.
  EXPECT_NE(MetricsText().find("vllm:request_success_total{finish_reason=\"remote_decode\","
                               "model_name=\"sim-model\"} 3"),
            std::string::npos);
}

}  // namespace
}  // namespace bench::sim
