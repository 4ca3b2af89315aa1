// yaml-cpp is used here only, and only through ParseYamlText: its parse events build a small
// owned tree (YamlNode) that keeps each node's line and origin, overrides edit that tree, and the
// typed conversion walks it collecting every error.
#include "common/config_yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "common/check.h"
#include "common/config_schema.h"
#include "common/duration.h"

namespace bench {
namespace {

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

std::string Lower(std::string_view text) { return absl::AsciiStrToLower(Absl(text)); }

// ---- the document tree -------------------------------------------------------------------

// Where a node came from: a line of the source, or an override.
struct Origin {
  int override_index = -1;  // >= 0: created by overrides[override_index].
  int line = 0;             // 1-based source line; 0 when unknown.
};

struct YamlEntry;

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  std::string text;     // kScalar
  bool quoted = false;  // kScalar written quoted or as a block: a string, whatever it reads as.
  Origin origin;
  Origin key_origin;  // For a map value: where its key is (messages about missing fields).
  std::vector<YamlNode> items;     // kSequence
  std::vector<YamlEntry> entries;  // kMap, in document order (duplicates kept, reported later)
};

struct YamlEntry {
  YamlNode key;
  YamlNode value;
};

// Upper bound on nodes after alias expansion ("billion laughs" documents).
constexpr int kMaxNodes = 100000;

bool IsValidUtf8(std::string_view text, size_t* bad_offset) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code_point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code_point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code_point = c & 0x07;
    } else {
      *bad_offset = i;
      return false;
    }
    if (i + length > text.size()) {
      *bad_offset = i;
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        *bad_offset = i;
        return false;
      }
      code_point = (code_point << 6) | (next & 0x3F);
    }
    const bool overlong = (length == 2 && code_point < 0x80) ||
                          (length == 3 && code_point < 0x800) ||
                          (length == 4 && code_point < 0x10000);
    if (overlong || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      *bad_offset = i;
      return false;
    }
    i += length;
  }
  return true;
}

// Builds a YamlNode tree from yaml-cpp's parse events. Going through events rather than
// YAML::Node keeps every node's mark, makes aliases copies (an alias can only name a finished
// node, so there are no cycles) and lets the node budget stop "billion laughs" documents. It
// never throws; the first problem is kept and later events are ignored.
class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(int override_index) : override_index_(override_index) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  int error_line() const { return error_line_; }
  int documents() const { return documents_; }
  // The first document's root (null when the text has no document).
  YamlNode TakeRoot() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark& mark) override {
    ++documents_;
    document_start_ = mark.pos;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode node;
    node.origin = OriginAt(mark);
    Finish(std::move(node), anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (failed()) return;
    const auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      // yaml-cpp registers an anchor when its node starts: this alias is inside it.
      Fail(mark, "an alias refers to the node that contains it");
      return;
    }
    if (static_cast<int>(stack_.size()) + it->second.height > kMaxConfigDepth) {
      Fail(mark, "nested deeper than " + std::to_string(kMaxConfigDepth) + " levels");
      return;
    }
    YamlNode copy = it->second.node;
    copy.origin = OriginAt(mark);
    Finish(std::move(copy), YAML::NullAnchor, it->second.size, it->second.height);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (failed()) return;
    YamlNode node;
    node.kind = YamlNode::Kind::kScalar;
    node.origin = OriginAt(mark);
    node.text = value;
    if (tag == "!" || tag == "tag:yaml.org,2002:str") {
      node.quoted = true;
    } else if (tag != "?" && tag != "tag:yaml.org,2002:int" && tag != "tag:yaml.org,2002:float" &&
               tag != "tag:yaml.org,2002:bool" && tag != "tag:yaml.org,2002:null") {
      Fail(mark, "YAML tag " + tag + " is not supported here");
      return;
    }
    size_t bad_offset = 0;
    if (!IsValidUtf8(node.text, &bad_offset)) {
      Fail(mark, "text is not valid UTF-8 (check its escapes)");
      return;
    }
    Finish(std::move(node), anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, tag, anchor, YamlNode::Kind::kSequence, "tag:yaml.org,2002:seq");
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, tag, anchor, YamlNode::Kind::kMap, "tag:yaml.org,2002:map");
  }
  void OnMapEnd() override { Close(); }

  // Where the current document started; a parser stuck on a stray ',' restarts there.
  size_t document_start() const { return document_start_; }

 private:
  struct Frame {
    YamlNode node;
    YAML::anchor_t anchor = YAML::NullAnchor;
    bool have_key = false;
    YamlNode key;
    int size = 1;    // Nodes in this subtree, for the budget of alias copies.
    int height = 1;  // Levels in this subtree.
  };
  struct Anchored {
    YamlNode node;
    int size = 1;
    int height = 1;
  };

  Origin OriginAt(const YAML::Mark& mark) const {
    Origin origin;
    origin.override_index = override_index_;
    if (override_index_ < 0 && mark.line >= 0) origin.line = mark.line + 1;
    return origin;
  }

  void Fail(const YAML::Mark& mark, std::string message) {
    if (failed()) return;
    error_ = std::move(message);
    error_line_ = override_index_ < 0 && mark.line >= 0 ? mark.line + 1 : 0;
  }

  void Open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
            YamlNode::Kind kind, std::string_view full_tag) {
    if (failed()) return;
    if (tag != "?" && !tag.empty() && tag != "!" && tag != full_tag) {
      Fail(mark, "YAML tag " + tag + " is not supported here");
      return;
    }
    if (static_cast<int>(stack_.size()) >= kMaxConfigDepth) {
      Fail(mark, "nested deeper than " + std::to_string(kMaxConfigDepth) + " levels");
      return;
    }
    if (!Count(mark, 1)) return;
    Frame frame;
    frame.node.kind = kind;
    frame.node.origin = OriginAt(mark);
    frame.anchor = anchor;
    stack_.push_back(std::move(frame));
  }

  void Close() {
    if (failed() || stack_.empty()) return;
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    Attach(std::move(frame.node), frame.anchor, frame.size, frame.height);
  }

  bool Count(const YAML::Mark& mark, int nodes) {
    nodes_ += nodes;
    if (nodes_ > kMaxNodes) {
      Fail(mark, "more than " + std::to_string(kMaxNodes) +
                     " values after expanding aliases; a benchmark config is much smaller");
      return false;
    }
    return true;
  }

  // A complete leaf or alias copy of `size` nodes.
  void Finish(YamlNode node, YAML::anchor_t anchor, int size, int height = 1) {
    if (failed()) return;
    YAML::Mark mark;
    mark.line = node.origin.line - 1;
    if (!Count(mark, size)) return;
    Attach(std::move(node), anchor, size, height);
  }

  void Attach(YamlNode node, YAML::anchor_t anchor, int size, int height) {
    if (anchor != YAML::NullAnchor) anchors_[anchor] = Anchored{node, size, height};
    if (stack_.empty()) {
      if (documents_ <= 1) root_ = std::move(node);
      return;
    }
    Frame& parent = stack_.back();
    parent.size += size;
    parent.height = std::max(parent.height, height + 1);
    if (parent.node.kind == YamlNode::Kind::kSequence) {
      parent.node.items.push_back(std::move(node));
    } else if (!parent.have_key) {
      parent.key = std::move(node);
      parent.have_key = true;
    } else {
      YamlEntry entry;
      entry.key = std::move(parent.key);
      entry.value = std::move(node);
      // An empty value ("key:") is marked on the next line; the key's line reads better.
      if (entry.value.kind == YamlNode::Kind::kNull) entry.value.origin = entry.key.origin;
      entry.value.key_origin = entry.key.origin;
      parent.node.entries.push_back(std::move(entry));
      parent.have_key = false;
    }
  }

  int override_index_;
  int documents_ = 0;
  size_t document_start_ = 0;
  int nodes_ = 0;
  std::string error_;
  int error_line_ = 0;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  YamlNode root_;
};

// The one door between yaml-cpp's exceptions and Status. Parses one YAML document (an empty
// text gives a null node). On failure `error_line` receives the 1-based line (0 if unknown).
absl::StatusOr<YamlNode> ParseYamlText(const std::string& text, int override_index,
                                       int* error_line) {
  *error_line = 0;
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    TreeBuilder builder(override_index);
    if (!parser.HandleNextDocument(builder)) {  // No document: an empty or comment-only text.
      YamlNode root;
      root.origin = Origin{override_index, override_index < 0 ? 1 : 0};
      return root;
    }
    if (builder.failed()) {
      *error_line = builder.error_line();
      return absl::InvalidArgumentError(builder.error());
    }
    const size_t first_start = builder.document_start();
    int documents = 1;
    while (documents < 3 && parser.HandleNextDocument(builder)) {
      // yaml-cpp 0.7 loops forever on a stray ',' at the top level, starting each "document"
      // at the same place: stop it here.
      if (builder.document_start() == first_start) {
        *error_line = override_index < 0 ? 1 : 0;
        return absl::InvalidArgumentError(
            "YAML syntax error: unexpected text (a stray ',' ']' or '}'?)");
      }
      ++documents;
    }
    if (documents > 1) {
      return absl::InvalidArgumentError(
          std::string("has ") + (documents > 2 ? "several" : "2") +
          " YAML documents (separated by ---); a config is one document");
    }
    return builder.TakeRoot();
  } catch (const YAML::ParserException& e) {
    *error_line = override_index < 0 && e.mark.line >= 0 ? e.mark.line + 1 : 0;
    std::string message = "YAML syntax error: " + e.msg;
    if (e.mark.column >= 0) message += " (column " + std::to_string(e.mark.column + 1) + ")";
    return absl::InvalidArgumentError(message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("YAML error: ") + e.msg);
  } catch (const std::exception& e) {  // e.g. std::bad_alloc from a hostile document
    return absl::InvalidArgumentError(std::string("cannot read YAML: ") + e.what());
  }
}

// ---- diagnostics -------------------------------------------------------------------------

class Diagnostics {
 public:
  Diagnostics(std::string_view source, const std::vector<ConfigOverride>& overrides)
      : source_(source), overrides_(overrides) {}

  void Error(const Origin& origin, std::string message) {
    errors_.push_back({origin, std::move(message), errors_.size()});
  }
  void Note(std::string note) { notes_.push_back(std::move(note)); }
  // A default applied to `path` (e.g. "benchmark.seed"), grouped by section in the notes.
  void Default(std::string_view path, std::string_view value) {
    const std::string_view section = path.substr(0, path.find('.'));
    for (auto& group : defaults_) {
      if (group.first == section) {
        group.second.push_back(std::string(path) + " = " + std::string(value));
        return;
      }
    }
    defaults_.push_back({std::string(section), {std::string(path) + " = " + std::string(value)}});
  }

  bool has_errors() const { return !errors_.empty(); }

  // All errors, one per line, sorted by (source first, then overrides in order; line).
  std::string ErrorText() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const Entry& a, const Entry& b) {
      if (a.origin.override_index != b.origin.override_index) {
        return a.origin.override_index < b.origin.override_index;
      }
      return a.origin.line < b.origin.line;
    });
    std::vector<std::string> lines;
    for (const Entry& entry : errors_) {
      std::string line;
      if (entry.origin.override_index >= 0) {
        line = overrides_[static_cast<size_t>(entry.origin.override_index)].label + ": ";
      } else if (entry.origin.line > 0) {
        line = source_ + ":" + std::to_string(entry.origin.line) + ": ";
      } else {
        line = source_ + ": ";
      }
      line += entry.message;
      if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
    }
    return absl::StrJoin(lines, "\n");
  }

  std::vector<std::string> TakeNotes() {
    std::vector<std::string> notes = std::move(notes_);
    for (const auto& group : defaults_) {
      notes.push_back(std::string(kDefaultsNotePrefix) + absl::StrJoin(group.second, ", "));
    }
    return notes;
  }

 private:
  struct Entry {
    Origin origin;
    std::string message;
    size_t order;
  };
  std::string source_;
  const std::vector<ConfigOverride>& overrides_;
  std::vector<Entry> errors_;
  std::vector<std::string> notes_;
  std::vector<std::pair<std::string, std::vector<std::string>>> defaults_;
};

