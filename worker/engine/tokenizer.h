// Exact token counts for a model's own tokenizer (prompts.tokenizer): Hugging Face
// `tokenizer.json` files of byte-level BPE models (Llama 3, Qwen2, GPT-2 style, Mistral's newer
// ones) and SentencePiece BPE `.model` files (Llama 2, Mistral 7B v0.1). Counts leave out special
// tokens a template or post-processor adds (no BOS): they are the tokens of the text itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace bench::engine {

// Immutable once loaded; Encode and Count may run on any thread.
class Tokenizer {
 public:
  // A path ending in .model is read as a SentencePiece model, anything else as tokenizer.json.
  // InvalidArgument names the file and what it does not support (a SentencePiece unigram model
  // or one with a precompiled normalization map, a tokenizer.json that is not byte-level BPE);
  // NotFound for a missing file.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path);

  virtual ~Tokenizer() = default;

  // Token ids of `text`; each invalid UTF-8 byte counts as U+FFFD would.
  std::vector<int32_t> Encode(std::string_view text) const;
  int64_t Count(std::string_view text) const { return static_cast<int64_t>(Encode(text).size()); }
  // What was loaded, e.g. "byte-level BPE (tokenizer.json), 128,256 tokens".
  virtual std::string Describe() const = 0;

 protected:
  // Appends the ids of `text`, which is valid UTF-8.
  virtual void EncodeValid(std::string_view text, std::vector<int32_t>& ids) const = 0;
};

}  // namespace bench::engine
