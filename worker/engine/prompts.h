// The prompts the engine sends (SPEC section 2, `prompts`): synthetic text of sampled token
// lengths, JSONL files and ShareGPT datasets, with optional shared-prefix groups. Prompt `index`
// depends only on (seed, index), so workers that take disjoint index sets (SPEC section 5) send
// exactly the prompts of a single-process run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/engine/tokenizer.h"

namespace bench::engine {

// Token counts ~ Normal(mean, stddev), rounded and clipped to [min, max]: the config's type.
using LengthDistribution = ::bench::LengthDistribution;

// The lengths of one prompt given from outside (a trace record).
struct PromptLengths {
  int64_t input_tokens = 0;   // >= 1
  int64_t output_tokens = 0;  // >= 1, sent as max_tokens

  bool operator==(const PromptLengths&) const = default;
};

struct PromptSpec {
  enum class Source { kSynthetic, kFile, kShareGpt };

  Source source = Source::kSynthetic;
  LengthDistribution input_length;   // Synthetic only.
  LengthDistribution output_length;  // Used when the dataset gives no output length.
  std::string dataset_path;          // kFile (JSONL) and kShareGpt.
  double prefix_ratio = 0;           // Share of the mean input length that is a shared prefix.
  uint32_t prefix_groups = 1;        // Distinct shared prefixes; prompt i uses group i % groups.
  uint64_t seed = 1;
  bool dataset_output_length = false;  // ShareGPT: use the recorded answer's length.
  // Trace replay (synthetic only): prompt i has exactly fixed_lengths[i % size] - input words
  // and max_tokens - instead of lengths sampled from input_length and output_length.
  std::vector<PromptLengths> fixed_lengths;
  // Multi-turn conversations (synthetic, or kShareGpt's records turn by turn): see GetTurn.
  bool conversation = false;
  LengthDistribution turns{1, 0, 1, 1};  // Turns of a synthetic conversation; max caps datasets'.
  // The model's tokenizer (prompts.tokenizer): synthetic text is then made of words that are
  // one token each in it, so input lengths are exact token counts. Null: the 256 words of
  // SyntheticVocabulary(), one token each in Llama 3 and cl100k_base.
  std::shared_ptr<const Tokenizer> tokenizer;
};

struct Prompt {
  std::string text;           // The prompt (completions) or the single user message (chat).
  std::string messages_json;  // A JSON array of chat messages when the dataset gave them; empty
                              // otherwise (chat then sends [{"role":"user","content":text}]).
  int64_t input_tokens = 0;   // The generator's estimate (words); the real count comes back in
                              // usage.prompt_tokens.
  int64_t max_tokens = 0;     // Sampled or recorded output length, sent as max_tokens.
  uint32_t prefix_group = 0;  // Which shared prefix it starts with (prefix_ratio > 0).
};

// Hands out prompts by index. Create loads and checks the dataset (the only I/O); afterwards the
// object is immutable and Get() may be called from any thread. Randomness is counter-based
// (splitmix64 of seed, index and a stream id) with our own normal sampling, so results do not
// depend on the standard library version, the calling thread or the order of calls.
//
// - Synthetic: input_tokens ~ input_length, text is that many words from SyntheticVocabulary()
//   separated by single spaces. With prefix_ratio r > 0 the first round(r * input_length.mean)
//   words are group (index % prefix_groups)'s prefix: its first words are the group number in
//   base 256 (base n with a tokenizer's n one-token words; each digit a vocabulary word shifted
//   by a seeded offset), so groups < 256 differ in the first word; the rest of the prefix is seeded
//   by (seed, group). The prompt is then at least prefix + 1 words long, which may exceed
//   input_length.max.
// - Synthetic with fixed_lengths (trace replay): as above, but prompt i has
//   fixed_lengths[i % size].input_tokens words and that record's output_tokens as max_tokens;
//   the prefix is round(r * mean of the fixed input lengths) words.
// - File (JSONL): one object per line with "prompt" (string) or "messages" (array of {role,
//   content}) and optionally "max_tokens" or "output_tokens" (a positive integer; max_tokens
//   wins); blank lines skipped. Prompt i is line i % lines, in file order. For a messages line,
//   text is the string contents joined by newlines (what a completions endpoint gets).
// - ShareGPT (array of {"conversations": [{"from", "value"}]}): the prompt is the first turn from
//   "human" (or "user") with a non-blank value; entries without one are skipped. With
//   dataset_output_length, max_tokens is the word count (at least 1) of the first answer after it
//   (from "gpt", "chatgpt", "bing", "bard" or "assistant") and entries without an answer are
//   skipped too. The file is read as a stream, element by element (no DOM of the whole file),
//   and the kept entries are shuffled once by a Fisher-Yates permutation seeded by `seed` (as
//   vLLM shuffles ShareGPT), so prompt i is shuffled[i % entries]. For conversations every
//   human turn with a non-blank value counts (each followed by its answer when one is needed;
//   a human turn that follows another before its answer is skipped, and the record ends at a
//   last human turn without an answer).
// input_tokens of dataset prompts is the text's whitespace-separated word count. max_tokens not
// given by the dataset is sampled from output_length per index. With prefix_ratio r > 0 a
// dataset prompt i starts with group (i % prefix_groups)'s prefix of round(r * mean dataset
// words) words, as synthetic prompts do, then a newline and the dataset's text; a chat
// dataset's messages get it at the start of their leading system message, or as one of its own.
class PromptSource {
 public:
  // NotFound for a missing dataset file; InvalidArgument for a bad spec, bad content (naming the
  // file and line or entry) or an empty dataset.
  static absl::StatusOr<std::unique_ptr<PromptSource>> Create(const PromptSpec& spec);

