#include "common/failure_text.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace bench {
namespace {

constexpr std::string_view kRedacted = "<redacted>";

bool IsTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

// Replaces the token that follows each occurrence of `marker` (case-insensitive) when it is at
// least `min_token` characters long; `keep_marker` leaves the marker itself in place.
void MaskAfter(std::string& text, std::string_view marker, size_t min_token, bool keep_marker) {
  size_t from = 0;
  while (from + marker.size() <= text.size()) {
    size_t at = std::string::npos;
    for (size_t i = from; i + marker.size() <= text.size(); ++i) {
      const std::string_view candidate = std::string_view(text).substr(i, marker.size());
      if (absl::EqualsIgnoreCase(absl::string_view(candidate.data(), candidate.size()),
                                 absl::string_view(marker.data(), marker.size()))) {
        at = i;
        break;
      }
    }
    if (at == std::string::npos) return;
    const size_t token_start = at + marker.size();
    size_t token_end = token_start;
    while (token_end < text.size() && IsTokenChar(text[token_end])) ++token_end;
    while (token_end > token_start && text[token_end - 1] == '.') --token_end;  // a full stop
    if (token_end - token_start < min_token) {
      from = token_start;
      continue;
    }
    const size_t replace_from = keep_marker ? token_start : at;
    text.replace(replace_from, token_end - replace_from, kRedacted);
    from = replace_from + kRedacted.size();
  }
}

}  // namespace

std::string PrintableExcerpt(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  bool pending_space = false;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
    if (out.size() > max_bytes) break;
  }
  if (out.size() > max_bytes) {
    out.resize(max_bytes >= 3 ? max_bytes - 3 : 0);
    out += "...";
  }
  return out;
}

void MaskSecrets(std::string& text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.size() < 6) continue;
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), kRedacted);
      at += kRedacted.size();
    }
    // A body cut short may end in the start of a secret.
    for (size_t length = std::min(text.size(), secret.size() - 1); length >= 4; --length) {
      if (std::string_view(text).substr(text.size() - length) ==
          std::string_view(secret).substr(0, length)) {
        text.replace(text.size() - length, length, kRedacted);
        break;
      }
    }
  }
  MaskAfter(text, "bearer ", 1, /*keep_marker=*/true);
  MaskAfter(text, "sk-", 8, /*keep_marker=*/false);
}

}  // namespace bench
