// The bytes bench-sim answers with, in vLLM's OpenAI-compatible format: SSE events of a streamed
// chat or completions response, whole non-streamed bodies, /v1/models and error bodies. Built by
// hand into caller buffers (no JSON library, no allocation per event once buffers have grown).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sim/openai_request.h"

namespace bench::sim {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};

// What a prefill leg (kv_transfer_params.do_remote_decode) answers with in its
// kv_transfer_params, for the P/D sidecar to hand to the decode leg: where its KV cache is.
struct RemoteKvSource {
  std::string engine_id;
  int64_t block_count = 0;  // remote_block_ids are 0 .. block_count - 1
  std::string host;
  int port = 0;
};

// Formats one request's output. Immutable after construction; `finish_reason` arguments are
// "length", "stop" or "remote_decode".
class ResponseFormatter {
 public:
  // `id` is the response id ("chatcmpl-..." / "cmpl-..."), `created` Unix seconds. The model name
  // is escaped here.
  ResponseFormatter(ApiKind kind, std::string_view id, int64_t created, std::string_view model);

  // Each Append*Event appends one whole SSE event ("data: {...}\n\n").
  // Chat only: the first event, {"delta": {"role": "assistant", "content": ""}}.
  void AppendRoleEvent(std::string& out) const;
  // One token's delta. Chat: finish_reason is always null here (AppendFinishEvent follows the
  // last token); completions: the last token carries `finish_reason` (nullptr otherwise).
  void AppendTokenEvent(std::string_view delta, const char* finish_reason, std::string& out) const;
  // Starts loading what AppendTokenEvent() copies.
  void Prefetch() const {
    for (size_t at = 0; at < event_prefix_.size(); at += 64) __builtin_prefetch(&event_prefix_[at]);
  }
  // Chat only: the closing chunk, empty content with the finish_reason.
  void AppendFinishEvent(const char* finish_reason, std::string& out) const;
  // The usage chunk (empty choices) sent when stream_options.include_usage is true.
  void AppendUsageEvent(const Usage& usage, std::string& out) const;
  static void AppendDoneEvent(std::string& out);

  // The whole body of a non-streamed response: choices[0].message (chat) or choices[0].text;
  // with `kv_source`, a top-level kv_transfer_params naming it (as vLLM's prefill instance).
  void AppendFullResponse(std::string_view text, const char* finish_reason, const Usage& usage,
                          std::string& out, const RemoteKvSource* kv_source = nullptr) const;

 private:
  ApiKind kind_;
  std::string full_header_;   // {"id":..,"object":..,"created":..,"model":..
  std::string event_prefix_;  // data: {"id":..,"object":"..chunk",..,"model":..,"choices":[
};

// "chatcmpl-" or "cmpl-" followed by 32 lower-case hex digits of `bits_high`, `bits_low`.
std::string MakeResponseId(ApiKind kind, uint64_t bits_high, uint64_t bits_low);

// {"error": {"message": ..., "type": ..., "param": ... | null, "code": <status>}}; the type is
// the status's name ("BadRequestError", "NotFoundError", "TooManyRequestsError" ...).
void AppendErrorBody(const ApiError& error, std::string& out);

// The GET /v1/models body listing the one served model.
std::string ModelsBody(std::string_view model, int64_t created, int64_t max_model_len);

}  // namespace bench::sim
