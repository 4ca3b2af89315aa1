// Test support: a client for bench-sim built on the engine's HttpClient (HTTP/1.1, h2c, TLS)
// that records every SSE event of each response with the time its bytes were read. Used by the
// in-process server tests and by the integration tests that run the bench-sim binary.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/testing/subprocess.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/http_client.h"
#include "worker/engine/openai_stream.h"
#include "worker/engine/sse_parser.h"
#include "worker/engine/tls.h"

namespace bench::sim::testing {

struct RecordedEvent {
  std::string data;
  int64_t read_ns = 0;
  engine::OpenAiPayload payload;  // Decoded; `decode_ok` false when it did not decode.
  bool decode_ok = false;
};

// One request's response. Loop thread only.
class Exchange : public engine::ResponseObserver {
 public:
  void OnRequestSent(int64_t sent_ns, int64_t connect_wait_ns) override;
  void OnResponseHeaders(const engine::ResponseHead& head, int64_t read_time_ns) override;
  void OnResponseBody(std::string_view bytes, int64_t read_time_ns) override;
  void OnRequestEnd(const engine::RequestEnd& end, int64_t end_ns) override;

  bool done() const { return ended; }
  // Events with generated output (content deltas).
  std::vector<const RecordedEvent*> ContentEvents() const;

  // Set before the response arrives: keep counts only (a response of hundreds of MB).
  bool count_only = false;
  uint64_t body_bytes = 0;      // counted always
  uint64_t content_events = 0;  // events with generated output, counted always
  bool done_event = false;      // data: [DONE] arrived

  int64_t sent_ns = 0;
  int64_t headers_ns = 0;
  int http_status = 0;
  std::string body;
  std::vector<RecordedEvent> events;
  bool ended = false;
  engine::RequestEnd end;
  int64_t end_ns = 0;

 private:
  engine::SseParser sse_;
  engine::OpenAiDecoder decoder_;
};

enum class Transport { kHttp1, kH2c, kTlsH2, kTlsHttp1 };

// A client on its own loop (the test's thread) for one bench-sim port.
class SimClient {
 public:
  // `ca_pem` trusts the server's certificate for the TLS transports.
  SimClient(int port, Transport transport, const std::string& ca_pem = "");
  ~SimClient();

  using HeaderPairs = std::vector<std::pair<std::string, std::string>>;
  // `headers`: extra request headers, lower-case names.
  Exchange* Send(const std::string& method, const std::string& path, const std::string& body,
                 const HeaderPairs& headers = {});
  // Runs the loop until every exchange sent so far has ended, or `timeout_ms` passed (false).
  bool WaitAll(int64_t timeout_ms = 20'000);
  // Runs the loop until `done()` or the timeout (false).
  bool WaitUntil(const std::function<bool()>& done, int64_t timeout_ms = 20'000);
  // Ends every open exchange (HTTP/2 RST_STREAM, HTTP/1.1 close) and forgets the exchanges.
  void CancelAll();
  // Destroys the client (closing its connections) and closes the loop; checks for leaks.
  void Shutdown();

 private:
  std::unique_ptr<engine::EventLoop> loop_;
  std::unique_ptr<engine::TlsContext> tls_;
  std::unique_ptr<engine::HttpClient> client_;
  std::vector<std::unique_ptr<Exchange>> exchanges_;
  std::vector<engine::HttpClient::RequestId> ids_;
};

// A running bench-sim binary on 127.0.0.1 port 0 and the port its log line named. Records gtest
// failures when it does not start, or when its log shows an error after SIGTERM.
class SimProcess {
 public:
  SimProcess(const std::string& binary, const std::vector<std::string>& flags);
  ~SimProcess();
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  int port() const { return port_; }
  std::string Log() const;

 private:
  std::string log_path_;
  std::unique_ptr<bench::testing::Subprocess> process_;
  int port_ = 0;
};

// The value of the sample `series` (name and labels exactly as exposed, e.g.
// `vllm:num_requests_running{model_name="sim-model"}`) in Prometheus text; nullopt if absent.
std::optional<double> MetricValue(std::string_view exposition, std::string_view series);

// A chat body: `words` synthetic words as the one user message.
std::string ChatBody(int words, int max_tokens, bool stream, bool include_usage = true,
                     const std::string& model = "sim-model");

}  // namespace bench::sim::testing
