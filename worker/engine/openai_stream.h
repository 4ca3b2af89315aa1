// Decodes what OpenAI-compatible servers (vLLM, SGLang, TGI, OpenAI) send: the data of one SSE
// event of a streaming chat or completions response, or a whole non-streaming response body.
// It extracts only what the engine measures (output deltas, finish_reason, usage, errors); the
// JSON parser (simdjson) stays inside openai_stream.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace bench::engine {

// The `usage` object. A field that is absent or null is nullopt.
struct OpenAiUsage {
  std::optional<int64_t> prompt_tokens;
  std::optional<int64_t> completion_tokens;
  std::optional<int64_t> total_tokens;
  std::optional<int64_t> cached_tokens;  // prompt_tokens_details.cached_tokens

  bool operator==(const OpenAiUsage&) const = default;
};

// An error the server reported inside a 200 response: {"error": {...}} (OpenAI, vLLM mid-stream),
// {"object": "error", ...} (vLLM) or {"error": "text", "error_type": ...} (TGI).
struct OpenAiError {
  std::string message;
  std::string type;
  std::string code;  // A numeric code in decimal; empty when absent or null.

  bool operator==(const OpenAiError&) const = default;
};

// What one stream event's data, or one non-streaming response body, carried.
struct OpenAiPayload {
  bool done = false;  // The stream's `[DONE]` sentinel.
  // Generated output: a non-empty content, text, reasoning or tool-call delta (SPEC section 3).
  // Role-only, usage-only, error and [DONE] events carry none.
  bool has_output = false;
  // Unescaped UTF-8 bytes of generated output over all choices: content/text, reasoning
  // (reasoning_content, reasoning) and tool calls (function name and arguments).
  size_t output_bytes = 0;
  size_t reasoning_bytes = 0;        // The reasoning part of output_bytes.
  size_t tool_call_bytes = 0;        // The tool-call part of output_bytes.
  bool has_role = false;             // Some delta or message named a role.
  std::string finish_reason;         // The first non-null finish_reason; empty when none.
  std::optional<OpenAiUsage> usage;  // Present when the payload had a non-null `usage`.
  std::optional<OpenAiError> error;
  // When set, the unescaped content (chat) or text (completions) of every choice is appended
  // here: a conversation keeps the reply as history. Clear() leaves the pointer.
  std::string* content_sink = nullptr;

  void Clear();
  bool operator==(const OpenAiPayload&) const = default;
};

// Decodes payloads with a reusable parser and padded buffer: no allocation per event in steady
// state. One per engine thread; not thread-safe. Unknown fields are ignored; malformed JSON, a
// non-object or a known field of the wrong type is InvalidArgumentError (the engine counts the
// request as invalid_response). On error `out` is left cleared.
class OpenAiDecoder {
 public:
  OpenAiDecoder();
  ~OpenAiDecoder();
  OpenAiDecoder(OpenAiDecoder&&) noexcept;
  OpenAiDecoder& operator=(OpenAiDecoder&&) noexcept;

  // `data` is one SSE event's data: `[DONE]`, a chat.completion.chunk, a text_completion chunk,
  // a usage-only chunk or an error object.
  absl::Status DecodeStreamEvent(std::string_view data, OpenAiPayload& out);

  // `body` is the body of a `stream: false` response: choices[].message (chat) or
  // choices[].text (completions), usage, or an error object.
  absl::Status DecodeResponse(std::string_view body, OpenAiPayload& out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bench::engine
