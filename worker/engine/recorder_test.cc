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

// metrics.raw: each request ends as one record, times since the run's start (-1: did not
// happen), at most the bound kept until taken, the rest counted.
TEST(RecorderRecordsTest, KeepsRecordsUpToTheBoundAndCountsTheRest) {
  constexpr int64_t kStart = 5'000'000'000;
  Recorder recorder(kStart, 1'000'000'000, 2, SloLimits{});
  recorder.KeepRecords(2);
  RequestResult ok;
  ok.intended_ns = kStart + 1'000;
  ok.sent_ns = kStart + 1'500;
  ok.first_chunk_ns = kStart + 20'000'000;
  ok.last_chunk_ns = kStart + 90'000'000;
  ok.end_ns = kStart + 91'000'000;
  ok.chunks = 8;
  ok.output_tokens = 8;
  ok.input_tokens = 100;
  ok.stage = 1;
  ok.in_window = true;
  RequestResult failed;
  failed.intended_ns = kStart + 2'000;
  failed.sent_ns = kStart + 2'100;
  failed.end_ns = kStart + 3'000'000;
  failed.outcome = Outcome::kHttp5xx;
  failed.http_status = 503;
  recorder.Record(ok);
  recorder.Record(failed);
  recorder.Record(ok);  // over the bound
  std::vector<RequestRecord> records;
  uint64_t dropped = 0;
  recorder.TakeRecords(&records, &dropped);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(dropped, 1u);
  EXPECT_EQ(records[0].intended_ns, 1'000);
  EXPECT_EQ(records[0].first_chunk_ns, 20'000'000);
  EXPECT_EQ(records[0].stage, 1u);
  EXPECT_TRUE(records[0].in_window);
  EXPECT_EQ(records[0].outcome, "success");
  EXPECT_EQ(records[0].cached_tokens, -1);
  EXPECT_EQ(records[1].outcome, "http_5xx:503");
  EXPECT_EQ(records[1].first_chunk_ns, -1);
  EXPECT_EQ(records[1].last_chunk_ns, -1);
  // Taken: the bound applies again from empty.
  recorder.Record(failed);
  records.clear();
  dropped = 0;
  recorder.TakeRecords(&records, &dropped);
  EXPECT_EQ(records.size(), 1u);
  EXPECT_EQ(dropped, 0u);
}

TEST(RecorderRecordsTest, OffByDefault) {
  Recorder recorder(0, 1'000'000'000, 1, SloLimits{});
  RequestResult result;
  result.end_ns = 10;
  recorder.Record(result);
  std::vector<RequestRecord> records;
  uint64_t dropped = 0;
  recorder.TakeRecords(&records, &dropped);
  EXPECT_TRUE(records.empty());
  EXPECT_EQ(dropped, 0u);
}

}  // namespace
}  // namespace bench::engine
