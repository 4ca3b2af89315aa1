#include "worker/engine/prompts.h"

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numbers>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_chunks.h"
#include "common/status_macros.h"

namespace bench::engine {

struct PromptSource::DatasetEntry {
  std::string text;
  std::string messages_json;
  int64_t input_tokens = 0;
  int64_t max_tokens = 0;  // 0: sample from output_length.
  // A conversation's turns after the first (ShareGPT with spec.conversation).
  struct Turn {
    std::string text;
    int64_t input_tokens = 0;
    int64_t max_tokens = 0;  // 0: sample from output_length.
  };
  std::vector<Turn> later_turns;
};

namespace {

namespace dom = simdjson::dom;

// Debian's Abseil does not alias absl::string_view to std::string_view.
absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

// ---- counter-based randomness -------------------------------------------------------------

// Independent random streams of one prompt.
enum Stream : uint64_t {
  kInputLengthStream = 1,
  kOutputLengthStream = 2,
  kWordsStream = 3,
  kPrefixWordsStream = 4,
  kGroupTagStream = 5,
  kShuffleStream = 6,
  kTurnsStream = 7,
};

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

uint64_t Finalize(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A well-mixed key for (seed, index, stream); each step is a bijection of its input.
uint64_t StreamKey(uint64_t seed, uint64_t index, Stream stream) {
  uint64_t key = Finalize(seed + kGolden);
  key = Finalize(key ^ (index + kGolden));
  return Finalize(key ^ (static_cast<uint64_t>(stream) * kGolden));
}

// splitmix64: tiny, fast, and the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t key) : state_(key) {}
  uint64_t Next() { return Finalize(state_ += kGolden); }
  // Uniform in (0, 1] with 53 bits.
  double NextOpenUnit() { return static_cast<double>((Next() >> 11) + 1) * 0x1.0p-53; }
  // Uniform in [0, n), unbiased (Lemire's multiply-and-reject).
  uint64_t Below(uint64_t n) {
    unsigned __int128 product = static_cast<unsigned __int128>(Next()) * n;
    uint64_t low = static_cast<uint64_t>(product);
    if (low < n) {
      const uint64_t threshold = -n % n;
      while (low < threshold) {
        product = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(product);
      }
    }
    return static_cast<uint64_t>(product >> 64);
  }

 private:
  uint64_t state_;
};

// Normal(mean, stddev) by Box-Muller, rounded and clipped to [min, max].
int64_t SampleLength(const LengthDistribution& distribution, uint64_t key) {
  double value = distribution.mean;
  if (distribution.stddev > 0) {
    Rng rng(key);
    const double u1 = rng.NextOpenUnit();
    const double u2 = rng.NextOpenUnit();
    value += distribution.stddev * std::sqrt(-2.0 * std::log(u1)) *
             std::cos(2.0 * std::numbers::pi * u2);
  }
  // Clip before converting: a far tail must not overflow int64.
  if (!(value > static_cast<double>(distribution.min))) return distribution.min;
  if (value >= static_cast<double>(distribution.max)) return distribution.max;
  return std::clamp<int64_t>(std::llround(value), distribution.min, distribution.max);
}

absl::Status CheckDistribution(const LengthDistribution& distribution, const char* field) {
  if (!std::isfinite(distribution.mean)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".mean must be finite"));
  }
  if (!std::isfinite(distribution.stddev) || distribution.stddev < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".stddev must be >= 0, got ", distribution.stddev));
  }
  if (distribution.min < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".min must be >= 1, got ", distribution.min));
  }
  if (distribution.max < distribution.min) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".max must be >= min (", distribution.min,
                                                   "), got ", distribution.max));
  }
  return absl::OkStatus();
}

// ---- synthetic words ----------------------------------------------------------------------

// Appends `count` random words of `vocabulary`, each preceded by a space unless `text` is empty.
void AppendRandomWords(const std::vector<std::string_view>& vocabulary, uint64_t key, int64_t count,
                       std::string& text) {
  Rng rng(key);
  if (vocabulary.size() != 256) {  // A tokenizer's single-token words (see Create).
    for (int64_t i = 0; i < count; ++i) {
      if (!text.empty()) text.push_back(' ');
      text.append(vocabulary[rng.Below(vocabulary.size())]);
    }
    return;
  }
  uint64_t bits = 0;
  int bytes_left = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (bytes_left == 0) {
      bits = rng.Next();
      bytes_left = 8;
    }
    if (!text.empty()) text.push_back(' ');
    text.append(vocabulary[bits & 0xff]);
    bits >>= 8;
    --bytes_left;
  }
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsBlank(std::string_view text) { return std::all_of(text.begin(), text.end(), IsSpace); }

