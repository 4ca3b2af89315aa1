#include "worker/engine/prompts.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench::engine {
namespace {

using ::testing::HasSubstr;

std::filesystem::path TestdataDir() {
  const char* source_dir = std::getenv("BENCH_SOURCE_DIR");
  return source_dir != nullptr
             ? std::filesystem::path(source_dir) / "worker/engine/testdata/prompts"
             : std::filesystem::path(__FILE__).parent_path() / "testdata/prompts";
}

// Writes `content` to a fresh file in the test's temporary directory.
std::string WriteTempFile(const std::string& name, const std::string& content) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
  return path.string();
}

std::vector<std::string> Words(const std::string& text) {
  return absl::StrSplit(text, ' ', absl::SkipEmpty());
}

PromptSpec SyntheticSpec(uint64_t seed) {
  PromptSpec spec;
  spec.source = PromptSpec::Source::kSynthetic;
  spec.input_length = {500, 100, 1, 8192};
  spec.output_length = {200, 50, 1, 4096};
  spec.seed = seed;
  return spec;
}

std::unique_ptr<PromptSource> MustCreate(const PromptSpec& spec) {
  absl::StatusOr<std::unique_ptr<PromptSource>> source = PromptSource::Create(spec);
  EXPECT_TRUE(source.ok()) << source.status();
  return source.ok() ? *std::move(source) : nullptr;
}

bool SamePrompt(const Prompt& a, const Prompt& b) {
  return a.text == b.text && a.messages_json == b.messages_json &&
         a.input_tokens == b.input_tokens && a.max_tokens == b.max_tokens &&
         a.prefix_group == b.prefix_group;
}

double Mean(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

double StdDev(const std::vector<double>& values) {
  const double mean = Mean(values);
  double sum = 0;
  for (double v : values) sum += (v - mean) * (v - mean);
  return std::sqrt(sum / static_cast<double>(values.size() - 1));
}

// ---- synthetic ----------------------------------------------------------------------------

TEST(SyntheticVocabularyTest, HasDistinctLowercaseWords) {
  const std::vector<std::string_view>& vocabulary = SyntheticVocabulary();
  ASSERT_EQ(vocabulary.size(), 256u);
  std::set<std::string_view> distinct(vocabulary.begin(), vocabulary.end());
  EXPECT_EQ(distinct.size(), vocabulary.size());
  for (std::string_view word : vocabulary) {
    ASSERT_FALSE(word.empty());
    for (char c : word) EXPECT_TRUE(c >= 'a' && c <= 'z') << word;
  }
}

TEST(CountWordsTest, CountsRunsOfNonWhitespace) {
  EXPECT_EQ(CountWords(""), 0);
  EXPECT_EQ(CountWords("  \t\n"), 0);
  EXPECT_EQ(CountWords("one"), 1);
  EXPECT_EQ(CountWords(" one  two\tthree\r\nfour "), 4);
  EXPECT_EQ(CountWords("caf\xC3\xA9 ok"), 2);
}

TEST(SyntheticPromptsTest, SameSeedAndIndexGiveTheSamePrompt) {
  std::unique_ptr<PromptSource> a = MustCreate(SyntheticSpec(7));
  std::unique_ptr<PromptSource> b = MustCreate(SyntheticSpec(7));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->dataset_size(), 0u);
  for (uint64_t i : {0ULL, 1ULL, 2ULL, 99ULL, 123456789ULL, ~0ULL}) {
    EXPECT_TRUE(SamePrompt(a->Get(i), b->Get(i))) << i;
    EXPECT_TRUE(SamePrompt(a->Get(i), a->Get(i))) << i;
  }
}

TEST(SyntheticPromptsTest, DifferentIndexOrSeedGiveDifferentPrompts) {
  std::unique_ptr<PromptSource> a = MustCreate(SyntheticSpec(7));
  std::unique_ptr<PromptSource> b = MustCreate(SyntheticSpec(8));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::set<std::string> texts;
  for (uint64_t i = 0; i < 200; ++i) {
    texts.insert(a->Get(i).text);
    EXPECT_NE(a->Get(i).text, b->Get(i).text) << i;
  }
  EXPECT_EQ(texts.size(), 200u);
}

