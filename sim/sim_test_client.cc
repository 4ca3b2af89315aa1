#include "sim/sim_test_client.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "worker/engine/endpoint.h"

namespace bench::sim::testing {

void Exchange::OnRequestSent(int64_t sent) { sent_ns = sent; }

void Exchange::OnResponseHeaders(int status, int64_t read_time_ns) {
  http_status = status;
  headers_ns = read_time_ns;
}

void Exchange::OnResponseBody(std::string_view bytes, int64_t read_time_ns) {
  body.append(bytes);
  const absl::Status status = sse_.Feed(bytes, [&](const engine::SseEvent& event) {
    RecordedEvent recorded;
    recorded.data = std::string(event.data);
    recorded.read_ns = read_time_ns;
    recorded.decode_ok = decoder_.DecodeStreamEvent(event.data, recorded.payload).ok();
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
                          const std::string& body) {
  engine::RequestHead head;
  head.method = method;
  head.scheme = client_->endpoint().tls ? "https" : "http";
  head.authority = client_->endpoint().authority;
  head.path = path;
  head.headers = {{"content-type", "application/json"}};
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

}  // namespace bench::sim::testing
