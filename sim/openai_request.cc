#include "sim/openai_request.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/prefix_cache.h"
#include "sim/tokenizer.h"

namespace bench::sim {
namespace {

namespace dom = simdjson::dom;

std::string_view View(std::string_view s) { return s; }

bool Fail(ApiError& error, std::string message, std::string param) {
  error.http_status = 400;
  error.message = std::move(message);
  error.param = std::move(param);
  return false;
}

// A field that is absent or JSON null.
bool IsAbsent(simdjson::simdjson_result<dom::element> field) {
  return field.error() != simdjson::SUCCESS || field.value_unsafe().is_null();
}

// An optional integer field; false (with the error filled) when present and not an integer.
bool ReadOptionalInt(dom::object object, const char* name, std::optional<int64_t>& out,
                     ApiError& error) {
  auto field = object[name];
  if (IsAbsent(field)) return true;
  int64_t value = 0;
  if (field.value_unsafe().get_int64().get(value) != simdjson::SUCCESS) {
    // 5.0 is accepted as 5, as Python's pydantic does for integral floats.
    double real = 0;
    if (field.value_unsafe().get_double().get(real) != simdjson::SUCCESS ||
        real != static_cast<double>(static_cast<int64_t>(real))) {
      return Fail(error, absl::StrCat("'", name, "' must be an integer"), name);
    }
    value = static_cast<int64_t>(real);
  }
  out = value;
  return true;
}

bool ReadOptionalBool(dom::object object, const char* name, bool& out, ApiError& error) {
  auto field = object[name];
  if (IsAbsent(field)) return true;
  if (field.value_unsafe().get_bool().get(out) != simdjson::SUCCESS) {
    return Fail(error, absl::StrCat("'", name, "' must be a boolean"), name);
  }
  return true;
}

// Counts `text`'s tokens and, when hashing, feeds them to the block hasher.
int64_t TakeTokens(std::string_view text, BlockHasher* hasher) {
  if (hasher == nullptr) return CountTokens(text);
  int64_t count = 0;
  ForEachToken(text, [&](std::string_view token) {
    hasher->AddToken(token);
    ++count;
  });
  return count;
}

// Text of a chat message's content: a string, or the "text" of each {"type": "text"} part.
// Other parts (images, audio) carry no text tokens here.
bool ContentText(dom::element content, std::string* text, BlockHasher* hasher, int64_t& tokens,
                 ApiError& error) {
  std::string_view string_value;
  if (content.get_string().get(string_value) == simdjson::SUCCESS) {
    tokens += TakeTokens(string_value, hasher);
    if (text != nullptr) text->assign(string_value);
    return true;
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return Fail(error, "'content' must be a string, an array of content parts or null", "messages");
  }
  if (text != nullptr) text->clear();
  for (dom::element part : parts) {
    dom::object part_object;
    if (part.get_object().get(part_object) != simdjson::SUCCESS) {
      return Fail(error, "each content part must be an object", "messages");
    }
    std::string_view type;
    if (part_object["type"].get_string().get(type) != simdjson::SUCCESS) {
      return Fail(error, "each content part needs a string 'type'", "messages");
    }
    if (type != "text") continue;
    std::string_view part_text;
    if (part_object["text"].get_string().get(part_text) != simdjson::SUCCESS) {
      return Fail(error, "a text content part needs a string 'text'", "messages");
    }
    tokens += TakeTokens(part_text, hasher);
    if (text != nullptr) {
      if (!text->empty()) text->push_back('\n');
      text->append(part_text);
    }
  }
  return true;
}

bool ReadMessages(dom::object root, bool want_echo_text, BlockHasher* hasher,
                  GenerationRequest& out, ApiError& error) {
  auto field = root["messages"];
  if (IsAbsent(field)) return Fail(error, "'messages' is required", "messages");
  dom::array messages;
  if (field.value_unsafe().get_array().get(messages) != simdjson::SUCCESS) {
    return Fail(error, "'messages' must be an array", "messages");
  }
  if (messages.size() == 0) return Fail(error, "'messages' must not be empty", "messages");
  for (dom::element message : messages) {
    dom::object message_object;
    if (message.get_object().get(message_object) != simdjson::SUCCESS) {
      return Fail(error, "each message must be an object", "messages");
    }
    std::string_view role;
    if (message_object["role"].get_string().get(role) != simdjson::SUCCESS) {
      return Fail(error, "each message needs a string 'role'", "messages");
    }
    auto content = message_object["content"];
    if (IsAbsent(content)) continue;  // Assistant tool calls carry no content.
    if (!ContentText(content.value_unsafe(), want_echo_text ? &out.echo_text : nullptr, hasher,
                     out.prompt_tokens, error)) {
      return false;
    }
  }
  return true;
}

// A prompt is a string, a token-id array, or a one-element array of either (batches of several
// prompts are not supported: they would need n > 1 choices).
bool ReadPrompt(dom::element prompt, bool want_echo_text, BlockHasher* hasher, bool nested,
                GenerationRequest& out, ApiError& error) {
  std::string_view text;
  if (prompt.get_string().get(text) == simdjson::SUCCESS) {
    out.prompt_tokens = TakeTokens(text, hasher);
    if (want_echo_text) out.echo_text.assign(text);
    return true;
  }
  dom::array items;
  if (prompt.get_array().get(items) != simdjson::SUCCESS) {
    return Fail(error, "'prompt' must be a string, an array of token ids, or a list of one of them",
                "prompt");
  }
  if (items.size() == 0) return Fail(error, "'prompt' must not be empty", "prompt");
  dom::element first = items.at(0).value_unsafe();
  if (first.is_int64() || first.is_uint64()) {
    for (dom::element item : items) {
      if (!item.is_int64() && !item.is_uint64()) {
        return Fail(error, "a token-id prompt must hold only integers", "prompt");
      }
    }
    out.prompt_tokens = static_cast<int64_t>(items.size());
    if (hasher != nullptr) {
      for (dom::element item : items) {
        uint64_t id = 0;
        int64_t signed_id = 0;
        if (item.get_uint64().get(id) != simdjson::SUCCESS &&
            item.get_int64().get(signed_id) == simdjson::SUCCESS) {
          id = static_cast<uint64_t>(signed_id);  // Negative ids are wrong but still tokens.
        }
        hasher->AddTokenId(id);
      }
    }
    if (want_echo_text) out.echo_text.clear();  // Token ids have no text to echo.
    return true;
  }
  if (nested) {
    return Fail(error, "'prompt' must be a string, an array of token ids, or a list of one of them",
                "prompt");
  }
  if (items.size() > 1) {
    return Fail(error, "batched prompts are not supported: send one prompt per request", "prompt");
  }
  return ReadPrompt(first, want_echo_text, hasher, /*nested=*/true, out, error);
}

// kv_transfer_params (llm-d's P/D fields). Each field may be absent or null (the sidecar sends
// the prefill leg's remote_* as null); unknown fields (vLLM adds its own) are ignored.
bool ReadKvTransferParams(dom::object root, KvTransferParams& out, ApiError& error) {
  constexpr const char* kParam = "kv_transfer_params";
  auto field = root[kParam];
  if (IsAbsent(field)) return true;
  dom::object params;
  if (field.value_unsafe().get_object().get(params) != simdjson::SUCCESS) {
    return Fail(error, "'kv_transfer_params' must be an object", kParam);
  }
  out.present = true;
  auto wrong_type = [&](const char* name, const char* type) {
    return Fail(error, absl::StrCat("'kv_transfer_params.", name, "' must be ", type), kParam);
  };
  for (const auto& [name, target] :
       {std::pair<const char*, bool*>{"do_remote_decode", &out.do_remote_decode},
        {"do_remote_prefill", &out.do_remote_prefill}}) {
    auto flag = params[name];
    if (IsAbsent(flag)) continue;
    if (flag.value_unsafe().get_bool().get(*target) != simdjson::SUCCESS) {
      return wrong_type(name, "a boolean");
    }
  }
  for (const auto& [name, target] :
       {std::pair<const char*, std::string*>{"remote_engine_id", &out.remote_engine_id},
        {"remote_host", &out.remote_host}}) {
    auto text = params[name];
    if (IsAbsent(text)) continue;
    std::string_view value;
    if (text.value_unsafe().get_string().get(value) != simdjson::SUCCESS) {
      return wrong_type(name, "a string");
    }
    target->assign(value);
  }
  for (const auto& [name, target] :
       {std::pair<const char*, std::optional<int64_t>*>{"remote_port", &out.remote_port},
        {"tp_size", &out.tp_size}}) {
    auto number = params[name];
    if (IsAbsent(number)) continue;
    int64_t value = 0;
    if (number.value_unsafe().get_int64().get(value) != simdjson::SUCCESS) {
      return wrong_type(name, "an integer");
    }
    *target = value;
  }
  auto blocks = params["remote_block_ids"];
  if (!IsAbsent(blocks)) {
    // vLLM's NixlConnector sends integers, llm-d's simulator strings: both are ids.
    dom::array ids;
    if (blocks.value_unsafe().get_array().get(ids) != simdjson::SUCCESS) {
      return wrong_type("remote_block_ids", "an array of block ids (integers or strings)");
    }
    for (dom::element id : ids) {
      if (!id.is_int64() && !id.is_uint64() && !id.is_string()) {
        return wrong_type("remote_block_ids", "an array of block ids (integers or strings)");
      }
    }
    out.remote_block_count = static_cast<int64_t>(ids.size());
  }
  if (out.do_remote_decode && out.do_remote_prefill) {
    // One leg is the prefill, the other the decode: a request cannot be both.
    return Fail(error,
                "'kv_transfer_params' must not set both do_remote_decode and do_remote_prefill",
                kParam);
  }
  return true;
}

}  // namespace

struct RequestParser::State {
  dom::parser parser;
  // simdjson reads up to SIMDJSON_PADDING bytes past the input: parse from a padded copy that
  // grows to the largest body seen and is then reused.
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
};

RequestParser::RequestParser() : state_(std::make_unique<State>()) {}
RequestParser::~RequestParser() = default;

bool RequestParser::Parse(ApiKind kind, std::string_view body, const ParseOptions& options,
                          GenerationRequest& out, ApiError& error) {
  out = GenerationRequest();
  out.kind = kind;
  const size_t needed = body.size() + simdjson::SIMDJSON_PADDING;
  if (needed > state_->capacity) {
    state_->capacity = std::max(needed, state_->capacity * 2);
    state_->buffer = std::make_unique<char[]>(state_->capacity);
  }
  if (!body.empty()) std::memcpy(state_->buffer.get(), body.data(), body.size());
  std::memset(state_->buffer.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  dom::element root;
  const simdjson::error_code parse_error =
      state_->parser.parse(state_->buffer.get(), body.size(), /*realloc_if_needed=*/false)
          .get(root);
  if (parse_error != simdjson::SUCCESS) {
    return Fail(error, absl::StrCat("invalid JSON body: ", simdjson::error_message(parse_error)),
                "");
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(error, "the request body must be a JSON object", "");
  }

  auto model = object["model"];
  if (IsAbsent(model)) return Fail(error, "'model' is required", "model");
  std::string_view model_name;
  if (model.value_unsafe().get_string().get(model_name) != simdjson::SUCCESS) {
    return Fail(error, "'model' must be a string", "model");
  }
  out.model.assign(View(model_name));

  std::optional<BlockHasher> hasher;
  if (options.block_size > 0) hasher.emplace(options.block_size, options.hash_seed);
  BlockHasher* hasher_pointer = hasher.has_value() ? &*hasher : nullptr;
  if (kind == ApiKind::kChat) {
    if (!ReadMessages(object, options.want_echo_text, hasher_pointer, out, error)) return false;
  } else {
    auto prompt = object["prompt"];
    if (IsAbsent(prompt)) return Fail(error, "'prompt' is required", "prompt");
    if (!ReadPrompt(prompt.value_unsafe(), options.want_echo_text, hasher_pointer,
                    /*nested=*/false, out, error)) {
      return false;
    }
  }

  std::optional<int64_t> max_tokens;
  std::optional<int64_t> max_completion_tokens;
  std::optional<int64_t> min_tokens;
  std::optional<int64_t> n;
  if (!ReadOptionalInt(object, "max_tokens", max_tokens, error) ||
      !ReadOptionalInt(object, "min_tokens", min_tokens, error) ||
      !ReadOptionalInt(object, "n", n, error)) {
    return false;
  }
  if (kind == ApiKind::kChat &&
      !ReadOptionalInt(object, "max_completion_tokens", max_completion_tokens, error)) {
    return false;
  }
  if (hasher.has_value()) out.prompt_blocks = hasher->TakeBlocks();
  out.max_tokens = max_completion_tokens.has_value() ? max_completion_tokens : max_tokens;
  const char* max_name = max_completion_tokens.has_value() ? "max_completion_tokens" : "max_tokens";
  if (out.max_tokens.has_value() && *out.max_tokens < 1) {
    return Fail(error, absl::StrCat(max_name, " must be at least 1, got ", *out.max_tokens),
                max_name);
  }
  if (min_tokens.has_value()) {
    if (*min_tokens < 0) {
      return Fail(error, absl::StrCat("min_tokens must be at least 0, got ", *min_tokens),
                  "min_tokens");
    }
    if (out.max_tokens.has_value() && *min_tokens > *out.max_tokens) {
      return Fail(error,
                  absl::StrCat("min_tokens must be less than or equal to ", max_name, "=",
                               *out.max_tokens, ", got ", *min_tokens),
                  "min_tokens");
    }
    out.min_tokens = *min_tokens;
  }
  if (n.has_value() && *n != 1) {
    return Fail(error, absl::StrCat("only n=1 is supported, got ", *n), "n");
  }
  if (!ReadOptionalBool(object, "stream", out.stream, error) ||
      !ReadOptionalBool(object, "ignore_eos", out.ignore_eos, error)) {
    return false;
  }
  auto stream_options = object["stream_options"];
  if (!IsAbsent(stream_options)) {
    if (!out.stream) {
      return Fail(error, "Stream options can only be defined when `stream=True`.",
                  "stream_options");
    }
    dom::object options;
    if (stream_options.value_unsafe().get_object().get(options) != simdjson::SUCCESS) {
      return Fail(error, "'stream_options' must be an object", "stream_options");
    }
    if (!ReadOptionalBool(options, "include_usage", out.include_usage, error)) {
      error.param = "stream_options";
      return false;
    }
  }
  return ReadKvTransferParams(object, out.kv_transfer, error);
}

}  // namespace bench::sim