TEST(SyntheticPromptsTest, IndependentOfThreadAndOrder) {
  std::unique_ptr<PromptSource> source = MustCreate(SyntheticSpec(3));
  ASSERT_NE(source, nullptr);
  constexpr uint64_t kCount = 400;
  std::vector<Prompt> forward(kCount);
  std::vector<Prompt> backward(kCount);
  std::thread first([&] {
    for (uint64_t i = 0; i < kCount; ++i) forward[i] = source->Get(i);
  });
  std::thread second([&] {
    for (uint64_t i = kCount; i-- > 0;) backward[i] = source->Get(i);
  });
  first.join();
  second.join();
  for (uint64_t i = 0; i < kCount; ++i) EXPECT_TRUE(SamePrompt(forward[i], backward[i])) << i;
}

TEST(SyntheticPromptsTest, WorkersWithDisjointIndicesSendTheSingleProcessPrompts) {
  constexpr uint64_t kWorkers = 3;
  constexpr uint64_t kCount = 90;
  std::unique_ptr<PromptSource> single = MustCreate(SyntheticSpec(11));
  ASSERT_NE(single, nullptr);
  for (uint64_t worker = 0; worker < kWorkers; ++worker) {
    // Each worker builds its own source from the same spec, as a separate process would.
    std::unique_ptr<PromptSource> own = MustCreate(SyntheticSpec(11));
    ASSERT_NE(own, nullptr);
    for (uint64_t i = worker; i < kCount; i += kWorkers) {
      EXPECT_TRUE(SamePrompt(own->Get(i), single->Get(i))) << i;
    }
  }
}

TEST(SyntheticPromptsTest, LengthsFollowTheDistributionsAndTextHasExactWordCount) {
  std::unique_ptr<PromptSource> source = MustCreate(SyntheticSpec(42));
  ASSERT_NE(source, nullptr);
  const std::set<std::string_view> vocabulary(SyntheticVocabulary().begin(),
                                              SyntheticVocabulary().end());
  std::vector<double> inputs;
  std::vector<double> outputs;
  for (uint64_t i = 0; i < 10000; ++i) {
    const Prompt prompt = source->Get(i);
    inputs.push_back(static_cast<double>(prompt.input_tokens));
    outputs.push_back(static_cast<double>(prompt.max_tokens));
    ASSERT_EQ(CountWords(prompt.text), prompt.input_tokens) << i;
    EXPECT_TRUE(prompt.messages_json.empty());
    if (i < 50) {
      // Single spaces, no padding, vocabulary words only.
      EXPECT_EQ(prompt.text.find("  "), std::string::npos);
      EXPECT_NE(prompt.text.front(), ' ');
      EXPECT_NE(prompt.text.back(), ' ');
      for (const std::string& word : Words(prompt.text)) {
        EXPECT_TRUE(vocabulary.count(word)) << word;
      }
    }
  }
  EXPECT_NEAR(Mean(inputs), 500, 500 * 0.02);
  EXPECT_NEAR(StdDev(inputs), 100, 100 * 0.05);
  EXPECT_NEAR(Mean(outputs), 200, 200 * 0.02);
  EXPECT_NEAR(StdDev(outputs), 50, 50 * 0.05);
}

TEST(SyntheticPromptsTest, ClipsToMinAndMax) {
  PromptSpec spec = SyntheticSpec(5);
  spec.input_length = {100, 200, 50, 120};  // P(X < 50) = 0.401, P(X > 120) = 0.460.
  spec.output_length = {10, 0, 1, 4096};    // stddev 0: always the mean.
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  int at_min = 0;
  int at_max = 0;
  constexpr int kCount = 10000;
  for (int i = 0; i < kCount; ++i) {
    const Prompt prompt = source->Get(static_cast<uint64_t>(i));
    ASSERT_GE(prompt.input_tokens, 50);
    ASSERT_LE(prompt.input_tokens, 120);
    ASSERT_EQ(CountWords(prompt.text), prompt.input_tokens);
    ASSERT_EQ(prompt.max_tokens, 10);
    at_min += prompt.input_tokens == 50;
    at_max += prompt.input_tokens == 120;
  }
  EXPECT_NEAR(static_cast<double>(at_min) / kCount, 0.401, 0.03);
  EXPECT_NEAR(static_cast<double>(at_max) / kCount, 0.460, 0.03);
}

