// bench-sim's stand-in tokenizer: deterministic, fast and close enough to a real tokenizer's
// count for synthetic prompts (sim/README.md, "Token model"). Used for prompt lengths, echo output
// and (later) prefix-cache blocks.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace bench::sim {

// Tokens are maximal runs of letters and digits (ASCII alphanumerics and every byte >= 0x80, so a
// UTF-8 word stays whole) and single other characters (punctuation, symbols, control bytes).
// ASCII whitespace (space, \t, \n, \v, \f, \r) only separates. "Hello, world!" is 4 tokens:
// "Hello" "," "world" "!". Calls `on_token` with each token in order; views point into `text`.
void ForEachToken(std::string_view text, absl::FunctionRef<void(std::string_view)> on_token);

// The number of tokens ForEachToken() would report, without the calls.
int64_t CountTokens(std::string_view text);

}  // namespace bench::sim
