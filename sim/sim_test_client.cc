#include "sim/sim_test_client.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/check.h"
#include "gtest/gtest.h"
#include "worker/engine/endpoint.h"

namespace bench::sim::testing {

void Exchange::OnRequestSent(int64_t sent, int64_t) { sent_ns = sent; }

void Exchange::OnResponseHeaders(const engine::ResponseHead& head, int64_t read_time_ns) {
  http_status = head.http_status;
  headers_ns = read_time_ns;
}

void Exchange::OnResponseBody(std::string_view bytes, int64_t read_time_ns) {
  body_bytes += bytes.size();
  if (!count_only) body.append(bytes);
  const absl::Status status = sse_.Feed(bytes, [&](const engine::SseEvent& event) {
    RecordedEvent recorded;
    recorded.read_ns = read_time_ns;
    recorded.decode_ok = decoder_.DecodeStreamEvent(event.data, recorded.payload).ok();
    if (recorded.decode_ok && recorded.payload.has_output) ++content_events;
    if (recorded.decode_ok && recorded.payload.done) done_event = true;
    if (count_only) return;
    recorded.data = std::string(event.data);
    events.push_back(std::move(recorded));
  });
  (void)status;  // Non-SSE bodies (JSON) are kept in `body`.
}

void Exchange::OnRequestEnd(const engine::RequestEnd& request_end, int64_t t) {
  ended = true;
  end = request_end;
  end_ns = t;
}

std::vector<const RecordedEvent*> Exchange::ContentEvents() const {
  std::vector<const RecordedEvent*> content;
  for (const RecordedEvent& event : events) {
    if (event.decode_ok && event.payload.has_output) content.push_back(&event);
  }
  return content;
}

SimClient::SimClient(int port, Transport transport, const std::string& ca_pem)
    : loop_(std::move(engine::EventLoop::Create()).value()) {
  const bool tls = transport == Transport::kTlsH2 || transport == Transport::kTlsHttp1;
  auto endpoint = engine::ParseEndpointUrl(
      absl::StrCat(tls ? "https" : "http", "://127.0.0.1:", port, "/v1/chat/completions"));
  BENCH_CHECK_OK(endpoint.status());
  auto addresses = engine::ResolveEndpoint(*endpoint);
  BENCH_CHECK_OK(addresses.status());
  engine::HttpClientOptions options;
  options.connect_timeout_ms = 5000;
  switch (transport) {
    case Transport::kHttp1:
    case Transport::kTlsHttp1:
      options.protocol = engine::HttpProtocol::kHttp1;
      break;
    case Transport::kH2c:
      options.protocol = engine::HttpProtocol::kH2c;
      break;
    case Transport::kTlsH2:
      options.protocol = engine::HttpProtocol::kH2;
      break;
  }
  if (tls) {
    engine::TlsClientOptions tls_options;
    tls_options.ca_pem = ca_pem;
    tls_options.alpn = transport == Transport::kTlsH2 ? std::vector<std::string>{"h2"}
                                                      : std::vector<std::string>{"http/1.1"};
    tls_ = std::move(engine::TlsContext::CreateClient(tls_options)).value();
  }
  client_ =
      std::make_unique<engine::HttpClient>(*loop_, *endpoint, *addresses, tls_.get(), options);
}

SimClient::~SimClient() { Shutdown(); }

Exchange* SimClient::Send(const std::string& method, const std::string& path,
                          const std::string& body, const HeaderPairs& headers) {
  engine::RequestHead head;
  head.method = method;
  head.scheme = client_->endpoint().tls ? "https" : "http";
  head.authority = client_->endpoint().authority;
  head.path = path;
  head.headers = {{"content-type", "application/json"}};
  head.headers.insert(head.headers.end(), headers.begin(), headers.end());
  exchanges_.push_back(std::make_unique<Exchange>());
  ids_.push_back(client_->Send(head, body, exchanges_.back().get()));
  return exchanges_.back().get();
}

bool SimClient::WaitUntil(const std::function<bool()>& done, int64_t timeout_ms) {
  bool timed_out = false;
  engine::Timer guard(*loop_, [&timed_out] { timed_out = true; });
  guard.Start(static_cast<uint64_t>(timeout_ms));
  // Conditions on the server's state change without any event on this loop: look every 1 ms.
  engine::Timer tick(*loop_, [] {});
  tick.Start(1, 1);
  loop_->RunUntil([&] { return timed_out || done(); });
  tick.Stop();
  guard.Stop();
  return !timed_out && done();
}

bool SimClient::WaitAll(int64_t timeout_ms) {
  return WaitUntil(
      [this] {
        for (const auto& exchange : exchanges_) {
          if (!exchange->done()) return false;
        }
        return true;
      },
      timeout_ms);
}

void SimClient::CancelAll() {
  for (engine::HttpClient::RequestId id : ids_) client_->Cancel(id);
}

void SimClient::Shutdown() {
  if (loop_ == nullptr) return;
  client_.reset();
  // Close callbacks run here.
  for (int i = 0; i < 8; ++i) loop_->RunOnce();
  BENCH_CHECK_OK(loop_->Close());
  loop_.reset();
}

std::string ChatBody(int words, int max_tokens, bool stream, bool include_usage,
                     const std::string& model) {
  static const char* const kWords[] = {"the",   "quick", "brown", "fox",
                                       "jumps", "over",  "lazy",  "dog"};
  std::string content;
  for (int i = 0; i < words; ++i) {
    if (i > 0) content.push_back(' ');
    content.append(kWords[i % 8]);
  }
  std::string body =
      absl::StrCat(R"({"model":")", model, R"(","messages":[{"role":"user","content":")", content,
                   R"("}],"max_tokens":)", max_tokens, R"(,"ignore_eos":true)");
  if (stream) {
    absl::StrAppend(&body, R"(,"stream":true)");
    if (include_usage) absl::StrAppend(&body, R"(,"stream_options":{"include_usage":true})");
  }
  body.push_back('}');
  return body;
}