// ---- scalar classification (YAML 1.2 core schema) ----------------------------------------

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllOf(std::string_view text, bool (*predicate)(char)) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!predicate(c)) return false;
  }
  return true;
}

bool IsOctalDigit(char c) { return c >= '0' && c <= '7'; }
bool IsHexDigit(char c) { return absl::ascii_isxdigit(c); }

bool IsCoreNull(std::string_view text) {
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

bool IsCoreBool(std::string_view text, bool* value) {
  if (text == "true" || text == "True" || text == "TRUE") {
    *value = true;
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    *value = false;
    return true;
  }
  return false;
}

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
bool IsCoreInt(std::string_view text) {
  if (text.size() > 2 && text.substr(0, 2) == "0o") return AllOf(text.substr(2), IsOctalDigit);
  if (text.size() > 2 && text.substr(0, 2) == "0x") return AllOf(text.substr(2), IsHexDigit);
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  return AllOf(text, IsDigit);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, without the .inf/.nan forms.
bool IsCoreFiniteFloat(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  const size_t int_start = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  const size_t int_digits = i - int_start;
  size_t frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const size_t frac_start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    frac_digits = i - frac_start;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const size_t exp_start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == exp_start) return false;
  }
  return i == text.size();
}

bool IsCoreSpecialFloat(std::string_view text) {
  std::string_view body = text;
  if (!body.empty() && (body.front() == '-' || body.front() == '+')) body.remove_prefix(1);
  if (body == ".inf" || body == ".Inf" || body == ".INF") return true;
  return text == ".nan" || text == ".NaN" || text == ".NAN";
}

bool IsNumberText(std::string_view text) {
  return IsCoreInt(text) || IsCoreFiniteFloat(text) || IsCoreSpecialFloat(text);
}

// A plain scalar that reads as a number (quoted ones are strings in YAML, but configs generated
// by templates often quote numbers, so numeric fields accept them too).
bool ScalarToDouble(std::string_view text, double* value) {
  if (IsCoreSpecialFloat(text)) {
    *value = text.find("nan") != std::string_view::npos ||
                     text.find("NaN") != std::string_view::npos ||
                     text.find("NAN") != std::string_view::npos
                 ? std::nan("")
                 : (text.front() == '-' ? -HUGE_VAL : HUGE_VAL);
    return true;
  }
  if (text.size() > 2 && (text.substr(0, 2) == "0o" || text.substr(0, 2) == "0x")) {
    if (!IsCoreInt(text)) return false;
    errno = 0;
    const std::string digits(text.substr(2));
    const unsigned long long parsed =
        std::strtoull(digits.c_str(), nullptr, text[1] == 'o' ? 8 : 16);
    *value = errno == ERANGE ? HUGE_VAL : static_cast<double>(parsed);
    return true;
  }
  if (!IsCoreInt(text) && !IsCoreFiniteFloat(text)) return false;
  const std::string copy(text);
  *value = std::strtod(copy.c_str(), nullptr);
  return true;
}

// ---- text for messages -------------------------------------------------------------------

