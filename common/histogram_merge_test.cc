// The exact-merge property (SPEC section 4): samples split at random across N worker shards,
// each shard encoded, decoded and merged, give bucket for bucket the histogram of all samples.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/histogram.h"
#include "common/histogram_codec.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

enum class Distribution { kUniform, kExponential, kLognormal, kBimodal, kPareto };

std::string Name(Distribution d) {
  switch (d) {
    case Distribution::kUniform:
      return "uniform";
    case Distribution::kExponential:
      return "exponential";
    case Distribution::kLognormal:
      return "lognormal";
    case Distribution::kBimodal:
      return "bimodal";
    case Distribution::kPareto:
      return "pareto";
  }
  return "?";
}

// Latency-like samples in microseconds. Pareto's tail (alpha 0.6, infinite mean) reaches past
// the highest trackable value, so clamped samples are part of the property too.
std::vector<int64_t> Draw(Distribution d, int n, std::mt19937_64& rng) {
  std::vector<int64_t> samples;
  samples.reserve(n);
  std::uniform_int_distribution<int64_t> uniform(0, 10'000'000);
  std::exponential_distribution<double> exponential(1.0 / 150'000);
  std::lognormal_distribution<double> lognormal(std::log(200'000.0), 0.7);
  std::normal_distribution<double> fast(3'000, 500);
  std::normal_distribution<double> slow(2'000'000, 300'000);
  std::bernoulli_distribution coin(0.3);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    double value = 0;
    switch (d) {
      case Distribution::kUniform:
        value = static_cast<double>(uniform(rng));
        break;
      case Distribution::kExponential:
        value = exponential(rng);
        break;
      case Distribution::kLognormal:
        value = lognormal(rng);
        break;
      case Distribution::kBimodal:
        value = coin(rng) ? slow(rng) : fast(rng);
        break;
      case Distribution::kPareto:
        value = 500.0 / std::pow(1.0 - unit(rng), 1.0 / 0.6);
        break;
    }
    samples.push_back(static_cast<int64_t>(std::clamp(value, 0.0, 9e18)));
  }
  return samples;
}

struct Case {
  Distribution distribution;
  int samples;
  int shards;
  uint64_t seed;
};

void CheckExactMerge(const Case& c) {
  SCOPED_TRACE(absl::StrCat("distribution=", Name(c.distribution), " samples=", c.samples,
                            " shards=", c.shards, " seed=", c.seed));
  std::mt19937_64 rng(c.seed);
  const std::vector<int64_t> samples = Draw(c.distribution, c.samples, rng);

  // Uneven split: each sample picks a shard with probability proportional to a random weight,
  // so some shards are large and some empty.
  std::vector<double> weights(c.shards);
  std::exponential_distribution<double> weight(1.0);
  for (double& w : weights) w = weight(rng);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  std::vector<std::vector<int64_t>> shard_samples(c.shards);
  Histogram whole;
  for (int64_t sample : samples) {
    ASSERT_TRUE(whole.Record(sample));
    shard_samples[pick(rng)].push_back(sample);
  }

  // One shard at a time, as workers would send them (and so memory stays small).
  Histogram merged;
  Histogram merged_in_memory;
  Histogram shard;
  for (const std::vector<int64_t>& values : shard_samples) {
    shard.Reset();
    for (int64_t v : values) ASSERT_TRUE(shard.Record(v));
    absl::StatusOr<Histogram> decoded = DecodeCompressed(EncodeCompressed(shard));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_TRUE(merged.Add(*decoded).ok());
    ASSERT_TRUE(merged_in_memory.Add(shard).ok());
  }

  EXPECT_TRUE(merged == whole) << "merged shards differ from the whole histogram";
  EXPECT_EQ(merged.TotalCount(), static_cast<int64_t>(samples.size()));
  EXPECT_EQ(merged.TotalCount(), whole.TotalCount());
  EXPECT_EQ(merged.Min(), whole.Min());
  EXPECT_EQ(merged.Max(), whole.Max());
  EXPECT_EQ(merged.Mean(), whole.Mean());
  EXPECT_EQ(merged.StdDev(), whole.StdDev());
  for (double p : {0.0, 1.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0}) {
    EXPECT_EQ(merged.ValueAtPercentile(p), whole.ValueAtPercentile(p)) << "p" << p;
  }
  // The clamped count is not part of the HdrHistogram encoding; it merges only in memory.
  EXPECT_TRUE(merged_in_memory == whole);
  EXPECT_EQ(merged_in_memory.clamped_count(), whole.clamped_count());
  if (c.distribution == Distribution::kPareto && c.samples >= 100'000) {
    EXPECT_GT(whole.clamped_count(), 0) << "the tail should reach past one hour";
  }
}

TEST(HistogramMergeTest, ShardsMergeExactlyAfterEncoding) {
  const Distribution all[] = {Distribution::kUniform, Distribution::kExponential,
                              Distribution::kLognormal, Distribution::kBimodal,
                              Distribution::kPareto};
  uint64_t seed = 1000;
  for (Distribution d : all) {
    CheckExactMerge({d, 1'000'000, 1'000, ++seed});  // The largest case.
    CheckExactMerge({d, 50'000, 37, ++seed});
    CheckExactMerge({d, 10, 1'000, ++seed});  // Mostly empty shards.
    CheckExactMerge({d, 2'000, 1, ++seed});
  }
}

TEST(HistogramMergeTest, RandomShapes) {
  // Random sizes and shard counts; each case's seed is printed on failure.
  std::mt19937_64 meta(77);
  for (int i = 0; i < 10; ++i) {
    const Case c{static_cast<Distribution>(meta() % 5), static_cast<int>(meta() % 200'000),
                 1 + static_cast<int>(meta() % 1'000), meta()};
    CheckExactMerge(c);
  }
}

}  // namespace
}  // namespace bench
