// Short, safe explanations of failed requests for summary.json's error examples: printable
// ASCII only, secrets masked, cut to a length.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// `text` with control and non-ASCII bytes as spaces, runs of spaces as one, trimmed, and cut to
// `max_bytes` (ending in "..." when cut).
std::string PrintableExcerpt(std::string_view text, size_t max_bytes);

// Replaces in `text` every occurrence of each of `secrets` (values of the request's headers;
// those shorter than 6 bytes are left alone, too common to be secret), the token after
// "Bearer " and OpenAI-style "sk-..." keys with "<redacted>"; also a secret's start (4 bytes or
// more) at the very end, where a captured body was cut.
void MaskSecrets(std::string& text, const std::vector<std::string>& secrets);

}  // namespace bench