// `text` as a double-quoted string, escaped, shortened to `max_chars`.
std::string QuoteForMessage(std::string_view text, size_t max_chars = 60) {
  std::string out = "\"";
  size_t count = 0;
  for (char c : text) {
    if (count++ == max_chars) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\x%02X", byte);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// How a value is named after "got": -3, "fast", a map, a list, nothing.
std::string Got(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::kNull:
      return "nothing";
    case YamlNode::Kind::kMap:
      return "a map";
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kScalar:
      if (!node.quoted && IsNumberText(node.text)) return node.text;
      return QuoteForMessage(node.text);
  }
  return "?";
}

// ---- did you mean ------------------------------------------------------------------------

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ASCII
// case-insensitive.
size_t EditDistance(std::string_view a_in, std::string_view b_in) {
  const std::string a = Lower(a_in);
  const std::string b = Lower(b_in);
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The candidate closest to `word`, if close enough to be a likely typo.
std::optional<std::string> Suggest(std::string_view word,
                                   const std::vector<std::string_view>& candidates) {
  if (word.size() > 64) return std::nullopt;  // Not a typo, and keeps the table small.
  std::optional<std::string> best;
  size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    // "inputLen" for "inputLength": a prefix of three or more letters counts as close.
    if (word.size() >= 3 && candidate.size() > word.size() &&
        absl::StartsWithIgnoreCase(Absl(candidate), Absl(word))) {
      distance = std::min<size_t>(distance, 1);
    }
    const size_t limit = std::max<size_t>(1, std::min(word.size(), candidate.size()) / 3);
    if (distance <= limit && distance < std::max(word.size(), candidate.size()) &&
        (!best.has_value() || distance < best_distance)) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  return best;
}

std::string JoinViews(const std::vector<std::string_view>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

// Keys of each top-level section, to point a key written in the wrong section to its home. The
// shareGPT shorthand's keys in load are left out: their home is prompts.
const std::vector<std::pair<std::string_view, std::vector<std::string_view>>>& SectionKeys() {
  static const auto* const kKeys = [] {
    auto* keys = new std::vector<std::pair<std::string_view, std::vector<std::string_view>>>;
    for (std::string_view section : ConfigFieldKeys("")) {
      std::vector<std::string_view> section_keys;
      for (std::string_view key : ConfigFieldKeys(section)) {
        const ConfigField* field = FindConfigField(std::string(section) + "." + std::string(key));
        if (field->load_types != "shareGPT") section_keys.push_back(key);
      }
      keys->push_back({section, std::move(section_keys)});
    }
    return keys;
  }();
  return *kKeys;
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

// ---- reading a map -----------------------------------------------------------------------

// A map in the document with a fixed set of valid keys. Reports, once, a non-map value, unknown
// keys (with a did-you-mean hint) and repeated keys. `node` may be null (section absent).
class Section {
 public:
  // The map at `path`, its keys and example from the config table; `example` overrides the
  // table's (a list's items).
  Section(Diagnostics& diags, const YamlNode* node, std::string path, std::string_view example = "")
      : Section(diags, node, path, ConfigFieldKeys(path),
                !example.empty() ? example : TableExample(path)) {}

  Section(Diagnostics& diags, const YamlNode* node, std::string path,
          std::vector<std::string_view> keys, std::string_view example = "")
      : diags_(diags), path_(std::move(path)), keys_(std::move(keys)) {
    if (node == nullptr || node->kind == YamlNode::Kind::kNull) return;
    origin_ = node->origin;
    // "load.rate is required" reads best at the `load:` line, above a block map's first key.
    missing_origin_ = node->key_origin.line > 0 ? node->key_origin : node->origin;
    if (node->kind != YamlNode::Kind::kMap) {
      std::string message = (path_.empty() ? std::string("the config") : path_) + " must be a map";
      if (!example.empty()) message += " (e.g. " + std::string(example) + ")";
      diags_.Error(node->origin, message + ", got " + Got(*node));
      return;
    }
    present_ = true;
    for (const YamlEntry& entry : node->entries) Add(entry);
  }

  bool present() const { return present_; }
  const Origin& origin() const { return origin_; }
  const std::string& path() const { return path_; }
  std::string Path(std::string_view key) const { return JoinPath(path_, key); }

  // The value of `key`; nullptr when absent or null (null means "use the default").
  const YamlNode* Get(std::string_view key) const {
    for (const auto& [name, value] : values_) {
      if (name == key) return value->kind == YamlNode::Kind::kNull ? nullptr : value;
    }
    return nullptr;
  }
  // The key node of `key`, for messages about the key itself.
  const YamlNode* KeyNode(std::string_view key) const {
    for (const auto& [name, value] : key_nodes_) {
      if (name == key) return value;
    }
    return nullptr;
  }

  // Where to report that a key of this map is missing: the map, when the source has it.
  Origin MissingOrigin() const {
    Origin origin = missing_origin_;
    if (origin.override_index >= 0) origin = Origin{};
    return origin;
  }

 private:
  void Add(const YamlEntry& entry) {
    if (entry.key.kind != YamlNode::Kind::kScalar) {
      diags_.Error(entry.key.origin, (path_.empty() ? std::string("the config") : path_) +
                                         " has a key that is " + Got(entry.key) +
                                         "; keys must be plain names");
      return;
    }
    const std::string& key = entry.key.text;
    const std::string path = Path(key);
    if (std::find(keys_.begin(), keys_.end(), key) == keys_.end()) {
      diags_.Error(entry.key.origin, UnknownKeyMessage(key));
      return;
    }
    for (const auto& [name, node] : key_nodes_) {
      if (name == key) {
        std::string message = "duplicate key " + path;
        if (node->origin.line > 0 && node->origin.override_index < 0) {
          message += " (first set on line " + std::to_string(node->origin.line) + ")";
        }
        diags_.Error(entry.key.origin, message + "; keep one");
        return;
      }
    }
    key_nodes_.push_back({key, &entry.key});
    values_.push_back({key, &entry.value});
  }

  static std::string_view TableExample(std::string_view path) {
    const ConfigField* field = FindConfigField(path);
    return field != nullptr ? std::string_view(field->example) : std::string_view();
  }

  std::string UnknownKeyMessage(const std::string& key) const {
    const std::string path = Path(key);
    std::string message = "unknown key " + path;
    if (key == "<<") return message + " (YAML merge keys are not supported; write the keys out)";
    if (std::optional<std::string> near = Suggest(key, keys_)) {
      return message + " (did you mean " + Path(*near) + "?)";
    }
    // A key that belongs to another section: "benchmark.rate" -> "load.rate".
    for (const auto& [section, section_keys] : SectionKeys()) {
      if (section == path_) continue;
      for (std::string_view candidate : section_keys) {
        if (absl::EqualsIgnoreCase(Absl(candidate), key)) {
          return message + " (did you mean " + JoinPath(section, candidate) + "?)";
        }
      }
    }
    if (keys_.empty()) return message;
    return message + " (valid keys" + (path_.empty() ? "" : " in " + path_) + ": " +
           JoinViews(keys_, ", ") + ")";
  }

  Diagnostics& diags_;
  std::string path_;
  std::vector<std::string_view> keys_;
  Origin origin_;
  Origin missing_origin_;
  bool present_ = false;
  std::vector<std::pair<std::string, const YamlNode*>> key_nodes_;
  std::vector<std::pair<std::string, const YamlNode*>> values_;
};

// ---- typed values ------------------------------------------------------------------------

// Why `value` breaks `bounds` ("must be > 0"), or empty.
std::string BoundsProblem(double value, const FieldBounds& bounds) {
  const bool low = bounds.min.has_value() &&
                   (bounds.min_exclusive ? !(value > *bounds.min) : !(value >= *bounds.min));
  const bool high = bounds.max.has_value() &&
                    (bounds.max_exclusive ? !(value < *bounds.max) : !(value <= *bounds.max));
  if (!low && !high) return "";
  std::string problem;
  if (bounds.range) {
    problem = "must be between " + FormatConfigNumber(*bounds.min) + " and " +
              FormatConfigNumber(*bounds.max) +
              (bounds.min_exclusive && bounds.max_exclusive ? " (exclusive)" : "");
  } else if (low) {
    problem = std::string("must be ") + (bounds.min_exclusive ? "> " : ">= ") +
              FormatConfigNumber(*bounds.min);
  } else {
    problem = std::string("must be ") + (bounds.max_exclusive ? "< " : "<= ") +
              FormatConfigNumber(*bounds.max);
  }
  if (!bounds.hint.empty()) problem += " (" + std::string(bounds.hint) + ")";
  return problem;
}

class Reader {
 public:
  explicit Reader(Diagnostics& diags) : diags_(diags) {}

  Diagnostics& diags() { return diags_; }

  bool Number(const YamlNode& node, const std::string& path, const FieldBounds& bounds,
              double* out) {
    double value = 0;
    if (node.kind != YamlNode::Kind::kScalar || !ScalarToDouble(node.text, &value)) {
      diags_.Error(node.origin, path + " must be a number, got " + Got(node));
      return false;
    }
    if (!std::isfinite(value)) {
      diags_.Error(node.origin, path + " must be a finite number, got " + Got(node));
      return false;
    }
    if (std::string problem = BoundsProblem(value, bounds); !problem.empty()) {
      diags_.Error(node.origin, path + " " + problem + ", got " + Got(node));
      return false;
    }
    *out = value;
    return true;
  }

  bool Int(const YamlNode& node, const std::string& path, const FieldBounds& bounds, int64_t* out) {
    double value = 0;
    if (node.kind != YamlNode::Kind::kScalar || !ScalarToDouble(node.text, &value) ||
        !std::isfinite(value)) {
      diags_.Error(node.origin, path + " must be a whole number, got " + Got(node));
      return false;
    }
    if (value != std::floor(value)) {
      diags_.Error(node.origin, path + " must be a whole number, got " + Got(node));
      return false;
    }
    if (std::string problem = BoundsProblem(value, bounds); !problem.empty()) {
      diags_.Error(node.origin, path + " " + problem + ", got " + Got(node));
      return false;
    }
    if (!(std::fabs(value) < 9.0e15)) {  // Beyond this doubles skip integers.
      diags_.Error(node.origin, path + " is too large, got " + Got(node));
      return false;
    }
    *out = static_cast<int64_t>(value);
    return true;
  }

  // Seeds use the whole 64-bit range, so they do not go through double.
  bool Uint64(const YamlNode& node, const std::string& path, uint64_t* out) {
    if (node.kind == YamlNode::Kind::kScalar && AllOf(node.text, IsDigit) &&
        absl::SimpleAtoi(node.text, out)) {
      return true;
    }
    double value = 0;
    if (node.kind == YamlNode::Kind::kScalar && ScalarToDouble(node.text, &value) &&
        std::isfinite(value) && value >= 0 && value == std::floor(value) && value < 9.0e15) {
      *out = static_cast<uint64_t>(value);
      return true;
    }
    diags_.Error(node.origin,
                 path + " must be a whole number from 0 to 18446744073709551615, got " + Got(node));
    return false;
  }

  bool Bool(const YamlNode& node, const std::string& path, bool* out) {
    if (node.kind == YamlNode::Kind::kScalar && IsCoreBool(node.text, out)) return true;
    diags_.Error(node.origin, path + " must be true or false, got " + Got(node));
    return false;
  }

  // Any scalar, as written. Checks ${env:NAME} references; `secret` hides the text in messages.
  bool String(const YamlNode& node, const std::string& path, std::string* out,
              bool secret = false) {
    if (node.kind != YamlNode::Kind::kScalar) {
      diags_.Error(node.origin, path + " must be a string, got " + Got(node));
      return false;
    }
    absl::StatusOr<std::vector<EnvReference>> references = FindEnvReferences(node.text);
    if (!references.ok()) {
      if (secret) {
        diags_.Error(node.origin, path +
                                      " has a malformed ${...} reference; write ${env:NAME} "
                                      "with NAME matching [A-Za-z_][A-Za-z0-9_]*");
      } else {
        diags_.Error(node.origin, path + ": " + std::string(references.status().message()));
      }
      return false;
    }
    *out = node.text;
    return true;
  }

  bool Duration(const YamlNode& node, const std::string& path, bool positive, absl::Duration* out) {
    if (node.kind != YamlNode::Kind::kScalar) {
      diags_.Error(node.origin,
                   path + " must be a duration (e.g. 300, \"5m\", \"250ms\"), got " + Got(node));
      return false;
    }
    DurationError kind = DurationError::kSyntax;
    absl::StatusOr<absl::Duration> value = ParseDuration(node.text, &kind);
    if (!value.ok()) {
      switch (kind) {
        case DurationError::kNegative:
          diags_.Error(node.origin,
                       path + (positive ? " must be > 0" : " must be >= 0") + ", got " + Got(node));
          break;
        case DurationError::kSyntax:
          diags_.Error(
              node.origin,
              path + " must be a duration (e.g. 300, \"5m\", \"250ms\"), got " + Got(node));
          break;
        case DurationError::kOutOfRange:
          diags_.Error(node.origin, path + " is " + std::string(value.status().message()) +
                                        ", got " + Got(node));
          break;
        default:
          diags_.Error(node.origin, path +
                                        " must be a duration (e.g. 300, \"5m\", \"250ms\"), got " +
                                        Got(node) + ": " + std::string(value.status().message()));
          break;
      }
      return false;
    }
    if (positive && *value <= absl::ZeroDuration()) {
      diags_.Error(node.origin, path + " must be > 0, got " + Got(node));
      return false;
    }
    *out = *value;
    return true;
  }

  // A size in bytes: a whole number, or one with a unit B, KiB, MiB, GiB (powers of 1024) or KB,
  // MB, GB (powers of 1000): 1048576, "1MiB", "1.5 GB".
  bool ByteSize(const YamlNode& node, const std::string& path, const FieldBounds& bounds,
                int64_t* out) {
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"KB", 1e3}, {"MB", 1e6},
        {"GB", 1e9},     {"B", 1.0}};
    const std::string syntax =
        path + " must be a size in bytes (e.g. 1048576, \"16MiB\", \"1GB\"), got " + Got(node);
    if (node.kind != YamlNode::Kind::kScalar) {
      diags_.Error(node.origin, syntax);
      return false;
    }
    std::string_view text = node.text;
    double scale = 1.0;
    for (const auto& [unit, factor] : kUnits) {
      if (absl::EndsWith(Absl(text), Absl(unit))) {
        text.remove_suffix(unit.size());
        scale = factor;
        break;
      }
    }
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    double value = 0;
    if (text.empty() || !ScalarToDouble(text, &value) || !std::isfinite(value) || value < 0) {
      diags_.Error(node.origin, syntax);
      return false;
    }
    value = std::floor(value * scale);
    if (std::string problem = BoundsProblem(value, bounds); !problem.empty()) {
      diags_.Error(node.origin, path + " " + problem + ", got " + Got(node));
      return false;
    }
    *out = static_cast<int64_t>(value);
    return true;
  }

  // One of `names` (case-insensitive); returns the index.
  bool Enum(const YamlNode& node, const std::string& path,
            const std::vector<std::string_view>& names, size_t* index) {
    if (node.kind == YamlNode::Kind::kScalar) {
      for (size_t i = 0; i < names.size(); ++i) {
        if (absl::EqualsIgnoreCase(Absl(names[i]), node.text)) {
          *index = i;
          return true;
        }
      }
    }
    std::string message = path + " must be one of " + JoinViews(names, ", ") + ", got " + Got(node);
    if (node.kind == YamlNode::Kind::kScalar) {
      if (std::optional<std::string> near = Suggest(node.text, names)) {
        message += " (did you mean " + *near + "?)";
      }
    }
    diags_.Error(node.origin, message);
    return false;
  }

  // A list; a lone scalar is reported (not promoted) so the user sees the expected shape.
  const std::vector<YamlNode>* List(const YamlNode& node, const std::string& path,
                                    std::string_view example) {
    if (node.kind != YamlNode::Kind::kSequence) {
      diags_.Error(node.origin,
                   path + " must be a list (e.g. " + std::string(example) + "), got " + Got(node));
      return nullptr;
    }
    return &node.items;
  }

  // A plain field of the table, stored through `slot` (whose type the row's type fixes).
  bool Field(const YamlNode& node, const std::string& path, const ConfigField& field,
             FieldSlot slot) {
    switch (field.type) {
      case FieldType::kString:
        return String(node, path, std::get<std::string*>(slot));
      case FieldType::kNumber:
        return Number(node, path, field.bounds, std::get<double*>(slot));
      case FieldType::kInteger:
        return Int(node, path, field.bounds, std::get<int64_t*>(slot));
      case FieldType::kBool:
        return Bool(node, path, std::get<bool*>(slot));
      case FieldType::kDuration:
        return Duration(node, path, field.positive_duration, std::get<absl::Duration*>(slot));
      case FieldType::kByteSize:
        return ByteSize(node, path, field.bounds, std::get<int64_t*>(slot));
      default:
        break;
    }
    BENCH_CHECK(false) << "config table: " << field.path << " has a slot but no plain type";
    return false;
  }

  // `key` of `section` from the table's enum names; returns the index (the C++ enum's value).
  bool TableEnum(const Section& section, std::string_view key, size_t* index) {
    const YamlNode* node = section.Get(key);
    const ConfigField* field = FindConfigField(section.Path(key));
    return node != nullptr && Enum(*node, section.Path(key), field->values, index);
  }

  // "is required" with the table's hint, or its example.
  void RequiredField(const Section& section, std::string_view key, std::string_view context) {
    const ConfigField* field = FindConfigField(section.Path(key));
    std::string why(context);
    if (!why.empty()) why += " ";
    why += "(" +
           (!field->required_hint.empty() ? std::string(field->required_hint)
                                          : "e.g. " + std::string(key) + ": " + field->example) +
           ")";
    Required(section, key, why);
  }

  void Required(const Section& section, std::string_view key, std::string_view why) {
    std::string message = section.Path(key) + " is required";
    if (!why.empty()) message += " " + std::string(why);
    diags_.Error(section.MissingOrigin(), message);
  }

  void Unused(const Section& section, std::string_view key, std::string_view why) {
    const YamlNode* key_node = section.KeyNode(key);
    diags_.Error(key_node != nullptr ? key_node->origin : section.MissingOrigin(),
                 section.Path(key) + " " + std::string(why));
  }

 private:
  Diagnostics& diags_;
};

// ---- JSON for target.extraBody -----------------------------------------------------------

void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04X", byte);
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// A YAML number as JSON number text: no '+', no leading zeros, digits around '.', octal and hex
// converted. Returns false for .inf/.nan, which JSON cannot carry.
bool JsonNumber(std::string_view text, std::string* out) {
  if (IsCoreSpecialFloat(text)) return false;
  if (text.size() > 2 && (text.substr(0, 2) == "0o" || text.substr(0, 2) == "0x")) {
    errno = 0;
    const std::string digits(text.substr(2));
    const unsigned long long value =
        std::strtoull(digits.c_str(), nullptr, text[1] == 'o' ? 8 : 16);
    if (errno == ERANGE) return false;
    *out = std::to_string(value);
    return true;
  }
  std::string result;
  size_t i = 0;
  if (text[i] == '-') {
    result += '-';
    ++i;
  } else if (text[i] == '+') {
    ++i;
  }
  size_t int_end = i;
  while (int_end < text.size() && IsDigit(text[int_end])) ++int_end;
  std::string_view integer = text.substr(i, int_end - i);
  while (integer.size() > 1 && integer.front() == '0') integer.remove_prefix(1);
  result += integer.empty() ? "0" : std::string(integer);
  i = int_end;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t frac_end = i;
    while (frac_end < text.size() && IsDigit(text[frac_end])) ++frac_end;
    const std::string_view fraction = text.substr(i, frac_end - i);
    result += '.';
    result += fraction.empty() ? "0" : std::string(fraction);
    i = frac_end;
  }
  result += text.substr(i);  // Exponent, already valid JSON.
  *out = std::move(result);
  return true;
}

bool AppendJson(Reader& reader, const YamlNode& node, const std::string& path, std::string& out) {
  switch (node.kind) {
    case YamlNode::Kind::kNull:
      out += "null";
      return true;
    case YamlNode::Kind::kScalar: {
      if (node.quoted) {
        std::string text;
        if (!reader.String(node, path, &text)) return false;
        AppendJsonString(out, text);
        return true;
      }
      bool flag = false;
      if (IsCoreNull(node.text)) {
        out += "null";
      } else if (IsCoreBool(node.text, &flag)) {
        out += flag ? "true" : "false";
      } else if (IsNumberText(node.text)) {
        std::string number;
        if (!JsonNumber(node.text, &number)) {
          reader.diags().Error(node.origin, path + " cannot be sent as JSON, got " + Got(node) +
                                                " (JSON has no infinity or NaN)");
          return false;
        }
        out += number;
      } else {
        std::string text;
        if (!reader.String(node, path, &text)) return false;
        AppendJsonString(out, text);
      }
      return true;
    }
    case YamlNode::Kind::kSequence: {
      out += '[';
      bool ok = true;
      for (size_t i = 0; i < node.items.size(); ++i) {
        if (i > 0) out += ',';
        ok &= AppendJson(reader, node.items[i], path + "[" + std::to_string(i) + "]", out);
      }
      out += ']';
      return ok;
    }
    case YamlNode::Kind::kMap: {
      out += '{';
      bool ok = true;
      std::vector<std::string_view> seen;
      for (size_t i = 0; i < node.entries.size(); ++i) {
        const YamlEntry& entry = node.entries[i];
        if (entry.key.kind != YamlNode::Kind::kScalar) {
          reader.diags().Error(entry.key.origin, path + " has a key that is " + Got(entry.key) +
                                                     "; JSON object keys are strings");
          ok = false;
          continue;
        }
        // A field name is short and printable; longer ones do not survive being printed back
        // as a YAML flow key (implicit keys are limited to 1024 characters once escaped).
        constexpr size_t kMaxKeyBytes = 128;
        if (entry.key.text.size() > kMaxKeyBytes ||
            std::any_of(entry.key.text.begin(), entry.key.text.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
          reader.diags().Error(entry.key.origin, path +
                                                     " has a key that is not a field name (over " +
                                                     std::to_string(kMaxKeyBytes) +
                                                     " bytes or with control characters)");
          ok = false;
          continue;
        }
        const std::string child = path + "." + entry.key.text;
        if (std::find(seen.begin(), seen.end(), entry.key.text) != seen.end()) {
          reader.diags().Error(entry.key.origin, "duplicate key " + child + "; keep one");
          ok = false;
          continue;
        }
        seen.push_back(entry.key.text);
        if (i > 0) out += ',';
        AppendJsonString(out, entry.key.text);
        out += ':';
        ok &= AppendJson(reader, entry.value, child, out);
      }
      out += '}';
      return ok;
    }
  }
  return false;
}

// ---- overrides ---------------------------------------------------------------------------

// "slo.ttft.p99.9" -> slo, ttft, p99.9: a numeric segment after pNN is its fraction.
std::vector<std::string> SplitOverridePath(std::string_view path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    std::string segment(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (!segments.empty() && AllOf(segment, IsDigit) && segments.back().size() >= 2 &&
        segments.back().front() == 'p' && AllOf(segments.back().substr(1), IsDigit)) {
      segments.back() += "." + segment;
    } else {
      segments.push_back(std::move(segment));
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return segments;
}

void SetOrigin(YamlNode& node, const Origin& origin) {
  node.origin = origin;
  for (YamlNode& item : node.items) SetOrigin(item, origin);
  for (YamlEntry& entry : node.entries) {
    SetOrigin(entry.key, origin);
    SetOrigin(entry.value, origin);
  }
}

int CountDepth(const YamlNode& node) {
  int depth = 0;
  for (const YamlNode& item : node.items) depth = std::max(depth, CountDepth(item) + 1);
  for (const YamlEntry& entry : node.entries) {
    depth = std::max({depth, CountDepth(entry.key) + 1, CountDepth(entry.value) + 1});
  }
  return depth;
}

void ApplyOverride(YamlNode& root, const ConfigOverride& override_, int index, Diagnostics& diags) {
  const Origin origin{index, 0};
  const std::vector<std::string> segments = SplitOverridePath(override_.path);
  for (const std::string& segment : segments) {
    if (segment.empty()) {
      diags.Error(origin, "the key path \"" + override_.path + "\" has an empty part");
      return;
    }
  }
  YamlNode value;
  if (override_.literal) {
    value.kind = YamlNode::Kind::kScalar;
    value.text = override_.value;
    value.quoted = true;
  } else {
    int unused_line = 0;
    absl::StatusOr<YamlNode> parsed = ParseYamlText(override_.value, index, &unused_line);
    if (!parsed.ok()) {
      diags.Error(origin, "cannot parse the value: " + std::string(parsed.status().message()));
      return;
    }
    value = *std::move(parsed);
  }
  SetOrigin(value, origin);
  if (CountDepth(value) + static_cast<int>(segments.size()) > kMaxConfigDepth) {
    diags.Error(origin, "nested deeper than " + std::to_string(kMaxConfigDepth) + " levels");
    return;
  }
  YamlNode* node = &root;
  std::string walked;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (node->kind == YamlNode::Kind::kNull) {
      node->kind = YamlNode::Kind::kMap;
      node->origin = origin;
    }
    if (node->kind != YamlNode::Kind::kMap) {
      diags.Error(origin, "cannot set " + override_.path + ": " +
                              (walked.empty() ? std::string("the config") : walked) + " is " +
                              Got(*node) + ", not a map");
      return;
    }
    YamlNode* next = nullptr;
    for (YamlEntry& entry : node->entries) {
      if (entry.key.kind == YamlNode::Kind::kScalar && entry.key.text == segments[i]) {
        next = &entry.value;
        break;
      }
    }
    if (next == nullptr) {
      node->entries.emplace_back();
      YamlEntry& entry = node->entries.back();
      entry.key.kind = YamlNode::Kind::kScalar;
      entry.key.text = segments[i];
      entry.key.origin = origin;
      entry.value.origin = origin;
      next = &entry.value;
    }
    walked = JoinPath(walked, segments[i]);
    node = next;
  }
  *node = std::move(value);
}

// ---- the typed walk ----------------------------------------------------------------------

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-'; }

// RFC 9110 token characters.
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsIdentifierStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentifierChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// What the shorthand `load.type: shareGPT` carries over to prompts.
struct PromptsShorthand {
  bool active = false;
  Origin origin;  // Of load.type.
  const YamlNode* dataset = nullptr;
  const YamlNode* prefix_ratio = nullptr;
  const YamlNode* prefix_groups = nullptr;
};

class ConfigBuilder {
 public:
  explicit ConfigBuilder(Diagnostics& diags) : diags_(diags), read_(diags) {}

  BenchmarkConfig Build(const YamlNode& root) {
    std::vector<std::string_view> sections;
    for (const auto& [name, keys] : SectionKeys()) sections.push_back(name);
    if (root.kind != YamlNode::Kind::kMap && root.kind != YamlNode::Kind::kNull) {
      diags_.Error(root.origin,
                   "the config must be a map of sections (benchmark, target, load, prompts, "
                   "metrics, slo, cluster, output), got " +
                       Got(root));
      return config_;
    }
    Section top(diags_, &root, "", sections);
    ReadBenchmark(top.Get("benchmark"));
    ReadTarget(top.Get("target"), top.KeyNode("target") != nullptr);
    PromptsShorthand shorthand = ReadLoad(top.Get("load"));
    ReadPrompts(top.Get("prompts"), shorthand);
    ReadMetrics(top.Get("metrics"));
    ReadSlo(top.Get("slo"));
    ReadCluster(top.Get("cluster"));
    ReadOutput(top.Get("output"));
    ResolveDuration();
    CheckSeries();
    CheckConversation(top.Get("prompts"));
    return config_;
  }

 private:
  // The table's part of reading a map: each plain field present is checked against its row and
  // stored through its slot (or `slot_of(key)`, for a list's items), and a missing required key
  // is reported. With `load_type`, the keys that type does not read are left to its rules.
  // Returns false when a field failed.
  bool ReadFields(const Section& s, std::string_view load_type = {},
                  const std::function<FieldSlot(std::string_view key)>& slot_of = nullptr) {
    const ConfigField* section = FindConfigField(s.path());
    if (!s.present() && (section == nullptr || !section->required)) return false;
    bool ok = true;
    for (std::string_view key : ConfigFieldKeys(s.path())) {
      const ConfigField& field = *FindConfigField(s.Path(key));
      if (!load_type.empty() && !LoadTypeReads(field, load_type)) continue;
      const YamlNode* node = s.Get(key);
      if (node == nullptr) {
        if (field.required) {
          read_.RequiredField(s, key, "");
          ok = false;
        }
        continue;
      }
      FieldSlot slot = slot_of ? slot_of(key) : FieldSlot();
      if (std::holds_alternative<std::monostate>(slot) && field.slot) slot = field.slot(config_);
      if (!std::holds_alternative<std::monostate>(slot)) {
        ok &= read_.Field(*node, s.Path(key), field, slot);
      }
    }
    return ok;
  }

  // The table's default of `path`, noted as applied.
  void Default(const std::string& path) {
    diags_.Default(path, FindConfigField(path)->default_text);
  }

  // ---- benchmark ----
  void ReadBenchmark(const YamlNode* node) {
    Section s(diags_, node, "benchmark");
    BenchmarkSection& b = config_.benchmark;
    ReadFields(s);
    if (const YamlNode* v = s.Get("name")) {
      std::string name;
      if (read_.String(*v, s.Path("name"), &name)) {
        if (name.empty() || !AllOf(name, IsNameChar)) {
          diags_.Error(v->origin,
                       "benchmark.name must match [A-Za-z0-9._-]+ (it names the results "
                       "directory), got " +
                           Got(*v));
        } else {
          b.name = name;
        }
      }
    }
    duration_node_ = s.Get("duration");
    duration_explicit_ = duration_node_ != nullptr;
    if (s.Get("warmup") == nullptr) diags_.Default("benchmark.warmup", "0s");
    if (const YamlNode* v = s.Get("seed")) {
      if (v->kind == YamlNode::Kind::kScalar && absl::EqualsIgnoreCase(v->text, "random")) {
        // A seed of this run's own, so that a repeated run does not send the same prompts
        // (which a prefix cache would answer faster); written out like any other.
        std::random_device entropy;
        b.seed = (uint64_t{entropy()} << 32 | entropy()) % 1'000'000'000;
        diags_.Note("benchmark.seed: random gave " + std::to_string(b.seed) +
                    " (config.yaml of the results records it)");
      } else {
        read_.Uint64(*v, s.Path("seed"), &b.seed);
      }
    } else {
      diags_.Default("benchmark.seed", "1");
    }
  }

  // ---- target ----
  void ReadTarget(const YamlNode* node, bool key_present) {
    Section s(diags_, node, "target");
    TargetConfig& t = config_.target;
    ReadFields(s);
    if (!key_present) {
      diags_.Note(
          "no target in the config: run needs --endpoint URL and --model NAME (or --set "
          "target.endpoint=... target.model=...)");
    }
    const YamlNode* endpoint_node = s.Get("endpoint");
    if (const YamlNode* v = endpoint_node) {
      std::string endpoint;
      if (read_.String(*v, s.Path("endpoint"), &endpoint) && !endpoint.empty()) {
        absl::StatusOr<EndpointUrl> url = ParseEndpoint(endpoint);
        if (!url.ok()) {
          diags_.Error(v->origin, "target.endpoint " + std::string(url.status().message()) +
                                      ", got " + Got(*v));
        } else {
          t.endpoint = endpoint;
          endpoint_url_ = *url;
        }
      }
    }
    if (key_present &&
        (endpoint_node == nullptr ||
         (endpoint_node->kind == YamlNode::Kind::kScalar && endpoint_node->text.empty()))) {
      diags_.Note("target.endpoint not set: run needs --endpoint URL");
    }
    if (key_present && t.model.empty()) {
      diags_.Note(
          "target.model not set: the run takes the one model the server's /v1/models lists, or "
          "--model NAME");
    }
    if (const YamlNode* v = s.Get("protocol")) {
      size_t index = 0;
      if (read_.TableEnum(s, "protocol", &index)) {
        t.protocol = static_cast<Protocol>(index);
        if (endpoint_url_.has_value()) {
          if (t.protocol == Protocol::kH2 && !endpoint_url_->tls) {
            diags_.Error(v->origin,
                         "target.protocol h2 needs an https:// endpoint (use h2c for HTTP/2 "
                         "without TLS)");
          } else if (t.protocol == Protocol::kH2c && endpoint_url_->tls) {
            diags_.Error(v->origin,
                         "target.protocol h2c is HTTP/2 without TLS and needs an http:// "
                         "endpoint (use h2 for https://)");
          }
        }
      }
    } else if (key_present) {
      diags_.Default("target.protocol", "auto");
    }
    if (const YamlNode* v = s.Get("headers")) ReadHeaders(*v);
    if (key_present) {
      for (std::string_view key : {"timeout", "maxStreamsPerConnection"}) {
        if (s.Get(key) == nullptr) Default(s.Path(key));
      }
    }
    if (const YamlNode* v = s.Get("tls")) ReadFields(Section(diags_, v, "target.tls"));
    if (const YamlNode* v = s.Get("extraBody")) {
      if (v->kind != YamlNode::Kind::kMap) {
        diags_.Error(v->origin,
                     "target.extraBody must be a map of JSON fields (e.g. {temperature: 0, "
                     "ignore_eos: true}), got " +
                         Got(*v));
      } else {
        std::string json;
        if (AppendJson(read_, *v, "target.extraBody", json)) t.extra_body = json;
      }
    }
  }

  void ReadHeaders(const YamlNode& node) {
    if (node.kind != YamlNode::Kind::kMap) {
      diags_.Error(node.origin,
                   "target.headers must be a map of header names to values (e.g. "
                   "{Authorization: \"Bearer ${env:API_KEY}\"}), got " +
                       Got(node));
      return;
    }
    std::vector<std::string> seen_names;
    for (const YamlEntry& entry : node.entries) {
      if (entry.key.kind != YamlNode::Kind::kScalar) {
        diags_.Error(entry.key.origin,
                     "target.headers has a key that is " + Got(entry.key) + "; use header names");
        continue;
      }
      const std::string& name = entry.key.text;
      const std::string path = "target.headers." + name;
      if (!AllOf(name, IsTokenChar)) {
        diags_.Error(entry.key.origin, "target.headers: " + QuoteForMessage(name) +
                                           " is not a valid header name (letters, digits and "
                                           "!#$%&'*+-.^_`|~ only)");
        continue;
      }
      const std::string lower = Lower(name);
      if (lower == "content-length" || lower == "transfer-encoding" || lower == "connection" ||
          lower == "keep-alive" || lower == "upgrade" || lower == "te" || lower == "host" ||
          lower == "proxy-connection") {
        diags_.Error(entry.key.origin, path + " is set by the benchmark's HTTP client; remove it");
        continue;
      }
      bool duplicate = false;
      for (const std::string& seen : seen_names) {
        if (Lower(seen) == lower) {
          diags_.Error(entry.key.origin, path + " repeats header " + seen +
                                             " (header names are case-insensitive); keep one");
          duplicate = true;
          break;
        }
      }
      if (duplicate) continue;
      seen_names.push_back(name);
      const bool secret = IsSensitiveHeader(name);
      std::string value;
      if (entry.value.kind == YamlNode::Kind::kNull) {
        value.clear();
      } else if (!read_.String(entry.value, path, &value, secret)) {
        continue;
      }
      if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        diags_.Error(entry.value.origin, path + " must not contain line breaks or NUL bytes");
        continue;
      }
      config_.target.headers.push_back({name, value});
    }
  }

  // ---- load ----
  PromptsShorthand ReadLoad(const YamlNode* node) {
    PromptsShorthand shorthand;
    Section s(diags_, node, "load");
    LoadConfig& load = config_.load;
    if (!s.present()) {
      if (node == nullptr) {
        load.type = LoadType::kConcurrency;
        load.concurrency = kDefaultClosedLoopConcurrency;
        diags_.Note("no load in the config: a closed loop with " +
                    std::to_string(kDefaultClosedLoopConcurrency) +
                    " requests in flight (load.type concurrency, load.concurrency " +
                    std::to_string(kDefaultClosedLoopConcurrency) + ")");
      }
      return shorthand;
    }
    // The table lists the load shapes in LoadType order, then the series, then shareGPT.
    constexpr size_t kFirstSeries = 8;
    const YamlNode* type_node = s.Get("type");
    bool type_known = false;
    if (type_node != nullptr) {
      if (type_node->kind == YamlNode::Kind::kScalar &&
          absl::EqualsIgnoreCase(type_node->text, "shareGPT")) {
        shorthand.active = true;
        shorthand.origin = type_node->origin;
        shorthand.dataset = s.Get("dataset");
        shorthand.prefix_ratio = s.Get("prefixRatio");
        shorthand.prefix_groups = s.Get("prefixGroups");
        load.type = s.Get("rate") != nullptr ? LoadType::kConstant : LoadType::kConcurrency;
        type_known = true;
        std::string moved = "prompts.type = shareGPT";
        if (shorthand.dataset != nullptr) moved += ", prompts.dataset";
        if (shorthand.prefix_ratio != nullptr) moved += ", prompts.prefixRatio";
        if (shorthand.prefix_groups != nullptr) moved += ", prompts.prefixGroups";
        diags_.Note("load.type: shareGPT is shorthand for " + moved +
                    " (moved from load); the load is " +
                    (load.type == LoadType::kConstant
                         ? std::string("open loop at load.rate (load.type constant)")
                         : std::string("a closed loop (load.type concurrency)")));
      } else {
        size_t index = 0;
        if (read_.TableEnum(s, "type", &index)) {
          if (index >= kFirstSeries) {
            load.series.kind = index == kFirstSeries ? SeriesKind::kSweep : SeriesKind::kCapacity;
            series_origin_ = type_node->origin;
          } else {
            load.type = static_cast<LoadType>(index);
          }
          type_known = true;
        }
      }
    } else {
      // Infer the type from the fields given, and say so.
      if (s.Get("stages") != nullptr) {
        load.type = LoadType::kStages;
      } else if (s.Get("ramp") != nullptr) {
        load.type = LoadType::kRamp;
      } else if (s.Get("burst") != nullptr) {
        load.type = LoadType::kBurst;
      } else if (s.Get("trace") != nullptr) {
        load.type = LoadType::kTrace;
      } else if (s.Get("rate") != nullptr) {
        load.type = LoadType::kConstant;
      } else {
        load.type = LoadType::kConcurrency;
      }
      type_known = true;
      diags_.Note("load.type not set: using " + std::string(LoadTypeName(load.type)) +
                  " from the fields given");
    }
    if (!shorthand.active) {
      for (std::string_view key : {"dataset", "prefixRatio", "prefixGroups"}) {
        if (s.Get(key) != nullptr) {
          read_.Unused(s, key,
                       "is only read with load.type: shareGPT (the seed's shorthand); "
                       "did you mean prompts." +
                           std::string(key) + "?");
        }
      }
    }
    if (!type_known) return shorthand;  // The type's own error says enough.
    const bool series = load.series.kind != SeriesKind::kNone;
    if (series) {
      load.type = LoadType::kPoisson;
      if (s.Get("arrival") != nullptr) {
        size_t index = 0;
        if (read_.TableEnum(s, "arrival", &index)) {
          load.type = index == 0 ? LoadType::kConstant : LoadType::kPoisson;
        }
      } else {
        diags_.Default("load.arrival", "poisson (the arrivals of the rate probes)");
      }
    }
    const LoadType type = load.type;
    const std::string type_name(LoadTypeName(load));
    // The table says which types read which keys: the keys read are checked and stored, those
    // required and absent reported, those present and not read refused.
    ReadFields(s, type_name);
    for (std::string_view key : ConfigFieldKeys("load")) {
      const ConfigField& field = *FindConfigField(s.Path(key));
      if (field.load_types.empty() || field.load_types == "shareGPT") continue;
      if (LoadTypeReads(field, type_name)) {
        if (field.required_by_load_types && s.Get(key) == nullptr) {
          read_.RequiredField(s, key, "for load.type " + type_name);
        }
      } else if (s.Get(key) != nullptr) {
        read_.Unused(s, key,
                     "is not used by load.type " + type_name + "; remove it (or use load.type " +
                         LoadTypesText(field) + ")");
      }
    }

    if (s.Get("concurrency") == nullptr) {
      if (type == LoadType::kConcurrency) {
        load.concurrency = kDefaultClosedLoopConcurrency;
        diags_.Default("load.concurrency", std::to_string(kDefaultClosedLoopConcurrency) +
                                               " (requests kept in flight)");
      } else {
        diags_.Default("load.concurrency", "none (no cap on requests in flight)");
      }
    }
    if (type == LoadType::kGamma && s.Get("burstiness") == nullptr) {
      diags_.Default("load.burstiness", "1 (the same as poisson)");
    }
    if (type == LoadType::kRamp) {
      if (const YamlNode* v = s.Get("ramp")) {
        Section ramp(diags_, v, "load.ramp");
        if (ReadFields(ramp) && load.ramp.from == 0 && load.ramp.to == 0) {
          diags_.Error(v->origin, "load.ramp must have from or to > 0 (requests per second)");
        }
      }
    }
    if (type == LoadType::kBurst) {
      if (const YamlNode* v = s.Get("burst")) ReadFields(Section(diags_, v, "load.burst"));
    }
    if (type == LoadType::kStages) {
      if (const YamlNode* v = s.Get("stages")) ReadStages(*v);
    }
    if (type == LoadType::kTrace) {
      if (const YamlNode* v = s.Get("trace")) {
        if (read_.String(*v, s.Path("trace"), &load.trace) && load.trace.empty()) {
          diags_.Error(v->origin, "load.trace must name a JSONL trace file, got \"\"");
        }
      }
    }
    if (load.series.kind == SeriesKind::kSweep) ReadSweep(s.Get("sweep"));
    if (load.series.kind == SeriesKind::kCapacity) ReadCapacity(s.Get("capacity"));
    return shorthand;
  }

  void ReadSweep(const YamlNode* node) {
    SweepConfig& sweep = config_.load.series.sweep;
    if (config_.load.concurrency > 0) sweep.throughput_concurrency = config_.load.concurrency;
    Section s(diags_, node, "load.sweep");
    ReadFields(s);
    if (s.Get("points") == nullptr) {
      diags_.Default("load.sweep.points", "10 (synchronous, throughput and 8 rates between)");
    }
    if (s.Get("throughputConcurrency") == nullptr && config_.load.concurrency == 0) {
      diags_.Default("load.sweep.throughputConcurrency",
                     "256 (requests in flight during the throughput run)");
    }
  }

  void ReadCapacity(const YamlNode* node) {
    CapacityConfig& capacity = config_.load.series.capacity;
    Section s(diags_, node, "load.capacity");
    ReadFields(s);
    if (s.Get("start") == nullptr) {
      diags_.Default("load.capacity.start", "1 (requests/s of the first probe)");
    }
    if (const YamlNode* v = s.Get("max");
        v != nullptr && capacity.max > 0 && capacity.max < capacity.start) {
      diags_.Error(v->origin, "load.capacity.max (" + FormatConfigNumber(capacity.max) +
                                  ") is below load.capacity.start (" +
                                  FormatConfigNumber(capacity.start) + ")");
    }
    if (const YamlNode* v = s.Get("resolution")) {
      ReadResolution(*v, s.Path("resolution"), &capacity);
    } else {
      diags_.Default("load.capacity.resolution", "5% (of the highest passing rate)");
    }
    if (s.Get("minRequests") == nullptr) {
      diags_.Default("load.capacity.minRequests", "200 (per probe window)");
    }
    if (s.Get("maxProbes") == nullptr) diags_.Default("load.capacity.maxProbes", "20");
  }

  // "5%" is relative to the passing rate; a plain number is requests/s.
  void ReadResolution(const YamlNode& node, const std::string& path, CapacityConfig* capacity) {
    absl::string_view text = node.text;
    double value = 0;
    const bool percent = node.kind == YamlNode::Kind::kScalar && absl::EndsWith(text, "%");
    if (percent) {
      text.remove_suffix(1);
      if (!absl::SimpleAtod(text, &value) || !(value > 0) || value >= 100) {
        diags_.Error(node.origin,
                     path + " must be a percentage in (0%, 100%) or requests/s, got " + Got(node));
        return;
      }
      capacity->resolution = value / 100;
      capacity->relative_resolution = true;
      return;
    }
    if (read_.Number(node, path, FindConfigField(path)->bounds, &value)) {
      capacity->resolution = value;
      capacity->relative_resolution = false;
    }
  }

  void ReadStages(const YamlNode& node) {
    const std::vector<YamlNode>* items =
        read_.List(node, "load.stages", "[{rate: 10, duration: 60}, {rate: 20, duration: 60}]");
    if (items == nullptr) return;
    if (items->empty()) {
      diags_.Error(node.origin, "load.stages must list at least one stage");
      return;
    }
    absl::Duration total = absl::ZeroDuration();
    bool ok = true;
    for (size_t i = 0; i < items->size(); ++i) {
      const std::string path = "load.stages[" + std::to_string(i) + "]";
      Section stage(diags_, &(*items)[i], path, "{rate: 10, duration: 60}");
      StageConfig out;
      if (!stage.present()) {
        ok = false;
        if ((*items)[i].kind == YamlNode::Kind::kNull) {
          diags_.Error((*items)[i].origin, path + " is empty; write {rate: 10, duration: 60}");
        }
        continue;
      }
      ok &= ReadFields(stage, {}, [&out](std::string_view key) -> FieldSlot {
        if (key == "rate") return &out.rate;
        return &out.duration;
      });
      total += out.duration;
      config_.load.stages.push_back(out);
    }
    if (ok && total > kMaxConfigDuration) {
      diags_.Error(node.origin, "load.stages last " + FormatCompactDuration(total) +
                                    " in all; the maximum is " +
                                    FormatCompactDuration(kMaxConfigDuration));
    }
    stages_ok_ = ok;
  }

  // ---- prompts ----
  void ReadPrompts(const YamlNode* node, const PromptsShorthand& shorthand) {
    Section s(diags_, node, "prompts");
    PromptsConfig& p = config_.prompts;
    if (shorthand.active) {
      p.type = PromptsType::kShareGpt;
      if (const YamlNode* v = s.Get("type")) {
        size_t index = 0;
        if (read_.TableEnum(s, "type", &index) &&
            index != static_cast<size_t>(PromptsType::kShareGpt)) {
          diags_.Error(v->origin, "prompts.type is " + Got(*v) +
                                      " but load.type: shareGPT means prompts.type shareGPT; "
                                      "remove one of them");
        }
      }
    } else if (s.Get("type") != nullptr) {
      size_t index = 0;
      if (read_.TableEnum(s, "type", &index)) p.type = static_cast<PromptsType>(index);
    } else {
      diags_.Default("prompts.type", "synthetic");
    }
    const auto pick = [&](std::string_view key, const YamlNode* from_load) -> const YamlNode* {
      const YamlNode* own = s.Get(key);
      if (own != nullptr && from_load != nullptr) {
        diags_.Error(own->origin, "prompts." + std::string(key) + " and load." + std::string(key) +
                                      " (the shareGPT shorthand) are both set; keep one");
      }
      return own != nullptr ? own : from_load;
    };
    const YamlNode* dataset = pick("dataset", shorthand.dataset);
    const YamlNode* prefix_ratio = pick("prefixRatio", shorthand.prefix_ratio);
    const YamlNode* prefix_groups = pick("prefixGroups", shorthand.prefix_groups);

    ReadLength(s, "inputLength", p.input_length);
    ReadLength(s, "outputLength", p.output_length);

    const std::string dataset_path =
        dataset != nullptr && dataset == shorthand.dataset ? "load.dataset" : "prompts.dataset";
    if (dataset != nullptr) {
      if (read_.String(*dataset, dataset_path, &p.dataset)) {
        if (p.type == PromptsType::kSynthetic) {
          diags_.Error(dataset->origin, dataset_path +
                                            " is only read with prompts.type file, shareGPT or "
                                            "conversation; remove it or set prompts.type");
          p.dataset.clear();
        } else if (p.dataset.empty()) {
          diags_.Error(dataset->origin, dataset_path + " must name a file, got \"\"");
        }
      }
    } else if (p.type == PromptsType::kConversation) {
      diags_.Default("prompts.dataset", "none (synthetic conversations)");
    } else if (shorthand.active) {
      diags_.Error(shorthand.origin,
                   "load.dataset is required with load.type: shareGPT (the ShareGPT JSON file)");
    } else if (p.type != PromptsType::kSynthetic) {
      diags_.Error(
          s.MissingOrigin(),
          "prompts.dataset is required for prompts.type " + std::string(PromptsTypeName(p.type)) +
              (p.type == PromptsType::kFile ? " (a JSONL file of {\"prompt\"} or {\"messages\"})"
                                            : " (the ShareGPT JSON file)"));
    }
    // The shorthand's keys are read with prompts' rows and named where they were written.
    if (prefix_ratio != nullptr) {
      read_.Field(
          *prefix_ratio,
          prefix_ratio == shorthand.prefix_ratio ? "load.prefixRatio" : "prompts.prefixRatio",
          *FindConfigField("prompts.prefixRatio"), &p.prefix_ratio);
    }
    if (prefix_groups != nullptr) {
      read_.Field(
          *prefix_groups,
          prefix_groups == shorthand.prefix_groups ? "load.prefixGroups" : "prompts.prefixGroups",
          *FindConfigField("prompts.prefixGroups"), &p.prefix_groups);
    }
    if (const YamlNode* v = s.Get("tokenizer")) {
      if (read_.String(*v, s.Path("tokenizer"), &p.tokenizer) && p.tokenizer.empty()) {
        diags_.Error(v->origin,
                     "prompts.tokenizer must name the model's tokenizer.json or SentencePiece "
                     ".model file, got \"\"");
      }
    }
    if (const YamlNode* v = s.Get("conversation")) {
      if (p.type == PromptsType::kConversation) {
        ReadConversation(*v);
      } else {
        diags_.Error(v->origin,
                     "prompts.conversation is only read with prompts.type conversation; remove it "
                     "or set prompts.type: conversation");
      }
    } else if (p.type == PromptsType::kConversation) {
      diags_.Default("prompts.conversation", "3 turns, no think time, no session header");
    }
  }

  void ReadConversation(const YamlNode& node) {
    Section s(diags_, &node, "prompts.conversation");
    if (!s.present()) return;
    ConversationConfig& c = config_.prompts.conversation;
    if (s.Get("turns") != nullptr) {
      // A bare number is a fixed count.
      const YamlNode* turns = s.Get("turns");
      if (turns->kind == YamlNode::Kind::kScalar) {
        int64_t count = 0;
        if (read_.Int(*turns, s.Path("turns"), FindConfigField(s.Path("turns"))->bounds, &count)) {
          c.turns = LengthDistribution{static_cast<double>(count), 0, count, count};
        }
      } else {
        ReadLength(s, "turns", c.turns);
      }
    }
    ReadFields(s);  // thinkTime
    if (const YamlNode* v = s.Get("sessionHeader")) {
      if (read_.String(*v, s.Path("sessionHeader"), &c.session_header)) {
        const std::string lower = Lower(c.session_header);
        if (c.session_header.empty() || !AllOf(c.session_header, IsTokenChar)) {
          diags_.Error(v->origin,
                       "prompts.conversation.sessionHeader: " + QuoteForMessage(c.session_header) +
                           " is not a valid header name (letters, digits and "
                           "!#$%&'*+-.^_`|~ only)");
        } else if (lower == "content-length" || lower == "transfer-encoding" ||
                   lower == "connection" || lower == "host" || lower == "content-type") {
          diags_.Error(v->origin, "prompts.conversation.sessionHeader " + c.session_header +
                                      " is set by the benchmark's HTTP client; pick another name");
        } else {
          for (const Header& header : config_.target.headers) {
            if (Lower(header.name) == lower) {
              diags_.Error(v->origin, "prompts.conversation.sessionHeader " + c.session_header +
                                          " is also in target.headers; keep one");
            }
          }
          c.session_header = lower;
        }
      }
    }
  }

  // A length distribution; its fields are stored through the table's slots into `out`.
  void ReadLength(const Section& prompts, std::string_view key, const LengthDistribution& out) {
    const YamlNode* node = prompts.Get(key);
    const std::string path = prompts.Path(key);
    if (node == nullptr) {
      diags_.Default(path, "mean " + FormatConfigNumber(out.mean) + ", stddev " +
                               FormatConfigNumber(out.stddev) + ", min " + std::to_string(out.min) +
                               ", max " + std::to_string(out.max));
      return;
    }
    Section s(diags_, node, path);
    if (!ReadFields(s)) return;
    if (out.min > out.max) {
      diags_.Error(s.origin(), path + ".min (" + std::to_string(out.min) + ") must be <= " + path +
                                   ".max (" + std::to_string(out.max) + ")");
    } else if (out.mean < static_cast<double>(out.min) || out.mean > static_cast<double>(out.max)) {
      diags_.Error(s.origin(),
                   path + ".mean (" + FormatConfigNumber(out.mean) + ") must be between min (" +
                       std::to_string(out.min) + ") and max (" + std::to_string(out.max) + "); " +
                       (out.mean > static_cast<double>(out.max) ? "raise " + path + ".max"
                                                                : "lower " + path + ".min"));
    }
  }

  // ---- metrics ----
  void ReadMetrics(const YamlNode* node) {
    Section s(diags_, node, "metrics");
    MetricsConfig& m = config_.metrics;
    ReadFields(s);
    if (const YamlNode* v = s.Get("collect")) {
      if (const std::vector<YamlNode>* items =
              read_.List(*v, "metrics.collect", "[ttft, itl, throughput]")) {
        std::vector<std::string> collect;
        const std::vector<std::string_view>& known = FindConfigField("metrics.collect")->values;
        for (size_t i = 0; i < items->size(); ++i) {
          const YamlNode& item = (*items)[i];
          const std::string path = "metrics.collect[" + std::to_string(i) + "]";
          std::string name;
          if (!read_.String(item, path, &name)) continue;
          if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string message = path + ": unknown metric " + QuoteForMessage(name);
            if (std::optional<std::string> near = Suggest(name, known)) {
              message += " (did you mean " + *near + "?)";
            }
            diags_.Error(item.origin, message + "; known: " + JoinViews(known, ", "));
          } else if (std::find(collect.begin(), collect.end(), name) != collect.end()) {
            diags_.Error(item.origin, path + ": " + name + " is listed twice");
          } else {
            collect.push_back(name);
          }
        }
        if (items->empty()) {
          diags_.Error(v->origin, "metrics.collect must name at least one metric (known: " +
                                      JoinViews(known, ", ") + ")");
        }
        m.collect = collect;
      }
    } else {
      diags_.Default("metrics.collect", "[" + absl::StrJoin(m.collect, ", ") + "]");
    }
    if (const YamlNode* v = s.Get("percentiles")) {
      if (const std::vector<YamlNode>* items =
              read_.List(*v, "metrics.percentiles", "[50, 90, 99, 99.9]")) {
        std::vector<double> percentiles;
        for (size_t i = 0; i < items->size(); ++i) {
          const std::string path = "metrics.percentiles[" + std::to_string(i) + "]";
          double value = 0;
          if (!read_.Number((*items)[i], path, FindConfigField("metrics.percentiles")->bounds,
                            &value)) {
            continue;
          }
          if (std::find(percentiles.begin(), percentiles.end(), value) != percentiles.end()) {
            diags_.Error((*items)[i].origin,
                         path + ": " + FormatConfigNumber(value) + " is listed twice");
            continue;
          }
          percentiles.push_back(value);
        }
        if (items->empty()) {
          diags_.Error(v->origin, "metrics.percentiles must list at least one percentile");
        }
        m.percentiles = percentiles;
      }
    } else {
      diags_.Default("metrics.percentiles", "[50, 90, 95, 99, 99.9]");
    }
    if (s.Get("interval") == nullptr) Default("metrics.interval");
    if (const YamlNode* v = s.Get("rawTokenTimes")) {
      if (read_.Bool(*v, s.Path("rawTokenTimes"), &m.raw_token_times) && m.raw_token_times &&
          !m.raw) {
        diags_.Error(v->origin,
                     "metrics.rawTokenTimes lists chunk times in requests.jsonl, which needs "
                     "metrics.raw: true");
      }
    }
    if (const YamlNode* v = s.Get("prometheus")) ReadPrometheus(*v);
  }

  void ReadPrometheus(const YamlNode& node) {
    Section s(diags_, &node, "metrics.prometheus");
    PrometheusConfig& p = config_.metrics.prometheus;
    ReadFields(s);
    if (const YamlNode* v = s.Get("endpoint")) {
      if (read_.String(*v, s.Path("endpoint"), &p.endpoint) && !p.endpoint.empty()) {
        const std::string lower = Lower(p.endpoint);
        const bool http = absl::StartsWith(lower, "http://") || absl::StartsWith(lower, "https://");
        const std::string_view host =
            std::string_view(p.endpoint).substr(http ? p.endpoint.find("//") + 2 : 0);
        if (!http) {
          diags_.Error(v->origin,
                       "metrics.prometheus.endpoint must start with http:// or "
                       "https://, got " +
                           Got(*v));
          p.endpoint.clear();
        } else if (host.substr(0, host.find('/')).find('@') != std::string_view::npos) {
          diags_.Error(v->origin,
                       "metrics.prometheus.endpoint must not hold credentials (user:password@), "
                       "got " +
                           std::string(kRedacted));
          p.endpoint.clear();
        } else if (host.empty() || host.front() == '/' ||
                   p.endpoint.find_first_of(" \t\r\n") != std::string::npos) {
          diags_.Error(v->origin,
                       "metrics.prometheus.endpoint must name a host (e.g. "
                       "http://prometheus:9090), got " +
                           Got(*v));
          p.endpoint.clear();
        }
      }
    }
    if (const YamlNode* v = s.Get("queries")) {
      const std::vector<YamlNode>* items =
          read_.List(*v, "metrics.prometheus.queries",
                     "[{name: gpu_utilization, query: \"DCGM_FI_DEV_GPU_UTIL\"}]");
      if (items == nullptr) return;
      for (size_t i = 0; i < items->size(); ++i) {
        const std::string path = "metrics.prometheus.queries[" + std::to_string(i) + "]";
        Section q(diags_, &(*items)[i], path,
                  "{name: gpu_utilization, query: \"DCGM_FI_DEV_GPU_UTIL\"}");
        if (!q.present()) continue;
        PrometheusQuery query;
        bool ok = ReadFields(q);  // The required keys; name and query have rules of their own.
        if (const YamlNode* f = q.Get("name")) {
          bool name_ok = read_.String(*f, q.Path("name"), &query.name);
          if (name_ok && (query.name.empty() || !IsIdentifierStart(query.name.front()) ||
                          !AllOf(query.name, IsIdentifierChar))) {
            diags_.Error(f->origin,
                         q.Path("name") + " must match [A-Za-z_][A-Za-z0-9_]*, got " + Got(*f));
            name_ok = false;
          }
          for (const PrometheusQuery& other : p.queries) {
            if (name_ok && other.name == query.name) {
              diags_.Error(f->origin, q.Path("name") + ": " + query.name + " is used twice");
              name_ok = false;
            }
          }
          ok &= name_ok;
        }
        if (const YamlNode* f = q.Get("query")) {
          if (!read_.String(*f, q.Path("query"), &query.query)) {
            ok = false;
          } else if (query.query.empty()) {
            diags_.Error(f->origin, q.Path("query") + " must not be empty");
            ok = false;
          }
        }
        if (ok) p.queries.push_back(std::move(query));
      }
      if (!items->empty() && p.endpoint.empty() && s.Get("endpoint") == nullptr) {
        diags_.Error(v->origin,
                     "metrics.prometheus.queries need metrics.prometheus.endpoint (e.g. "
                     "http://prometheus:9090)");
      }
    }
  }

  // ---- slo ----
  void ReadSlo(const YamlNode* node) {
    Section s(diags_, node, "slo");
    SloConfig& slo = config_.slo;
    for (const std::string& metric : SloMetricNames()) {
      const YamlNode* v = s.Get(metric);
      if (v == nullptr) continue;
      const std::string path = "slo." + metric;
      if (v->kind != YamlNode::Kind::kMap) {
        diags_.Error(
            v->origin,
            path + " must be a map of percentiles to limits (e.g. {p99: 500ms}), got " + Got(*v));
        continue;
      }
      const size_t first = slo.thresholds.size();
      for (const YamlEntry& entry : v->entries) {
        if (entry.key.kind != YamlNode::Kind::kScalar) {
          diags_.Error(entry.key.origin, path + " has a key that is " + Got(entry.key) +
                                             "; use percentiles like p99");
          continue;
        }
        const std::string& key = entry.key.text;
        double percentile = 0;
        if (!ParsePercentileKey(key, &percentile)) {
          std::string message = "unknown SLO percentile " + path + "." + key;
          diags_.Error(entry.key.origin,
                       message +
                           " (use p50, p90, p95, p99, p99.9, ...: p and a number between 0 "
                           "and 100)");
          continue;
        }
        bool duplicate = false;
        for (size_t i = first; i < slo.thresholds.size(); ++i) {
          if (slo.thresholds[i].percentile == percentile) duplicate = true;
        }
        if (duplicate) {
          diags_.Error(entry.key.origin, "duplicate key " + path + "." + key + "; keep one");
          continue;
        }
        SloThreshold threshold;
        threshold.metric = metric;
        threshold.percentile = percentile;
        if (entry.value.kind == YamlNode::Kind::kNull) {
          diags_.Error(entry.value.origin, path + "." + key + " needs a limit (e.g. 500ms)");
          continue;
        }
        if (read_.Duration(entry.value, path + "." + key, true, &threshold.max)) {
          slo.thresholds.push_back(threshold);
        }
      }
    }
    if (const YamlNode* v = s.Get("errorRate")) {
      Section rate(diags_, v, "slo.errorRate");
      double value = 0;
      if (ReadFields(rate, {}, [&value](std::string_view) -> FieldSlot { return &value; })) {
        slo.max_error_rate = value;
      }
    }
    bool any_limit = s.Get("errorRate") != nullptr;
    for (const std::string& metric : SloMetricNames()) any_limit |= s.Get(metric) != nullptr;
    if (const YamlNode* v = s.Get("abortOnFail")) {
      if (read_.Bool(*v, s.Path("abortOnFail"), &slo.abort_on_fail) && slo.abort_on_fail &&
          !any_limit) {
        diags_.Error(v->origin,
                     "slo.abortOnFail is true but no SLO threshold is set (e.g. slo.ttft.p99: "
                     "500ms)");
      }
    }
  }

  static bool ParsePercentileKey(std::string_view key, double* percentile) {
    if (key.size() < 2 || key.front() != 'p') return false;
    const std::string_view number = key.substr(1);
    const size_t dot = number.find('.');
    if (!AllOf(number.substr(0, dot), IsDigit)) return false;
    if (dot != std::string_view::npos && !AllOf(number.substr(dot + 1), IsDigit)) return false;
    const std::string copy(number);
    *percentile = std::strtod(copy.c_str(), nullptr);
    return *percentile > 0 && *percentile < 100;
  }

  // ---- cluster, output ----
  void ReadCluster(const YamlNode* node) {
    Section s(diags_, node, "cluster");
    ReadFields(s);
    if (size_t index = 0; read_.TableEnum(s, "onWorkerLoss", &index)) {
      config_.cluster.on_worker_loss = static_cast<WorkerLossPolicy>(index);
    }
  }

  void ReadOutput(const YamlNode* node) {
    Section s(diags_, node, "output");
    OutputConfig& o = config_.output;
    if (const YamlNode* v = s.Get("dir")) {
      if (read_.String(*v, s.Path("dir"), &o.dir) && o.dir.empty()) {
        diags_.Error(v->origin, "output.dir must name a directory, got \"\"");
        o.dir = "results";
      }
    } else {
      diags_.Default("output.dir", o.dir);
    }
    const std::vector<std::string_view>& known_formats = FindConfigField("output.formats")->values;
    if (const YamlNode* v = s.Get("formats")) {
      if (const std::vector<YamlNode>* items =
              read_.List(*v, "output.formats", "[json, html, png]")) {
        std::vector<OutputFormat> formats;
        for (size_t i = 0; i < items->size(); ++i) {
          const YamlNode& item = (*items)[i];
          const std::string path = "output.formats[" + std::to_string(i) + "]";
          std::string name;
          if (!read_.String(item, path, &name)) continue;
          const auto it = std::find_if(
              known_formats.begin(), known_formats.end(),
              [&](std::string_view f) { return absl::EqualsIgnoreCase(Absl(f), name); });
          if (it == known_formats.end()) {
            std::string message = path + ": unknown format " + QuoteForMessage(name);
            if (std::optional<std::string> near = Suggest(name, known_formats)) {
              message += " (did you mean " + *near + "?)";
            }
            diags_.Error(item.origin, message + "; known: " + JoinViews(known_formats, ", "));
            continue;
          }
          const auto format = static_cast<OutputFormat>(it - known_formats.begin());
          if (std::find(formats.begin(), formats.end(), format) != formats.end()) {
            diags_.Error(item.origin, path + ": " + std::string(*it) + " is listed twice");
            continue;
          }
          formats.push_back(format);
        }
        o.formats = formats;
      }
    } else {
      diags_.Default("output.formats", "[json, html, png]");
    }
  }

  // ---- cross-section ----
  void CheckSeries() {
    const SeriesKind kind = config_.load.series.kind;
    if (kind == SeriesKind::kNone) return;
    if (config_.slo.abort_on_fail) {
      diags_.Error(series_origin_, "slo.abortOnFail would cut short the probes of load.type " +
                                       std::string(SeriesKindName(kind)) +
                                       " that miss the SLOs, which the series needs whole; "
                                       "remove it");
    }
    if (config_.benchmark.max_requests > 0) {
      diags_.Error(series_origin_, "benchmark.maxRequests would end every probe of load.type " +
                                       std::string(SeriesKindName(kind)) +
                                       " early; remove it (each probe lasts benchmark.duration)");
    }
    if (kind != SeriesKind::kCapacity) return;
    if (config_.slo.thresholds.empty() && !config_.slo.max_error_rate.has_value()) {
      diags_.Error(series_origin_,
                   "load.type capacity searches for the highest rate that meets the SLOs, and "
                   "the config has none; add one, e.g. slo: {ttft: {p99: 500ms}}");
    } else if (!config_.slo.max_error_rate.has_value()) {
      // Latencies count successes only: a server that sheds load with fast errors would look
      // fine. A rate that fails more than 1% of its requests is not held.
      config_.slo.max_error_rate = 0.01;
      diags_.Default("slo.errorRate.max", "0.01 (load.type capacity: a rate held is one answered)");
    }
  }

  // Conversations run as a closed loop over the chat API: a turn follows its reply.
  void CheckConversation(const YamlNode* prompts) {
    if (config_.prompts.type != PromptsType::kConversation) return;
    const Origin origin = prompts != nullptr ? prompts->origin : Origin{};
    if (config_.load.series.kind != SeriesKind::kNone) {
      diags_.Error(series_origin_,
                   "load.type " + std::string(SeriesKindName(config_.load.series.kind)) +
                       " does not run conversations (prompts.type conversation); use load.type "
                       "concurrency");
    } else if (config_.load.type != LoadType::kConcurrency) {
      diags_.Error(origin,
                   "prompts.type conversation runs as a closed loop: each of "
                   "load.concurrency users holds one conversation, and a turn is sent "
                   "when the previous reply and the think time are over; set load.type: "
                   "concurrency (got " +
                       std::string(LoadTypeName(config_.load.type)) +
                       "; open-loop conversation arrivals are not built)");
    }
    if (endpoint_url_.has_value() && endpoint_url_->api != Api::kChatCompletions) {
      diags_.Error(origin,
                   "prompts.type conversation needs a chat endpoint (.../chat/completions): "
                   "a turn sends the history as messages; target.endpoint is " +
                       config_.target.endpoint);
    }
  }

  void ResolveDuration() {
    if (config_.load.type != LoadType::kStages || !stages_ok_ || config_.load.stages.empty()) {
      if (!duration_explicit_) {
        diags_.Default("benchmark.duration", FormatCompactDuration(config_.benchmark.duration));
      }
      return;
    }
    absl::Duration total = absl::ZeroDuration();
    for (const StageConfig& stage : config_.load.stages) total += stage.duration;
    if (duration_explicit_ && duration_node_ != nullptr && config_.benchmark.duration != total) {
      diags_.Error(duration_node_->origin,
                   "benchmark.duration (" + FormatCompactDuration(config_.benchmark.duration) +
                       ") differs from the sum of the load.stages durations (" +
                       FormatCompactDuration(total) +
                       "); remove benchmark.duration or make them agree");
      return;
    }
    if (!duration_explicit_) {
      diags_.Note("benchmark.duration not set: the stages last " + FormatCompactDuration(total) +
                  ", which is the measurement window");
    }
    config_.benchmark.duration = total;
  }

  Diagnostics& diags_;
  Reader read_;
  BenchmarkConfig config_;
  std::optional<EndpointUrl> endpoint_url_;
  bool duration_explicit_ = false;
  const YamlNode* duration_node_ = nullptr;
  bool stages_ok_ = false;
  Origin series_origin_;  // Of load.type, for a series.
};

// ---- checks on the raw text --------------------------------------------------------------

int LineOf(std::string_view text, size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
}

// Catches what would make yaml-cpp slow, deep or confused before it runs: size, NUL bytes
// (UTF-16 files), invalid UTF-8, and flow collections nested past kMaxConfigDepth.
// `override_index` >= 0: the text is that override's value (its messages carry no line).
bool CheckRawText(std::string_view text, int override_index, Diagnostics& diags) {
  const auto at = [&](size_t offset) {
    return override_index >= 0 ? Origin{override_index, 0} : Origin{-1, LineOf(text, offset)};
  };
  if (text.size() > kMaxConfigBytes) {
    diags.Error(override_index >= 0 ? Origin{override_index, 0} : Origin{},
                std::string(override_index >= 0 ? "the value is " : "the config is ") +
                    std::to_string(text.size()) + " bytes; the limit is " +
                    std::to_string(kMaxConfigBytes));
    return false;
  }
  const size_t nul = text.find('\0');
  if (nul != std::string_view::npos) {
    diags.Error(at(nul), "contains a NUL byte; save the config as UTF-8 text (not UTF-16)");
    return false;
  }
  size_t bad_offset = 0;
  if (!IsValidUtf8(text, &bad_offset)) {
    const size_t line_start = text.rfind('\n', bad_offset);
    const size_t column = bad_offset - (line_start == std::string_view::npos ? 0 : line_start + 1);
    diags.Error(at(bad_offset), "is not valid UTF-8 (column " + std::to_string(column + 1) +
                                    "); save the config as UTF-8");
    return false;
  }
  // Brackets inside quotes or comments may be counted too: the bound is generous.
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '[' || c == '{') {
      if (++depth > kMaxConfigDepth) {
        diags.Error(at(i), "nested deeper than " + std::to_string(kMaxConfigDepth) + " levels");
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  // Block nesting costs indentation: more than kMaxConfigDepth levels need deep indents.
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t indent = 0;
    while (line_start + indent < text.size() &&
           (text[line_start + indent] == ' ' || text[line_start + indent] == '-')) {
      ++indent;
    }
    if (indent > static_cast<size_t>(kMaxConfigDepth) * 8) {
      diags.Error(at(line_start), "is indented more than " + std::to_string(kMaxConfigDepth * 8) +
                                      " columns; a config is not nested that deep");
      return false;
    }
    const size_t newline = text.find('\n', line_start);
    if (newline == std::string_view::npos) break;
    line_start = newline + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<ConfigOverride> ParseSetFlag(std::string_view text) {
  const size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    return absl::InvalidArgumentError("--set " + QuoteForMessage(text) +
                                      " needs key.path=value (e.g. --set load.rate=20)");
  }
  ConfigOverride result;
  result.path = std::string(text.substr(0, equals));
  result.value = std::string(text.substr(equals + 1));
  if (result.path.empty()) {
    return absl::InvalidArgumentError("--set " + QuoteForMessage(text) +
                                      " has no key path before '=' (e.g. --set load.rate=20)");
  }
  // Secrets never reach messages: hide values of sensitive headers and of whole header maps.
  std::string shown = result.value;
  const std::string lower = Lower(result.path);
  if (lower == "target" || lower == "target.headers") {
    if (!result.value.empty()) shown = std::string(kRedacted);
  } else if (absl::StartsWith(lower, "target.headers.")) {
    shown = RedactHeaderValue(result.path.substr(15), result.value);
  }
  result.label = "--set " + result.path + "=" + shown;
  return result;
}

ConfigOverride LiteralOverride(std::string path, std::string value, std::string label) {
  ConfigOverride result;
  result.path = std::move(path);
  result.value = std::move(value);
  result.literal = true;
  result.label = std::move(label);
  return result;
}

absl::StatusOr<ParsedConfig> ParseConfig(std::string_view yaml_text, std::string_view source_name,
                                         const std::vector<ConfigOverride>& overrides) {
  Diagnostics diags(source_name, overrides);
  if (!CheckRawText(yaml_text, -1, diags)) return absl::InvalidArgumentError(diags.ErrorText());
  int error_line = 0;
  absl::StatusOr<YamlNode> root = ParseYamlText(std::string(yaml_text), -1, &error_line);
  if (!root.ok()) {
    // yaml-cpp marks an error found at the end of the text one line past the last.
    const int last_line = LineOf(yaml_text, yaml_text.size() - (yaml_text.empty() ? 0 : 1));
    error_line = std::min(error_line, last_line);
    std::string message(root.status().message());
    if (error_line > 0 && absl::StartsWith(message, "YAML syntax error")) {
      // The most common cause by far: a tab in the indentation.
      size_t line_start = 0;
      for (int line = 1; line < error_line && line_start != std::string_view::npos; ++line) {
        line_start = yaml_text.find('\n', line_start);
        if (line_start != std::string_view::npos) ++line_start;
      }
      if (line_start != std::string_view::npos) {
        const std::string_view line = yaml_text.substr(line_start);
        const size_t indent_end = line.find_first_not_of(" \t");
        if (line.substr(0, indent_end).find('\t') != std::string_view::npos) {
          message += "; indent with spaces, YAML does not allow tabs there";
        }
      }
    }
    diags.Error(Origin{-1, error_line}, message);
    return absl::InvalidArgumentError(diags.ErrorText());
  }
  for (size_t i = 0; i < overrides.size(); ++i) {
    const ConfigOverride& override_ = overrides[i];
    if (!override_.literal && !CheckRawText(override_.value, static_cast<int>(i), diags)) {
      continue;
    }
    ApplyOverride(*root, override_, static_cast<int>(i), diags);
  }
  ConfigBuilder builder(diags);
  ParsedConfig parsed;
  parsed.config = builder.Build(*root);
  if (diags.has_errors()) return absl::InvalidArgumentError(diags.ErrorText());
  parsed.notes = diags.TakeNotes();
  return parsed;
}

absl::StatusOr<ParsedConfig> ParseConfigWithSets(std::string_view yaml_text,
                                                 std::string_view source_name,
                                                 const std::vector<std::string>& set_flags) {
  std::vector<ConfigOverride> overrides;
  for (const std::string& flag : set_flags) {
    absl::StatusOr<ConfigOverride> override_ = ParseSetFlag(flag);
    if (!override_.ok()) return override_.status();
    overrides.push_back(*std::move(override_));
  }
  return ParseConfig(yaml_text, source_name, overrides);
}

std::optional<std::string> SuggestNearest(std::string_view word,
                                          const std::vector<std::string_view>& candidates) {
  return Suggest(word, candidates);
}

}  // namespace bench
