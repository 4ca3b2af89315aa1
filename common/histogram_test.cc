#include "common/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

using ::testing::HasSubstr;

Histogram MakeHistogram(int64_t lowest, int64_t highest, int digits) {
  absl::StatusOr<Histogram> histogram = Histogram::Create(lowest, highest, digits);
  EXPECT_TRUE(histogram.ok()) << histogram.status();
  return *std::move(histogram);
}

// Layout numbers derived by hand from HdrHistogram's definitions, not from our code:
//   sub_bucket_count = 2^ceil(log2(2 * 10^digits)) (2000 -> 2048 for 3 digits);
//   bucket k (k >= 0) covers [0, sub_bucket_count * 2^k) times 2^unit_magnitude;
//   bucket_count = 1 + the smallest k with sub_bucket_count * 2^(unit + k) > highest;
//   counts_length = (bucket_count + 1) * sub_bucket_count / 2.
// 1..3,600,000,000, 3 digits: 2048 * 2^k > 3.6e9 first at k = 21 (2^32 = 4.29e9 > 3.6e9 >=
// 2^31), so 22 buckets and 23 * 1024 = 23552 counts; HdrHistogram's C test suite asserts the
// same 23552 for this layout.
TEST(HistogramLayoutTest, DefaultLayoutMatchesHdrHistogram) {
  const Histogram histogram;
  EXPECT_EQ(histogram.lowest_discernible_value(), 1);
  EXPECT_EQ(histogram.highest_trackable_value(), 3'600'000'000);
  EXPECT_EQ(histogram.significant_digits(), 3);
  EXPECT_EQ(histogram.unit_magnitude(), 0);
  EXPECT_EQ(histogram.sub_bucket_half_count_magnitude(), 10);
  EXPECT_EQ(histogram.sub_bucket_count(), 2048);
  EXPECT_EQ(histogram.bucket_count(), 22);
  EXPECT_EQ(histogram.counts_length(), 23552);
}

TEST(HistogramLayoutTest, OtherLayoutsMatchHandDerivation) {
  // 2 digits: 200 -> 256 sub-buckets; 256 * 2^k > 3.6e9 first at k = 24: 25 buckets,
  // 26 * 128 = 3328 counts.
  const Histogram two_digits = MakeHistogram(1, 3'600'000'000, 2);
  EXPECT_EQ(two_digits.sub_bucket_count(), 256);
  EXPECT_EQ(two_digits.bucket_count(), 25);
  EXPECT_EQ(two_digits.counts_length(), 3328);

  // lowest 1000: unit magnitude floor(log2(1000)) = 9; 2048 * 2^(9 + k) > 3.6e9 first at
  // k = 12: 13 buckets, 14 * 1024 = 14336 counts.
  const Histogram coarse = MakeHistogram(1000, 3'600'000'000, 3);
  EXPECT_EQ(coarse.unit_magnitude(), 9);
  EXPECT_EQ(coarse.bucket_count(), 13);
  EXPECT_EQ(coarse.counts_length(), 14336);

  // 0 digits: 2 sub-buckets, half count 1; 2 * 2^k > 1000 first at k = 9: 10 buckets, 11 counts.
  const Histogram zero_digits = MakeHistogram(1, 1000, 0);
  EXPECT_EQ(zero_digits.sub_bucket_count(), 2);
  EXPECT_EQ(zero_digits.bucket_count(), 10);
  EXPECT_EQ(zero_digits.counts_length(), 11);

  // 5 digits over 1 h: 200000 -> 2^18 sub-buckets; 2^18 * 2^k > 3.6e9 first at k = 14:
  // 15 buckets, 16 * 2^17 = 2^21 counts, exactly the cap.
  const Histogram five_digits = MakeHistogram(1, 3'600'000'000, 5);
  EXPECT_EQ(five_digits.sub_bucket_count(), 1 << 18);
  EXPECT_EQ(five_digits.counts_length(), Histogram::kMaxCountsLength);
}

TEST(HistogramLayoutTest, RejectsBadParameters) {
  EXPECT_EQ(Histogram::Create(0, 1000, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Histogram::Create(-5, 1000, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Histogram::Create(10, 19, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Histogram::Create(10, 20, 3).ok());
  EXPECT_EQ(Histogram::Create(1, 1000, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Histogram::Create(1, 1000, 6).status().code(), absl::StatusCode::kInvalidArgument);
  // One bucket more than the cap allows (see the 5-digit case above).
  const absl::Status too_big = Histogram::Create(1, 7'200'000'000, 5).status();
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_big.message()), HasSubstr("counts"));
  EXPECT_EQ(Histogram::Create(1, std::numeric_limits<int64_t>::max(), 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The whole int64 range at 3 digits is fine; its top bucket ends exactly at INT64_MAX.
  Histogram full_range = MakeHistogram(1, std::numeric_limits<int64_t>::max(), 3);
  EXPECT_TRUE(full_range.Record(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(full_range.Max(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(full_range.clamped_count(), 0);
}

// Bucket boundaries with 3 digits, derived by hand: values below 2048 have unit resolution;
// [2^(10+k), 2^(11+k)) is split in steps of 2^k.
TEST(HistogramTest, EquivalentValueRanges) {
  const Histogram h;
  EXPECT_EQ(h.LowestEquivalentValue(2047), 2047);
  EXPECT_EQ(h.HighestEquivalentValue(2047), 2047);
  EXPECT_EQ(h.LowestEquivalentValue(2049), 2048);  // [2048, 4096): steps of 2.
  EXPECT_EQ(h.HighestEquivalentValue(2048), 2049);
  EXPECT_EQ(h.HighestEquivalentValue(8180), 8183);  // [4096, 8192): steps of 4.
  EXPECT_EQ(h.HighestEquivalentValue(8191), 8191);
  EXPECT_EQ(h.HighestEquivalentValue(8193), 8199);  // [8192, 16384): steps of 8.
  EXPECT_EQ(h.LowestEquivalentValue(10007), 10000);
  EXPECT_EQ(h.HighestEquivalentValue(10007), 10007);
  EXPECT_EQ(h.LowestEquivalentValue(10009), 10008);
  EXPECT_EQ(h.MedianEquivalentValue(10009), 10012);
  EXPECT_EQ(h.SizeOfEquivalentValueRange(1'000'000), 512);  // [2^19, 2^20): steps of 2^9.
  // Every value's index maps back to the value's lowest equivalent.
  for (int64_t value : {0L, 1L, 1023L, 1024L, 2048L, 65535L, 1'000'000L, 3'600'000'000L}) {
    EXPECT_EQ(h.ValueFromIndex(h.CountsIndexFor(value)), h.LowestEquivalentValue(value)) << value;
  }
  // 3.6e9 is in bucket 21 ([2^31, 2^32), steps of 2^21) at sub-bucket 3.6e9 / 2^21 = 1716:
  // index (21 + 1) * 1024 + 1716 - 1024 = 23220.
  EXPECT_EQ(h.CountsIndexFor(3'600'000'000), 23220);
}

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  const Histogram h;
  EXPECT_EQ(h.TotalCount(), 0);
  EXPECT_EQ(h.Min(), 0);
  EXPECT_EQ(h.Max(), 0);
  EXPECT_EQ(h.Mean(), 0.0);
  EXPECT_EQ(h.StdDev(), 0.0);
  EXPECT_EQ(h.ValueAtPercentile(50), 0);
  EXPECT_EQ(h.MaxNonZeroIndex(), -1);
  EXPECT_TRUE(h.NonZeroBuckets().empty());
}

TEST(HistogramTest, RejectsNegativeValuesAndCounts) {
  Histogram h;
  EXPECT_FALSE(h.Record(-1));
  EXPECT_FALSE(h.Record(std::numeric_limits<int64_t>::min()));
  EXPECT_FALSE(h.RecordN(-7, 3));
  EXPECT_FALSE(h.RecordN(7, -3));
  EXPECT_EQ(h.TotalCount(), 0);
  EXPECT_EQ(h.clamped_count(), 0);
  EXPECT_EQ(h, Histogram());
  EXPECT_TRUE(h.RecordN(7, 0));  // Valid, records nothing.
  EXPECT_EQ(h.TotalCount(), 0);
  EXPECT_EQ(h.MaxNonZeroIndex(), -1);
}

TEST(HistogramTest, ClampsValuesAboveHighestTrackable) {
  Histogram h = MakeHistogram(1, 1'000'000, 3);
  EXPECT_TRUE(h.Record(1'000'000));
  EXPECT_EQ(h.clamped_count(), 0);
  EXPECT_TRUE(h.Record(1'000'001));
  EXPECT_TRUE(h.Record(std::numeric_limits<int64_t>::max()));
  EXPECT_TRUE(h.RecordN(5'000'000, 4));
  EXPECT_EQ(h.clamped_count(), 6);
  EXPECT_EQ(h.TotalCount(), 7);
  // All seven sit in the bucket of the highest trackable value.
  EXPECT_EQ(h.CountAtIndex(h.CountsIndexFor(1'000'000)), 7);
  EXPECT_EQ(h.Max(), h.HighestEquivalentValue(1'000'000));
  EXPECT_GE(h.Max(), 1'000'000);
  EXPECT_EQ(h.ValueAtPercentile(100), h.Max());
}

TEST(HistogramTest, RecordNEqualsRepeatedRecord) {
  Histogram by_n;
  Histogram one_by_one;
  for (int64_t value : {0L, 3L, 2500L, 123'456L, 99'999'999L}) {
    ASSERT_TRUE(by_n.RecordN(value, 5));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(one_by_one.Record(value));
  }
  EXPECT_EQ(by_n, one_by_one);
  EXPECT_EQ(by_n.TotalCount(), 25);
  EXPECT_EQ(by_n.Min(), 0);                                            // 0 was recorded.
  EXPECT_FALSE(by_n.RecordN(1, std::numeric_limits<int64_t>::max()));  // Total would overflow.
  EXPECT_EQ(by_n.TotalCount(), 25);
}

TEST(HistogramTest, MinAndMaxAreBucketBounds) {
  Histogram h;
  h.Record(5001);  // [4096, 8192) in steps of 4: bucket [5000, 5003].
  h.Record(2051);  // [2048, 4096) in steps of 2: bucket [2050, 2051].
  EXPECT_EQ(h.Min(), 2050);
  EXPECT_EQ(h.Max(), 5003);
  h.Record(0);
  EXPECT_EQ(h.Min(), 0);
}

// Seeded samples from several latency-like distributions (microseconds).
struct Sample {
  std::string name;
  std::vector<int64_t> values;
};

std::vector<Sample> Distributions(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<Sample> samples;
  auto draw = [&](const std::string& name, auto&& gen) {
    Sample s{name, {}};
    s.values.reserve(n);
    for (int i = 0; i < n; ++i) s.values.push_back(std::max<int64_t>(0, gen()));
    samples.push_back(std::move(s));
  };
  std::uniform_int_distribution<int64_t> uniform(0, 5'000'000);
  draw("uniform", [&] { return uniform(rng); });
  std::exponential_distribution<double> exponential(1.0 / 200'000);
  draw("exponential", [&] { return static_cast<int64_t>(exponential(rng)); });
  std::lognormal_distribution<double> lognormal(std::log(200'000.0), 1.0);
  draw("lognormal", [&] { return static_cast<int64_t>(lognormal(rng)); });
  std::normal_distribution<double> fast(5'000, 1'000);
  std::normal_distribution<double> slow(800'000, 100'000);
  std::bernoulli_distribution coin(0.5);
  draw("bimodal", [&] { return static_cast<int64_t>(coin(rng) ? fast(rng) : slow(rng)); });
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Pareto(x_m = 1000, alpha = 1.5), capped below the default highest trackable value.
  draw("pareto", [&] {
    const double x = 1000.0 / std::pow(1.0 - unit(rng), 1.0 / 1.5);
    return static_cast<int64_t>(std::min(x, 3.5e9));
  });
  return samples;
}

TEST(HistogramTest, StatisticsAgreeWithBruteForceWithinGuarantee) {
  constexpr uint64_t kSeed = 20240611;
  constexpr int kSamples = 20'000;
  for (const Sample& sample : Distributions(kSeed, kSamples)) {
    SCOPED_TRACE(absl::StrCat("distribution=", sample.name, " seed=", kSeed));
    Histogram h;
    for (int64_t v : sample.values) ASSERT_TRUE(h.Record(v));
    std::vector<int64_t> sorted = sample.values;
    std::sort(sorted.begin(), sorted.end());
    const int64_t n = static_cast<int64_t>(sorted.size());
    ASSERT_EQ(h.TotalCount(), n);

    // Percentiles given in thousandths of a percent so the rank is exact integer arithmetic:
    // rank = max(1, ceil(p/100 * n)).
    for (int64_t p_milli :
         {0L, 1'000L, 25'000L, 50'000L, 75'000L, 90'000L, 99'000L, 99'900L, 99'990L, 100'000L}) {
      const int64_t rank = std::max<int64_t>(1, (p_milli * n + 99'999) / 100'000);
      const int64_t exact = sorted[rank - 1];
      const int64_t got = h.ValueAtPercentile(static_cast<double>(p_milli) / 1000.0);
      SCOPED_TRACE(absl::StrCat("p=", p_milli / 1000.0, " exact=", exact, " got=", got));
      if (p_milli == 0) {
        EXPECT_LE(got, exact);
      } else {
        EXPECT_GE(got, exact);
      }
      EXPECT_LE(std::abs(got - exact), exact / 1000) << "beyond 0.1%";
      // Same bucket as the exact-rank sample.
      EXPECT_EQ(h.LowestEquivalentValue(got), h.LowestEquivalentValue(exact));
    }

    EXPECT_LE(h.Min(), sorted.front());
    EXPECT_LE(sorted.front() - h.Min(), sorted.front() / 1000);
    EXPECT_GE(h.Max(), sorted.back());
    EXPECT_LE(h.Max() - sorted.back(), sorted.back() / 1000);

    double sum = 0;
    for (int64_t v : sorted) sum += static_cast<double>(v);
    const double mean = sum / static_cast<double>(n);
    double squares = 0;
    double perturbation_squares = 0;  // Each value moves at most v/1000 to its bucket median.
    for (int64_t v : sorted) {
      squares += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
      perturbation_squares += (v / 1000.0) * (v / 1000.0);
    }
    const double stddev = std::sqrt(squares / static_cast<double>(n));
    EXPECT_NEAR(h.Mean(), mean, mean * 0.001);
    // |sd(x + d) - sd(x)| <= rms(d): a bound that holds whatever the distribution's shape.
    EXPECT_NEAR(h.StdDev(), stddev, std::sqrt(perturbation_squares / static_cast<double>(n)));
  }
}

TEST(HistogramTest, PercentileRoundingDoesNotSkipACount) {
  // 99.9% of 1000 is 999.0000000000001 in doubles; the answer is the 999th value, not the 1000th.
  Histogram h;
  for (int64_t v = 1; v <= 1000; ++v) h.Record(v);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 999);
  EXPECT_EQ(h.ValueAtPercentile(100), 1000);
  EXPECT_EQ(h.ValueAtPercentile(0), 1);
  EXPECT_EQ(h.ValueAtPercentile(0.05), 1);  // At least the first value.
  EXPECT_EQ(h.ValueAtPercentile(50), 500);
  EXPECT_EQ(h.ValueAtPercentile(150), 1000);  // Clamped to 100.
  EXPECT_EQ(h.ValueAtPercentile(-3), 1);
}

TEST(HistogramTest, SingleValueStatistics) {
  Histogram h;
  h.Record(123'456);  // [2^16, 2^17): steps of 64: [123456, 123519].
  EXPECT_EQ(h.Min(), 123'456);
  EXPECT_EQ(h.Max(), 123'519);
  EXPECT_EQ(h.ValueAtPercentile(0), 123'456);
  EXPECT_EQ(h.ValueAtPercentile(50), 123'519);
  EXPECT_EQ(h.Mean(), 123'488.0);  // Bucket median: lowest + 64 / 2.
  EXPECT_EQ(h.StdDev(), 0.0);
}

TEST(HistogramTest, AddSameLayoutIsExact) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> lognormal(std::log(50'000.0), 1.5);
  Histogram all;
  Histogram a;
  Histogram b;
  for (int i = 0; i < 10'000; ++i) {
    const int64_t v = static_cast<int64_t>(lognormal(rng));
    all.Record(v);
    (i % 3 == 0 ? a : b).Record(v);
  }
  a.Record(std::numeric_limits<int64_t>::max());  // One clamped value travels with the add.
  all.Record(std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(a.Add(b).ok());
  EXPECT_EQ(a, all);
  EXPECT_EQ(a.clamped_count(), 1);
  EXPECT_EQ(a.Min(), all.Min());
  EXPECT_EQ(a.Max(), all.Max());
  EXPECT_EQ(a.ValueAtPercentile(99), all.ValueAtPercentile(99));
  // Adding an empty histogram changes nothing.
  ASSERT_TRUE(a.Add(Histogram()).ok());
  EXPECT_EQ(a, all);
}

TEST(HistogramTest, AddDifferentLayoutReRecordsBucketValues) {
  Histogram fine;  // 3 digits.
  fine.Record(10'007);
  fine.RecordN(1'500'000, 3);
  fine.Record(0);
  Histogram coarse = MakeHistogram(1, 1'000'000, 2);
  ASSERT_TRUE(coarse.Add(fine).ok());
  // Each bucket re-recorded at its lowest value: 10000 (fine bucket [10000, 10007]) lands in
  // coarse's bucket of 10000; 1.5e6 is above coarse's range and clamps.
  Histogram expected = MakeHistogram(1, 1'000'000, 2);
  expected.Record(0);
  expected.Record(10'000);
  expected.RecordN(1'000'000, 3);
  EXPECT_EQ(coarse, expected);
  EXPECT_EQ(coarse.clamped_count(), 3);
  EXPECT_EQ(coarse.TotalCount(), 5);
}

TEST(HistogramTest, AddRefusesTotalOverflow) {
  Histogram a;
  ASSERT_TRUE(a.RecordN(10, std::numeric_limits<int64_t>::max() - 1));
  Histogram b;
  ASSERT_TRUE(b.RecordN(20, 2));
  const Histogram before = a;
  EXPECT_EQ(a.Add(b).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(a, before);
}

TEST(HistogramTest, ResetClearsCountsKeepsLayout) {
  Histogram h = MakeHistogram(1, 1'000'000, 2);
  h.Record(5);
  h.Record(2'000'000);
  h.Reset();
  EXPECT_EQ(h, MakeHistogram(1, 1'000'000, 2));
  EXPECT_EQ(h.clamped_count(), 0);
  EXPECT_EQ(h.Max(), 0);
  h.Record(42);
  EXPECT_EQ(h.Min(), 42);
  EXPECT_EQ(h.Max(), 42);
}

TEST(HistogramTest, EqualityNeedsSameLayout) {
  EXPECT_NE(Histogram(), MakeHistogram(1, 3'600'000'000, 2));
  EXPECT_NE(Histogram(), MakeHistogram(1, 3'600'000'001, 3));
  Histogram a;
  Histogram b;
  a.Record(100);
  EXPECT_NE(a, b);
  b.Record(100);
  EXPECT_EQ(a, b);
}

TEST(HistogramTest, NonZeroBucketsCoverEverything) {
  Histogram h;
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> exponential(1.0 / 30'000);
  for (int i = 0; i < 5'000; ++i) h.Record(static_cast<int64_t>(exponential(rng)));
  int64_t total = 0;
  int64_t previous_highest = -1;
  for (const Histogram::Bucket& bucket : h.NonZeroBuckets()) {
    EXPECT_GT(bucket.count, 0);
    EXPECT_GT(bucket.lowest_value, previous_highest);
    EXPECT_LE(bucket.lowest_value, bucket.highest_value);
    EXPECT_EQ(h.CountsIndexFor(bucket.highest_value), bucket.index);
    EXPECT_EQ(h.CountAtIndex(bucket.index), bucket.count);
    previous_highest = bucket.highest_value;
    total += bucket.count;
  }
  EXPECT_EQ(total, h.TotalCount());
  EXPECT_EQ(previous_highest, h.Max());
}

TEST(HistogramTest, AddCountAtIndexValidates) {
  Histogram h;
  EXPECT_EQ(h.AddCountAtIndex(-1, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.AddCountAtIndex(h.counts_length(), 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.AddCountAtIndex(3, -1).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(h.AddCountAtIndex(3, std::numeric_limits<int64_t>::max()).ok());
  EXPECT_EQ(h.AddCountAtIndex(4, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.TotalCount(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(h.Max(), 3);
}

}  // namespace
}  // namespace bench