  ~PromptSource();
  PromptSource(const PromptSource&) = delete;
  PromptSource& operator=(const PromptSource&) = delete;

  // Deterministic in (spec, index) only.
  Prompt Get(uint64_t index) const;

  // Conversations (spec.conversation). Conversation `index` has TurnCount(index) >= 1 turns;
  // GetTurn gives the user's message of turn `turn` (0-based): turn 0 is Get(index), later turns
  // are the dataset record's later human turns (each with its answer's length as max_tokens) or
  // synthetic text of input_length words, without the shared prefix. Deterministic in (spec,
  // index, turn) only.
  int64_t TurnCount(uint64_t index) const;
  Prompt GetTurn(uint64_t index, int64_t turn) const;

  // Entries in the dataset; 0 for synthetic.
  size_t dataset_size() const;

  // Words of the shared prefix (0 without prefix groups).
  int64_t prefix_words() const { return prefix_words_; }

  struct DatasetEntry;  // One loaded dataset prompt; defined in prompts.cc.

 private:
  explicit PromptSource(const PromptSpec& spec);
  // Narrows vocabulary_ to the tokenizer's one-token words and checks that words add up.
  absl::Status UseTokenizer();
  void AppendPrefix(uint32_t group, std::string& text) const;

  PromptSpec spec_;
  std::vector<std::string_view> vocabulary_;  // Synthetic words; prefix tags count in its base.
  int64_t prefix_words_ = 0;
  int tag_words_ = 1;  // Base-256 digits of the group number at the start of a prefix.
  std::vector<DatasetEntry> entries_;
};

// The 256 words synthetic text is made of: common lowercase English words, each a single token
// with and without a leading space in GPT cl100k_base and Llama 3 (checked with js-tiktoken and
// llama3-tokenizer-js: 5,000 random words gave exactly 5,000 tokens in both).
const std::vector<std::string_view>& SyntheticVocabulary();

// Maximal runs of non-whitespace (ASCII space, \t, \n, \v, \f, \r).
int64_t CountWords(std::string_view text);

}  // namespace bench::engine
