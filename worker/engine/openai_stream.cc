#include "worker/engine/openai_stream.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace bench::engine {
namespace {

namespace dom = simdjson::dom;

// Leading and trailing ASCII whitespace removed.
std::string_view TrimSpace(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

absl::Status WrongType(const char* field, const char* expected) {
  return absl::InvalidArgumentError(absl::StrCat(field, " must be ", expected));
}

// A string or null (read as empty).
absl::Status ReadString(dom::element value, const char* field, std::string_view& out) {
  if (value.is_null()) {
    out = {};
    return absl::OkStatus();
  }
  if (value.get_string().get(out) != simdjson::SUCCESS) {
    return WrongType(field, "a string or null");
  }
  return absl::OkStatus();
}

// An object or null (read as an empty object is not needed: `present` tells them apart).
absl::Status ReadObject(dom::element value, const char* field, dom::object& out, bool& present) {
  present = false;
  if (value.is_null()) return absl::OkStatus();
  if (value.get_object().get(out) != simdjson::SUCCESS) {
    return WrongType(field, "an object or null");
  }
  present = true;
  return absl::OkStatus();
}

absl::Status ReadArray(dom::element value, const char* field, dom::array& out, bool& present) {
  present = false;
  if (value.is_null()) return absl::OkStatus();
  if (value.get_array().get(out) != simdjson::SUCCESS) {
    return WrongType(field, "an array or null");
  }
  present = true;
  return absl::OkStatus();
}

absl::Status ReadCount(dom::element value, const char* field, std::optional<int64_t>& out) {
  out.reset();
  if (value.is_null()) return absl::OkStatus();
  int64_t count = 0;
  if (value.get_int64().get(count) != simdjson::SUCCESS || count < 0) {
    return WrongType(field, "a non-negative integer or null");
  }
  out = count;
  return absl::OkStatus();
}

// error.code is a string (OpenAI), an integer (vLLM) or null.
absl::Status ReadCode(dom::element value, const char* field, std::string& out) {
  out.clear();
  std::string_view text;
  int64_t signed_code = 0;
  uint64_t unsigned_code = 0;
  if (value.is_null()) return absl::OkStatus();
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    out.assign(text.data(), text.size());
  } else if (value.get_int64().get(signed_code) == simdjson::SUCCESS) {
    out = absl::StrCat(signed_code);
  } else if (value.get_uint64().get(unsigned_code) == simdjson::SUCCESS) {
    out = absl::StrCat(unsigned_code);
  } else {
    return WrongType(field, "a string, an integer or null");
  }
  return absl::OkStatus();
}

absl::Status ReadUsage(dom::element value, OpenAiPayload& out) {
  dom::object usage;
  bool present = false;
  BENCH_RETURN_IF_ERROR(ReadObject(value, "usage", usage, present));
  if (!present) return absl::OkStatus();  // "usage": null, as vLLM sends on content chunks.
  OpenAiUsage& result = out.usage.emplace();
  for (dom::key_value_pair field : usage) {
    if (field.key == "prompt_tokens") {
      BENCH_RETURN_IF_ERROR(ReadCount(field.value, "usage.prompt_tokens", result.prompt_tokens));
    } else if (field.key == "completion_tokens") {
      BENCH_RETURN_IF_ERROR(
          ReadCount(field.value, "usage.completion_tokens", result.completion_tokens));
    } else if (field.key == "total_tokens") {
      BENCH_RETURN_IF_ERROR(ReadCount(field.value, "usage.total_tokens", result.total_tokens));
    } else if (field.key == "prompt_tokens_details") {
      dom::object details;
      bool details_present = false;
      BENCH_RETURN_IF_ERROR(
          ReadObject(field.value, "usage.prompt_tokens_details", details, details_present));
      if (!details_present) continue;
      for (dom::key_value_pair detail : details) {
        if (detail.key == "cached_tokens") {
          BENCH_RETURN_IF_ERROR(ReadCount(detail.value, "usage.prompt_tokens_details.cached_tokens",
                                          result.cached_tokens));
        }
      }
    }
  }
  return absl::OkStatus();
}

// {"error": {...}} or {"error": "text"} (TGI). Null means no error.
absl::Status ReadError(dom::element value, OpenAiPayload& out) {
  if (value.is_null()) return absl::OkStatus();
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    OpenAiError& error = out.error ? *out.error : out.error.emplace();
    error.message.assign(text.data(), text.size());
    return absl::OkStatus();
  }
  dom::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) {
    return WrongType("error", "an object, a string or null");
  }
  OpenAiError& error = out.error ? *out.error : out.error.emplace();
  for (dom::key_value_pair field : object) {
    if (field.key == "message") {
      BENCH_RETURN_IF_ERROR(ReadString(field.value, "error.message", text));
      error.message.assign(text.data(), text.size());
    } else if (field.key == "type") {
      BENCH_RETURN_IF_ERROR(ReadString(field.value, "error.type", text));
      error.type.assign(text.data(), text.size());
    } else if (field.key == "code") {
      BENCH_RETURN_IF_ERROR(ReadCode(field.value, "error.code", error.code));
    }
  }
  return absl::OkStatus();
}

