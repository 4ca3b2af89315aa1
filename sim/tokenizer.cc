#include "sim/tokenizer.h"

namespace bench::sim {
namespace {

enum class CharClass : uint8_t { kSpace, kWord, kSingle };

// One table lookup per byte keeps counting at memory speed.
struct ClassTable {
  CharClass classes[256];
  constexpr ClassTable() : classes() {
    for (int c = 0; c < 256; ++c) {
      const bool word =
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
      const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
      classes[c] = space ? CharClass::kSpace : word ? CharClass::kWord : CharClass::kSingle;
    }
  }
};
constexpr ClassTable kTable;

CharClass ClassOf(char c) { return kTable.classes[static_cast<unsigned char>(c)]; }

}  // namespace

void ForEachToken(std::string_view text, absl::FunctionRef<void(std::string_view)> on_token) {
  size_t i = 0;
  while (i < text.size()) {
    const CharClass cls = ClassOf(text[i]);
    if (cls == CharClass::kSpace) {
      ++i;
      continue;
    }
    size_t end = i + 1;
    if (cls == CharClass::kWord) {
      while (end < text.size() && ClassOf(text[end]) == CharClass::kWord) ++end;
    }
    on_token(text.substr(i, end - i));
    i = end;
  }
}

int64_t CountTokens(std::string_view text) {
  int64_t count = 0;
  bool in_word = false;
  for (char c : text) {
    switch (ClassOf(c)) {
      case CharClass::kSpace:
        in_word = false;
        break;
      case CharClass::kWord:
        if (!in_word) ++count;
        in_word = true;
        break;
      case CharClass::kSingle:
        ++count;
        in_word = false;
        break;
    }
  }
  return count;
}

}  // namespace bench::sim