// ---- files --------------------------------------------------------------------------------

std::string_view StripBom(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  return text;
}

// A positive integer count; anything else is an error for `field`.
absl::StatusOr<int64_t> ReadPositive(dom::element value, std::string_view field) {
  int64_t count = 0;
  if (value.get_int64().get(count) != simdjson::SUCCESS || count < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", Absl(field), "\" must be a positive integer, got ", simdjson::minify(value)));
  }
  return count;
}

// One chat message's content: a string, null, or an array of parts whose "text" strings count.
absl::Status AppendContent(dom::element content, size_t message, std::string& text) {
  std::string_view part_text;
  if (content.is_null()) return absl::OkStatus();
  if (content.get_string().get(part_text) == simdjson::SUCCESS) {
    if (!text.empty()) text.push_back('\n');
    text.append(part_text);
    return absl::OkStatus();
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"messages\"[", message, "].content must be a string, an array of parts or null"));
  }
  for (dom::element part : parts) {
    dom::element part_value;
    if (part["text"].get(part_value) == simdjson::SUCCESS &&
        part_value.get_string().get(part_text) == simdjson::SUCCESS) {
      if (!text.empty()) text.push_back('\n');
      text.append(part_text);
    }
  }
  return absl::OkStatus();
}

// One JSONL line, already known not to be blank.
absl::Status ParseJsonlLine(dom::parser& parser, std::string_view line,
                            PromptSource::DatasetEntry& entry) {
  dom::element root;
  if (auto error = parser.parse(line.data(), line.size()).get(root); error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON (", simdjson::error_message(error), ")"));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("must be a JSON object");
  }
  bool has_prompt = false;
  bool has_messages = false;
  bool has_max_tokens = false;
  for (dom::key_value_pair field : object) {
    if (field.key == "prompt") {
      std::string_view prompt;
      if (field.value.get_string().get(prompt) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("\"prompt\" must be a string");
      }
      if (IsBlank(prompt)) return absl::InvalidArgumentError("\"prompt\" is empty");
      entry.text.assign(prompt);
      has_prompt = true;
    } else if (field.key == "messages") {
      dom::array messages;
      if (field.value.get_array().get(messages) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("\"messages\" must be an array");
      }
      size_t index = 0;
      for (dom::element message : messages) {
        dom::object message_object;
        if (message.get_object().get(message_object) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError(
              absl::StrCat("\"messages\"[", index, "] must be an object"));
        }
        std::string_view role;
        if (message_object["role"].get_string().get(role) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError(
              absl::StrCat("\"messages\"[", index, "] needs a string \"role\""));
        }
        dom::element content;
        if (message_object["content"].get(content) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError(
              absl::StrCat("\"messages\"[", index, "] needs \"content\""));
        }
        BENCH_RETURN_IF_ERROR(AppendContent(content, index, entry.text));
        ++index;
      }
      if (index == 0) return absl::InvalidArgumentError("\"messages\" is empty");
      entry.messages_json = simdjson::minify(field.value);
      has_messages = true;
    } else if (field.key == "max_tokens" || field.key == "output_tokens") {
      BENCH_ASSIGN_OR_RETURN(const int64_t max_tokens, ReadPositive(field.value, field.key));
      // max_tokens wins over output_tokens whatever their order.
      if (!has_max_tokens || field.key == "max_tokens") entry.max_tokens = max_tokens;
      has_max_tokens = has_max_tokens || field.key == "max_tokens";
    }
  }
  if (has_prompt && has_messages) {
    return absl::InvalidArgumentError("has both \"prompt\" and \"messages\"; give one");
  }
  if (!has_prompt && !has_messages) {
    return absl::InvalidArgumentError(
        "needs \"prompt\" (a string) or \"messages\" (an array of {role, content})");
  }
  entry.input_tokens = CountWords(entry.text);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PromptSource::DatasetEntry>> LoadJsonl(const std::string& path) {
  std::vector<PromptSource::DatasetEntry> entries;
  dom::parser parser;
  std::string pending;  // The current line's bytes seen so far.
  int64_t line_number = 0;
  const auto finish_line = [&](std::string_view line) -> absl::Status {
    ++line_number;
    if (line_number == 1) line = StripBom(line);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) return absl::OkStatus();
    PromptSource::DatasetEntry& entry = entries.emplace_back();
    absl::Status status = ParseJsonlLine(parser, line, entry);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": ", status.message()));
    }
    return absl::OkStatus();
  };
  BENCH_RETURN_IF_ERROR(
      ReadFileChunks(path, "prompts.dataset", [&](std::string_view chunk) -> absl::Status {
        for (;;) {
          const size_t newline = chunk.find('\n');
          if (newline == std::string_view::npos) break;
          if (pending.empty()) {
            BENCH_RETURN_IF_ERROR(finish_line(chunk.substr(0, newline)));
          } else {
            pending.append(chunk.substr(0, newline));
            BENCH_RETURN_IF_ERROR(finish_line(pending));
            pending.clear();
          }
          chunk.remove_prefix(newline + 1);
        }
        pending.append(chunk);
        return absl::OkStatus();
      }));
  if (!pending.empty()) BENCH_RETURN_IF_ERROR(finish_line(pending));
  if (entries.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no prompts (the file has no non-blank line)"));
  }
  return entries;
}

