#include "common/rpc_histogram.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

using ::testing::HasSubstr;

TEST(RpcHistogramTest, RoundTrip) {
  Histogram ttft;
  for (int64_t v = 1000; v < 400'000; v += 997) ttft.Record(v);
  bench::v1::EncodedHistogram proto;
  ToProto("ttft", ttft, &proto);
  EXPECT_EQ(proto.metric(), "ttft");
  EXPECT_FALSE(proto.hdr_v2_compressed().empty());

  // Through the protobuf wire format too.
  bench::v1::EncodedHistogram parsed;
  ASSERT_TRUE(parsed.ParseFromString(proto.SerializeAsString()));
  absl::StatusOr<Histogram> decoded = FromProto(parsed);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, ttft);
  EXPECT_EQ(decoded->ValueAtPercentile(99), ttft.ValueAtPercentile(99));
}

TEST(RpcHistogramTest, CorruptPayloadNamesTheMetric) {
  bench::v1::EncodedHistogram proto;
  ToProto("e2e_latency", Histogram(), &proto);
  std::string bytes = proto.hdr_v2_compressed();
  bytes[0] = 'X';
  proto.set_hdr_v2_compressed(bytes);
  absl::StatusOr<Histogram> decoded = FromProto(proto);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("e2e_latency"));
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("cookie"));

  proto.clear_hdr_v2_compressed();
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);

  // A damaged zlib stream keeps its kDataLoss code through the edge.
  ToProto("itl", Histogram(), &proto);
  bytes = proto.hdr_v2_compressed();
  bytes.back() = static_cast<char>(bytes.back() ^ 0xff);
  proto.set_hdr_v2_compressed(bytes);
  decoded = FromProto(proto);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("itl"));
}

}  // namespace
}  // namespace bench