SimProcess::SimProcess(const std::string& binary, const std::vector<std::string>& flags) {
  char path[] = "/tmp/bench_sim_log_XXXXXX";
  const int fd = mkstemp(path);
  close(fd);
  log_path_ = path;
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto process = bench::testing::Subprocess::Start(argv, log_path_);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return;
  process_ = std::move(process).value();
  // Waits for the log line, a condition on the child's output (not a fixed sleep). (No
  // std::regex: GCC 12's sanitizer builds warn inside it.)
  constexpr std::string_view kListening = "bench-sim listening on 127.0.0.1:";
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && process_->Running()) {
    const std::string log = Log();
    const size_t at = log.find(kListening);
    if (at != std::string::npos) {
      port_ = std::atoi(log.c_str() + at + kListening.size());
      return;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  ADD_FAILURE() << "no listening line from bench-sim:\n" << Log();
}

SimProcess::~SimProcess() {
  process_.reset();  // SIGTERM, wait.
  // A clean stop logs no errors (an event loop closed with open handles would).
  std::istringstream lines(Log());
  for (std::string line; std::getline(lines, line);) {
    EXPECT_FALSE(!line.empty() && (line[0] == 'E' || line[0] == 'F')) << line;
  }
  std::remove(log_path_.c_str());
}

std::string SimProcess::Log() const {
  std::ifstream in(log_path_);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> MetricValue(std::string_view exposition, std::string_view series) {
  size_t at = 0;
  while (at < exposition.size()) {
    size_t end = exposition.find('\n', at);
    if (end == std::string_view::npos) end = exposition.size();
    const std::string_view line = exposition.substr(at, end - at);
    at = end + 1;
    if (line.size() > series.size() + 1 && line.substr(0, series.size()) == series &&
        line[series.size()] == ' ') {
      double value = 0;
      if (absl::SimpleAtod(std::string(line.substr(series.size() + 1)), &value)) return value;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace bench::sim::testing
