#include "common/rpc_share.h"

#include "gtest/gtest.h"

namespace bench {
namespace {

TEST(RpcShare, WorkShareRoundTripsWithSlicesStagesAndLengths) {
  WorkShare share;
  share.closed_loop = false;
  share.concurrency = 12;
  share.max_requests = 99;
  share.prompt_stride = 6;
  share.prompt_offset = 4;
  share.not_before_ns = 7'000'000'000;
  share.min_connections = 33;
  ArrivalSpec stages;
  stages.type = ArrivalSpec::Type::kStages;
  stages.stages = {{5, 1'000'000'000}, {10, 2'000'000'000}};
  stages.slice.cycle = 3;
  stages.slice.offsets = {0, 2};
  share.phases.push_back({0, stages, 0});
  ArrivalSpec trace;
  trace.type = ArrivalSpec::Type::kTrace;
  trace.trace_offsets_ns = {0, 10, 20};
  share.phases.push_back({5, trace, 15});
  share.fixed_lengths = {{1, 2}, {3, 4}, {5, 6}};
  bench::v1::WorkShare wire;
  ToProto(share, &wire);
  bench::v1::WorkShare reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(wire.SerializeAsString()));
  auto back = FromProto(reparsed);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == share);
}

TEST(RpcShare, MalformedSharesNameTheField) {
  bench::v1::WorkShare wire;
  wire.set_prompt_stride(1);
  wire.add_fixed_input_lengths(3);
  EXPECT_EQ(FromProto(wire).status().code(), absl::StatusCode::kInvalidArgument);
  wire.clear_fixed_input_lengths();
  wire.set_prompt_stride(0);
  EXPECT_EQ(FromProto(wire).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RpcShare, StageStatsRoundTripBucketForBucket) {
  StatsShard stats;
  for (int i = 1; i < 5000; i += 7) stats.histogram(LatencyMetric::kTtft).Record(i * 13);
  stats.histogram(LatencyMetric::kItl).Record(12);
  stats.requests_sent = 10;
  stats.succeeded = 8;
  stats.failed = 2;
  stats.errors = {{"timeout", 1}, {"http_5xx:503", 1}};
  stats.AddErrorExample("http_5xx:503", "model is overloaded");
  stats.AddErrorExample("http_5xx:503", "try again");
  stats.input_tokens_with_cache_info = 77;
  stats.usage_missing = 1;
  stats.last_end_ns = 12'345'678'901;
  bench::v1::StageStats wire;
  ToProto(stats, &wire);
  EXPECT_EQ(wire.histograms_size(), 2);  // Empty metrics are not sent.
  auto back = FromProto(wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == stats);

  // Examples of a category with no count are dropped; more than the cap are cut.
  auto& examples = *wire.mutable_counters()->mutable_error_examples();
  examples["tls"].add_text("certificate has expired");
  for (int i = 0; i < 10; ++i) examples["timeout"].add_text("after " + std::to_string(i) + " s");
  back = FromProto(wire);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->error_examples.contains("tls"));
  EXPECT_EQ(back->error_examples.at("timeout").size(), StatsShard::kMaxErrorExamples);
}

TEST(RpcShare, UnknownMetricIsRefused) {
  bench::v1::StageStats wire;
  wire.add_histograms()->set_metric("ttfb");
  EXPECT_EQ(FromProto(wire).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RpcShare, SeriesPointRoundTrips) {
  IntervalPoint point{3'000'000'000, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  bench::v1::SeriesPoint wire;
  ToProto(point, 3, &wire);
  EXPECT_EQ(FromProto(wire, 1'000'000'000), point);
}

TEST(RpcShare, RequestRecordRoundTripsWithAbsentTimes) {
  RequestRecord record;
  record.intended_ns = 0;  // time 0 is a time, not "absent"
  record.sent_ns = 1'200;
  record.end_ns = 9'000'000'000;
  record.input_tokens = 812;
  record.output_tokens = 0;
  record.chunks = 0;
  record.stage = 2;
  record.in_window = true;
  record.outcome = "http_5xx:503";
  record.chunk_gaps_us = {15'000, 14'980, 0, 2'000'000};
  bench::v1::RequestRecord proto;
  ToProto(record, &proto);
  EXPECT_EQ(FromProto(proto), record);
  EXPECT_EQ(FromProto(proto).first_chunk_ns, -1);
  EXPECT_EQ(FromProto(proto).cached_tokens, -1);
  EXPECT_EQ(FromProto(proto).turn, -1);  // not a conversation
  record.turn = 0;                       // a conversation's first turn is not "none"
  ToProto(record, &proto);
  EXPECT_EQ(proto.turn(), 1u);
  EXPECT_EQ(FromProto(proto), record);
  record.turn = 999;
  ToProto(record, &proto);
  EXPECT_EQ(FromProto(proto), record);
}

TEST(RpcShare, ConnectionStatsRoundTripAndMergeAsDeltas) {
  ConnectionStats earlier;
  earlier.opened = 3;
  earlier.streams = 10;
  earlier.max_streams = 4;
  earlier.connect_time.Record(200);
  ConnectionStats now = earlier;
  now.opened = 5;
  now.failed = 1;
  now.retries = 2;
  now.streams = 30;
  now.bytes = 4096;
  now.max_streams = 9;
  now.max_bytes = 2048;
  now.max_concurrent_streams = 7;
  now.server_max_streams = 100;
  now.unreachable_ns = 1'500'000'000;
  now.connect_time.Record(350);
  ConnectionStats delta = now;
  ASSERT_TRUE(delta.Subtract(earlier).ok());
  EXPECT_EQ(delta.opened, 2u);
  EXPECT_EQ(delta.streams, 20u);
  EXPECT_EQ(delta.max_streams, 9u) << "a maximum travels whole";
  EXPECT_EQ(delta.connect_time.TotalCount(), 1);

  bench::v1::ClientCounters wire;
  ToProto(delta, &wire);
  auto decoded = FromProto(wire);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, delta);
  // The receiver's view: the earlier state plus the delta is the sender's state.
  ConnectionStats applied = earlier;
  applied.Merge(*decoded);
  EXPECT_EQ(applied, now);
}

}  // namespace
}  // namespace bench
