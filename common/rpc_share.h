// The edge between the run's plain structs and bench.v1: a worker's share (WorkShare) and what it
// reports (StatsShard per stage, IntervalPoint per interval) to and from their messages. Every
// conversion is lossless: FromProto(ToProto(x)) == x.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "bench.pb.h"
#include "common/run_stats.h"
#include "common/share.h"

namespace bench {

// The worker link's protocol version (Hello.protocol_version): a controller refuses a worker
// that speaks another one.
inline constexpr uint32_t kProtocolVersion = 1;

void ToProto(const WorkShare& share, bench::v1::WorkShare* out);
// kInvalidArgument naming the field for a malformed share (bad enum, unequal length lists).
absl::StatusOr<WorkShare> FromProto(const bench::v1::WorkShare& share);

// Writes the counters and the histograms that hold samples.
void ToProto(const StatsShard& stats, bench::v1::StageStats* out);
// kInvalidArgument / kDataLoss for an unknown metric or a histogram that does not decode.
absl::StatusOr<StatsShard> FromProto(const bench::v1::StageStats& stats);
// The same into `out`, reusing its histograms' memory (a controller applies thousands of shards a
// second). On error `out` is unspecified.
absl::Status FromProto(const bench::v1::StageStats& stats, StatsShard* out);

void ToProto(const ConnectionStats& stats, bench::v1::ClientCounters* out);
// kDataLoss / kInvalidArgument when the connect-time histogram does not decode.
absl::StatusOr<ConnectionStats> FromProto(const bench::v1::ClientCounters& counters);

void ToProto(const IntervalPoint& point, uint32_t index, bench::v1::SeriesPoint* out);
// The point's start_ns is index * interval_ns.
IntervalPoint FromProto(const bench::v1::SeriesPoint& point, int64_t interval_ns);

void ToProto(const RequestRecord& record, bench::v1::RequestRecord* out);
RequestRecord FromProto(const bench::v1::RequestRecord& record);

}  // namespace bench
