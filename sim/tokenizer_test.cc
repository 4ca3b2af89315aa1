#include "sim/tokenizer.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "worker/engine/prompts.h"

namespace bench::sim {
namespace {

std::vector<std::string> Tokens(std::string_view text) {
  std::vector<std::string> tokens;
  ForEachToken(text, [&](std::string_view token) { tokens.emplace_back(token); });
  return tokens;
}

TEST(TokenizerTest, WordsAndPunctuation) {
  EXPECT_EQ(Tokens("Hello, world!"), (std::vector<std::string>{"Hello", ",", "world", "!"}));
  EXPECT_EQ(Tokens("x1y2 = f(a,b);"),
            (std::vector<std::string>{"x1y2", "=", "f", "(", "a", ",", "b", ")", ";"}));
  EXPECT_EQ(Tokens("don't"), (std::vector<std::string>{"don", "'", "t"}));
}

TEST(TokenizerTest, WhitespaceOnlySeparates) {
  EXPECT_EQ(Tokens(""), std::vector<std::string>{});
  EXPECT_EQ(Tokens(" \t\r\n\v\f "), std::vector<std::string>{});
  EXPECT_EQ(Tokens("  a\n\nb\tc  "), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(TokenizerTest, Utf8WordsStayWhole) {
  EXPECT_EQ(Tokens("été à Zürich"), (std::vector<std::string>{"été", "à", "Zürich"}));
}

TEST(TokenizerTest, ControlBytesAreSingleTokens) {
  EXPECT_EQ(Tokens(std::string("a\x01\x02z", 4)),
            (std::vector<std::string>{"a", "\x01", "\x02", "z"}));
}

// The engine's synthetic prompts are N vocabulary words separated by spaces: N tokens.
TEST(TokenizerTest, SyntheticPromptOfNWordsIsNTokens) {
  const auto& vocabulary = engine::SyntheticVocabulary();
  std::mt19937_64 random(42);
  std::string prompt;
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) prompt.push_back(' ');
    prompt.append(vocabulary[random() % vocabulary.size()]);
  }
  EXPECT_EQ(CountTokens(prompt), 1000);
}

TEST(TokenizerTest, CountMatchesTheTokensOnRandomBytes) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 200; ++round) {
    std::string text(random() % 64, '\0');
    for (char& c : text) c = static_cast<char>(random() % 256);
    EXPECT_EQ(CountTokens(text), static_cast<int64_t>(Tokens(text).size()));
    // Tokens are never empty and never hold whitespace.
    for (const std::string& token : Tokens(text)) {
      ASSERT_FALSE(token.empty());
      EXPECT_EQ(token.find_first_of(" \t\r\n\v\f"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace bench::sim
