// Decodes the body of a non-streaming (`stream: false`) response as its bytes arrive, holding a
// few short strings and the nesting of what is open, never the body: a 300 MiB completion costs
// the same memory as a short one. Its results are those of OpenAiDecoder::DecodeResponse (the
// simdjson decoder, which needs the whole document) on any body that fits the limits below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "worker/engine/openai_stream.h"

namespace bench::engine {

class OpenAiBodyDecoder {
 public:
  // Strings kept whole (error messages and types, finish_reason, codes) are cut to this; the
  // output itself (content, text, reasoning, tool calls) is counted, and given to the payload's
  // content_sink when it has one, never kept here.
  static constexpr size_t kMaxKeptStringBytes = 4096;
  // simdjson's default depth limit: deeper documents are refused by both decoders.
  static constexpr size_t kMaxDepth = 1024;

  OpenAiBodyDecoder();

  // Starts a body whose payload goes to `out` (cleared; its content_sink is kept and used).
  // Required before the first Feed.
  void Reset(OpenAiPayload* out);
  // The body's next bytes. The first error is returned and kept: later bytes are ignored.
  absl::Status Feed(std::string_view bytes);
  // The body ended: OK when it held exactly one JSON object of the expected shape; `out` is then
  // complete. On error `out` is left cleared.
  absl::Status Finish();

  // The roles a value can play, from where it sits (public for the implementation's tables).
  enum class Role : uint8_t;

 private:
  enum class Mode : uint8_t;
  enum class Expect : uint8_t;
  struct Frame {
    bool object = false;
    Role role{};
    Expect expect{};
  };
  // What a string's bytes are for: a key, output to count, a value to keep (cut at
  // kMaxKeptStringBytes), or nothing.
  enum class StringUse : uint8_t { kKey, kCount, kKeep, kSkip };

  absl::Status Fail(std::string message);
  absl::Status ByteBetween(char c);
  absl::Status StartValue(char c, Role role);
  absl::Status OpenContainer(bool object, Role role);
  absl::Status CloseContainer();
  // Takes what it can of a string from bytes[at] (plain ASCII, whole UTF-8 sequences, whole
  // escapes) and returns how much; stops before the closing quote, anything invalid and a
  // sequence cut by the end of `bytes`, which the byte-at-a-time path then takes.
  size_t StringRun(std::string_view bytes, size_t at);
  absl::Status StringByte(char c);
  absl::Status EscapeByte(char c);
  absl::Status UnicodeDigit(char c);
  void EmitCodePoint(uint32_t code_point);
  void AppendString(std::string_view text);
  void AddCounted(size_t bytes);  // output bytes of the string being read
  absl::Status EndString();
  absl::Status NumberByte(char c, bool& consumed);
  absl::Status EndNumber();
  // The usage field the scalar being read fills (prompt_tokens, ...), or null for another role.
  std::optional<int64_t>* UsageCount();
  absl::Status LiteralByte(char c);

  OpenAiPayload* out_ = nullptr;
  absl::Status status_;
  Mode mode_{};
  std::vector<Frame> stack_;  // what is open, at most kMaxDepth frames
  Role value_role_{};         // the role of the object member whose key was just read
  // The scalar being read (string, number, literal): its role; a string's use, the bytes kept
  // of it and whether they were cut.
  Role scalar_role_{};
  StringUse use_ = StringUse::kSkip;
  std::string kept_;
  bool kept_cut_ = false;
  // Inside a string: UTF-8 continuation bytes still due and the range the next one must take;
  // a \u escape's digits so far and a high surrogate waiting for its low half.
  int utf8_due_ = 0;
  unsigned char utf8_low_ = 0x80;
  unsigned char utf8_high_ = 0xBF;
  int unicode_digits_ = 0;
  uint32_t unicode_ = 0;
  uint32_t high_surrogate_ = 0;
  bool want_low_surrogate_ = false;  // a high surrogate was read: `\` `u` must follow
  // A number's text (refused past 4,096 characters) and where its grammar is.
  std::string number_;
  uint8_t number_state_ = 0;
  // A literal (true, false, null) and how much of it was read.
  const char* literal_ = nullptr;
  size_t literal_read_ = 0;
  // The top level's vLLM/TGI error fields, applied at Finish (they come in any order).
  bool object_is_error_ = false;
  std::string top_message_;
  std::string top_type_;
  enum class CodeKind : uint8_t { kNone, kNull, kText, kOther };
  CodeKind top_code_kind_ = CodeKind::kNone;
  std::string top_code_;
};

}  // namespace bench::engine