// ---- ShareGPT -----------------------------------------------------------------------------

// Splits a top-level JSON array, fed in chunks, into the text of its elements, so that a large
// dataset never needs a DOM (or simdjson's index, 4 bytes per input byte) of the whole file.
// Strings are tracked so brackets inside them do not count; each element is then parsed and
// checked on its own.
class JsonArraySplitter {
 public:
  explicit JsonArraySplitter(std::function<absl::Status(std::string_view element)> on_element)
      : on_element_(std::move(on_element)) {}

  absl::Status Feed(std::string_view chunk) {
    if (first_chunk_) {
      chunk = StripBom(chunk);
      first_chunk_ = false;
    }
    size_t i = 0;
    while (i < chunk.size()) {
      const char c = chunk[i];
      switch (state_) {
        case State::kBeforeArray:
          if (c == '[') {
            state_ = State::kFirstElement;
          } else if (!IsSpace(c)) {
            return absl::InvalidArgumentError("must be a JSON array of conversations");
          }
          ++i;
          break;
        case State::kFirstElement:
        case State::kNextElement:
          if (IsSpace(c)) {
            ++i;
          } else if (c == ']' && state_ == State::kFirstElement) {
            state_ = State::kDone;
            ++i;
          } else if (c == ']' || c == ',') {
            return Error("expected a value");
          } else {
            state_ = State::kInElement;
            depth_ = 0;
            in_string_ = false;
            escaped_ = false;
            element_.clear();
          }
          break;
        case State::kInElement: {
          const size_t start = i;
          bool complete = false;
          bool consumed_end = true;
          for (; i < chunk.size() && !complete; ++i) {
            const char d = chunk[i];
            if (in_string_) {
              if (escaped_) {
                escaped_ = false;
              } else if (d == '\\') {
                escaped_ = true;
              } else if (d == '"') {
                in_string_ = false;
                if (depth_ == 0) complete = true;  // A string element.
              }
            } else if (d == '"') {
              in_string_ = true;
            } else if (d == '{' || d == '[') {
              ++depth_;
            } else if (d == '}' || d == ']') {
              if (depth_ == 0) {  // Ends a scalar element: belongs to the array.
                complete = true;
                consumed_end = false;
              } else if (--depth_ == 0) {
                complete = true;
              }
            } else if (depth_ == 0 && (d == ',' || IsSpace(d))) {
              complete = true;  // Ends a scalar element.
              consumed_end = false;
            }
          }
          if (!consumed_end) --i;  // Re-read the delimiter in kAfterElement.
          element_.append(chunk.substr(start, i - start));
          if (complete) {
            BENCH_RETURN_IF_ERROR(on_element_(element_));
            ++element_index_;
            state_ = State::kAfterElement;
          }
          break;
        }
        case State::kAfterElement:
          if (c == ',') {
            state_ = State::kNextElement;
          } else if (c == ']') {
            state_ = State::kDone;
          } else if (!IsSpace(c)) {
            return Error("expected , or ] after it");
          }
          ++i;
          break;
        case State::kDone:
          if (!IsSpace(c)) return absl::InvalidArgumentError("unexpected text after the array");
          ++i;
          break;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Finish() {
    if (state_ == State::kDone) return absl::OkStatus();
    if (state_ == State::kBeforeArray) {
      return absl::InvalidArgumentError("must be a JSON array of conversations, got no text");
    }
    return absl::InvalidArgumentError("unexpected end of file: the array is not closed");
  }

 private:
  enum class State { kBeforeArray, kFirstElement, kNextElement, kInElement, kAfterElement, kDone };

  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("entry ", element_index_, ": ", Absl(what)));
  }

  std::function<absl::Status(std::string_view)> on_element_;
  State state_ = State::kBeforeArray;
  bool first_chunk_ = true;
  int64_t depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  std::string element_;
  int64_t element_index_ = 0;
};

bool IsHumanRole(std::string_view from) { return from == "human" || from == "user"; }

bool IsAnswerRole(std::string_view from) {
  return from == "gpt" || from == "chatgpt" || from == "bing" || from == "bard" ||
         from == "assistant";
}

// One ShareGPT entry: appends to `entries` unless it has no usable human turn (or no answer
// when one is required).
absl::Status ParseShareGptEntry(dom::parser& parser, std::string_view text, bool need_answer,
                                bool all_turns, std::vector<PromptSource::DatasetEntry>& entries) {
  dom::element root;
  if (auto error = parser.parse(text.data(), text.size()).get(root); error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON (", simdjson::error_message(error), ")"));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("must be an object");
  }
  dom::element conversations_value;
  if (object["conversations"].get(conversations_value) != simdjson::SUCCESS) {
    return absl::OkStatus();  // No conversation: nothing to send.
  }
  dom::array conversations;
  if (conversations_value.get_array().get(conversations) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("\"conversations\" must be an array");
  }
  // (human text, answer words or -1 while unanswered) per turn kept.
  std::vector<std::pair<std::string_view, int64_t>> turns;
  size_t turn_index = 0;
  for (dom::element turn : conversations) {
    dom::object turn_object;
    if (turn.get_object().get(turn_object) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"conversations\"[", turn_index, "] must be an object"));
    }
    std::string_view from;
    std::string_view value;
    dom::element field;
    if (turn_object["from"].get(field) == simdjson::SUCCESS &&
        field.get_string().get(from) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"conversations\"[", turn_index, "].from must be a string"));
    }
    if (turn_object["value"].get(field) == simdjson::SUCCESS &&
        field.get_string().get(value) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"conversations\"[", turn_index, "].value must be a string"));
    }
    ++turn_index;
    const bool waiting_for_answer = !turns.empty() && turns.back().second < 0;
    if (waiting_for_answer && IsAnswerRole(from)) {
      turns.back().second = CountWords(value);
      if (!all_turns) break;
    } else if (!waiting_for_answer && IsHumanRole(from) && !IsBlank(value)) {
      turns.emplace_back(value, -1);
    }
  }
  // Without an answer a turn has no recorded length; the conversation ends before it.
  if (need_answer && !turns.empty() && turns.back().second < 0) turns.pop_back();
  if (turns.empty()) return absl::OkStatus();
  const auto max_tokens = [need_answer](int64_t answer_words) -> int64_t {
    return need_answer ? std::max<int64_t>(1, answer_words) : 0;
  };
  PromptSource::DatasetEntry& entry = entries.emplace_back();
  entry.text.assign(turns[0].first);
  entry.input_tokens = CountWords(turns[0].first);
  entry.max_tokens = max_tokens(turns[0].second);
  for (size_t i = 1; i < turns.size() && all_turns; ++i) {
    PromptSource::DatasetEntry::Turn& turn = entry.later_turns.emplace_back();
    turn.text.assign(turns[i].first);
    turn.input_tokens = CountWords(turns[i].first);
    turn.max_tokens = max_tokens(turns[i].second);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PromptSource::DatasetEntry>> LoadShareGpt(const std::string& path,
                                                                     bool need_answer,
                                                                     bool all_turns,
                                                                     uint64_t seed) {
  std::vector<PromptSource::DatasetEntry> entries;
  dom::parser parser;
  int64_t entry_index = 0;
  JsonArraySplitter splitter([&](std::string_view element) -> absl::Status {
    absl::Status status = ParseShareGptEntry(parser, element, need_answer, all_turns, entries);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": entry ", entry_index, ": ", status.message()));
    }
    ++entry_index;
    return absl::OkStatus();
  });
  const auto with_path = [&path](const absl::Status& status) {
    if (status.ok() || absl::StartsWith(status.message(), path)) return status;
    return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
  };
  absl::Status status = ReadFileChunks(path, "prompts.dataset", [&](std::string_view chunk) {
    return with_path(splitter.Feed(chunk));
  });
  BENCH_RETURN_IF_ERROR(status);
  BENCH_RETURN_IF_ERROR(with_path(splitter.Finish()));
  if (entries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no usable conversations among ", entry_index, " entries (each needs a turn from ",
        need_answer ? "\"human\" with a \"gpt\" answer after it" : "\"human\"", ")"));
  }
  // Fisher-Yates, seeded: the same order for a seed on every machine.
  Rng rng(StreamKey(seed, 0, kShuffleStream));
  for (size_t i = entries.size() - 1; i > 0; --i) {
    std::swap(entries[i], entries[rng.Below(i + 1)]);
  }
  return entries;
}

