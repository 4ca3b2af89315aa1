#include "worker/engine/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <simdjson.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "worker/engine/utf8.h"

namespace bench::engine {
namespace {

namespace dom = simdjson::dom;

// Debian's Abseil does not alias absl::string_view to std::string_view.
absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

std::string WithThousands(int64_t value) {
  const std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// ---- UTF-8 --------------------------------------------------------------------------------

// The length of the valid UTF-8 sequence at text[i], or 0 when there is none.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const Utf8Lead lead = Utf8LeadOf(byte(i));
  const size_t length = static_cast<size_t>(lead.length);
  if (length <= 1) return length;
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < lead.second_low || byte(i + 1) > lead.second_high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

// `text` with each invalid byte replaced by U+FFFD, as a UTF-8 string type would hold it.
std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void AppendCodepoint(uint32_t codepoint, std::string& out) {
  if (codepoint < 0x80) {
    out.push_back(static_cast<char>(codepoint));
  } else if (codepoint < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (codepoint >> 6)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (codepoint >> 12)));
    out.push_back(static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  }
}

// GPT-2's byte-level alphabet: every byte as a printable codepoint (printable Latin-1 bytes map
// to themselves, the others to 256 + n), which byte-level vocabularies are written in.
const std::array<std::string, 256>& ByteAlphabet() {
  static const std::array<std::string, 256>* const kAlphabet = [] {
    auto* alphabet = new std::array<std::string, 256>();
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      AppendCodepoint(printable ? b : next++, (*alphabet)[b]);
    }
    return alphabet;
  }();
  return *kAlphabet;
}

// ---- regular expressions (PCRE2, Unicode properties) --------------------------------------

class Regex {
 public:
  static absl::StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern,
                                                        bool literal = false) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0u), &error,
                                     &offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof(message));
      return absl::InvalidArgumentError(
          absl::StrCat("the pre-tokenizer's pattern does not compile ", "at offset ", offset, ": ",
                       reinterpret_cast<const char*>(message)));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // Optional: interpreted when JIT is missing.
    return std::unique_ptr<Regex>(new Regex(code));
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // HF's Split with behavior "Isolated": every match is a piece, and so is every gap between
  // matches. `text` must be valid UTF-8.
  void Split(std::string_view text, std::vector<std::string_view>& out) const {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_, nullptr);
    size_t start = 0;  // Of the text not yet given out.
    size_t at = 0;
    while (at < text.size()) {
      const int found = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                                    at, PCRE2_NO_UTF_CHECK, match, nullptr);
      if (found < 0) break;
      const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match);
      if (span[1] == span[0]) {  // An empty match: step over one character.
        if (span[0] >= text.size()) break;
        at = span[0] + std::max<size_t>(1, Utf8SequenceLength(text, span[0]));
        continue;
      }
      if (span[0] > start) out.push_back(text.substr(start, span[0] - start));
      out.push_back(text.substr(span[0], span[1] - span[0]));
      start = at = span[1];
    }
    if (start < text.size()) out.push_back(text.substr(start));
    pcre2_match_data_free(match);
  }

 private:
  explicit Regex(pcre2_code* code) : code_(code) {}
  pcre2_code* code_;
};

// GPT-2's pre-tokenizer pattern, used by ByteLevel when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// ---- byte-level BPE (tokenizer.json) ------------------------------------------------------

