// Builds what the engine sends for one prompt: the JSON body of an OpenAI-compatible chat or
// completions request (with the config's extraBody merged) and the request headers with their
// ${env:NAME} references resolved. The JSON parser (simdjson) stays inside request_builder.cc.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/engine/prompts.h"

namespace bench::engine {

struct RequestTemplate {
  bool chat = true;  // /v1/chat/completions vs /v1/completions
  std::string model;
  bool stream = true;
  bool include_usage = true;    // stream_options.include_usage (sent only when streaming)
  bool ignore_eos = true;       // So the server generates max_tokens (vLLM extension).
  std::string extra_body_json;  // A JSON object merged into every body ("" = none).
};

// Turns prompts into request bodies. Create checks the template and splits extraBody into its
// top-level members once; afterwards the builder is immutable and BuildBody may run on any
// thread. Body members, in order: model, messages (chat) or prompt (completions), max_tokens,
// stream, stream_options (streaming with include_usage only), ignore_eos (when true), then each
// extraBody member as its minified text. An extraBody member replaces the builder's own member
// of the same name, e.g. {"ignore_eos": false, "temperature": 0}.
class RequestBuilder {
 public:
  // InvalidArgument, naming target.extraBody, when extra_body_json is not a JSON object or its
  // "stream" is not a boolean; naming target.model when the model is empty and extraBody does
  // not give one.
  static absl::StatusOr<RequestBuilder> Create(RequestTemplate request_template);

  // Appends the JSON body for `prompt` to `out` (no allocation when `out` has the capacity).
  // max_tokens is left out when prompt.max_tokens <= 0.
  void BuildBody(const Prompt& prompt, std::string& out) const;

  // False when the template or extraBody turned streaming off: the response is one JSON body.
  bool streaming() const { return streaming_; }
  bool chat() const { return chat_; }

 private:
  RequestBuilder() = default;

  bool chat_ = true;
  bool streaming_ = true;
  bool emit_content_ = true;     // messages / prompt not replaced by extraBody
  bool emit_max_tokens_ = true;  // max_tokens not replaced by extraBody
  std::string head_;             // "{" and the model member, if any
  std::string tail_;             // The static members after max_tokens, comma-separated.
};

// Appends `text` as a JSON string literal: quotes, backslash and control characters escaped
// (\b \f \n \r \t short forms, others \u00XX), valid UTF-8 copied, and each maximal invalid
// UTF-8 subsequence replaced by U+FFFD (servers reject bodies that are not UTF-8).
void AppendJsonString(std::string_view text, std::string& out);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The headers to send: names lower-cased (HTTP/2 requires it), values with ${env:NAME} expanded
// from the environment, plus "content-type: application/json", "accept-encoding: identity" and,
// when `streaming`, "accept: text/event-stream" unless given. FailedPrecondition for an unset
// variable and InvalidArgument for an empty name, a malformed reference or a CR/LF in a value;
// messages name the header and the variable, never a value.
absl::StatusOr<HeaderList> ResolveHeaders(const HeaderList& headers, bool streaming);

}  // namespace bench::engine
