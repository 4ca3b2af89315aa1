#include "common/rpc_histogram.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/histogram_codec.h"

namespace bench {

void ToProto(std::string_view metric, const Histogram& histogram,
             bench::v1::EncodedHistogram* out) {
  out->set_metric(std::string(metric));
  out->set_hdr_v2_compressed(EncodeCompressed(histogram));
}

absl::StatusOr<Histogram> FromProto(const bench::v1::EncodedHistogram& encoded) {
  absl::StatusOr<Histogram> histogram = DecodeCompressed(encoded.hdr_v2_compressed());
  if (!histogram.ok()) {
    return absl::Status(
        histogram.status().code(),
        absl::StrCat("histogram '", encoded.metric(), "': ", histogram.status().message()));
  }
  return histogram;
}

}  // namespace bench