class ByteLevelBpe final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path) {
    dom::parser parser;
    dom::element root;
    if (auto error = parser.load(path).get(root); error != simdjson::SUCCESS) {
      if (error == simdjson::IO_ERROR) {
        return absl::NotFoundError(
            absl::StrCat(path, ": cannot read (", std::strerror(errno), ")"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a tokenizer.json (", simdjson::error_message(error), ")"));
    }
    std::unique_ptr<ByteLevelBpe> tokenizer(new ByteLevelBpe());
    const absl::Status status = tokenizer->Read(root);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
    }
    return std::unique_ptr<Tokenizer>(std::move(tokenizer));
  }

  std::string Describe() const override {
    return absl::StrCat("byte-level BPE (tokenizer.json), ", WithThousands(vocab_.size()),
                        " tokens, ", WithThousands(merges_.size()), " merges", nfc_ ? ", NFC" : "");
  }

 private:
  ByteLevelBpe() = default;

  static absl::Status Unsupported(std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(what),
        "; only byte-level BPE tokenizer.json files are read (Llama 3, Qwen, GPT-2 style): "
        "for a SentencePiece-style model (Llama 2, Mistral 7B v0.1) give its tokenizer.model"));
  }

  static std::string_view StringAt(dom::element object, std::string_view key) {
    std::string_view text;
    if (object[key].get_string().get(text) != simdjson::SUCCESS) return {};
    return text;
  }

  absl::Status Read(dom::element root) {
    dom::element model;
    if (root["model"].get(model) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("no \"model\": not a Hugging Face tokenizer.json");
    }
    if (StringAt(model, "type") != "BPE") {
      return Unsupported(absl::StrCat("model.type is \"", Absl(StringAt(model, "type")), "\""));
    }
    bool flag = false;
    if (model["byte_fallback"].get_bool().get(flag) == simdjson::SUCCESS && flag) {
      return Unsupported("model.byte_fallback is true (a SentencePiece-style BPE)");
    }
    if (!StringAt(model, "continuing_subword_prefix").empty() ||
        !StringAt(model, "end_of_word_suffix").empty()) {
      return Unsupported("the model has subword prefixes or suffixes");
    }
    if (model["ignore_merges"].get_bool().get(flag) == simdjson::SUCCESS) ignore_merges_ = flag;

    dom::object vocab;
    if (model["vocab"].get_object().get(vocab) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("model.vocab must be an object of token -> id");
    }
    vocab_.reserve(vocab.size());
    for (dom::key_value_pair entry : vocab) {
      int64_t id = 0;
      if (entry.value.get_int64().get(id) != simdjson::SUCCESS || id < 0 || id > INT32_MAX) {
        return absl::InvalidArgumentError(
            absl::StrCat("model.vocab[\"", Absl(entry.key), "\"] must be a token id"));
      }
      vocab_.emplace(std::string(entry.key), static_cast<int32_t>(id));
    }
    dom::array merges;
    if (model["merges"].get_array().get(merges) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("model.merges must be an array");
    }
    merges_.reserve(merges.size());
    int32_t rank = 0;
    for (dom::element merge : merges) {
      std::string_view left;
      std::string_view right;
      std::string_view joined;
      dom::array pair;
      if (merge.get_string().get(joined) == simdjson::SUCCESS) {
        const size_t space = joined.find(' ');
        if (space == std::string_view::npos) {
          return absl::InvalidArgumentError(
              absl::StrCat("model.merges[", rank, "] is not \"left right\""));
        }
        left = joined.substr(0, space);
        right = joined.substr(space + 1);
      } else if (merge.get_array().get(pair) == simdjson::SUCCESS && pair.size() == 2 &&
                 pair.at(0).get_string().get(left) == simdjson::SUCCESS &&
                 pair.at(1).get_string().get(right) == simdjson::SUCCESS) {
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("model.merges[", rank, "] must be \"left right\" or [left, right]"));
      }
      const auto a = vocab_.find(Absl(left));
      const auto b = vocab_.find(Absl(right));
      const auto merged = vocab_.find(absl::StrCat(Absl(left), Absl(right)));
      if (a == vocab_.end() || b == vocab_.end() || merged == vocab_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("model.merges[", rank, "] names a token not in model.vocab"));
      }
      // A pair listed twice takes its last rank, as Hugging Face's map of merges does.
      merges_.insert_or_assign(PairKey(a->second, b->second), std::make_pair(rank, merged->second));
      ++rank;
    }

    dom::array added;
    if (root["added_tokens"].get_array().get(added) == simdjson::SUCCESS) {
      for (dom::element token : added) {
        const std::string_view content = StringAt(token, "content");
        int64_t id = 0;
        if (content.empty() || token["id"].get_int64().get(id) != simdjson::SUCCESS) continue;
        added_.emplace_back(std::string(content), static_cast<int32_t>(id));
      }
      // Longest first, so that a token that starts another is not matched instead of it.
      std::sort(added_.begin(), added_.end(),
                [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
      for (const auto& [content, id] : added_) {
        added_first_bytes_[static_cast<unsigned char>(content[0])] = true;
      }
    }

    dom::element normalizer;
    if (root["normalizer"].get(normalizer) == simdjson::SUCCESS && !normalizer.is_null()) {
      BENCH_RETURN_IF_ERROR(ReadNormalizer(normalizer));
    }
    dom::element pre_tokenizer;
    if (root["pre_tokenizer"].get(pre_tokenizer) != simdjson::SUCCESS || pre_tokenizer.is_null()) {
      return Unsupported("there is no pre_tokenizer");
    }
    BENCH_RETURN_IF_ERROR(ReadPreTokenizer(pre_tokenizer));
    if (!byte_level_) return Unsupported("the pre_tokenizer has no ByteLevel step");
    // Every byte must be a token, or some text could not be encoded.
    for (const std::string& symbol : ByteAlphabet()) {
      if (!vocab_.contains(symbol)) {
        return Unsupported("model.vocab lacks some of the 256 byte-level symbols");
      }
    }
    return absl::OkStatus();
  }

  absl::Status ReadNormalizer(dom::element normalizer) {
    const std::string_view type = StringAt(normalizer, "type");
    if (type == "NFC") {
      nfc_ = true;
      return absl::OkStatus();
    }
    dom::array steps;
    if (type == "Sequence" &&
        normalizer["normalizers"].get_array().get(steps) == simdjson::SUCCESS) {
      for (dom::element step : steps) BENCH_RETURN_IF_ERROR(ReadNormalizer(step));
      return absl::OkStatus();
    }
    return Unsupported(absl::StrCat("normalizer \"", Absl(type), "\" is not supported"));
  }

  absl::Status ReadPreTokenizer(dom::element step) {
    const std::string_view type = StringAt(step, "type");
    if (type == "Sequence") {
      dom::array steps;
      if (step["pretokenizers"].get_array().get(steps) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("pre_tokenizer.pretokenizers must be an array");
      }
      for (dom::element inner : steps) BENCH_RETURN_IF_ERROR(ReadPreTokenizer(inner));
      return absl::OkStatus();
    }
    if (byte_level_) return Unsupported("a pre-tokenizer step follows ByteLevel");
    if (type == "Split") {
      bool invert = false;
      if (step["invert"].get_bool().get(invert) != simdjson::SUCCESS) invert = false;
      if (StringAt(step, "behavior") != "Isolated" || invert) {
        return Unsupported(absl::StrCat("a Split step with behavior \"",
                                        Absl(StringAt(step, "behavior")), "\"",
                                        invert ? " inverted" : "", " is not supported"));
      }
      dom::element pattern;
      if (step["pattern"].get(pattern) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("a Split step has no pattern");
      }
      const std::string_view regex = StringAt(pattern, "Regex");
      BENCH_ASSIGN_OR_RETURN(std::unique_ptr<Regex> compiled,
                             regex.empty() ? Regex::Compile(StringAt(pattern, "String"), true)
                                           : Regex::Compile(regex));
      splits_.push_back(std::move(compiled));
      return absl::OkStatus();
    }
    if (type == "ByteLevel") {
      byte_level_ = true;
      bool flag = false;
      if (step["add_prefix_space"].get_bool().get(flag) == simdjson::SUCCESS) {
        add_prefix_space_ = flag;
      }
      bool use_regex = true;
      if (step["use_regex"].get_bool().get(use_regex) != simdjson::SUCCESS) use_regex = true;
      if (use_regex) {
        BENCH_ASSIGN_OR_RETURN(byte_level_split_, Regex::Compile(kGpt2Pattern));
      }
      return absl::OkStatus();
    }
    return Unsupported(absl::StrCat("pre-tokenizer \"", Absl(type), "\" is not supported"));
  }

  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

  // Added tokens are matched in the raw text first (as Hugging Face does, special or not);
  // the text between them is normalized, split and merged.
  void EncodeValid(std::string_view text, std::vector<int32_t>& ids) const override {
    size_t start = 0;
    for (size_t i = 0; i < text.size() && !added_.empty(); ++i) {
      if (!added_first_bytes_[static_cast<unsigned char>(text[i])]) continue;
      for (const auto& [content, id] : added_) {
        if (text.compare(i, content.size(), content) != 0) continue;
        EncodeOrdinary(text.substr(start, i - start), ids);
        ids.push_back(id);
        i += content.size() - 1;
        start = i + 1;
        break;
      }
    }
    EncodeOrdinary(text.substr(start), ids);
  }

  void EncodeOrdinary(std::string_view text, std::vector<int32_t>& ids) const {
    if (text.empty()) return;
    std::string normalized;
    const bool ascii = std::all_of(text.begin(), text.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (nfc_ && !ascii) {
      UErrorCode error = U_ZERO_ERROR;
      const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(error);
      if (U_SUCCESS(error)) {
        const icu::UnicodeString input = icu::UnicodeString::fromUTF8(
            icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
        const icu::UnicodeString output = nfc->normalize(input, error);
        if (U_SUCCESS(error)) {
          output.toUTF8String(normalized);
          text = normalized;
        }
      }
    }
    std::vector<std::string_view> pieces{text};
    std::vector<std::string_view> next;
    for (const std::unique_ptr<Regex>& split : splits_) {
      next.clear();
      for (std::string_view piece : pieces) split->Split(piece, next);
      pieces.swap(next);
    }
    // ByteLevel: a space before each piece the Split steps left (add_prefix_space), then GPT-2's
    // own split (use_regex).
    std::deque<std::string> prefixed;  // Stable addresses for the views into them.
    if (add_prefix_space_) {
      for (std::string_view& piece : pieces) {
        if (piece.front() == ' ') continue;
        prefixed.push_back(absl::StrCat(" ", Absl(piece)));
        piece = prefixed.back();
      }
    }
    if (byte_level_split_ != nullptr) {
      next.clear();
      for (std::string_view piece : pieces) byte_level_split_->Split(piece, next);
      pieces.swap(next);
    }
    std::string mapped;
    std::vector<int32_t> symbols;
    for (std::string_view piece : pieces) {
      mapped.clear();
      for (const char c : piece) mapped.append(ByteAlphabet()[static_cast<unsigned char>(c)]);
      if (ignore_merges_) {
        if (const auto it = vocab_.find(mapped); it != vocab_.end()) {
          ids.push_back(it->second);
          continue;
        }
      }
      Merge(mapped, symbols);
      ids.insert(ids.end(), symbols.begin(), symbols.end());
    }
  }

  // BPE: start from one symbol per character of `mapped`, then merge the adjacent pair of the
  // lowest rank (the leftmost among equals) until no pair has a merge.
  void Merge(std::string_view mapped, std::vector<int32_t>& symbols) const {
    symbols.clear();
    for (size_t i = 0; i < mapped.size();) {
      const size_t length = std::max<size_t>(1, Utf8SequenceLength(mapped, i));
      const auto it = vocab_.find(Absl(mapped.substr(i, length)));
      symbols.push_back(it != vocab_.end() ? it->second : -1);
      i += length;
    }
    while (symbols.size() > 1) {
      int32_t best_rank = INT32_MAX;
      int32_t best_id = -1;
      size_t best = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        const auto it = merges_.find(PairKey(symbols[i], symbols[i + 1]));
        if (it != merges_.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          best_id = it->second.second;
          best = i;
        }
      }
      if (best_id < 0) break;
      symbols[best] = best_id;
      symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
  }

  absl::flat_hash_map<std::string, int32_t> vocab_;
  // (left id, right id) -> (rank, merged id).
  absl::flat_hash_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  std::vector<std::pair<std::string, int32_t>> added_;  // longest first
  std::array<bool, 256> added_first_bytes_{};           // bytes an added token starts with
  std::vector<std::unique_ptr<Regex>> splits_;          // The Split steps, in order.
  std::unique_ptr<Regex> byte_level_split_;             // ByteLevel's use_regex: GPT-2's pattern.
  bool byte_level_ = false;
  bool add_prefix_space_ = false;
  bool ignore_merges_ = false;
  bool nfc_ = false;
};

// ---- SentencePiece BPE (.model) ------------------------------------------------------------

// The protobuf wire format, read by hand for the few fields of sentencepiece_model.proto used
// here: linking Debian's libsentencepiece would bring a second copy of protobuf's parser.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  // The next field; false at the end or on malformed input (then ok() is false).
  bool Next(uint32_t& field, uint32_t& wire_type) {
    if (at_ >= data_.size()) return false;
    uint64_t key = 0;
    if (!Varint(key)) return Fail();
    field = static_cast<uint32_t>(key >> 3);
    wire_type = static_cast<uint32_t>(key & 7);
    return true;
  }
  bool Varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= data_.size()) return Fail();
      const auto byte = static_cast<unsigned char>(data_[at_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (byte < 0x80) return true;
    }
    return Fail();
  }
  bool Bytes(std::string_view& value) {
    uint64_t length = 0;
    if (!Varint(length) || length > data_.size() - at_) return Fail();
    value = data_.substr(at_, length);
    at_ += length;
    return true;
  }
  bool Fixed32(uint32_t& value) {
    if (data_.size() - at_ < 4) return Fail();
    std::memcpy(&value, data_.data() + at_, 4);
    at_ += 4;
    return true;
  }
  bool Skip(uint32_t wire_type) {
    uint64_t ignored = 0;
    std::string_view bytes;
    uint32_t fixed = 0;
    switch (wire_type) {
      case 0:
        return Varint(ignored);
      case 1:
        if (data_.size() - at_ < 8) return Fail();
        at_ += 8;
        return true;
      case 2:
        return Bytes(bytes);
      case 5:
        return Fixed32(fixed);
      default:
        return Fail();
    }
  }
  bool ok() const { return ok_; }

 private:
  bool Fail() {
    ok_ = false;
    at_ = data_.size();
    return false;
  }
  std::string_view data_;
  size_t at_ = 0;
  bool ok_ = true;
};

