#include "sim/openai_format.h"

#include "absl/strings/str_cat.h"
#include "worker/engine/request_builder.h"  // AppendJsonString

namespace bench::sim {
namespace {

void AppendInt(int64_t value, std::string& out) {
  char digits[24];
  int n = 0;
  uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  do {
    digits[n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (value < 0) out.push_back('-');
  while (n > 0) out.push_back(digits[--n]);
}

void AppendUsageObject(const Usage& usage, std::string& out) {
  out.append(R"("usage":{"prompt_tokens":)");
  AppendInt(usage.prompt_tokens, out);
  out.append(R"(,"total_tokens":)");
  AppendInt(usage.prompt_tokens + usage.completion_tokens, out);
  out.append(R"(,"completion_tokens":)");
  AppendInt(usage.completion_tokens, out);
  out.append(R"(,"prompt_tokens_details":{"cached_tokens":)");
  AppendInt(usage.cached_tokens, out);
  out.append("}}");
}

// vLLM's NixlConnector names the prefill side: the decode leg does its prefill remotely.
void AppendKvTransferParams(const RemoteKvSource& source, std::string& out) {
  out.append(R"("kv_transfer_params":{"do_remote_decode":false,"do_remote_prefill":true,)");
  out.append(R"("remote_engine_id":)");
  engine::AppendJsonString(source.engine_id, out);
  out.append(R"(,"remote_block_ids":[)");
  for (int64_t id = 0; id < source.block_count; ++id) {
    if (id > 0) out.push_back(',');
    AppendInt(id, out);
  }
  out.append(R"(],"remote_host":)");
  engine::AppendJsonString(source.host, out);
  out.append(R"(,"remote_port":)");
  AppendInt(source.port, out);
  out.append(R"(,"tp_size":1})");
}

void AppendFinishReason(const char* finish_reason, std::string& out) {
  if (finish_reason == nullptr) {
    out.append("null");
  } else {
    out.push_back('"');
    out.append(finish_reason);
    out.push_back('"');
  }
}

std::string_view ErrorType(int http_status) {
  switch (http_status) {
    case 400:
      return "BadRequestError";
    case 404:
      return "NotFoundError";
    case 405:
      return "MethodNotAllowedError";
    case 413:
      return "RequestEntityTooLargeError";
    case 414:
      return "RequestURITooLongError";
    case 429:
      return "TooManyRequestsError";
    case 431:
      return "RequestHeaderFieldsTooLargeError";
    case 500:
      return "InternalServerError";
    case 503:
      return "ServiceUnavailableError";
    case 505:
      return "HTTPVersionNotSupportedError";
    default:
      return "Error";
  }
}

}  // namespace

ResponseFormatter::ResponseFormatter(ApiKind kind, std::string_view id, int64_t created,
                                     std::string_view model)
    : kind_(kind) {
  // Streamed chunks and the whole response differ only in their object name (completions use
  // text_completion for both).
  auto header = [&](std::string_view object) {
    std::string text = R"({"id":")";
    text.append(id).append(R"(","object":")").append(object).append(R"(","created":)");
    AppendInt(created, text);
    text.append(R"(,"model":)");
    engine::AppendJsonString(model, text);
    return text;
  };
  const bool chat = kind == ApiKind::kChat;
  full_header_ = header(chat ? "chat.completion" : "text_completion");
  event_prefix_ = "data: ";
  event_prefix_.append(header(chat ? "chat.completion.chunk" : "text_completion"));
  event_prefix_.append(R"(,"choices":[)");
}

void ResponseFormatter::AppendRoleEvent(std::string& out) const {
  out.append(event_prefix_);
  out.append(
      R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})"
      "\n\n");
}

void ResponseFormatter::AppendTokenEvent(std::string_view delta, const char* finish_reason,
                                         std::string& out) const {
  out.append(event_prefix_);
  if (kind_ == ApiKind::kChat) {
    out.append(R"({"index":0,"delta":{"content":)");
    engine::AppendJsonString(delta, out);
    out.append(R"(},"logprobs":null,"finish_reason":null}]})"
               "\n\n");
    return;
  }
  out.append(R"({"index":0,"text":)");
  engine::AppendJsonString(delta, out);
  out.append(R"(,"logprobs":null,"finish_reason":)");
  AppendFinishReason(finish_reason, out);
  out.append(R"(,"stop_reason":null}],"usage":null})"
             "\n\n");
}

void ResponseFormatter::AppendFinishEvent(const char* finish_reason, std::string& out) const {
  out.append(event_prefix_);
  out.append(R"({"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":)");
  AppendFinishReason(finish_reason, out);
  out.append(R"(,"stop_reason":null}]})"
             "\n\n");
}

void ResponseFormatter::AppendUsageEvent(const Usage& usage, std::string& out) const {
  out.append(event_prefix_);
  out.append("],");
  AppendUsageObject(usage, out);
  out.append("}\n\n");
}

void ResponseFormatter::AppendDoneEvent(std::string& out) { out.append("data: [DONE]\n\n"); }

void ResponseFormatter::AppendFullResponse(std::string_view text, const char* finish_reason,
                                           const Usage& usage, std::string& out,
                                           const RemoteKvSource* kv_source) const {
  out.append(full_header_);
  out.append(R"(,"choices":[{"index":0,)");
  if (kind_ == ApiKind::kChat) {
    out.append(R"("message":{"role":"assistant","content":)");
    engine::AppendJsonString(text, out);
    out.append(R"(,"tool_calls":[]},)");
  } else {
    out.append(R"("text":)");
    engine::AppendJsonString(text, out);
    out.push_back(',');
  }
  out.append(R"("logprobs":null,"finish_reason":)");
  AppendFinishReason(finish_reason, out);
  out.append(R"(,"stop_reason":null}],)");
  AppendUsageObject(usage, out);
  if (kv_source != nullptr) {
    out.push_back(',');
    AppendKvTransferParams(*kv_source, out);
  }
  out.push_back('}');
}

std::string MakeResponseId(ApiKind kind, uint64_t bits_high, uint64_t bits_low) {
  std::string id = kind == ApiKind::kChat ? "chatcmpl-" : "cmpl-";
  for (uint64_t bits : {bits_high, bits_low}) {
    for (int shift = 60; shift >= 0; shift -= 4) {
      id.push_back("0123456789abcdef"[(bits >> shift) & 0xf]);
    }
  }
  return id;
}

void AppendErrorBody(const ApiError& error, std::string& out) {
  out.append(R"({"error":{"message":)");
  engine::AppendJsonString(error.message, out);
  out.append(R"(,"type":")").append(ErrorType(error.http_status)).append(R"(","param":)");
  if (error.param.empty()) {
    out.append("null");
  } else {
    engine::AppendJsonString(error.param, out);
  }
  out.append(R"(,"code":)");
  AppendInt(error.http_status, out);
  out.append("}}");
}

std::string ModelsBody(std::string_view model, int64_t created, int64_t max_model_len) {
  std::string body = R"({"object":"list","data":[{"id":)";
  engine::AppendJsonString(model, body);
  body.append(R"(,"object":"model","created":)");
  AppendInt(created, body);
  body.append(R"(,"owned_by":"bench-sim","root":)");
  engine::AppendJsonString(model, body);
  body.append(R"(,"parent":null,"max_model_len":)");
  AppendInt(max_model_len, body);
  body.append("}]}");
  return body;
}

}  // namespace bench::sim