TEST(SyntheticPromptsTest, PrefixGroupsShareExactlyTheirPrefix) {
  PromptSpec spec = SyntheticSpec(9);
  spec.input_length = {200, 50, 1, 1000};
  spec.prefix_ratio = 0.5;
  spec.prefix_groups = 4;
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(source->prefix_words(), 100);
  std::map<uint32_t, std::vector<std::string>> group_prefix;
  std::map<uint32_t, std::set<std::string>> group_rest;
  for (uint64_t i = 0; i < 400; ++i) {
    const Prompt prompt = source->Get(i);
    ASSERT_EQ(prompt.prefix_group, i % 4);
    const std::vector<std::string> words = Words(prompt.text);
    ASSERT_EQ(static_cast<int64_t>(words.size()), prompt.input_tokens);
    ASSERT_GE(words.size(), 101u);
    const std::vector<std::string> prefix(words.begin(), words.begin() + 100);
    auto [it, inserted] = group_prefix.emplace(prompt.prefix_group, prefix);
    if (!inserted) {
      EXPECT_EQ(it->second, prefix) << i;
    }
    group_rest[prompt.prefix_group].insert(absl::StrJoin(words.begin() + 100, words.end(), " "));
  }
  ASSERT_EQ(group_prefix.size(), 4u);
  std::set<std::string> first_words;
  for (const auto& [group, prefix] : group_prefix) first_words.insert(prefix.front());
  EXPECT_EQ(first_words.size(), 4u);
  // After the prefix every prompt is its own.
  for (const auto& [group, rests] : group_rest) EXPECT_EQ(rests.size(), 100u) << group;
}

TEST(SyntheticPromptsTest, UpTo256GroupsDifferInTheFirstWordAndMoreStillDiffer) {
  for (uint32_t groups : {256u, 700u}) {
    PromptSpec spec = SyntheticSpec(13);
    spec.input_length = {20, 0, 1, 100};
    spec.prefix_ratio = 0.25;  // 5 words.
    spec.prefix_groups = groups;
    std::unique_ptr<PromptSource> source = MustCreate(spec);
    ASSERT_NE(source, nullptr);
    std::set<std::string> first_words;
    std::set<std::string> prefixes;
    for (uint64_t i = 0; i < groups; ++i) {
      const std::vector<std::string> words = Words(source->Get(i).text);
      ASSERT_EQ(words.size(), 20u);
      first_words.insert(words[0]);
      prefixes.insert(absl::StrJoin(words.begin(), words.begin() + 5, " "));
    }
    EXPECT_EQ(first_words.size(), std::min<size_t>(groups, 256)) << groups;
    EXPECT_EQ(prefixes.size(), groups) << groups;
  }
}

TEST(SyntheticPromptsTest, PromptIsLongerThanItsPrefix) {
  PromptSpec spec = SyntheticSpec(17);
  spec.input_length = {10, 5, 1, 40};
  spec.prefix_ratio = 1.0;
  spec.prefix_groups = 2;
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  for (uint64_t i = 0; i < 500; ++i) {
    const Prompt prompt = source->Get(i);
    EXPECT_GE(prompt.input_tokens, 11);
    EXPECT_EQ(CountWords(prompt.text), prompt.input_tokens);
  }
}

