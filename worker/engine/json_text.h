// Scanning JSON string text: runs that need only copying, escapes, hex digits. Shared by the
// byte-at-a-time and the fast paths of OpenAiBodyDecoder (openai_body.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace bench::engine {

// A hex digit's value, or -1.
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// How many bytes from `at` need nothing but copying: plain ASCII, 16 at a time where SSE2 is.
inline size_t PlainBytes(std::string_view bytes, size_t at) {
  const char* const data = bytes.data();
  size_t i = at;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  for (; i + 16 <= bytes.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    // Signed: bytes >= 0x80 are negative, so "less than a space" also finds them.
    const __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_cmplt_epi8(v, space));
    if (const int mask = _mm_movemask_epi8(special); mask != 0) {
      return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask))) - at;
    }
  }
#endif
  for (; i < bytes.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
  }
  return i - at;
}

// The four hex digits at text[0..3] as a code unit, or -1.
inline int32_t HexQuad(const char* text) {
  int32_t value = 0;
  for (int k = 0; k < 4; ++k) {
    const int digit = HexValue(text[k]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// The character a one-letter escape stands for (`\n`: a newline), or 0 (`\u`, or unknown).
inline char UnescapedChar(char escape) {
  switch (escape) {
    case '"':
    case '\\':
    case '/':
      return escape;
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    default:
      return 0;
  }
}

// The length of the whole, valid `\uXXXX` escape (or surrogate pair, `\uD83D\uDE00`) at
// text[0], `available` bytes of it in hand, with its code point; 0 when it is cut short or not
// valid (the byte-at-a-time path then reads it, or says what is wrong).
inline size_t WholeUnicodeEscape(const char* text, size_t available, uint32_t* code_point) {
  if (available < 6) return 0;
  const int32_t unit = HexQuad(text + 2);
  if (unit < 0) return 0;
  if (unit < 0xD800 || unit > 0xDFFF) {
    *code_point = static_cast<uint32_t>(unit);
    return 6;
  }
  if (unit > 0xDBFF || available < 12 || text[6] != '\\' || text[7] != 'u') return 0;
  const int32_t low = HexQuad(text + 8);
  if (low < 0xDC00 || low > 0xDFFF) return 0;
  *code_point = 0x10000 + ((static_cast<uint32_t>(unit) - 0xD800) << 10) +
                (static_cast<uint32_t>(low) - 0xDC00);
  return 12;
}

}  // namespace bench::engine