// {"name": ..., "arguments": ...} of a tool call or a legacy function_call.
absl::Status ReadFunction(dom::element value, const char* field, OpenAiPayload& out) {
  dom::object function;
  bool present = false;
  BENCH_RETURN_IF_ERROR(ReadObject(value, field, function, present));
  if (!present) return absl::OkStatus();
  for (dom::key_value_pair part : function) {
    if (part.key == "name" || part.key == "arguments") {
      std::string_view text;
      BENCH_RETURN_IF_ERROR(ReadString(part.value, "function.name/arguments", text));
      out.tool_call_bytes += text.size();
    }
  }
  return absl::OkStatus();
}

// A choice's `delta` (streaming) or `message` (non-streaming): the same fields either way.
absl::Status ReadDelta(dom::element value, OpenAiPayload& out) {
  dom::object delta;
  bool present = false;
  BENCH_RETURN_IF_ERROR(ReadObject(value, "choices[].delta", delta, present));
  if (!present) return absl::OkStatus();
  std::string_view text;
  for (dom::key_value_pair field : delta) {
    const std::string_view key = field.key;
    if (key == "content") {
      BENCH_RETURN_IF_ERROR(ReadString(field.value, "choices[].delta.content", text));
      out.output_bytes += text.size();
      if (out.content_sink != nullptr) out.content_sink->append(text);
    } else if (key == "reasoning_content" || key == "reasoning") {
      BENCH_RETURN_IF_ERROR(ReadString(field.value, "choices[].delta.reasoning", text));
      out.reasoning_bytes += text.size();
    } else if (key == "role") {
      BENCH_RETURN_IF_ERROR(ReadString(field.value, "choices[].delta.role", text));
      out.has_role = out.has_role || !field.value.is_null();
    } else if (key == "tool_calls") {
      dom::array calls;
      bool calls_present = false;
      BENCH_RETURN_IF_ERROR(
          ReadArray(field.value, "choices[].delta.tool_calls", calls, calls_present));
      if (!calls_present) continue;
      for (dom::element call : calls) {
        dom::object call_object;
        if (call.get_object().get(call_object) != simdjson::SUCCESS) {
          return WrongType("choices[].delta.tool_calls[]", "an object");
        }
        for (dom::key_value_pair call_field : call_object) {
          if (call_field.key == "function") {
            BENCH_RETURN_IF_ERROR(
                ReadFunction(call_field.value, "choices[].delta.tool_calls[].function", out));
          }
        }
      }
    } else if (key == "function_call") {
      BENCH_RETURN_IF_ERROR(ReadFunction(field.value, "choices[].delta.function_call", out));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadChoices(dom::element value, OpenAiPayload& out) {
  dom::array choices;
  bool present = false;
  BENCH_RETURN_IF_ERROR(ReadArray(value, "choices", choices, present));
  if (!present) return absl::OkStatus();
  std::string_view text;
  for (dom::element choice : choices) {
    dom::object object;
    if (choice.get_object().get(object) != simdjson::SUCCESS) {
      return WrongType("choices[]", "an object");
    }
    for (dom::key_value_pair field : object) {
      const std::string_view key = field.key;
      if (key == "delta" || key == "message") {
        BENCH_RETURN_IF_ERROR(ReadDelta(field.value, out));
      } else if (key == "text") {
        BENCH_RETURN_IF_ERROR(ReadString(field.value, "choices[].text", text));
        out.output_bytes += text.size();
        if (out.content_sink != nullptr) out.content_sink->append(text);
      } else if (key == "finish_reason") {
        BENCH_RETURN_IF_ERROR(ReadString(field.value, "choices[].finish_reason", text));
        if (out.finish_reason.empty()) out.finish_reason.assign(text.data(), text.size());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ReadPayload(dom::element root, OpenAiPayload& out) {
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("payload is not a JSON object");
  }
  // vLLM's {"object": "error", "message": ..., "type": ..., "code": ...} and TGI's "error_type"
  // live at the top level; their fields may come in any order, so collect them first.
  bool object_is_error = false;
  std::string_view top_message;
  std::string_view top_type;
  std::optional<dom::element> top_code;
  std::string_view text;
  for (dom::key_value_pair field : object) {
    const std::string_view key = field.key;
    if (key == "choices") {
      BENCH_RETURN_IF_ERROR(ReadChoices(field.value, out));
    } else if (key == "usage") {
      BENCH_RETURN_IF_ERROR(ReadUsage(field.value, out));
    } else if (key == "error") {
      BENCH_RETURN_IF_ERROR(ReadError(field.value, out));
    } else if (key == "object") {
      BENCH_RETURN_IF_ERROR(ReadString(field.value, "object", text));
      object_is_error = text == "error";
    } else if (key == "message") {
      // A string only in vLLM's error object; a choice's message is inside choices[].
      if (field.value.get_string().get(text) == simdjson::SUCCESS) top_message = text;
    } else if (key == "type") {
      if (field.value.get_string().get(text) == simdjson::SUCCESS) top_type = text;
    } else if (key == "error_type") {
      BENCH_RETURN_IF_ERROR(ReadString(field.value, "error_type", top_type));
    } else if (key == "code") {
      top_code = field.value;
    }
  }
  if (object_is_error) {
    // Top-level fields fill in what a nested "error" (if any) left empty.
    OpenAiError& error = out.error ? *out.error : out.error.emplace();
    if (error.message.empty()) error.message.assign(top_message.data(), top_message.size());
    if (error.type.empty()) error.type.assign(top_type.data(), top_type.size());
    if (top_code && error.code.empty()) {
      BENCH_RETURN_IF_ERROR(ReadCode(*top_code, "code", error.code));
    }
  } else if (out.error && out.error->type.empty() && !top_type.empty()) {
    out.error->type.assign(top_type.data(), top_type.size());  // TGI's error_type.
  }
  out.output_bytes += out.reasoning_bytes + out.tool_call_bytes;
  out.has_output = out.output_bytes > 0;
  return absl::OkStatus();
}

}  // namespace

void OpenAiPayload::Clear() {
  done = false;
  has_output = false;
  output_bytes = 0;
  reasoning_bytes = 0;
  tool_call_bytes = 0;
  has_role = false;
  finish_reason.clear();  // Keeps capacity.
  usage.reset();
  error.reset();
}

struct OpenAiDecoder::State {
  // simdjson reads up to SIMDJSON_PADDING bytes past the input: parse from a padded copy that
  // grows to the largest payload seen and is then reused.
  absl::Status Parse(std::string_view json, dom::element& root) {
    const size_t needed = json.size() + simdjson::SIMDJSON_PADDING;
    if (needed > capacity) {
      capacity = std::max(needed, capacity * 2);
      buffer = std::make_unique<char[]>(capacity);
    }
    std::memcpy(buffer.get(), json.data(), json.size());
    std::memset(buffer.get() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    const simdjson::error_code error =
        parser.parse(buffer.get(), json.size(), /*realloc_if_needed=*/false).get(root);
    if (error != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid JSON: ", simdjson::error_message(error)));
    }
    return absl::OkStatus();
  }

  absl::Status Decode(std::string_view json, OpenAiPayload& out) {
    out.Clear();
    dom::element root;
    absl::Status status = Parse(json, root);
    if (status.ok()) status = ReadPayload(root, out);
    if (!status.ok()) out.Clear();
    return status;
  }

  dom::parser parser;
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
};

OpenAiDecoder::OpenAiDecoder() : state_(std::make_unique<State>()) {}
OpenAiDecoder::~OpenAiDecoder() = default;
OpenAiDecoder::OpenAiDecoder(OpenAiDecoder&&) noexcept = default;
OpenAiDecoder& OpenAiDecoder::operator=(OpenAiDecoder&&) noexcept = default;

absl::Status OpenAiDecoder::DecodeStreamEvent(std::string_view data, OpenAiPayload& out) {
  if (TrimSpace(data) == "[DONE]") {
    out.Clear();
    out.done = true;
    return absl::OkStatus();
  }
  return state_->Decode(data, out);
}

absl::Status OpenAiDecoder::DecodeResponse(std::string_view body, OpenAiPayload& out) {
  return state_->Decode(body, out);
}

}  // namespace bench::engine
