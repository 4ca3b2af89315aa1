// Fuzz target for the HdrHistogram V2 decoders (untrusted bytes from workers and .hlog files).
// Whatever decodes must re-encode and decode to an equal histogram with consistent statistics.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/check.h"
#include "common/histogram.h"
#include "common/histogram_codec.h"

namespace {

void CheckRoundTrip(const bench::Histogram& decoded) {
  absl::StatusOr<bench::Histogram> again =
      bench::DecodeCompressed(bench::EncodeCompressed(decoded));
  BENCH_CHECK_OK(again.status());
  BENCH_CHECK(*again == decoded);
  BENCH_CHECK_EQ(again->TotalCount(), decoded.TotalCount());
  BENCH_CHECK_EQ(again->Max(), decoded.Max());
  BENCH_CHECK_EQ(again->Min(), decoded.Min());
  BENCH_CHECK_LE(decoded.Min(), decoded.Max());
  if (decoded.TotalCount() > 0) {
    BENCH_CHECK_LE(decoded.ValueAtPercentile(50), decoded.Max());
    BENCH_CHECK_GE(decoded.ValueAtPercentile(50), decoded.Min());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<bench::Histogram> decoded = bench::DecodeCompressed(bytes);
  if (decoded.ok()) CheckRoundTrip(*decoded);
  // The uncompressed decoder sees the same bytes: it is reached without zlib in the way.
  absl::StatusOr<bench::Histogram> plain = bench::DecodeUncompressed(bytes);
  if (plain.ok()) CheckRoundTrip(*plain);
  return 0;
}
