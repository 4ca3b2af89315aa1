// Fuzzes Http1ClientSession with arbitrary response bytes. The first input byte picks where the
// rest is split into two reads; the run must never crash, the listener's call order must hold,
// and a run whose reads succeed must report exactly what the unsplit run reports (differential).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/engine/http1_session.h"

namespace {

using bench::engine::Http1ClientSession;
using bench::engine::Http1Listener;
using bench::engine::Http1ResponseHead;
using bench::engine::RequestHead;

constexpr int kMaxRequests = 3;  // Keep-alive reuse: up to three responses per input.

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "http1_response_fuzz: %s\n", what);
  std::abort();
}

RequestHead MakeRequest(const char* method) {
  RequestHead head;
  head.method = method;
  head.authority = "fuzz.local:8000";
  head.path = "/v1/chat/completions";
  head.headers = {{"content-type", "application/json"}};
  return head;
}

// Records a transcript that does not depend on how bytes were split into reads, checks the call
// order, and queues the next request on a keep-alive connection like the engine does.
class Listener : public Http1Listener {
 public:
  explicit Listener(const char* method) : method_(method) {}
  void set_session(Http1ClientSession* session) { session_ = session; }

  void OnResponseHeaders(const Http1ResponseHead& head) override {
    if (in_response_) Fail("second OnResponseHeaders in one response");
    if (head.http_status < 200 || head.http_status > 999) Fail("bad final status");
    if (head.content_type.size() > Http1ClientSession::kMaxContentTypeBytes) {
      Fail("content type over its bound");
    }
    in_response_ = true;
    absl::StrAppend(&transcript, "[H", head.http_status, " ", head.http_major, ".", head.http_minor,
                    head.event_stream ? " sse " : " - ",
                    absl::string_view(head.content_type.data(), head.content_type.size()), "]");
  }
  void OnResponseData(std::string_view data) override {
    if (!in_response_) Fail("data outside a response");
    if (data.empty()) Fail("empty data call");
    transcript.append(data);
  }
  void OnResponseComplete(bool keep_alive) override {
    if (!in_response_) Fail("completion without headers");
    in_response_ = false;
    absl::StrAppend(&transcript, "[C", keep_alive ? 1 : 0, "]");
    if (++completed_ < kMaxRequests && keep_alive) {
      if (!session_->ready_for_request()) Fail("keep-alive session not ready for a request");
      std::string out;
      if (!session_->EncodeRequest(MakeRequest(method_), "{}", out).ok()) {
        Fail("EncodeRequest failed in OnResponseComplete");
      }
    }
  }

  std::string transcript;

 private:
  const char* method_;
  Http1ClientSession* session_ = nullptr;
  bool in_response_ = false;
  int completed_ = 0;
};

struct Outcome {
  absl::StatusCode receive = absl::StatusCode::kOk;
  absl::StatusCode close = absl::StatusCode::kOk;
  std::string transcript;
};

Outcome Run(const char* method, std::string_view response, size_t split) {
  Listener listener(method);
  Http1ClientSession session(&listener);
  listener.set_session(&session);
  std::string request;
  if (!session.EncodeRequest(MakeRequest(method), "{}", request).ok()) Fail("encode failed");
  Outcome outcome;
  absl::Status status = session.Receive(response.substr(0, split));
  if (status.ok()) status = session.Receive(response.substr(split));
  outcome.receive = status.code();
  if (status.ok()) {
    outcome.close = session.OnPeerClosed().code();
  } else if (session.ready_for_request()) {
    Fail("session reusable after an error");
  }
  outcome.transcript = std::move(listener.transcript);
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view response(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Spread the 256 values over the whole input: every position of inputs under 256 bytes.
  const size_t split = (static_cast<size_t>(data[0]) * (response.size() + 1)) / 256;
  for (const char* method : {"POST", "HEAD"}) {
    const Outcome whole = Run(method, response, response.size());
    const Outcome parts = Run(method, response, split);
    // The first error comes from the same byte whatever the reads.
    if (whole.receive != parts.receive) Fail("split changed the Receive status");
    // On success everything must match; after an error the body may differ (http-parser
    // delivers buffered body bytes at the end of each read, not before an error).
    if (whole.receive == absl::StatusCode::kOk) {
      if (whole.close != parts.close) Fail("split changed the OnPeerClosed status");
      if (whole.transcript != parts.transcript) Fail("split changed the reported response");
    }
  }
  return 0;
}
