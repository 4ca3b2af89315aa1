// The edge between Histogram and the wire: a histogram travels in bench.v1.EncodedHistogram as
// its standard HdrHistogram V2 compressed encoding (SPEC section 4), so any HdrHistogram
// implementation can read what workers send.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "bench.pb.h"
#include "common/histogram.h"

namespace bench {

// Overwrites *out with `metric` and the compressed V2 encoding of `histogram`.
void ToProto(std::string_view metric, const Histogram& histogram, bench::v1::EncodedHistogram* out);

// Decodes the payload. Errors are the decoder's codes (kInvalidArgument, kDataLoss) with the
// metric's name in front of the message.
absl::StatusOr<Histogram> FromProto(const bench::v1::EncodedHistogram& encoded);

}  // namespace bench