TEST(SyntheticPromptsTest, RejectsBadSpecs) {
  const auto code = [](const PromptSpec& spec) { return PromptSource::Create(spec).status(); };
  PromptSpec spec = SyntheticSpec(1);
  spec.input_length.min = 0;
  EXPECT_EQ(code(spec).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(code(spec).message(), HasSubstr("prompts.inputLength.min"));
  spec = SyntheticSpec(1);
  spec.output_length.max = 0;
  EXPECT_EQ(code(spec).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(code(spec).message(), HasSubstr("prompts.outputLength.max"));
  spec = SyntheticSpec(1);
  spec.input_length.stddev = -1;
  EXPECT_EQ(code(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = SyntheticSpec(1);
  spec.prefix_ratio = 1.5;
  EXPECT_EQ(code(spec).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(code(spec).message(), HasSubstr("prefixRatio"));
  spec = SyntheticSpec(1);
  spec.prefix_groups = 0;
  EXPECT_EQ(code(spec).code(), absl::StatusCode::kInvalidArgument);
}

// ---- fixed lengths (trace replay) ---------------------------------------------------------

TEST(FixedLengthPromptsTest, EachIndexGetsItsRecordsLengthsExactly) {
  PromptSpec spec = SyntheticSpec(5);
  // Distributions that would never give these lengths: they must be ignored.
  spec.input_length = {500, 0, 500, 500};
  spec.output_length = {0, 0, 0, 0};  // Invalid, and unused with fixed lengths.
  spec.fixed_lengths = {{3, 7}, {1, 1}, {250, 4000}, {3, 7}};
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  for (uint64_t i = 0; i < 8; ++i) {
    const Prompt prompt = source->Get(i);
    const PromptLengths& want = spec.fixed_lengths[i % 4];
    EXPECT_EQ(prompt.input_tokens, want.input_tokens) << i;
    EXPECT_EQ(static_cast<int64_t>(Words(prompt.text).size()), want.input_tokens) << i;
    EXPECT_EQ(prompt.max_tokens, want.output_tokens) << i;
  }
  // Equal lengths at different indices are still different prompts (no accidental caching),
  // and a second source with the same seed gives the same text.
  EXPECT_NE(source->Get(0).text, source->Get(3).text);
  std::unique_ptr<PromptSource> again = MustCreate(spec);
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(SamePrompt(source->Get(2), again->Get(2)));
}

TEST(FixedLengthPromptsTest, PrefixIsTheRatioOfTheMeanFixedLength) {
  PromptSpec spec = SyntheticSpec(5);
  spec.fixed_lengths = {{10, 1}, {30, 1}};  // mean 20
  spec.prefix_ratio = 0.5;
  spec.prefix_groups = 1;
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->prefix_words(), 10);
  const std::vector<std::string> a = Words(source->Get(0).text);
  const std::vector<std::string> b = Words(source->Get(1).text);
  ASSERT_EQ(a.size(), 11u) << "at least prefix + 1 words";
  ASSERT_EQ(b.size(), 30u);
  EXPECT_TRUE(std::equal(a.begin(), a.begin() + 10, b.begin()));
}

TEST(FixedLengthPromptsTest, RejectsBadLengthsAndDatasets) {
  PromptSpec spec = SyntheticSpec(5);
  spec.fixed_lengths = {{4, 4}, {0, 4}};
  absl::Status status = PromptSource::Create(spec).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "prompt lengths[1] must be >= 1, got input 0, output 4");
  spec.fixed_lengths = {{4, 4}};
  spec.source = PromptSpec::Source::kShareGpt;
  spec.dataset_path = "/nonexistent.json";
  status = PromptSource::Create(spec).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "prompts.type must be synthetic when the lengths come from a trace (load.type "
            "trace), got shareGPT");
}

// ---- JSONL --------------------------------------------------------------------------------

PromptSpec FileSpec(const std::string& path) {
  PromptSpec spec = SyntheticSpec(21);
  spec.source = PromptSpec::Source::kFile;
  spec.dataset_path = path;
  return spec;
}

TEST(JsonlPromptsTest, ReadsPromptAndMessagesLinesInOrder) {
  std::unique_ptr<PromptSource> source =
      MustCreate(FileSpec((TestdataDir() / "small.jsonl").string()));
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(source->dataset_size(), 4u);

  const Prompt first = source->Get(0);
  EXPECT_EQ(first.text, "hello world again");
  EXPECT_TRUE(first.messages_json.empty());
  EXPECT_EQ(first.input_tokens, 3);
  EXPECT_EQ(first.max_tokens, 7);

  const Prompt chat = source->Get(1);
  EXPECT_EQ(chat.text, "be brief\nsay hi  now");
  EXPECT_EQ(chat.input_tokens, 5);
  EXPECT_EQ(chat.max_tokens, 5);
  simdjson::dom::parser parser;
  simdjson::dom::array messages;
  ASSERT_EQ(parser.parse(chat.messages_json).get_array().get(messages), simdjson::SUCCESS)
      << chat.messages_json;
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(std::string_view(messages.at(0)["role"]), "system");
  EXPECT_EQ(std::string_view(messages.at(1)["content"]), "say hi  now");

  // No length on the line: sampled per index from output_length.
  const Prompt sampled = source->Get(2);
  EXPECT_EQ(sampled.text, "no length here");
  EXPECT_GE(sampled.max_tokens, 1);
  EXPECT_LE(sampled.max_tokens, 4096);
  EXPECT_EQ(source->Get(3).text, "both lengths");
  EXPECT_EQ(source->Get(3).max_tokens, 3);  // max_tokens wins over output_tokens.

  // Reused in order; sampled lengths still vary with the index.
  std::set<int64_t> lengths;
  for (uint64_t i = 2; i < 400; i += 4) {
    EXPECT_EQ(source->Get(i).text, "no length here");
    lengths.insert(source->Get(i).max_tokens);
  }
  EXPECT_GT(lengths.size(), 10u);
  EXPECT_TRUE(SamePrompt(source->Get(4), first));
}

struct BadJsonlCase {
  std::string name;
  std::string content;
  std::string line;  // ":N:" expected in the message
  std::string what;  // Also expected in the message.
};

TEST(JsonlPromptsTest, BadLinesNameFileLineAndProblem) {
  const std::string good = "{\"prompt\": \"fine\"}\n";
  const std::vector<BadJsonlCase> cases = {
      {"not_json.jsonl", good + "\n{\"prompt\": \"x\"\n", ":3:", "not valid JSON"},
      {"array.jsonl", good + "[1, 2]\n", ":2:", "must be a JSON object"},
      {"number_prompt.jsonl", good + good + "{\"prompt\": 5}\n", ":3:", "\"prompt\" must be"},
      {"neither.jsonl", "{\"text\": \"x\"}\n", ":1:", "needs \"prompt\""},
      {"both.jsonl",
       "{\"prompt\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": "
       "\"b\"}]}\n",
       ":1:", "both"},
      {"zero_tokens.jsonl", good + "{\"prompt\": \"a\", \"max_tokens\": 0}\n",
       ":2:", "\"max_tokens\" must be a positive integer"},
      {"string_tokens.jsonl", "{\"prompt\": \"a\", \"output_tokens\": \"5\"}\n",
       ":1:", "\"output_tokens\" must be a positive integer"},
      {"no_role.jsonl", good + "{\"messages\": [{\"content\": \"hi\"}]}\n",
       ":2:", "\"messages\"[0] needs a string \"role\""},
      {"empty_messages.jsonl", "{\"messages\": []}\n", ":1:", "empty"},
      {"bad_utf8.jsonl", good + "{\"prompt\": \"caf\xC3\"}\n", ":2:", "not valid JSON"},
  };
  for (const BadJsonlCase& bad : cases) {
    const std::string path = WriteTempFile(bad.name, bad.content);
    absl::Status status = PromptSource::Create(FileSpec(path)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad.name;
    EXPECT_THAT(status.message(), HasSubstr(path + bad.line)) << bad.name;
    EXPECT_THAT(status.message(), HasSubstr(bad.what)) << bad.name;
  }
}

TEST(JsonlPromptsTest, EmptyAndMissingFiles) {
  const std::string blank = WriteTempFile("blank.jsonl", "\n  \n\r\n");
  absl::Status status = PromptSource::Create(FileSpec(blank)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("no prompts"));

  const std::string missing = (std::filesystem::path(::testing::TempDir()) / "nope.jsonl").string();
  status = PromptSource::Create(FileSpec(missing)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(missing));
}

TEST(JsonlPromptsTest, OutputLengthIsCheckedOnlyWhenSampled) {
  const std::string all_given =
      WriteTempFile("all_given.jsonl", "{\"prompt\": \"a\", \"max_tokens\": 4}\n");
  PromptSpec spec = FileSpec(all_given);
  spec.output_length = {};  // max 0 < min 1: unusable.
  EXPECT_TRUE(PromptSource::Create(spec).ok());
  spec.dataset_path = WriteTempFile("one_missing.jsonl", "{\"prompt\": \"a\"}\n");
  EXPECT_EQ(PromptSource::Create(spec).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- ShareGPT -----------------------------------------------------------------------------

PromptSpec ShareGptSpec(const std::string& path, uint64_t seed, bool dataset_output_length) {
  PromptSpec spec = SyntheticSpec(seed);
  spec.source = PromptSpec::Source::kShareGpt;
  spec.dataset_path = path;
  spec.dataset_output_length = dataset_output_length;
  return spec;
}

std::string SmallShareGpt() { return (TestdataDir() / "sharegpt_small.json").string(); }

TEST(ShareGptPromptsTest, TakesTheFirstHumanTurnAndSkipsEntriesWithout) {
  std::unique_ptr<PromptSource> source = MustCreate(ShareGptSpec(SmallShareGpt(), 1, false));
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(source->dataset_size(), 5u);
  std::set<std::string> texts;
  for (uint64_t i = 0; i < 5; ++i) {
    const Prompt prompt = source->Get(i);
    texts.insert(prompt.text);
    EXPECT_EQ(prompt.input_tokens, CountWords(prompt.text));
    EXPECT_GE(prompt.max_tokens, 1);  // Sampled.
    EXPECT_EQ(source->Get(i + 5).text, prompt.text);
  }
  const std::set<std::string> expected = {
      "What is the capital of France?",
      "Tell me a joke about cats",
      "Summarise {\"json\": [1, 2]} in words",
      "Brackets ] and } and \\\" quotes \" inside",
      "Unicode caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD ok",
  };
  EXPECT_EQ(texts, expected);
}

TEST(ShareGptPromptsTest, RecordedAnswerLengthsWhenAsked) {
  std::unique_ptr<PromptSource> source = MustCreate(ShareGptSpec(SmallShareGpt(), 1, true));
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(source->dataset_size(), 4u);  // "no-answer" is skipped too.
  std::map<std::string, int64_t> max_tokens;
  for (uint64_t i = 0; i < 4; ++i) max_tokens[source->Get(i).text] = source->Get(i).max_tokens;
  const std::map<std::string, int64_t> expected = {
      {"What is the capital of France?", 6},
      {"Tell me a joke about cats", 9},
      {"Brackets ] and } and \\\" quotes \" inside", 1},  // Empty answer: at least 1.
      {"Unicode caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD ok", 7},
  };
  EXPECT_EQ(max_tokens, expected);
}

TEST(ShareGptPromptsTest, OrderIsASeededPermutation) {
  std::vector<std::string> orders;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    std::unique_ptr<PromptSource> a = MustCreate(ShareGptSpec(SmallShareGpt(), seed, false));
    std::unique_ptr<PromptSource> b = MustCreate(ShareGptSpec(SmallShareGpt(), seed, false));
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    std::string order;
    for (uint64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(a->Get(i).text, b->Get(i).text);
      absl::StrAppend(&order, a->Get(i).text, "|");
    }
    orders.push_back(order);
  }
  EXPECT_GT(std::set<std::string>(orders.begin(), orders.end()).size(), 1u);
}

// Large enough that the reader's 1 MiB chunks split entries, strings and escapes.
TEST(ShareGptPromptsTest, ReadsAFileLargerThanOneChunk) {
  std::string content = "[";
  constexpr int kEntries = 3000;
  for (int i = 0; i < kEntries; ++i) {
    if (i > 0) content += ",\n";
    absl::StrAppend(&content, "{\"id\": \"e", i, "\", \"conversations\": [",
                    "{\"from\": \"human\", \"value\": \"question ", i,
                    " with \\\"quoted\\\" ] } [ { text and padding",
                    std::string(static_cast<size_t>(200 + i % 300), 'x'), "\"}, ",
                    "{\"from\": \"gpt\", \"value\": \"",
                    std::string(static_cast<size_t>(i % 5), 'a'), i % 5 == 0 ? "" : " b", "\"}]}");
  }
  content += "]\n";
  ASSERT_GT(content.size(), 1u << 20);
  const std::string path = WriteTempFile("large_sharegpt.json", content);
  std::unique_ptr<PromptSource> source = MustCreate(ShareGptSpec(path, 4, true));
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(source->dataset_size(), static_cast<size_t>(kEntries));
  std::set<std::string> seen;
  for (uint64_t i = 0; i < kEntries; ++i) {
    const Prompt prompt = source->Get(i);
    const std::vector<std::string> words = Words(prompt.text);
    ASSERT_GE(words.size(), 2u);
    const int entry = std::stoi(words[1]);
    EXPECT_EQ(prompt.max_tokens, entry % 5 == 0 ? 1 : 2) << entry;
    EXPECT_THAT(prompt.text, HasSubstr("with \"quoted\" ] } [ {"));
    seen.insert(words[1]);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kEntries));
}

TEST(ShareGptPromptsTest, BadContentIsInvalidArgumentNamingTheEntry) {
  const std::string ok_entry = "{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}";
  struct Case {
    std::string name;
    std::string content;
    std::string what;
  };
  const std::vector<Case> cases = {
      {"object.json", "{\"conversations\": []}", "must be a JSON array"},
      {"unclosed.json", "[" + ok_entry + ", " + ok_entry, "not closed"},
      {"string_conversations.json", "[" + ok_entry + ", {\"conversations\": \"hi\"}]",
       "entry 1: \"conversations\" must be an array"},
      {"number_value.json",
       "[" + ok_entry + "," + ok_entry +
           ", {\"conversations\": [{\"from\": \"human\", "
           "\"value\": 3}]}]",
       "entry 2: \"conversations\"[0].value must be a string"},
      {"scalar_entry.json", "[" + ok_entry + ", 17]", "entry 1: must be an object"},
      {"broken_entry.json", "[{\"conversations\": [}]", "entry 0: not valid JSON"},
      {"trailing.json", "[" + ok_entry + "] x", "after the array"},
      {"no_human.json", "[{\"conversations\": [{\"from\": \"gpt\", \"value\": \"a\"}]}]",
       "no usable conversations"},
      {"empty_array.json", "[]", "no usable conversations"},
  };
  for (const Case& bad : cases) {
    const std::string path = WriteTempFile(bad.name, bad.content);
    absl::Status status = PromptSource::Create(ShareGptSpec(path, 1, false)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad.name;
    EXPECT_THAT(status.message(), HasSubstr(path)) << bad.name;
    EXPECT_THAT(status.message(), HasSubstr(bad.what)) << bad.name;
  }
  const std::string missing = (std::filesystem::path(::testing::TempDir()) / "none.json").string();
  absl::Status status = PromptSource::Create(ShareGptSpec(missing, 1, false)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(missing));
}

}  // namespace
}  // namespace bench::engine

namespace bench::engine {
namespace {

TEST(DatasetPromptsTest, PrefixGroupsPrecedeDatasetPrompts) {
  PromptSpec spec = FileSpec((TestdataDir() / "small.jsonl").string());
  spec.prefix_ratio = 1.0;
  spec.prefix_groups = 2;
  std::unique_ptr<PromptSource> plain =
      MustCreate(FileSpec((TestdataDir() / "small.jsonl").string()));
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  ASSERT_NE(plain, nullptr);
  ASSERT_GT(source->prefix_words(), 0);
  std::map<uint32_t, std::string> group_prefix;
  int merged = 0;
  for (uint64_t i = 0; i < 2 * plain->dataset_size(); ++i) {
    const Prompt with = source->Get(i);
    const Prompt without = plain->Get(i);
    ASSERT_EQ(with.prefix_group, i % 2);
    // The prefix, a newline, then the dataset's own text, counted in input_tokens.
    const size_t newline = with.text.find('\n');
    ASSERT_NE(newline, std::string::npos) << with.text;
    const std::string prefix = with.text.substr(0, newline);
    EXPECT_EQ(with.text.substr(newline + 1), without.text);
    EXPECT_EQ(static_cast<int64_t>(Words(prefix).size()), source->prefix_words());
    EXPECT_EQ(with.input_tokens, without.input_tokens + source->prefix_words());
    EXPECT_EQ(with.max_tokens, without.max_tokens);
    auto [it, inserted] = group_prefix.emplace(with.prefix_group, prefix);
    if (!inserted) {
      EXPECT_EQ(it->second, prefix) << i;
    }
    // Chat messages get it at the start of their system message, or as one of its own; the
    // rest is the dataset's.
    const std::string system = R"([{"role":"system","content":")";
    if (without.messages_json.rfind(system, 0) == 0) {
      EXPECT_EQ(with.messages_json,
                absl::StrCat(system, prefix, "\\n", without.messages_json.substr(system.size())));
      ++merged;
    } else if (!without.messages_json.empty()) {
      EXPECT_EQ(with.messages_json,
                absl::StrCat(system, prefix, R"("},)", without.messages_json.substr(1)));
    }
  }
  ASSERT_EQ(group_prefix.size(), 2u);
  EXPECT_NE(group_prefix[0], group_prefix[1]);
  EXPECT_GT(merged, 0);  // small.jsonl has a line with a system message
}

TEST(DatasetPromptsTest, ShareGptPromptsTakeAPrefixToo) {
  PromptSpec spec = ShareGptSpec(SmallShareGpt(), 1, false);
  spec.prefix_ratio = 0.5;
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  ASSERT_GT(source->prefix_words(), 0);
  const std::string first = source->Get(0).text;
  const std::string second = source->Get(1).text;
  EXPECT_EQ(first.substr(0, first.find('\n')), second.substr(0, second.find('\n')));
}

// ---- conversations -------------------------------------------------------------------------

TEST(ConversationPromptsTest, SyntheticTurnsAreDeterministicAndFollowTheirDistributions) {
  PromptSpec spec = SyntheticSpec(7);
  spec.conversation = true;
  spec.turns = {3, 1.5, 1, 6};
  spec.prefix_ratio = 0.2;
  std::unique_ptr<PromptSource> a = MustCreate(spec);
  std::unique_ptr<PromptSource> b = MustCreate(spec);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::map<int64_t, int> counts;
  for (uint64_t index = 0; index < 400; ++index) {
    const int64_t turns = a->TurnCount(index);
    ASSERT_GE(turns, 1);
    ASSERT_LE(turns, 6);
    ASSERT_EQ(b->TurnCount(index), turns);
    ++counts[turns];
    EXPECT_EQ(a->GetTurn(index, 0).text, a->Get(index).text) << "turn 0 is the plain prompt";
    std::set<std::string> texts;
    for (int64_t turn = 0; turn < turns; ++turn) {
      const Prompt prompt = a->GetTurn(index, turn);
      EXPECT_EQ(prompt.text, b->GetTurn(index, turn).text);
      EXPECT_EQ(prompt.input_tokens, CountWords(prompt.text));
      EXPECT_GE(prompt.max_tokens, 1);
      texts.insert(prompt.text);
    }
    EXPECT_EQ(texts.size(), static_cast<size_t>(turns)) << "every turn says something new";
  }
  EXPECT_GE(counts.size(), 4u) << "turn counts vary with stddev 1.5";
  // Only the first turn carries the shared prefix.
  const std::string prefix = a->Get(0).text.substr(0, a->Get(0).text.find(' '));
  EXPECT_EQ(a->Get(1).text.substr(0, prefix.size()), prefix);
  EXPECT_NE(a->GetTurn(1, 1).text, a->GetTurn(2, 1).text);
}

TEST(ConversationPromptsTest, ShareGptRecordsRunTurnByTurnUpToTheCap) {
  const std::string path = WriteTempFile("chats.json", R"([
    {"conversations": [{"from": "human", "value": "a1"}, {"from": "gpt", "value": "x y"},
                       {"from": "human", "value": "a2 b"}, {"from": "gpt", "value": "x y z"},
                       {"from": "human", "value": "a3"}, {"from": "gpt", "value": "w"}]},
    {"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "b1"},
                       {"from": "human", "value": "ignored: no answer between"},
                       {"from": "gpt", "value": "one two three four"},
                       {"from": "human", "value": "b2 unanswered"}]},
    {"conversations": [{"from": "gpt", "value": "no human turn"}]}
  ])");
  PromptSpec spec = ShareGptSpec(path, 3, true);
  spec.conversation = true;
  spec.turns = {1, 0, 1, 2};  // max 2 caps the first record's three turns
  std::unique_ptr<PromptSource> source = MustCreate(spec);
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(source->dataset_size(), 2u);
  using Turns = std::vector<std::pair<std::string, int64_t>>;
  std::map<std::string, Turns> by_first;
  for (uint64_t index = 0; index < 2; ++index) {
    Turns turns;
    for (int64_t turn = 0; turn < source->TurnCount(index); ++turn) {
      const Prompt prompt = source->GetTurn(index, turn);
      turns.emplace_back(prompt.text, prompt.max_tokens);
    }
    by_first[turns.front().first] = turns;
  }
  EXPECT_EQ(by_first["a1"], (Turns{{"a1", 2}, {"a2 b", 3}}));
  EXPECT_EQ(by_first["b1"], (Turns{{"b1", 4}})) << "the unanswered turn is dropped";

  // Without conversations the same file gives first turns only.
  spec.conversation = false;
  std::unique_ptr<PromptSource> single = MustCreate(spec);
  ASSERT_NE(single, nullptr);
  EXPECT_EQ(single->TurnCount(0), 1);
}

TEST(ConversationPromptsTest, RefusesJsonlFilesAndBadTurnCounts) {
  PromptSpec spec = SyntheticSpec(1);
  spec.conversation = true;
  spec.turns = {3, 0, 4, 2};  // max below min
  EXPECT_FALSE(PromptSource::Create(spec).ok());
  spec.turns = {3, 0, 1, 6};
  spec.source = PromptSpec::Source::kFile;
  spec.dataset_path = WriteTempFile("one.jsonl", "{\"prompt\": \"a\"}\n");
  EXPECT_THAT(PromptSource::Create(spec).status().message(), HasSubstr("not a JSONL file"));
}

}  // namespace
}  // namespace bench::engine
