#include "worker/engine/openai_body.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/engine/json_text.h"
#include "worker/engine/utf8.h"

namespace bench::engine {

// Where a value sits decides what it means (the same paths OpenAiDecoder reads).
enum class OpenAiBodyDecoder::Role : uint8_t {
  kIgnore,  // unknown: any type, skipped
  kRoot,
  kChoices,
  kChoice,
  kDelta,  // a choice's message (or delta)
  kContent,
  kText,
  kReasoning,
  kRole,
  kFinishReason,
  kToolCalls,
  kToolCall,
  kFunction,  // a tool call's function
  kFunctionCall,
  kFunctionPart,  // a function's name or arguments
  kUsage,
  kPromptTokens,
  kCompletionTokens,
  kTotalTokens,
  kDetails,
  kCachedTokens,
  kError,
  kErrorMessage,
  kErrorType,
  kErrorCode,
  kObject,
  kTopMessage,
  kTopType,
  kErrorTypeTop,
  kTopCode,
};

enum class OpenAiBodyDecoder::Mode : uint8_t {
  kStructural,  // between tokens
  kString,
  kEscape,
  kUnicode,
  kNumber,
  kLiteral,
  kEnd,  // the root object closed: only whitespace may follow
  kFailed,
};

enum class OpenAiBodyDecoder::Expect : uint8_t {
  kFirstKey,  // after `{`: a key or `}`
  kKey,       // after `,` in an object
  kColon,
  kValue,       // after `:` or, in an array, after `,`
  kFirstValue,  // after `[`: a value or `]`
  kCommaOrClose,
};

namespace {

using Role = OpenAiBodyDecoder::Role;

// JSON types as bits, for the types each role accepts.
enum TypeBit : uint8_t {
  kObjectType = 1,
  kArrayType = 2,
  kStringType = 4,
  kNumberType = 8,
  kBoolType = 16,
  kNullType = 32,
  kAnyType = 63,
};

struct RoleRule {
  const char* field;  // as OpenAiDecoder names it in errors
  uint8_t types;
  const char* expected;
};

constexpr uint8_t kStringOrNull = kStringType | kNullType;
constexpr uint8_t kCountTypes = kNumberType | kNullType;
constexpr const char* kCountExpected = "a non-negative integer or null";
constexpr const char* kCodeExpected = "a string, an integer or null";

RoleRule RuleOf(Role role) {
  switch (role) {
    case Role::kIgnore:
    case Role::kTopMessage:
    case Role::kTopType:
    case Role::kTopCode:
      return {"", kAnyType, ""};
    case Role::kRoot:
      return {"payload", kObjectType, "a JSON object"};
    case Role::kChoices:
      return {"choices", kArrayType | kNullType, "an array or null"};
    case Role::kChoice:
      return {"choices[]", kObjectType, "an object"};
    case Role::kDelta:
      return {"choices[].delta", kObjectType | kNullType, "an object or null"};
    case Role::kContent:
      return {"choices[].delta.content", kStringOrNull, "a string or null"};
    case Role::kText:
      return {"choices[].text", kStringOrNull, "a string or null"};
    case Role::kReasoning:
      return {"choices[].delta.reasoning", kStringOrNull, "a string or null"};
    case Role::kRole:
      return {"choices[].delta.role", kStringOrNull, "a string or null"};
    case Role::kFinishReason:
      return {"choices[].finish_reason", kStringOrNull, "a string or null"};
    case Role::kToolCalls:
      return {"choices[].delta.tool_calls", kArrayType | kNullType, "an array or null"};
    case Role::kToolCall:
      return {"choices[].delta.tool_calls[]", kObjectType, "an object"};
    case Role::kFunction:
      return {"choices[].delta.tool_calls[].function", kObjectType | kNullType,
              "an object or null"};
    case Role::kFunctionCall:
      return {"choices[].delta.function_call", kObjectType | kNullType, "an object or null"};
    case Role::kFunctionPart:
      return {"function.name/arguments", kStringOrNull, "a string or null"};
    case Role::kUsage:
      return {"usage", kObjectType | kNullType, "an object or null"};
    case Role::kPromptTokens:
      return {"usage.prompt_tokens", kCountTypes, kCountExpected};
    case Role::kCompletionTokens:
      return {"usage.completion_tokens", kCountTypes, kCountExpected};
    case Role::kTotalTokens:
      return {"usage.total_tokens", kCountTypes, kCountExpected};
    case Role::kDetails:
      return {"usage.prompt_tokens_details", kObjectType | kNullType, "an object or null"};
    case Role::kCachedTokens:
      return {"usage.prompt_tokens_details.cached_tokens", kCountTypes, kCountExpected};
    case Role::kError:
      return {"error", kObjectType | kStringType | kNullType, "an object, a string or null"};
    case Role::kErrorMessage:
      return {"error.message", kStringOrNull, "a string or null"};
    case Role::kErrorType:
      return {"error.type", kStringOrNull, "a string or null"};
    case Role::kErrorCode:
      return {"error.code", kStringType | kNumberType | kNullType, kCodeExpected};
    case Role::kObject:
      return {"object", kStringOrNull, "a string or null"};
    case Role::kErrorTypeTop:
      return {"error_type", kStringOrNull, "a string or null"};
  }
  return {"", kAnyType, ""};
}

// The role of an object member, from the object's role and the member's (unescaped) key.
Role MemberRole(Role object, std::string_view key) {
  switch (object) {
    case Role::kRoot:
      if (key == "choices") return Role::kChoices;
      if (key == "usage") return Role::kUsage;
      if (key == "error") return Role::kError;
      if (key == "object") return Role::kObject;
      if (key == "message") return Role::kTopMessage;  // vLLM's error object
      if (key == "type") return Role::kTopType;
      if (key == "error_type") return Role::kErrorTypeTop;  // TGI
      if (key == "code") return Role::kTopCode;
      break;
    case Role::kChoice:
      if (key == "delta" || key == "message") return Role::kDelta;
      if (key == "text") return Role::kText;
      if (key == "finish_reason") return Role::kFinishReason;
      break;
    case Role::kDelta:
      if (key == "content") return Role::kContent;
      if (key == "reasoning_content" || key == "reasoning") return Role::kReasoning;
      if (key == "role") return Role::kRole;
      if (key == "tool_calls") return Role::kToolCalls;
      if (key == "function_call") return Role::kFunctionCall;
      break;
    case Role::kToolCall:
      if (key == "function") return Role::kFunction;
      break;
    case Role::kFunction:
    case Role::kFunctionCall:
      if (key == "name" || key == "arguments") return Role::kFunctionPart;
      break;
    case Role::kUsage:
      if (key == "prompt_tokens") return Role::kPromptTokens;
      if (key == "completion_tokens") return Role::kCompletionTokens;
      if (key == "total_tokens") return Role::kTotalTokens;
      if (key == "prompt_tokens_details") return Role::kDetails;
      break;
    case Role::kDetails:
      if (key == "cached_tokens") return Role::kCachedTokens;
      break;
    case Role::kError:
      if (key == "message") return Role::kErrorMessage;
      if (key == "type") return Role::kErrorType;
      if (key == "code") return Role::kErrorCode;
      break;
    default:
      break;
  }
  return Role::kIgnore;
}

Role ElementRole(Role array) {
  if (array == Role::kChoices) return Role::kChoice;
  if (array == Role::kToolCalls) return Role::kToolCall;
  return Role::kIgnore;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Number grammar (RFC 8259 section 6): where the text read so far stands.
enum NumberState : uint8_t {
  kMinus,       // `-`: a digit must follow
  kZero,        // a leading 0: complete
  kIntDigits,   // complete
  kPoint,       // `.`: a digit must follow
  kFracDigits,  // complete
  kExpMark,     // `e`: a sign or digit must follow
  kExpSign,     // a digit must follow
  kExpDigits,   // complete
};
// Longer numbers are refused (simdjson reads any length; no server sends 4 KB of digits).
constexpr size_t kMaxNumberText = 4096;

}  // namespace

OpenAiBodyDecoder::OpenAiBodyDecoder() { Reset(nullptr); }

void OpenAiBodyDecoder::Reset(OpenAiPayload* out) {
  out_ = out;
  if (out_ != nullptr) out_->Clear();
  status_ = absl::OkStatus();
  mode_ = Mode::kStructural;
  stack_.clear();
  value_role_ = Role::kIgnore;
  use_ = StringUse::kSkip;
  scalar_role_ = Role::kIgnore;
  kept_.clear();
  kept_cut_ = false;
  utf8_due_ = 0;
  unicode_digits_ = 0;
  want_low_surrogate_ = false;
  number_.clear();
  literal_ = nullptr;
  object_is_error_ = false;
  top_message_.clear();
  top_type_.clear();
  top_code_kind_ = CodeKind::kNone;
  top_code_.clear();
}

absl::Status OpenAiBodyDecoder::Fail(std::string message) {
  status_ = absl::InvalidArgumentError(std::move(message));
  mode_ = Mode::kFailed;
  if (out_ != nullptr) out_->Clear();
  return status_;
}

absl::Status OpenAiBodyDecoder::Feed(std::string_view bytes) {
  size_t at = 0;
  while (at < bytes.size()) {
    const char c = bytes[at];
    absl::Status status;
    switch (mode_) {
      case Mode::kFailed:
        return status_;
      case Mode::kEnd:
        if (!IsSpace(c)) return Fail("more after the JSON object");
        ++at;
        continue;
      case Mode::kStructural:
        status = ByteBetween(c);
        ++at;
        break;
      case Mode::kString:
        if (utf8_due_ == 0 && !want_low_surrogate_) {
          if (const size_t run = StringRun(bytes, at); run > 0) {
            at += run;
            continue;
          }
        }
        status = StringByte(c);
        ++at;
        break;
      case Mode::kEscape:
        status = EscapeByte(c);
        ++at;
        break;
      case Mode::kUnicode:
        status = UnicodeDigit(c);
        ++at;
        break;
      case Mode::kNumber: {
        bool consumed = true;
        status = NumberByte(c, consumed);
        if (consumed) ++at;  // else the byte ended the number: read it again as structure
        break;
      }
      case Mode::kLiteral:
        status = LiteralByte(c);
        ++at;
        break;
    }
    if (!status.ok()) return status;
  }
  return status_;
}

absl::Status OpenAiBodyDecoder::Finish() {
  if (mode_ == Mode::kFailed) return status_;
  if (mode_ != Mode::kEnd) {
    return Fail(stack_.empty() && mode_ == Mode::kStructural ? "no JSON in the body"
                                                             : "the body ended inside its JSON");
  }
  OpenAiPayload& out = *out_;
  if (object_is_error_) {
    // Top-level fields fill in what a nested "error" (if any) left empty.
    OpenAiError& error = out.error ? *out.error : out.error.emplace();
    if (error.message.empty()) error.message = top_message_;
    if (error.type.empty()) error.type = top_type_;
    if (error.code.empty()) {
      if (top_code_kind_ == CodeKind::kOther)
        return Fail(absl::StrCat("code must be ", kCodeExpected));
      if (top_code_kind_ == CodeKind::kText) error.code = top_code_;
    }
  } else if (out.error && out.error->type.empty() && !top_type_.empty()) {
    out.error->type = top_type_;  // TGI's error_type.
  }
  out.output_bytes += out.reasoning_bytes + out.tool_call_bytes;
  out.has_output = out.output_bytes > 0;
  return absl::OkStatus();
}

absl::Status OpenAiBodyDecoder::ByteBetween(char c) {
  if (IsSpace(c)) return absl::OkStatus();
  if (stack_.empty()) return StartValue(c, Role::kRoot);
  Frame& top = stack_.back();
  switch (top.expect) {
    case Expect::kFirstKey:
      if (c == '}') return CloseContainer();
      [[fallthrough]];
    case Expect::kKey:
      if (c != '"') return Fail(absl::StrCat("expected a key, found '", std::string(1, c), "'"));
      top.expect = Expect::kColon;
      use_ = StringUse::kKey;
      kept_.clear();
      kept_cut_ = false;
      mode_ = Mode::kString;
      return absl::OkStatus();
    case Expect::kColon:
      if (c != ':') return Fail("expected ':' after a key");
      top.expect = Expect::kValue;
      return absl::OkStatus();
    case Expect::kValue:
      top.expect = Expect::kCommaOrClose;
      return StartValue(c, top.object ? value_role_ : ElementRole(top.role));
    case Expect::kFirstValue:
      if (c == ']') return CloseContainer();
      top.expect = Expect::kCommaOrClose;
      return StartValue(c, ElementRole(top.role));
    case Expect::kCommaOrClose:
      if (c == ',') {
        top.expect = top.object ? Expect::kKey : Expect::kValue;
        return absl::OkStatus();
      }
      if (c == (top.object ? '}' : ']')) return CloseContainer();
      return Fail(absl::StrCat("expected ',' or '", top.object ? "}" : "]", "'"));
  }
  return absl::OkStatus();
}

absl::Status OpenAiBodyDecoder::StartValue(char c, Role role) {
  uint8_t type = 0;
  if (c == '{') {
    type = kObjectType;
  } else if (c == '[') {
    type = kArrayType;
  } else if (c == '"') {
    type = kStringType;
  } else if (c == '-' || IsDigit(c)) {
    type = kNumberType;
  } else if (c == 't' || c == 'f') {
    type = kBoolType;
  } else if (c == 'n') {
    type = kNullType;
  } else {
    return Fail(absl::StrCat("unexpected character '", std::string(1, c), "'"));
  }
  const RoleRule rule = RuleOf(role);
  if ((rule.types & type) == 0) {
    if (role == Role::kRoot) return Fail("payload is not a JSON object");
    return Fail(absl::StrCat(rule.field, " must be ", rule.expected));
  }
  scalar_role_ = role;
  switch (type) {
    case kObjectType:
      if (role == Role::kUsage) out_->usage.emplace();
      if (role == Role::kError && !out_->error) out_->error.emplace();
      if (role == Role::kTopCode) top_code_kind_ = CodeKind::kOther;
      return OpenContainer(true, role);
    case kArrayType:
      if (role == Role::kTopCode) top_code_kind_ = CodeKind::kOther;
      return OpenContainer(false, role);
    case kStringType:
      switch (role) {
        case Role::kContent:
        case Role::kText:
        case Role::kReasoning:
        case Role::kFunctionPart:
          use_ = StringUse::kCount;
          break;
        case Role::kFinishReason:
        case Role::kError:
        case Role::kErrorMessage:
        case Role::kErrorType:
        case Role::kErrorCode:
        case Role::kObject:
        case Role::kTopMessage:
        case Role::kTopType:
        case Role::kErrorTypeTop:
        case Role::kTopCode:
          use_ = StringUse::kKeep;
          break;
        default:
          use_ = StringUse::kSkip;
          break;
      }
      kept_.clear();
      kept_cut_ = false;
      mode_ = Mode::kString;
      return absl::OkStatus();
    case kNumberType:
      number_.assign(1, c);
      number_state_ = c == '-' ? kMinus : c == '0' ? kZero : kIntDigits;
      mode_ = Mode::kNumber;
      return absl::OkStatus();
    default:
      literal_ = c == 't' ? "true" : c == 'f' ? "false" : "null";
      literal_read_ = 1;
      mode_ = Mode::kLiteral;
      return absl::OkStatus();
  }
}

absl::Status OpenAiBodyDecoder::OpenContainer(bool object, Role role) {
  if (stack_.size() >= kMaxDepth) return Fail(absl::StrCat("nested deeper than ", kMaxDepth));
  stack_.push_back({object, role, object ? Expect::kFirstKey : Expect::kFirstValue});
  mode_ = Mode::kStructural;
  return absl::OkStatus();
}

absl::Status OpenAiBodyDecoder::CloseContainer() {
  stack_.pop_back();
  mode_ = stack_.empty() ? Mode::kEnd : Mode::kStructural;
  return absl::OkStatus();
}

size_t OpenAiBodyDecoder::StringRun(std::string_view bytes, size_t at) {
  const char* const data = bytes.data();
  const size_t end = bytes.size();
  // Output that is only counted (no sink) or skipped needs no bytes, only their number.
  const bool copies = use_ == StringUse::kKey || use_ == StringUse::kKeep ||
                      (use_ == StringUse::kCount && out_->content_sink != nullptr &&
                       (scalar_role_ == Role::kContent || scalar_role_ == Role::kText));
  size_t counted = 0;  // unescaped bytes taken (when not copying)
  size_t i = at;
  size_t copied = at;  // bytes before this are appended, or were unescaped (when copying)
  while (i < end) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    if (c >= 0x80) {  // a whole, valid UTF-8 sequence stays in the run
      const Utf8Lead lead = Utf8LeadOf(c);
      const size_t length = static_cast<size_t>(lead.length);
      if (length < 2 || i + length > end) break;
      const unsigned char second = static_cast<unsigned char>(data[i + 1]);
      bool valid = second >= lead.second_low && second <= lead.second_high;
      for (size_t k = 2; k < length && valid; ++k) {
        valid = (static_cast<unsigned char>(data[i + k]) & 0xC0) == 0x80;
      }
      if (!valid) break;
      i += length;
      counted += length;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      const size_t plain = PlainBytes(bytes, i);
      i += plain;
      counted += plain;
      continue;
    }
    if (c != '\\' || i + 1 == end) break;  // the closing quote, a control byte, a cut escape
    // A whole escape: unescaped here; anything unusual is left to the byte-at-a-time path.
    const char escape = data[i + 1];
    const char unescaped = UnescapedChar(escape);
    uint32_t code_point = 0;
    const size_t length = escape == 'u'    ? WholeUnicodeEscape(data + i, end - i, &code_point)
                          : unescaped != 0 ? 2
                                           : 0;
    if (length == 0) break;
    if (!copies) {
      counted += escape != 'u'          ? 1
                 : code_point < 0x80    ? 1
                 : code_point < 0x800   ? 2
                 : code_point < 0x10000 ? 3
                                        : 4;
    } else {
      AppendString(bytes.substr(copied, i - copied));
      if (escape == 'u') {
        EmitCodePoint(code_point);
      } else {
        AppendString(std::string_view(&unescaped, 1));
      }
      copied = i + length;
    }
    i += length;
  }
  if (copies) {
    AppendString(bytes.substr(copied, i - copied));
  } else if (use_ == StringUse::kCount) {
    AddCounted(counted);
  }
  return i - at;
}

void OpenAiBodyDecoder::AddCounted(size_t bytes) {
  if (scalar_role_ == Role::kReasoning) {
    out_->reasoning_bytes += bytes;
  } else if (scalar_role_ == Role::kFunctionPart) {
    out_->tool_call_bytes += bytes;
  } else {
    out_->output_bytes += bytes;
  }
}

void OpenAiBodyDecoder::AppendString(std::string_view text) {
  switch (use_) {
    case StringUse::kKey:
    case StringUse::kKeep: {
      const size_t room = kMaxKeptStringBytes - kept_.size();
      if (text.size() > room) kept_cut_ = true;
      kept_.append(text.substr(0, room));
      return;
    }
    case StringUse::kCount:
      AddCounted(text.size());
      if (out_->content_sink != nullptr &&
          (scalar_role_ == Role::kContent || scalar_role_ == Role::kText)) {
        out_->content_sink->append(text);
      }
      return;
    case StringUse::kSkip:
      return;
  }
}

absl::Status OpenAiBodyDecoder::StringByte(char c) {
  const unsigned char byte = static_cast<unsigned char>(c);
  if (want_low_surrogate_) {
    if (c != '\\') return Fail("a UTF-16 high surrogate without its low half");
    mode_ = Mode::kEscape;
    return absl::OkStatus();
  }
  if (utf8_due_ > 0) {
    if (byte < utf8_low_ || byte > utf8_high_) return Fail("invalid UTF-8 in a string");
    --utf8_due_;
    utf8_low_ = 0x80;
    utf8_high_ = 0xBF;
    AppendString(std::string_view(&c, 1));
    return absl::OkStatus();
  }
  if (c == '"') return EndString();
  if (c == '\\') {
    mode_ = Mode::kEscape;
    return absl::OkStatus();
  }
  if (byte < 0x20) return Fail("an unescaped control character in a string");
  const Utf8Lead lead = Utf8LeadOf(byte);
  if (lead.length == 0) return Fail("invalid UTF-8 in a string");
  utf8_due_ = lead.length - 1;
  utf8_low_ = lead.second_low;
  utf8_high_ = lead.second_high;
  AppendString(std::string_view(&c, 1));
  return absl::OkStatus();
}

absl::Status OpenAiBodyDecoder::EscapeByte(char c) {
  if (want_low_surrogate_ && c != 'u') {
    return Fail("a UTF-16 high surrogate without its low half");
  }
  if (c == 'u') {
    unicode_digits_ = 0;
    unicode_ = 0;
    mode_ = Mode::kUnicode;
    return absl::OkStatus();
  }
  const char unescaped = UnescapedChar(c);
  if (unescaped == 0) {
    return Fail(absl::StrCat("unknown escape '\\", std::string(1, c), "' in a string"));
  }
  AppendString(std::string_view(&unescaped, 1));
  mode_ = Mode::kString;
  return absl::OkStatus();
}

absl::Status OpenAiBodyDecoder::UnicodeDigit(char c) {
  const int digit = HexValue(c);
  if (digit < 0) return Fail("a \\u escape needs four hex digits");
  unicode_ = unicode_ * 16 + static_cast<uint32_t>(digit);
  if (++unicode_digits_ < 4) return absl::OkStatus();
  mode_ = Mode::kString;
  const bool high = unicode_ >= 0xD800 && unicode_ <= 0xDBFF;
  const bool low = unicode_ >= 0xDC00 && unicode_ <= 0xDFFF;
  if (want_low_surrogate_) {
    if (!low) return Fail("a UTF-16 high surrogate without its low half");
    want_low_surrogate_ = false;
    EmitCodePoint(0x10000 + ((high_surrogate_ - 0xD800) << 10) + (unicode_ - 0xDC00));
    return absl::OkStatus();
  }
  if (low) return Fail("a UTF-16 low surrogate without its high half");
  if (high) {
    high_surrogate_ = unicode_;
    want_low_surrogate_ = true;
    return absl::OkStatus();
  }
  EmitCodePoint(unicode_);
  return absl::OkStatus();
}

void OpenAiBodyDecoder::EmitCodePoint(uint32_t code_point) {
  char utf8[4];
  size_t size = 0;
  if (code_point < 0x80) {
    utf8[size++] = static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    utf8[size++] = static_cast<char>(0xC0 | (code_point >> 6));
    utf8[size++] = static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    utf8[size++] = static_cast<char>(0xE0 | (code_point >> 12));
    utf8[size++] = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    utf8[size++] = static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    utf8[size++] = static_cast<char>(0xF0 | (code_point >> 18));
    utf8[size++] = static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    utf8[size++] = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    utf8[size++] = static_cast<char>(0x80 | (code_point & 0x3F));
  }
  AppendString(std::string_view(utf8, size));
}

absl::Status OpenAiBodyDecoder::EndString() {
  mode_ = Mode::kStructural;
  if (use_ == StringUse::kKey) {
    Frame& top = stack_.back();
    value_role_ = kept_cut_ ? Role::kIgnore : MemberRole(top.role, kept_);
    return absl::OkStatus();
  }
  OpenAiPayload& out = *out_;
  switch (scalar_role_) {
    case Role::kRole:
      out.has_role = true;
      break;
    case Role::kFinishReason:
      if (out.finish_reason.empty()) out.finish_reason = kept_;
      break;
    case Role::kError:
      (out.error ? *out.error : out.error.emplace()).message = kept_;
      break;
    case Role::kErrorMessage:
      out.error->message = kept_;
      break;
    case Role::kErrorType:
      out.error->type = kept_;
      break;
    case Role::kErrorCode:
      out.error->code = kept_;
      break;
    case Role::kObject:
      object_is_error_ = !kept_cut_ && kept_ == "error";
      break;
    case Role::kTopMessage:
      top_message_ = kept_;
      break;
    case Role::kTopType:
    case Role::kErrorTypeTop:
      top_type_ = kept_;
      break;
    case Role::kTopCode:
      top_code_kind_ = CodeKind::kText;
      top_code_ = kept_;
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status OpenAiBodyDecoder::NumberByte(char c, bool& consumed) {
  uint8_t next = number_state_;
  const bool digit = IsDigit(c);
  switch (number_state_) {
    case kMinus:
      next = c == '0' ? kZero : digit ? kIntDigits : 0xFF;
      break;
    case kZero:
      next = c == '.' ? kPoint : (c == 'e' || c == 'E') ? kExpMark : 0xFE;
      break;
    case kIntDigits:
      next = digit ? kIntDigits : c == '.' ? kPoint : (c == 'e' || c == 'E') ? kExpMark : 0xFE;
      break;
    case kPoint:
      next = digit ? kFracDigits : 0xFF;
      break;
    case kFracDigits:
      next = digit ? kFracDigits : (c == 'e' || c == 'E') ? kExpMark : 0xFE;
      break;
    case kExpMark:
      next = digit ? kExpDigits : (c == '+' || c == '-') ? kExpSign : 0xFF;
      break;
    case kExpSign:
      next = digit ? kExpDigits : 0xFF;
      break;
    case kExpDigits:
      next = digit ? kExpDigits : 0xFE;
      break;
  }
  if (next == 0xFF) return Fail("a malformed number");
  if (next == 0xFE) {  // the byte is not part of the number: it ends here
    consumed = false;
    return EndNumber();
  }
  number_state_ = next;
  if (number_.size() >= kMaxNumberText) {
    return Fail(absl::StrCat("a number longer than ", kMaxNumberText, " characters"));
  }
  number_.push_back(c);
  return absl::OkStatus();
}

absl::Status OpenAiBodyDecoder::EndNumber() {
  mode_ = Mode::kStructural;
  const bool integer = number_state_ == kZero || number_state_ == kIntDigits;
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;
  const char* const first = number_.data();
  const char* const last = first + number_.size();
  const bool fits_signed = integer && std::from_chars(first, last, signed_value).ec == std::errc();
  const bool fits_unsigned = integer && !fits_signed && number_[0] != '-' &&
                             std::from_chars(first, last, unsigned_value).ec == std::errc();
  // As simdjson: an integer must fit 64 bits (signed or not), a number with a fraction or an
  // exponent must be a finite double (underflow to zero is fine).
  if (integer ? !fits_signed && !fits_unsigned
              : std::isinf(std::strtod(number_.c_str(), nullptr))) {
    return Fail("a number out of range");
  }
  OpenAiPayload& out = *out_;
  if (std::optional<int64_t>* count = UsageCount(); count != nullptr) {
    if (!fits_signed || signed_value < 0) {
      return Fail(absl::StrCat(RuleOf(scalar_role_).field, " must be ", kCountExpected));
    }
    *count = signed_value;
    return absl::OkStatus();
  }
  switch (scalar_role_) {
    case Role::kErrorCode:
    case Role::kTopCode: {
      std::string code;
      if (fits_signed) {
        code = absl::StrCat(signed_value);
      } else if (fits_unsigned) {
        code = absl::StrCat(unsigned_value);
      } else if (scalar_role_ == Role::kErrorCode) {
        return Fail(absl::StrCat("error.code must be ", kCodeExpected));
      } else {
        top_code_kind_ = CodeKind::kOther;
        return absl::OkStatus();
      }
      if (scalar_role_ == Role::kErrorCode) {
        out.error->code = std::move(code);
      } else {
        top_code_kind_ = CodeKind::kText;
        top_code_ = std::move(code);
      }
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

std::optional<int64_t>* OpenAiBodyDecoder::UsageCount() {
  switch (scalar_role_) {
    case Role::kPromptTokens:
      return &out_->usage->prompt_tokens;
    case Role::kCompletionTokens:
      return &out_->usage->completion_tokens;
    case Role::kTotalTokens:
      return &out_->usage->total_tokens;
    case Role::kCachedTokens:
      return &out_->usage->cached_tokens;
    default:
      return nullptr;
  }
}

absl::Status OpenAiBodyDecoder::LiteralByte(char c) {
  if (literal_[literal_read_] != c) return Fail("a malformed literal (true, false or null)");
  if (literal_[++literal_read_] != '\0') return absl::OkStatus();
  mode_ = Mode::kStructural;
  if (literal_[0] != 'n') {
    if (scalar_role_ == Role::kTopCode) top_code_kind_ = CodeKind::kOther;
    return absl::OkStatus();
  }
  // null: what OpenAiDecoder reads as absent or empty.
  OpenAiPayload& out = *out_;
  if (std::optional<int64_t>* count = UsageCount(); count != nullptr) {
    count->reset();
    return absl::OkStatus();
  }
  switch (scalar_role_) {
    case Role::kErrorMessage:
      out.error->message.clear();
      break;
    case Role::kErrorType:
      out.error->type.clear();
      break;
    case Role::kErrorCode:
      out.error->code.clear();
      break;
    case Role::kObject:
      object_is_error_ = false;
      break;
    case Role::kErrorTypeTop:
      top_type_.clear();
      break;
    case Role::kTopCode:
      top_code_kind_ = CodeKind::kNull;
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

}  // namespace bench::engine
