#include "worker/engine/request_builder.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/config.h"
#include "worker/engine/utf8.h"

namespace bench::engine {
namespace {

namespace dom = simdjson::dom;

// Debian's Abseil does not alias absl::string_view to std::string_view.
absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

const char* TypeName(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// One top-level member of an object, as raw text.
struct RawMember {
  std::string_view key;    // The key's literal, quotes included.
  std::string_view value;  // The value's text, surrounding whitespace excluded.
};

// The end of the string literal starting at text[pos] == '"' (one past the closing quote).
size_t SkipString(std::string_view text, size_t pos) {
  for (++pos; pos < text.size(); ++pos) {
    if (text[pos] == '\\') {
      ++pos;
    } else if (text[pos] == '"') {
      return pos + 1;
    }
  }
  return text.size();
}

// Splits an object's text into its members. `text` must already be known to be a valid JSON
// object: this only finds boundaries, so the values can be copied verbatim.
std::vector<RawMember> SplitMembers(std::string_view text) {
  std::vector<RawMember> members;
  size_t pos = text.find('{') + 1;
  for (;;) {
    while (pos < text.size() && text[pos] != '"' && text[pos] != '}') ++pos;
    if (pos >= text.size() || text[pos] == '}') return members;
    RawMember& member = members.emplace_back();
    const size_t key_end = SkipString(text, pos);
    member.key = text.substr(pos, key_end - pos);
    pos = text.find(':', key_end) + 1;
    while (IsJsonSpace(text[pos])) ++pos;
    const size_t value_start = pos;
    int depth = 0;
    for (; pos < text.size(); ++pos) {
      const char c = text[pos];
      if (c == '"') {
        pos = SkipString(text, pos) - 1;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && depth > 0) {
        --depth;
      } else if ((c == ',' || c == '}') && depth == 0) {
        break;
      }
    }
    size_t value_end = pos;
    while (value_end > value_start && IsJsonSpace(text[value_end - 1])) --value_end;
    member.value = text.substr(value_start, value_end - value_start);
    if (pos < text.size() && text[pos] == ',') ++pos;
  }
}

// `value` (valid JSON) without insignificant whitespace; strings and numbers stay as written.
std::string Minify(std::string_view value) {
  std::string out(value.size(), '\0');
  size_t length = 0;
  if (simdjson::minify(value.data(), value.size(), out.data(), length) != simdjson::SUCCESS) {
    return std::string(value);  // Unreachable for validated input; whitespace is still valid.
  }
  out.resize(length);
  return out;
}

void AppendMember(std::string& out, std::string_view member) {
  if (!out.empty()) out.push_back(',');
  out.append(member);
}

}  // namespace

absl::StatusOr<RequestBuilder> RequestBuilder::Create(RequestTemplate request_template) {
  RequestBuilder builder;
  builder.chat_ = request_template.chat;
  builder.streaming_ = request_template.stream;

  // extraBody's members by unescaped key, each as `"key":value`; a repeated key keeps its last
  // value, as JSON parsers commonly do.
  std::vector<std::pair<std::string, std::string>> extra;
  const std::string_view extra_text = request_template.extra_body_json;
  if (!std::all_of(extra_text.begin(), extra_text.end(), IsJsonSpace)) {
    dom::parser parser;
    dom::element root;
    if (auto error = parser.parse(extra_text.data(), extra_text.size()).get(root);
        error != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat("target.extraBody is not valid JSON (",
                                                     simdjson::error_message(error), ")"));
    }
    dom::object object;
    if (root.get_object().get(object) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("target.extraBody must be a JSON object, got ", TypeName(root.type())));
    }
    const std::vector<RawMember> members = SplitMembers(extra_text);
    BENCH_CHECK_EQ(members.size(), object.size());
    size_t index = 0;
    for (dom::key_value_pair field : object) {
      const RawMember& member = members[index++];
      const std::string key(field.key);
      if (key == "stream") {
        bool stream = false;
        if (field.value.get_bool().get(stream) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError(absl::StrCat(
              "target.extraBody.stream must be a boolean, got ", TypeName(field.value.type())));
        }
        builder.streaming_ = stream;
      }
      std::erase_if(extra, [&key](const auto& entry) { return entry.first == key; });
      extra.emplace_back(key, absl::StrCat(Absl(member.key), ":", Minify(member.value)));
    }
  }
  const auto overridden = [&extra](std::string_view name) {
    return std::any_of(extra.begin(), extra.end(),
                       [name](const auto& entry) { return entry.first == name; });
  };

  builder.head_ = "{";
  if (!overridden("model")) {
    if (request_template.model.empty()) {
      return absl::InvalidArgumentError("target.model is empty");
    }
    builder.head_.append("\"model\":");
    AppendJsonString(request_template.model, builder.head_);
  }
  builder.emit_content_ = !overridden(builder.chat_ ? "messages" : "prompt");
  builder.emit_max_tokens_ = !overridden("max_tokens");
  if (!overridden("stream")) {
    AppendMember(builder.tail_, request_template.stream ? "\"stream\":true" : "\"stream\":false");
  }
  // Servers reject stream_options on a non-streaming request.
  if (builder.streaming_ && request_template.include_usage && !overridden("stream_options")) {
    AppendMember(builder.tail_, "\"stream_options\":{\"include_usage\":true}");
  }
  if (request_template.ignore_eos && !overridden("ignore_eos")) {
    AppendMember(builder.tail_, "\"ignore_eos\":true");
  }
  for (const auto& [key, member] : extra) AppendMember(builder.tail_, member);
  return builder;
}

