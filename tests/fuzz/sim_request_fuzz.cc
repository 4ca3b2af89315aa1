// Fuzzes bench-sim's request side: HTTP/1.1 request framing (Http1ServerSession) and the JSON
// body handler (RequestParser, then the output plan and formatter a valid request drives). The
// first input byte picks where the rest is split into two reads; the run must never crash, and
// a split must not change what is reported (differential).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sim/model.h"
#include "sim/openai_format.h"
#include "sim/openai_request.h"
#include "sim/sim_config.h"
#include "worker/engine/http1_server_session.h"

namespace {

using bench::engine::Http1ServerListener;
using bench::engine::Http1ServerOptions;
using bench::engine::Http1ServerRequest;
using bench::engine::Http1ServerSession;
namespace sim = bench::sim;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "sim_request_fuzz: %s\n", what);
  std::abort();
}

constexpr size_t kMaxBodyBytes = 4096;

// Handles each request as bench-sim would (parse, plan, format), answers synchronously so
// pipelined requests keep coming, and records a transcript independent of read boundaries.
class Listener : public Http1ServerListener {
 public:
  void OnRequest(const Http1ServerRequest& request) override {
    if (request.body.size() > kMaxBodyBytes) Fail("body over the limit delivered");
    absl::StrAppend(&transcript, "[R ",
                    absl::string_view(request.method.data(), request.method.size()), " ",
                    request.target.size(), " ", request.body.size(), "]");
    const sim::ApiKind kind = request.target.find("chat") != std::string_view::npos
                                  ? sim::ApiKind::kChat
                                  : sim::ApiKind::kCompletions;
    sim::GenerationRequest parsed;
    sim::ApiError error;
    std::string answer;
    sim::ParseOptions options;
    options.want_echo_text = true;
    options.block_size = 4;
    if (parser_.Parse(kind, request.body, options, parsed, error)) {
      if (static_cast<int64_t>(parsed.prompt_blocks.size()) != parsed.prompt_tokens / 4) {
        Fail("block count does not match the prompt tokens");
      }
      if (parsed.prompt_tokens < 0) Fail("negative prompt tokens");
      if (parsed.max_tokens.has_value() && *parsed.max_tokens < 1) Fail("max_tokens < 1");
      if (parsed.min_tokens < 0) Fail("min_tokens < 0");
      sim::OutputPlanInput input;
      input.prompt_tokens = parsed.prompt_tokens;
      input.max_tokens = parsed.max_tokens;
      input.min_tokens = parsed.min_tokens;
      input.ignore_eos = parsed.ignore_eos;
      input.echo_tokens = 3;
      input.request_key = sim::HashBytes(request.body, 1);
      const sim::OutputPlan plan = sim::PlanOutput(config_, input);
      if (plan.completion_tokens < 0 || plan.completion_tokens > config_.max_model_len) {
        Fail("output plan out of range");
      }
      const sim::OutputText text = sim::OutputText::Echo(parsed.echo_text, input.request_key);
      const sim::ResponseFormatter formatter(kind, "id", 1, parsed.model);
      std::string delta;
      for (int64_t i = 0; i < std::min<int64_t>(plan.completion_tokens, 4); ++i) {
        delta.clear();
        text.AppendDelta(i, delta);
        formatter.AppendTokenEvent(delta, nullptr, answer);
      }
      formatter.AppendUsageEvent({parsed.prompt_tokens, plan.completion_tokens, 0}, answer);
      absl::StrAppend(&transcript, "[ok ", parsed.prompt_tokens, " ", plan.completion_tokens, " ",
                      parsed.stream ? 1 : 0, "]");
    } else {
      if (error.http_status != 400 || error.message.empty()) Fail("bad parse error");
      sim::AppendErrorBody(error, answer);
      absl::StrAppend(&transcript, "[err ", error.param, "]");
    }
    std::string out;
    if (parsed.stream) {
      if (!session->BeginStream(200, "text/event-stream", out).ok()) Fail("BeginStream");
      session->EncodeStreamData(answer, out);
      session->EndStream(out);
    } else if (!session->EncodeResponse(200, "application/json", answer, out).ok()) {
      Fail("EncodeResponse");
    }
    if (session->response_in_progress()) Fail("response still in progress");
  }

  Http1ServerSession* session = nullptr;
  std::string transcript;

 private:
  sim::RequestParser parser_;
  sim::SimConfig config_;
};

struct Outcome {
  absl::StatusCode code = absl::StatusCode::kOk;
  int failure_status = 0;
  std::string transcript;
};

Outcome Run(std::string_view input, size_t split) {
  Listener listener;
  Http1ServerOptions options;
  options.max_body_bytes = kMaxBodyBytes;
  options.max_target_bytes = 1024;
  Http1ServerSession session(&listener, options);
  listener.session = &session;
  std::string out;
  absl::Status status = session.Receive(input.substr(0, split), out);
  if (status.ok()) status = session.Receive(input.substr(split), out);
  Outcome outcome;
  outcome.code = status.code();
  outcome.failure_status = session.failure_http_status();
  if (status.ok() != (outcome.failure_status == 0)) Fail("failure status without an error");
  if (!status.ok()) {
    switch (outcome.failure_status) {
      case 400:
      case 413:
      case 414:
      case 431:
      case 505:
        break;
      default:
        Fail("unexpected failure status");
    }
    if (!session.EncodeResponse(outcome.failure_status, "application/json", "{}", out).ok()) {
      Fail("no error response after a failure");
    }
    if (!session.should_close()) Fail("failed session stays open");
  }
  outcome.transcript = std::move(listener.transcript);
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = (static_cast<size_t>(data[0]) * (input.size() + 1)) / 256;
  const Outcome whole = Run(input, input.size());
  const Outcome parts = Run(input, split);
  if (whole.code != parts.code) Fail("split changed the status");
  if (whole.failure_status != parts.failure_status) Fail("split changed the failure status");
  if (whole.transcript != parts.transcript) Fail("split changed the requests seen");
  return 0;
}
