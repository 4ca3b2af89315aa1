// Parsing of OpenAI-compatible generation requests (POST /v1/chat/completions and
// /v1/completions) into what bench-sim's model needs, with OpenAI-style errors for bad input.
// simdjson stays inside openai_request.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bench::sim {

enum class ApiKind { kChat, kCompletions };

// An error answered as {"error": {"message", "type", "param", "code"}} (openai_format.h).
struct ApiError {
  int http_status = 400;
  std::string message;
  std::string param;  // The offending field; empty is null.
};

// llm-d's per-request prefill/decode split (vLLM's NixlConnector fields). The P/D sidecar sends
// the prefill leg with do_remote_decode and the decode leg with do_remote_prefill plus the
// remote_* values the prefill leg answered with. bench-sim acts on the two flags only; the rest
// is checked for type and kept for tests and logs.
struct KvTransferParams {
  bool present = false;  // The request had a kv_transfer_params object (not absent or null).
  bool do_remote_decode = false;   // This is the prefill leg: prefill only, answer at once.
  bool do_remote_prefill = false;  // This is the decode leg: the prompt's KV comes over the wire.
  std::string remote_engine_id;
  int64_t remote_block_count = 0;  // Entries of remote_block_ids (integers or strings).
  std::string remote_host;
  std::optional<int64_t> remote_port;
  std::optional<int64_t> tp_size;
};

struct GenerationRequest {
  ApiKind kind = ApiKind::kChat;
  std::string model;
  // Stand-in tokenizer count (tokenizer.h) of every message's text content, or of the prompt
  // (token-id prompts count their ids).
  int64_t prompt_tokens = 0;
  std::optional<int64_t> max_tokens;  // max_completion_tokens wins over max_tokens (chat)
  int64_t min_tokens = 0;
  bool ignore_eos = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // The last message's text (chat) or the prompt (completions); filled only when asked for.
  std::string echo_text;
  // Chained hashes of the prompt's full token blocks (prefix_cache.h); filled only when asked.
  std::vector<uint64_t> prompt_blocks;
  KvTransferParams kv_transfer;
};

struct ParseOptions {
  bool want_echo_text = false;
  int64_t block_size = 0;  // > 0: fill prompt_blocks with blocks of this many tokens
  uint64_t hash_seed = 0;
};

// Parses request bodies with a reusable simdjson parser and padded buffer. One per event loop;
// not thread-safe.
class RequestParser {
 public:
  RequestParser();
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Fills `out` and returns true, or fills `error` (status 400, naming the field) and returns
  // false: malformed JSON, not an object, a missing or mistyped field (model, messages/prompt),
  // an out-of-range value (max_tokens < 1, min_tokens > max_tokens, n != 1), stream_options
  // without stream, kv_transfer_params that is not an object, has a field of the wrong type or
  // sets both do_remote_decode and do_remote_prefill. Unknown fields are ignored. The model name is
  // not checked here.
  bool Parse(ApiKind kind, std::string_view body, const ParseOptions& options,
             GenerationRequest& out, ApiError& error);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bench::sim