void RequestBuilder::BuildBody(const Prompt& prompt, std::string& out) const {
  out.append(head_);
  bool has_member = head_.size() > 1;
  const auto separate = [&] {
    if (has_member) out.push_back(',');
    has_member = true;
  };
  if (emit_content_) {
    separate();
    if (!chat_) {
      out.append("\"prompt\":");
      AppendJsonString(prompt.text, out);
    } else if (!prompt.messages_json.empty()) {
      out.append("\"messages\":");
      out.append(prompt.messages_json);
    } else {
      out.append("\"messages\":[{\"role\":\"user\",\"content\":");
      AppendJsonString(prompt.text, out);
      out.append("}]");
    }
  }
  if (emit_max_tokens_ && prompt.max_tokens > 0) {
    separate();
    out.append("\"max_tokens\":");
    char digits[24];
    const std::to_chars_result result =
        std::to_chars(digits, digits + sizeof(digits), prompt.max_tokens);
    out.append(digits, result.ptr);
  }
  if (!tail_.empty()) {
    separate();
    out.append(tail_);
  }
  out.push_back('}');
}

void AppendJsonString(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  const auto byte = [&text](size_t i) { return static_cast<unsigned char>(text[i]); };
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    // Copy the longest run that needs no escaping in one append.
    size_t run = i;
    while (run < text.size() && byte(run) >= 0x20 && byte(run) < 0x80 && text[run] != '"' &&
           text[run] != '\\') {
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    const unsigned char c = byte(i);
    if (c < 0x80) {
      out.push_back('\\');
      switch (c) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '\b':
          out.push_back('b');
          break;
        case '\f':
          out.push_back('f');
          break;
        case '\n':
          out.push_back('n');
          break;
        case '\r':
          out.push_back('r');
          break;
        case '\t':
          out.push_back('t');
          break;
        default:
          out.append("u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: the lead byte sets the length and the range of the second byte.
    const Utf8Lead lead = Utf8LeadOf(c);
    const size_t length = static_cast<size_t>(lead.length);
    size_t valid = length == 0 ? 0 : 1;  // Bytes of the sequence that are well-formed so far.
    while (valid > 0 && valid < length && i + valid < text.size()) {
      const unsigned char next = byte(i + valid);
      const unsigned char low = valid == 1 ? lead.second_low : 0x80;
      const unsigned char high = valid == 1 ? lead.second_high : 0xBF;
      if (next < low || next > high) break;
      ++valid;
    }
    if (valid == length && length > 0) {
      out.append(text.data() + i, length);
      i += length;
    } else {
      // One replacement for the maximal ill-formed subpart (at least the lead byte).
      out.append(kReplacement);
      i += std::max<size_t>(valid, 1);
    }
  }
  out.push_back('"');
}

absl::StatusOr<HeaderList> ResolveHeaders(const HeaderList& headers, bool streaming) {
  HeaderList resolved;
  resolved.reserve(headers.size() + 2);
  bool has_content_type = false;
  bool has_accept = false;
  bool has_accept_encoding = false;
  for (const auto& [name, value] : headers) {
    if (name.empty()) return absl::InvalidArgumentError("target.headers: a header has no name");
    std::string lower = absl::AsciiStrToLower(name);
    absl::StatusOr<std::string> expanded = ExpandEnvReferencesFromEnvironment(value);
    if (!expanded.ok()) {
      if (expanded.status().code() == absl::StatusCode::kNotFound) {
        // The message names the variable only.
        return absl::FailedPreconditionError(
            absl::StrCat("header ", lower, ": ", expanded.status().message()));
      }
      // The reference excerpt of a malformed reference may hold part of a secret.
      return absl::InvalidArgumentError(
          IsSensitiveHeader(lower)
              ? absl::StrCat("header ", lower, ": malformed ${env:NAME} reference")
              : absl::StrCat("header ", lower, ": ", expanded.status().message()));
    }
    if (expanded->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("header ", lower, ": the value contains CR, LF or NUL"));
    }
    has_content_type = has_content_type || lower == "content-type";
    has_accept = has_accept || lower == "accept";
    has_accept_encoding = has_accept_encoding || lower == "accept-encoding";
    resolved.emplace_back(std::move(lower), *std::move(expanded));
  }
  if (!has_content_type) resolved.emplace_back("content-type", "application/json");
  if (streaming && !has_accept) resolved.emplace_back("accept", "text/event-stream");
  // Bodies are parsed as they arrive: a compressed one could not be (and a server that
  // compresses anyway is told apart as invalid_response).
  if (!has_accept_encoding) resolved.emplace_back("accept-encoding", "identity");
  return resolved;
}

}  // namespace bench::engine