// Datasets bring their own prompts; lengths from a trace need synthetic text.
absl::Status CheckNoFixedLengths(const PromptSpec& spec) {
  if (spec.fixed_lengths.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "prompts.type must be synthetic when the lengths come from a trace (load.type trace), "
      "got ",
      spec.source == PromptSpec::Source::kFile ? "file" : "shareGPT"));
}

}  // namespace

// ---- PromptSource -------------------------------------------------------------------------

PromptSource::PromptSource(const PromptSpec& spec)
    : spec_(spec), vocabulary_(SyntheticVocabulary().begin(), SyntheticVocabulary().end()) {}

absl::Status PromptSource::UseTokenizer() {
  const Tokenizer& tokenizer = *spec_.tokenizer;
  // Synthetic text is made of words that are one token each at the start of a text and after a
  // space: a text of n such words separated by single spaces is n tokens, because byte-level
  // pre-tokenizers and SentencePiece never merge across the space before a word.
  std::vector<std::string_view> single;
  for (std::string_view word : SyntheticVocabulary()) {
    if (tokenizer.Count(word) == 1 && tokenizer.Count(absl::StrCat("a ", Absl(word))) == 2 &&
        tokenizer.Count(absl::StrCat(Absl(word), " ", Absl(word))) == 2) {
      single.push_back(word);
    }
  }
  if (single.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompts.tokenizer: only ", single.size(),
                     " of the 256 synthetic words are one token each in ", tokenizer.Describe(),
                     "; prompts of exact token lengths need at least 16"));
  }
  vocabulary_ = std::move(single);
  // Checked, not assumed: a long sample must count exactly its words.
  std::string sample;
  AppendRandomWords(vocabulary_, StreamKey(spec_.seed, 0, kWordsStream), 512, sample);
  const int64_t counted = tokenizer.Count(sample);
  if (counted != 512) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompts.tokenizer: 512 one-token words gave ", counted, " tokens in ",
        tokenizer.Describe(), "; its pre-tokenizer joins words, so exact lengths cannot be built"));
  }
  spec_.tokenizer.reset();  // Not needed past here: the vocabulary is all it gave.
  return absl::OkStatus();
}

