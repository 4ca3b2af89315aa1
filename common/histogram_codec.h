// The standard HdrHistogram V2 encoding of a Histogram, plain and compressed (zlib deflate), as
// the Java, C and JS implementations write and read it; workers ship shards in this form and
// results keep it in histograms.hlog (SPEC section 4). The decoders take untrusted bytes: they
// fail with a Status, never crash, and bound what they allocate by the declared layout.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/histogram.h"

namespace bench {

// Cookies as written (Java and JS set the 0x10 word-size bit); readers compare cookie & ~0xf0
// with the bases 0x1c849303 / 0x1c849304.
inline constexpr uint32_t kHdrV2EncodingCookie = 0x1c849313;
inline constexpr uint32_t kHdrV2CompressedEncodingCookie = 0x1c849314;

// V2 encoding: a 40-byte big-endian header (cookie, payload length, normalizing index offset 0,
// significant digits, lowest, highest, integer-to-double ratio 1.0) followed by the counts up to
// the highest non-zero one as ZigZag LEB128 varints (at most 9 bytes), a run of zeros written as
// one negative count.
std::string EncodeUncompressed(const Histogram& histogram);
// Compressed V2: cookie, 4-byte big-endian length, then zlib (deflate with zlib header, as Java's
// Deflater) of EncodeUncompressed(histogram).
std::string EncodeCompressed(const Histogram& histogram);
// The compressed form of an already encoded uncompressed V2 buffer (no validation).
std::string CompressV2(std::string_view uncompressed);

// Errors: kInvalidArgument naming what is wrong (truncation, cookie, lengths, layout, varints,
// indices past the end, count overflow); kDataLoss for a corrupt zlib stream. The normalizing
// index offset and the integer-to-double ratio are ignored, as hdr-histogram-js does (it writes
// 1 and an int64 1 there).
absl::StatusOr<Histogram> DecodeUncompressed(std::string_view bytes);
absl::StatusOr<Histogram> DecodeCompressed(std::string_view bytes);
// The same into `out`, which is cleared in place when it has the declared layout (no
// allocation), else replaced. On error `out` holds an unspecified part of the counts.
absl::Status DecodeUncompressedInto(std::string_view bytes, Histogram* out);
absl::Status DecodeCompressedInto(std::string_view bytes, Histogram* out);

// Base64 (standard alphabet, padded) of the compressed form: what hdr-histogram-js
// encodeIntoCompressedBase64 / decodeFromCompressedBase64 and .hlog lines use.
std::string EncodeCompressedBase64(const Histogram& histogram);
absl::StatusOr<Histogram> DecodeCompressedBase64(std::string_view base64);

}  // namespace bench