// SentencePiece's BPE models (Llama 2, Mistral 7B v0.1): the text's spaces become U+2581 (with
// one more in front, add_dummy_prefix), then adjacent symbols merge, highest-scoring resulting
// piece first (the leftmost among equals), and a symbol that is no piece falls back to its
// UTF-8 bytes (<0xXX> pieces) or the unknown piece.
class SentencePieceBpe final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat(path, ": cannot read (", std::strerror(errno), ")"));
    }
    std::stringstream bytes;
    bytes << in.rdbuf();
    std::unique_ptr<SentencePieceBpe> tokenizer(new SentencePieceBpe());
    const absl::Status status = tokenizer->Read(bytes.str());
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
    }
    return std::unique_ptr<Tokenizer>(std::move(tokenizer));
  }

  std::string Describe() const override {
    return absl::StrCat("SentencePiece BPE model, ", WithThousands(piece_count_), " pieces",
                        byte_fallback_ ? ", byte fallback" : "");
  }

 private:
  // sentencepiece_model.proto: ModelProto.SentencePiece.Type.
  enum PieceType {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6
  };
  static constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581

  SentencePieceBpe() = default;

  absl::Status Malformed() const {
    return absl::InvalidArgumentError("not a SentencePiece model (the protobuf does not parse)");
  }

  absl::Status Read(std::string_view data) {
    WireReader model(data);
    uint32_t field = 0;
    uint32_t wire = 0;
    int64_t model_type = 1;  // UNIGRAM unless the trainer spec says otherwise
    bool saw_pieces = false;
    while (model.Next(field, wire)) {
      std::string_view message;
      if (wire == 2 && (field == 1 || field == 2 || field == 3)) {
        if (!model.Bytes(message)) break;
      } else {
        model.Skip(wire);
        continue;
      }
      WireReader inner(message);
      uint32_t f = 0;
      uint32_t w = 0;
      uint64_t value = 0;
      std::string_view text;
      if (field == 1) {  // SentencePiece {piece = 1, score = 2, type = 3}
        saw_pieces = true;
        std::string_view piece;
        float score = 0;
        int type = kNormal;
        while (inner.Next(f, w)) {
          if (f == 1 && w == 2) {
            inner.Bytes(piece);
          } else if (f == 2 && w == 5) {
            uint32_t bits = 0;
            inner.Fixed32(bits);
            std::memcpy(&score, &bits, 4);
          } else if (f == 3 && w == 0) {
            inner.Varint(value);
            type = static_cast<int>(value);
          } else {
            inner.Skip(w);
          }
        }
        if (!inner.ok()) return Malformed();
        const auto id = static_cast<int32_t>(piece_count_++);
        if (type == kNormal || type == kUserDefined || type == kUnused) {
          pieces_.emplace(std::string(piece), Piece{id, score, type == kUnused});
          if (type == kUserDefined) user_defined_.emplace_back(piece);
        } else if (type == kUnknown) {
          unknown_id_ = id;
        } else if (type == kByte && piece.size() == 6 && absl::StartsWith(Absl(piece), "<0x")) {
          const int byte = std::stoi(std::string(piece.substr(3, 2)), nullptr, 16);
          byte_ids_[static_cast<size_t>(byte & 0xFF)] = id;
        }
      } else if (field == 2) {  // TrainerSpec {model_type = 3, byte_fallback = 35, ...}
        while (inner.Next(f, w)) {
          if (w == 0 && (f == 3 || f == 35 || f == 24)) {
            inner.Varint(value);
            if (f == 3) model_type = static_cast<int64_t>(value);
            if (f == 35) byte_fallback_ = value != 0;
            if (f == 24) whitespace_as_suffix_ = value != 0;
          } else {
            inner.Skip(w);
          }
        }
      } else {  // NormalizerSpec {name = 1, precompiled_charsmap = 2, add_dummy_prefix = 3, ...}
        while (inner.Next(f, w)) {
          if (f == 1 && w == 2) {
            inner.Bytes(text);
            normalizer_ = std::string(text);
          } else if (f == 2 && w == 2) {
            inner.Bytes(text);
            has_charsmap_ = !text.empty();
          } else if (w == 0 && (f == 3 || f == 4 || f == 5)) {
            inner.Varint(value);
            if (f == 3) add_dummy_prefix_ = value != 0;
            if (f == 4) remove_extra_whitespaces_ = value != 0;
            if (f == 5) escape_whitespaces_ = value != 0;
          } else {
            inner.Skip(w);
          }
        }
      }
      if (!inner.ok()) return Malformed();
    }
    if (!model.ok() || !saw_pieces) return Malformed();
    if (model_type != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a SentencePiece ", model_type == 1 ? "unigram" : "non-BPE",
          " model; only SentencePiece BPE models (Llama 2, Mistral 7B v0.1) are read"));
    }
    if (has_charsmap_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the model normalizes text with \"", normalizer_,
          "\" (a precompiled character map), which is not read; only \"identity\" is"));
    }
    if (whitespace_as_suffix_) {
      return absl::InvalidArgumentError("treat_whitespace_as_suffix models are not read");
    }
    if (byte_fallback_) {
      for (const int32_t id : byte_ids_) {
        if (id < 0)
          return absl::InvalidArgumentError("byte_fallback without all 256 <0xXX> pieces");
      }
    }
    std::sort(user_defined_.begin(), user_defined_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return absl::OkStatus();
  }

  // SentencePiece's normalizer with the identity map: extra spaces removed when asked, each
  // space escaped as U+2581, one in front (add_dummy_prefix).
  std::string Normalize(std::string_view text) const {
    if (remove_extra_whitespaces_) {
      while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
      while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    }
    std::string out;
    if (text.empty()) return out;
    out.reserve(text.size() + 16);
    const std::string_view space = escape_whitespaces_ ? kSpace : std::string_view(" ");
    if (add_dummy_prefix_) out.append(space);
    bool previous_space = false;
    for (const char c : text) {
      if (c == ' ') {
        if (!(remove_extra_whitespaces_ && previous_space)) out.append(space);
        previous_space = true;
      } else {
        out.push_back(c);
        previous_space = false;
      }
    }
    return out;
  }

  void EncodeValid(std::string_view raw, std::vector<int32_t>& ids) const override {
    const std::string text = Normalize(raw);
    // Symbols: user-defined pieces whole, else one character each; a doubly linked list.
    struct Symbol {
      size_t begin;
      size_t length;
      int prev;
      int next;
      bool fixed;  // a user-defined piece: never merged
    };
    std::vector<Symbol> symbols;
    for (size_t i = 0; i < text.size();) {
      size_t length = 0;
      bool fixed = false;
      for (const std::string& piece : user_defined_) {
        if (text.compare(i, piece.size(), piece) == 0) {
          length = piece.size();
          fixed = true;
          break;
        }
      }
      if (length == 0) length = std::max<size_t>(1, Utf8SequenceLength(text, i));
      const int index = static_cast<int>(symbols.size());
      symbols.push_back(Symbol{i, length, index - 1, index + 1, fixed});
      i += length;
    }
    if (symbols.empty()) return;
    symbols.back().next = -1;

    // Candidate merges, best first: higher score, then the leftmost.
    struct Candidate {
      float score;
      int left;
      int right;
      size_t length;  // of the merged piece, to tell a stale candidate from a live one
    };
    const auto worse = [](const Candidate& a, const Candidate& b) {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::vector<Candidate> agenda;
    const auto consider = [&](int left, int right) {
      if (left < 0 || right < 0 || symbols[left].fixed || symbols[right].fixed) return;
      const std::string_view merged(text.data() + symbols[left].begin,
                                    symbols[left].length + symbols[right].length);
      const auto it = pieces_.find(Absl(merged));
      if (it == pieces_.end() || it->second.unused) return;
      agenda.push_back(Candidate{it->second.score, left, right, merged.size()});
      std::push_heap(agenda.begin(), agenda.end(), worse);
    };
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      consider(static_cast<int>(i), static_cast<int>(i + 1));
    }
    while (!agenda.empty()) {
      std::pop_heap(agenda.begin(), agenda.end(), worse);
      const Candidate top = agenda.back();
      agenda.pop_back();
      Symbol& left = symbols[top.left];
      Symbol& right = symbols[top.right];
      if (left.length == 0 || right.length == 0 || left.next != top.right ||
          left.length + right.length != top.length) {
        continue;  // One side has merged since.
      }
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.left;
      consider(left.prev, top.left);
      consider(top.left, left.next);
    }
    for (int i = 0; i >= 0; i = symbols[i].next) {
      const std::string_view piece(text.data() + symbols[i].begin, symbols[i].length);
      const auto it = pieces_.find(Absl(piece));
      if (it != pieces_.end() && !it->second.unused) {
        ids.push_back(it->second.id);
      } else if (byte_fallback_) {
        for (const char c : piece) ids.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      } else {
        ids.push_back(unknown_id_);
      }
    }
  }

  struct Piece {
    int32_t id;
    float score;
    bool unused;
  };
  absl::flat_hash_map<std::string, Piece> pieces_;  // normal, user-defined and unused pieces
  std::vector<std::string> user_defined_;           // longest first
  std::array<int32_t, 256> byte_ids_ = [] {
    std::array<int32_t, 256> ids;
    ids.fill(-1);
    return ids;
  }();
  int64_t piece_count_ = 0;
  int32_t unknown_id_ = 0;
  bool byte_fallback_ = false;
  bool whitespace_as_suffix_ = false;
  std::string normalizer_;
  bool has_charsmap_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool escape_whitespaces_ = true;
};

}  // namespace

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  if (IsValidUtf8(text)) {
    EncodeValid(text, ids);
  } else {
    EncodeValid(ValidUtf8(text), ids);
  }
  return ids;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& path) {
  if (absl::EndsWith(path, ".model")) return SentencePieceBpe::Load(path);
  return ByteLevelBpe::Load(path);
}

}  // namespace bench::engine
