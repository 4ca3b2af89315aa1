// Well-formed UTF-8 (Unicode table 3-7: no overlong forms, no surrogates, nothing above
// U+10FFFF), as the engine checks it in request bodies, tokenizer input and response bodies.
#pragma once

namespace bench::engine {

// What a byte starts: the sequence's length (1: ASCII; 0: not a lead byte) and the range its
// second byte must fall in (every later byte is 0x80-0xBF).
struct Utf8Lead {
  int length;
  unsigned char second_low;
  unsigned char second_high;
};

constexpr Utf8Lead Utf8LeadOf(unsigned char lead) {
  if (lead < 0x80) return {1, 0x80, 0xBF};
  if (lead >= 0xC2 && lead <= 0xDF) return {2, 0x80, 0xBF};
  if (lead == 0xE0) return {3, 0xA0, 0xBF};
  if (lead == 0xED) return {3, 0x80, 0x9F};
  if (lead >= 0xE1 && lead <= 0xEF) return {3, 0x80, 0xBF};
  if (lead == 0xF0) return {4, 0x90, 0xBF};
  if (lead >= 0xF1 && lead <= 0xF3) return {4, 0x80, 0xBF};
  if (lead == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0x80, 0xBF};
}

}  // namespace bench::engine