PromptSource::~PromptSource() = default;

absl::StatusOr<std::unique_ptr<PromptSource>> PromptSource::Create(const PromptSpec& spec) {
  std::unique_ptr<PromptSource> source(new PromptSource(spec));
  if (spec.tokenizer != nullptr) BENCH_RETURN_IF_ERROR(source->UseTokenizer());
  double mean_input = 0;  // words, for the prefix length
  switch (spec.source) {
    case PromptSpec::Source::kSynthetic: {
      mean_input = spec.input_length.mean;
      if (spec.fixed_lengths.empty()) {
        BENCH_RETURN_IF_ERROR(CheckDistribution(spec.input_length, "prompts.inputLength"));
      } else {
        double sum = 0;
        for (size_t i = 0; i < spec.fixed_lengths.size(); ++i) {
          const PromptLengths& lengths = spec.fixed_lengths[i];
          if (lengths.input_tokens < 1 || lengths.output_tokens < 1) {
            return absl::InvalidArgumentError(
                absl::StrCat("prompt lengths[", i, "] must be >= 1, got input ",
                             lengths.input_tokens, ", output ", lengths.output_tokens));
          }
          sum += static_cast<double>(lengths.input_tokens);
        }
        mean_input = sum / static_cast<double>(spec.fixed_lengths.size());
      }
      break;
    }
    case PromptSpec::Source::kFile: {
      BENCH_RETURN_IF_ERROR(CheckNoFixedLengths(spec));
      BENCH_ASSIGN_OR_RETURN(source->entries_, LoadJsonl(spec.dataset_path));
      break;
    }
    case PromptSpec::Source::kShareGpt: {
      BENCH_RETURN_IF_ERROR(CheckNoFixedLengths(spec));
      BENCH_ASSIGN_OR_RETURN(source->entries_,
                             LoadShareGpt(spec.dataset_path, spec.dataset_output_length,
                                          spec.conversation, spec.seed));
      break;
    }
  }
  if (spec.conversation) {
    if (spec.source == PromptSpec::Source::kFile || !spec.fixed_lengths.empty()) {
      return absl::InvalidArgumentError(
          "conversations come from synthetic text or a ShareGPT dataset, not a JSONL file or a "
          "trace");
    }
    if (spec.source == PromptSpec::Source::kSynthetic) {
      BENCH_RETURN_IF_ERROR(CheckDistribution(spec.turns, "prompts.conversation.turns"));
    } else if (spec.turns.max < 1) {
      return absl::InvalidArgumentError("prompts.conversation.turns.max must be >= 1");
    }
  }
  if (!source->entries_.empty()) {
    double words = 0;
    for (const DatasetEntry& entry : source->entries_) {
      words += static_cast<double>(entry.input_tokens);
    }
    mean_input = words / static_cast<double>(source->entries_.size());
  }
  // Shared prefixes, for synthetic and dataset prompts alike: prefixRatio of the mean length.
  if (!(spec.prefix_ratio >= 0 && spec.prefix_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompts.prefixRatio must be in [0, 1], got ", spec.prefix_ratio));
  }
  if (spec.prefix_groups < 1) {
    return absl::InvalidArgumentError("prompts.prefixGroups must be >= 1, got 0");
  }
  if (spec.prefix_ratio > 0) {
    source->prefix_words_ = std::llround(spec.prefix_ratio * std::max(0.0, mean_input));
    const uint64_t base = source->vocabulary_.size();
    for (uint64_t rest = (spec.prefix_groups - 1) / base; rest > 0; rest /= base) {
      ++source->tag_words_;
    }
  }
  // output_length matters only for prompts whose length the dataset does not give.
  const bool samples_output =
      (spec.source == PromptSpec::Source::kSynthetic && spec.fixed_lengths.empty()) ||
      std::any_of(source->entries_.begin(), source->entries_.end(), [](const DatasetEntry& entry) {
        return entry.max_tokens == 0 ||
               std::any_of(entry.later_turns.begin(), entry.later_turns.end(),
                           [](const DatasetEntry::Turn& turn) { return turn.max_tokens == 0; });
      });
  if (samples_output) {
    BENCH_RETURN_IF_ERROR(CheckDistribution(spec.output_length, "prompts.outputLength"));
  }
  return source;
}

size_t PromptSource::dataset_size() const { return entries_.size(); }

void PromptSource::AppendPrefix(uint32_t group, std::string& text) const {
  const int64_t tags = std::min<int64_t>(tag_words_, prefix_words_);
  const uint64_t base = vocabulary_.size();
  uint64_t digits = group;
  for (int64_t i = 0; i < tags; ++i) {
    // A seeded shift per digit position keeps the map group -> words one-to-one.
    const uint64_t shift = StreamKey(spec_.seed, static_cast<uint64_t>(i), kGroupTagStream);
    if (!text.empty()) text.push_back(' ');
    text.append(vocabulary_[(digits + shift % base) % base]);
    digits /= base;
  }
  AppendRandomWords(vocabulary_, StreamKey(spec_.seed, group, kPrefixWordsStream),
                    prefix_words_ - tags, text);
}

Prompt PromptSource::Get(uint64_t index) const {
  Prompt prompt;
  if (!entries_.empty()) {
    const DatasetEntry& entry = entries_[index % entries_.size()];
    prompt.input_tokens = entry.input_tokens;
    if (prefix_words_ > 0) {
      // The group's shared prefix before the dataset's text; a chat dataset's messages get it
      // as a leading system message, as a shared system prompt would be.
      prompt.prefix_group = static_cast<uint32_t>(index % spec_.prefix_groups);
      AppendPrefix(prompt.prefix_group, prompt.text);
      prompt.input_tokens += prefix_words_;
      if (entry.messages_json.size() > 2) {
        // Vocabulary words only (lowercase ASCII letters): nothing in them needs JSON escaping.
        // A leading system message takes the prefix at its start (templates such as Mistral's
        // refuse a second one); otherwise the prefix is a system message of its own.
        constexpr absl::string_view kSystem = R"([{"role":"system","content":")";
        if (absl::StartsWith(entry.messages_json, kSystem)) {
          prompt.messages_json =
              absl::StrCat(kSystem, prompt.text, "\\n", entry.messages_json.substr(kSystem.size()));
        } else {
          prompt.messages_json =
              absl::StrCat(kSystem, prompt.text, R"("},)", entry.messages_json.substr(1));
        }
      }
      prompt.text.push_back('\n');
      prompt.text.append(entry.text);
    } else {
      prompt.text = entry.text;
      prompt.messages_json = entry.messages_json;
    }
    prompt.max_tokens =
        entry.max_tokens > 0
            ? entry.max_tokens
            : SampleLength(spec_.output_length, StreamKey(spec_.seed, index, kOutputLengthStream));
    return prompt;
  }
  int64_t words = 0;
  if (!spec_.fixed_lengths.empty()) {
    const PromptLengths& lengths = spec_.fixed_lengths[index % spec_.fixed_lengths.size()];
    words = lengths.input_tokens;
    prompt.max_tokens = lengths.output_tokens;
  } else {
    words = SampleLength(spec_.input_length, StreamKey(spec_.seed, index, kInputLengthStream));
    prompt.max_tokens =
        SampleLength(spec_.output_length, StreamKey(spec_.seed, index, kOutputLengthStream));
  }
  int64_t own_words = words;
  prompt.text.reserve(static_cast<size_t>(std::max(words, prefix_words_ + 1)) * 8);
  if (prefix_words_ > 0) {
    prompt.prefix_group = static_cast<uint32_t>(index % spec_.prefix_groups);
    words = std::max(words, prefix_words_ + 1);
    own_words = words - prefix_words_;
    AppendPrefix(prompt.prefix_group, prompt.text);
  }
  AppendRandomWords(vocabulary_, StreamKey(spec_.seed, index, kWordsStream), own_words,
                    prompt.text);
  prompt.input_tokens = words;
  return prompt;
}

