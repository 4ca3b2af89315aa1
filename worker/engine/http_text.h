// ASCII helpers for HTTP field names and values (RFC 9110 5.1, 5.6.3), shared by the HTTP/1.1
// sessions and the response-head checks. Abseil's equivalents take absl::string_view, which is
// not std::string_view in the Abseil these machines ship.
#pragma once

#include <cstddef>
#include <string_view>

namespace bench::engine {

inline char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
  }
  return true;
}

// OWS: space or horizontal tab.
inline bool IsOptionalWhitespace(char c) { return c == ' ' || c == '\t'; }

inline std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && IsOptionalWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOptionalWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace bench::engine
