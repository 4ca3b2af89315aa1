#include "sim/model.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "gtest/gtest.h"
#include "worker/engine/prompts.h"

namespace bench::sim {
namespace {

SimConfig Config() {
  SimConfig config;
  config.max_model_len = 1000;
  return config;
}

TEST(HashTest, StableForInputsAndSeeds) {
  EXPECT_EQ(HashBytes("body", 1), HashBytes("body", 1));
  EXPECT_NE(HashBytes("body", 1), HashBytes("body", 2));
  EXPECT_NE(HashBytes("body", 1), HashBytes("bodz", 1));
  EXPECT_NE(Mix64(1), Mix64(2));
  for (uint64_t bits : {uint64_t{0}, ~uint64_t{0}, Mix64(3)}) {
    const double u = UnitInterval(bits);
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

TEST(PlanOutputTest, IgnoreEosGivesExactlyMaxTokens) {
  OutputPlanInput input;
  input.prompt_tokens = 100;
  input.max_tokens = 37;
  input.ignore_eos = true;
  for (uint64_t key = 0; key < 50; ++key) {
    input.request_key = key;
    const OutputPlan plan = PlanOutput(Config(), input);
    EXPECT_EQ(plan.completion_tokens, 37);
    EXPECT_TRUE(plan.stopped_by_length);
  }
}

TEST(PlanOutputTest, IgnoreEosWithoutMaxTokensFillsTheContext) {
  OutputPlanInput input;
  input.prompt_tokens = 100;
  input.ignore_eos = true;
  const OutputPlan plan = PlanOutput(Config(), input);
  EXPECT_EQ(plan.completion_tokens, 900);
  EXPECT_TRUE(plan.stopped_by_length);
}

TEST(PlanOutputTest, DrawWithMaxTokensCoversTheRangeAndRespectsMinTokens) {
  OutputPlanInput input;
  input.prompt_tokens = 10;
  input.max_tokens = 8;
  input.min_tokens = 3;
  std::set<int64_t> seen;
  for (uint64_t key = 0; key < 2000; ++key) {
    input.request_key = Mix64(key);
    const OutputPlan plan = PlanOutput(Config(), input);
    ASSERT_GE(plan.completion_tokens, 3);
    ASSERT_LE(plan.completion_tokens, 8);
    EXPECT_EQ(plan.stopped_by_length, plan.completion_tokens == 8);
    seen.insert(plan.completion_tokens);
    // Deterministic for the key.
    ASSERT_EQ(PlanOutput(Config(), input).completion_tokens, plan.completion_tokens);
  }
  EXPECT_EQ(seen, (std::set<int64_t>{3, 4, 5, 6, 7, 8}));
}

TEST(PlanOutputTest, WithoutMaxTokensTheMeanIsAboutForty) {
  OutputPlanInput input;
  input.prompt_tokens = 10;
  double sum = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    input.request_key = Mix64(static_cast<uint64_t>(i) + 99);
    const OutputPlan plan = PlanOutput(Config(), input);
    ASSERT_GE(plan.completion_tokens, 1);
    ASSERT_LE(plan.completion_tokens, 990);
    sum += static_cast<double>(plan.completion_tokens);
  }
  // Normal(40, 20) clamped below at 1 raises the mean a little (about 40.2); the standard error
  // of the mean is about 0.14.
  EXPECT_NEAR(sum / n, 40.2, 1.0);
}

TEST(PlanOutputTest, CapIsTheRoomLeftInTheContext) {
  OutputPlanInput input;
  input.prompt_tokens = 995;
  input.max_tokens = 50;
  input.ignore_eos = true;
  EXPECT_EQ(PlanOutput(Config(), input).completion_tokens, 5);
}

TEST(PlanOutputTest, EchoWithoutMaxTokensStopsAfterTheEcho) {
  OutputPlanInput input;
  input.prompt_tokens = 10;
  input.echo_tokens = 7;
  const OutputPlan plan = PlanOutput(Config(), input);
  EXPECT_EQ(plan.completion_tokens, 7);
  EXPECT_FALSE(plan.stopped_by_length);
}

TEST(LatencyModelTest, PrefillFromOverheadAndPerTokenOrFixed) {
  SimConfig config;
  config.prefill_overhead = absl::Milliseconds(3);
  config.prefill_per_token = absl::Microseconds(20);
  EXPECT_EQ(LatencyModel(config).PrefillNs(500), 3'000'000 + 500 * 20'000);
  EXPECT_EQ(LatencyModel(config).PrefillNs(0), 3'000'000);
  config.ttft = absl::Milliseconds(50);
  EXPECT_EQ(LatencyModel(config).PrefillNs(500), 50'000'000);
}

TEST(LatencyModelTest, GapIsItlWithSlowdownPerRunningSequence) {
  SimConfig config;
  config.itl = absl::Milliseconds(10);
  EXPECT_EQ(LatencyModel(config).TokenGapNs(1, 1, 1), 10'000'000);
  EXPECT_EQ(LatencyModel(config).TokenGapNs(1, 1, 50), 10'000'000);
  config.itl_slowdown = 0.1;
  EXPECT_EQ(LatencyModel(config).TokenGapNs(1, 1, 1), 10'000'000);
  EXPECT_EQ(LatencyModel(config).TokenGapNs(1, 1, 5), 14'000'000);
}

// The transfer is the same in both modes: aggregated, it times the requests whose prefill was
// remote (kv_transfer_params.do_remote_prefill).
TEST(LatencyModelTest, KvTransferIsFixedPlusPerPromptTokenInBothModes) {
  SimConfig config;
  EXPECT_EQ(LatencyModel(config).KvTransferNs(100), 0);  // Unset settings: no transfer time.
  config.kv_transfer_latency = absl::Milliseconds(20);
  config.kv_transfer_per_token = absl::Microseconds(100);
  for (const bool disaggregated : {false, true}) {
    config.disaggregated = disaggregated;
    const LatencyModel model(config);
    EXPECT_EQ(model.disaggregated(), disaggregated);
    EXPECT_EQ(model.KvTransferNs(100), 20'000'000 + 100 * 100'000);
    EXPECT_EQ(model.KvTransferNs(0), 20'000'000);
    EXPECT_EQ(model.KvTransferNs(-5), 20'000'000);
  }
  config.kv_transfer_latency.reset();
  EXPECT_EQ(LatencyModel(config).KvTransferNs(1234), 1234 * 100'000);
  // The transfer does not depend on the prefill settings, --ttft included.
  config.ttft = absl::Milliseconds(100);
  config.prefill_per_token = absl::Milliseconds(1);
  EXPECT_EQ(LatencyModel(config).KvTransferNs(1234), 1234 * 100'000);
  EXPECT_EQ(LatencyModel(config).PrefillNs(1234), 100'000'000);
}

TEST(LatencyModelTest, DisaggregatedPrefillTimeIsTheAggregatedOne) {
  SimConfig config;
  config.prefill_overhead = absl::Milliseconds(3);
  config.prefill_per_token = absl::Microseconds(20);
  const int64_t aggregated = LatencyModel(config).PrefillNs(500);
  config.disaggregated = true;
  config.kv_transfer_latency = absl::Milliseconds(7);
  EXPECT_EQ(LatencyModel(config).PrefillNs(500), aggregated);
  EXPECT_EQ(aggregated, 13'000'000);
}

// 8 sequences in prefill and 2 decoding: aggregated, all 10 share the batch and slow each
// decode step; disaggregated, the prefills run on their own instance and only the 2 count.
TEST(LatencyModelTest, PrefillsSlowDecodeOnlyWhenAggregated) {
  SimConfig config;
  config.itl = absl::Milliseconds(10);
  config.itl_slowdown = 0.1;
  const int64_t running = 10;  // Aggregated scheduler: prefilling + decoding.
  const int64_t decode_running = 2;
  const LatencyModel aggregated(config);
  EXPECT_EQ(aggregated.DecodeLoad(running, 0), 10);
  EXPECT_EQ(aggregated.TokenGapNs(1, 1, aggregated.DecodeLoad(running, 0)), 19'000'000);
  config.disaggregated = true;
  const LatencyModel disaggregated(config);
  EXPECT_EQ(disaggregated.DecodeLoad(8, decode_running), 2);
  EXPECT_EQ(disaggregated.TokenGapNs(1, 1, disaggregated.DecodeLoad(8, decode_running)),
            11'000'000);
}

TEST(LatencyModelTest, JitterIsBoundedCenteredAndDeterministic) {
  SimConfig config;
  config.itl = absl::Milliseconds(10);
  config.itl_jitter = absl::Milliseconds(2);
  const LatencyModel model(config);
  double sum = 0;
  int64_t low = INT64_MAX;
  int64_t high = 0;
  const int n = 10000;
  for (int i = 1; i <= n; ++i) {
    const int64_t gap = model.TokenGapNs(77, i, 1);
    ASSERT_EQ(gap, model.TokenGapNs(77, i, 1));
    low = std::min(low, gap);
    high = std::max(high, gap);
    sum += static_cast<double>(gap);
  }
  EXPECT_GE(low, 8'000'000);
  EXPECT_LE(high, 12'000'000);
  EXPECT_LT(low, 8'100'000);  // The whole band is used.
  EXPECT_GT(high, 11'900'000);
  EXPECT_NEAR(sum / n, 10'000'000, 30'000);
}

TEST(OutputTextTest, RandomWordsAreSeededVocabularyWords) {
  const OutputText a = OutputText::Random(5);
  const OutputText b = OutputText::Random(5);
  const OutputText c = OutputText::Random(6);
  const auto& vocabulary = engine::SyntheticVocabulary();
  int differences = 0;
  for (int64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(a.Token(i), b.Token(i));
    EXPECT_NE(std::find(vocabulary.begin(), vocabulary.end(), a.Token(i)), vocabulary.end());
    if (a.Token(i) != c.Token(i)) ++differences;
  }
  EXPECT_GT(differences, 80);
}

TEST(OutputTextTest, DeltasCarryALeadingSpaceAfterTheFirst) {
  const OutputText text = OutputText::Echo("one two, three", 0);
  std::string out;
  for (int64_t i = 0; i < 6; ++i) text.AppendDelta(i, out);
  EXPECT_EQ(out, "one two , three one two");
  EXPECT_EQ(text.echo_token_count(), 4);
}

TEST(OutputTextTest, EchoOfNothingFallsBackToWords) {
  const OutputText text = OutputText::Echo("   ", 3);
  EXPECT_EQ(text.echo_token_count(), 0);
  EXPECT_EQ(text.Token(0), OutputText::Random(3).Token(0));
}

}  // namespace
}  // namespace bench::sim