int64_t PromptSource::TurnCount(uint64_t index) const {
  if (!spec_.conversation) return 1;
  if (!entries_.empty()) {
    const DatasetEntry& entry = entries_[index % entries_.size()];
    return std::min<int64_t>(1 + static_cast<int64_t>(entry.later_turns.size()), spec_.turns.max);
  }
  return SampleLength(spec_.turns, StreamKey(spec_.seed, index, kTurnsStream));
}

Prompt PromptSource::GetTurn(uint64_t index, int64_t turn) const {
  if (turn <= 0) return Get(index);
  // A later turn's own random streams: the conversation's key mixed with the turn number.
  const uint64_t turn_index =
      StreamKey(spec_.seed, index, kTurnsStream) ^ (static_cast<uint64_t>(turn) * kGolden);
  Prompt prompt;
  if (!entries_.empty()) {
    const DatasetEntry& entry = entries_[index % entries_.size()];
    const size_t later = static_cast<size_t>(turn - 1);
    if (later >= entry.later_turns.size()) return prompt;  // Past the record: the caller's bug.
    const DatasetEntry::Turn& recorded = entry.later_turns[later];
    prompt.text = recorded.text;
    prompt.input_tokens = recorded.input_tokens;
    prompt.max_tokens = recorded.max_tokens > 0
                            ? recorded.max_tokens
                            : SampleLength(spec_.output_length,
                                           StreamKey(spec_.seed, turn_index, kOutputLengthStream));
    return prompt;
  }
  const int64_t words =
      SampleLength(spec_.input_length, StreamKey(spec_.seed, turn_index, kInputLengthStream));
  prompt.max_tokens =
      SampleLength(spec_.output_length, StreamKey(spec_.seed, turn_index, kOutputLengthStream));
  prompt.text.reserve(static_cast<size_t>(words) * 8);
  AppendRandomWords(vocabulary_, StreamKey(spec_.seed, turn_index, kWordsStream), words,
                    prompt.text);
  prompt.input_tokens = words;
  return prompt;
}

