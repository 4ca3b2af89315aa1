#include "worker/engine/recorder.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace bench::engine {
namespace {

// A long response's gaps, folded past kMaxRawGaps, land in exactly the buckets that recording
// each gap would have filled.
TEST(ChunkGapsTest, FoldedGapsRecordLikeEachGap) {
  Recorder recorder(0, 1'000'000'000, 1, SloLimits{});
  ChunkGaps gaps(&recorder.itl_layout());
  Histogram expected;
  std::mt19937_64 rng(7);
  int64_t time_ns = 1'000;
  gaps.OnChunk(time_ns);
  const size_t count = 5 * ChunkGaps::kMaxRawGaps + 17;
  for (size_t i = 0; i < count; ++i) {
    // Mostly ~10 ms with jitter, some long stalls: many buckets.
    const int64_t gap_ns = i % 97 == 0 ? static_cast<int64_t>(rng() % 3'000'000'000)
                                       : 9'000'000 + static_cast<int64_t>(rng() % 2'000'000);
    time_ns += gap_ns;
    gaps.OnChunk(time_ns);
    expected.Record((gap_ns + 500) / 1000);
  }
  EXPECT_EQ(gaps.chunks(), count + 1);
  EXPECT_EQ(gaps.first_ns(), 1'000);
  EXPECT_EQ(gaps.last_ns(), time_ns);
  Histogram got;
  gaps.RecordInto(got);
  ASSERT_EQ(got.TotalCount(), static_cast<int64_t>(count));
  const std::vector<Histogram::Bucket> got_buckets = got.NonZeroBuckets();
  const std::vector<Histogram::Bucket> expected_buckets = expected.NonZeroBuckets();
  ASSERT_EQ(got_buckets.size(), expected_buckets.size());
  EXPECT_GT(got_buckets.size(), 100u) << "the gaps should spread over many buckets";
  for (size_t i = 0; i < got_buckets.size(); ++i) {
    EXPECT_EQ(got_buckets[i].index, expected_buckets[i].index);
    EXPECT_EQ(got_buckets[i].count, expected_buckets[i].count);
  }
  for (const double p : {0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(got.ValueAtPercentile(p), expected.ValueAtPercentile(p)) << "p" << p;
  }
  EXPECT_EQ(got.Min(), expected.Min());
  EXPECT_EQ(got.Max(), expected.Max());

  gaps.Clear();
  EXPECT_EQ(gaps.chunks(), 0u);
  Histogram empty;
  gaps.RecordInto(empty);
  EXPECT_EQ(empty.TotalCount(), 0);
}

}  // namespace
}  // namespace bench::engine