const std::vector<std::string_view>& SyntheticVocabulary() {
  static const std::vector<std::string_view>* const kVocabulary = new std::vector<std::string_view>{
      "the",     "of",      "and",       "to",      "in",        "is",        "it",       "that",
      "for",     "was",     "on",        "are",     "as",        "with",      "he",       "be",
      "at",      "by",      "this",      "had",     "not",       "but",       "what",     "all",
      "were",    "we",      "when",      "your",    "can",       "said",      "there",    "use",
      "an",      "each",    "which",     "she",     "do",        "how",       "their",    "if",
      "will",    "up",      "other",     "about",   "out",       "many",      "then",     "them",
      "these",   "so",      "some",      "her",     "would",     "make",      "like",     "him",
      "into",    "time",    "has",       "two",     "more",      "go",        "see",      "way",
      "could",   "people",  "my",        "than",    "first",     "been",      "call",     "who",
      "its",     "now",     "find",      "long",    "down",      "day",       "did",      "get",
      "come",    "made",    "may",       "part",    "over",      "new",       "sound",    "take",
      "only",    "little",  "work",      "know",    "place",     "year",      "live",     "me",
      "back",    "give",    "most",      "very",    "after",     "thing",     "our",      "just",
      "name",    "good",    "man",       "think",   "say",       "great",     "where",    "help",
      "through", "much",    "before",    "line",    "right",     "too",       "mean",     "old",
      "any",     "same",    "tell",      "boy",     "follow",    "came",      "want",     "show",
      "also",    "around",  "form",      "three",   "small",     "set",       "put",      "end",
      "does",    "another", "well",      "large",   "must",      "big",       "even",     "such",
      "because", "turn",    "here",      "why",     "ask",       "went",      "men",      "read",
      "need",    "land",    "different", "home",    "us",        "move",      "try",      "kind",
      "hand",    "picture", "again",     "change",  "off",       "play",      "spell",    "air",
      "away",    "animal",  "house",     "point",   "page",      "letter",    "mother",   "answer",
      "found",   "study",   "still",     "learn",   "should",    "world",     "high",     "every",
      "near",    "add",     "food",      "between", "own",       "below",     "country",  "plant",
      "last",    "school",  "father",    "keep",    "tree",      "never",     "start",    "city",
      "earth",   "eye",     "light",     "thought", "head",      "under",     "story",    "left",
      "few",     "while",   "along",     "might",   "close",     "something", "next",     "hard",
      "open",    "example", "begin",     "life",    "always",    "those",     "both",     "paper",
      "got",     "group",   "often",     "run",     "important", "until",     "children", "side",
      "car",     "mile",    "night",     "walk",    "white",     "sea",       "grow",     "took",
      "river",   "four",    "carry",     "state",   "once",      "book",      "hear",     "stop",
      "without", "second",  "later",     "miss",    "idea",      "eat",       "face",     "watch",
  };
  return *kVocabulary;
}

int64_t CountWords(std::string_view text) {
  int64_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = IsSpace(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

}  // namespace bench::engine
