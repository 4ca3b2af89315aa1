#include "common/histogram_codec.h"

#include <zlib.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"
#include "common/status_macros.h"

namespace bench {
namespace {

constexpr uint32_t kV2EncodingCookieBase = 0x1c849303;
constexpr uint32_t kV2CompressedEncodingCookieBase = 0x1c849304;
// The high nibble of the low byte carries a word size that V2 readers ignore.
constexpr uint32_t kCookieBaseMask = ~uint32_t{0xf0};
constexpr size_t kV2HeaderSize = 40;
constexpr size_t kCompressedHeaderSize = 8;
constexpr int64_t kMaxVarintBytes = 9;
// deflate cannot expand data more than 1032:1 (zlib technical notes), so a declared payload
// beyond that many times the compressed size is a lie and is refused before allocating it.
constexpr int64_t kMaxDeflateRatio = 1032;

void PutU32(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}
void PutU64(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}
uint32_t GetU32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t GetU64(const unsigned char* p) {
  return (uint64_t{GetU32(p)} << 32) | uint64_t{GetU32(p + 4)};
}

// HdrHistogram's "LEB128-64b9B" ZigZag varint: 7 bits a byte for 8 bytes, then a 9th byte with
// the last 8 bits and no continuation flag.
void PutVarint(int64_t value, std::string* out) {
  uint64_t bits = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((bits >> 7) == 0) {
      out->push_back(static_cast<char>(bits));
      return;
    }
    out->push_back(static_cast<char>((bits & 0x7f) | 0x80));
    bits >>= 7;
  }
  out->push_back(static_cast<char>(bits));
}

// Reads one varint at *pos; false if it runs past `end` (the 9th byte always ends it).
bool GetVarint(const unsigned char** pos, const unsigned char* end, int64_t* value) {
  const unsigned char* p = *pos;
  uint64_t bits = 0;
  for (int i = 0; i < kMaxVarintBytes; ++i) {
    if (p == end) return false;
    const uint64_t byte = *p++;
    if (i == kMaxVarintBytes - 1) {
      bits |= byte << 56;
      break;
    }
    bits |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  *pos = p;
  *value = static_cast<int64_t>((bits >> 1) ^ (~(bits & 1) + 1));
  return true;
}

// The histogram a V2 header declares (its counts still empty) and the payload length.
struct DecodedHeader {
  int32_t significant_digits;
  int64_t lowest;
  int64_t highest;
  int64_t payload_length;
};

absl::StatusOr<DecodedHeader> ParseV2Header(const unsigned char* header) {
  const uint32_t cookie = GetU32(header);
  if ((cookie & kCookieBaseMask) != kV2EncodingCookieBase) {
    return absl::InvalidArgumentError(
        absl::StrFormat("not an HdrHistogram V2 encoding: cookie 0x%08x, want 0x%08x", cookie,
                        kHdrV2EncodingCookie));
  }
  const int32_t payload_length = static_cast<int32_t>(GetU32(header + 4));
  // header + 8: normalizing index offset; header + 32: integer-to-double ratio. Both ignored.
  DecodedHeader decoded;
  decoded.significant_digits = static_cast<int32_t>(GetU32(header + 12));
  decoded.lowest = static_cast<int64_t>(GetU64(header + 16));
  decoded.highest = static_cast<int64_t>(GetU64(header + 24));
  decoded.payload_length = payload_length;
  if (payload_length < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("V2 header: negative payload length ", payload_length));
  }
  return decoded;
}

// Makes `out` an empty histogram of the declared layout: cleared in place when it already has
// it (no allocation: a controller decodes thousands of shards a second), else created. Checks
// the declared payload length against what the layout's counts can need.
absl::Status PrepareHistogram(const DecodedHeader& decoded, Histogram* out) {
  if (out->lowest_discernible_value() == decoded.lowest &&
      out->highest_trackable_value() == decoded.highest &&
      out->significant_digits() == decoded.significant_digits) {
    out->Reset();
  } else {
    auto histogram = Histogram::Create(decoded.lowest, decoded.highest, decoded.significant_digits);
    if (!histogram.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("V2 header declares a bad layout: ", histogram.status().message()));
    }
    *out = *std::move(histogram);
  }
  // Every varint fills at least one count, so a valid payload is at most 9 bytes a count.
  const int64_t max_payload = kMaxVarintBytes * out->counts_length();
  if (decoded.payload_length > max_payload) {
    return absl::InvalidArgumentError(
        absl::StrCat("V2 header: payload length ", decoded.payload_length, " exceeds the ",
                     max_payload, " bytes that ", out->counts_length(), " counts can need"));
  }
  return absl::OkStatus();
}

absl::Status DecodeCounts(std::string_view payload, Histogram* histogram) {
  const auto* begin = reinterpret_cast<const unsigned char*>(payload.data());
  const auto* end = begin + payload.size();
  const int64_t counts_length = histogram->counts_length();
  int64_t index = 0;
  for (const unsigned char* p = begin; p < end;) {
    const int64_t offset = p - begin;
    int64_t value = 0;
    if (!GetVarint(&p, end, &value)) {
      return absl::InvalidArgumentError(absl::StrCat("V2 payload: varint at byte ", offset,
                                                     " runs past the payload end (", payload.size(),
                                                     " bytes)"));
    }
    if (value < 0) {
      const uint64_t zeros = uint64_t{0} - static_cast<uint64_t>(value);  // INT64_MIN too.
      if (zeros > static_cast<uint64_t>(counts_length - index)) {
        return absl::InvalidArgumentError(
            absl::StrCat("V2 payload: run of ", zeros, " zero counts at index ", index,
                         " passes the end of ", counts_length, " counts"));
      }
      index += static_cast<int64_t>(zeros);
      continue;
    }
    if (index >= counts_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "V2 payload: count at index ", index, " past the end of ", counts_length, " counts"));
    }
    absl::Status added = histogram->AddCountAtIndex(static_cast<int32_t>(index), value);
    if (!added.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("V2 payload: ", added.message()));
    }
    ++index;
  }
  return absl::OkStatus();
}

// Owns a zlib inflate stream over one input buffer.
class Inflater {
 public:
  explicit Inflater(std::string_view input) {
    std::memset(&stream_, 0, sizeof(stream_));
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream_.avail_in = static_cast<uInt>(input.size());
    init_rc_ = inflateInit(&stream_);
  }
  ~Inflater() {
    if (init_rc_ == Z_OK) inflateEnd(&stream_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  absl::Status init_status() const {
    if (init_rc_ == Z_OK) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("zlib inflateInit failed: ", init_rc_));
  }
  // Inflates into out[0, size) and sets *produced; stops short only where the stream ends.
  // A corrupt stream, or input that runs out before the stream's end, is kDataLoss.
  absl::Status Inflate(char* out, size_t size, size_t* produced) {
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    stream_.avail_out = static_cast<uInt>(size);
    while (stream_.avail_out > 0 && !ended_) {
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR) {
        // No progress possible with room left for output: the input is exhausted.
        return absl::DataLossError("zlib stream truncated: the input ends before the stream");
      } else if (rc != Z_OK) {
        return absl::DataLossError(absl::StrCat("corrupt zlib stream (zlib error ", rc,
                                                "): ", stream_.msg != nullptr ? stream_.msg : "?"));
      }
    }
    *produced = size - stream_.avail_out;
    return absl::OkStatus();
  }
  size_t unused_input() const { return stream_.avail_in; }

 private:
  z_stream stream_;
  int init_rc_ = Z_OK;
  bool ended_ = false;
};

}  // namespace

std::string EncodeUncompressed(const Histogram& histogram) {
  std::string out;
  out.reserve(kV2HeaderSize + 64);
  PutU32(kHdrV2EncodingCookie, &out);
  PutU32(0, &out);  // Payload length, filled in below.
  PutU32(0, &out);  // Normalizing index offset.
  PutU32(static_cast<uint32_t>(histogram.significant_digits()), &out);
  PutU64(static_cast<uint64_t>(histogram.lowest_discernible_value()), &out);
  PutU64(static_cast<uint64_t>(histogram.highest_trackable_value()), &out);
  const double ratio = 1.0;
  uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof(ratio_bits));
  PutU64(ratio_bits, &out);

  // Up to and including the highest non-zero count (index 0 when empty, as HdrHistogram).
  const int32_t counts_limit = std::max(histogram.MaxNonZeroIndex(), 0) + 1;
  for (int32_t i = 0; i < counts_limit;) {
    const int64_t count = histogram.CountAtIndex(i++);
    int64_t zeros = 0;
    if (count == 0) {
      zeros = 1;
      while (i < counts_limit && histogram.CountAtIndex(i) == 0) {
        ++zeros;
        ++i;
      }
    }
    PutVarint(zeros > 1 ? -zeros : count, &out);
  }
  const uint32_t payload_length = static_cast<uint32_t>(out.size() - kV2HeaderSize);
  for (int b = 0; b < 4; ++b) out[4 + b] = static_cast<char>(payload_length >> (24 - 8 * b));
  return out;
}

std::string CompressV2(std::string_view uncompressed) {
  uLongf deflated_size = compressBound(static_cast<uLong>(uncompressed.size()));
  std::string out(kCompressedHeaderSize + deflated_size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data() + kCompressedHeaderSize),
                           &deflated_size, reinterpret_cast<const Bytef*>(uncompressed.data()),
                           static_cast<uLong>(uncompressed.size()), Z_DEFAULT_COMPRESSION);
  // compressBound guarantees room; only memory exhaustion could fail here.
  BENCH_CHECK_EQ(rc, Z_OK) << "zlib compress2";
  out.resize(kCompressedHeaderSize + deflated_size);
  std::string header;
  PutU32(kHdrV2CompressedEncodingCookie, &header);
  PutU32(static_cast<uint32_t>(deflated_size), &header);
  out.replace(0, kCompressedHeaderSize, header);
  return out;
}

std::string EncodeCompressed(const Histogram& histogram) {
  return CompressV2(EncodeUncompressed(histogram));
}

absl::Status DecodeUncompressedInto(std::string_view bytes, Histogram* out) {
  if (bytes.size() < kV2HeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "V2 encoding truncated: ", bytes.size(), " bytes, the header alone needs ", kV2HeaderSize));
  }
  BENCH_ASSIGN_OR_RETURN(DecodedHeader decoded,
                         ParseV2Header(reinterpret_cast<const unsigned char*>(bytes.data())));
  const size_t payload_bytes = bytes.size() - kV2HeaderSize;
  if (static_cast<size_t>(decoded.payload_length) != payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("V2 header declares a payload of ",
                                                   decoded.payload_length, " bytes but ",
                                                   payload_bytes, " follow it"));
  }
  BENCH_RETURN_IF_ERROR(PrepareHistogram(decoded, out));
  return DecodeCounts(bytes.substr(kV2HeaderSize), out);
}

absl::Status DecodeCompressedInto(std::string_view bytes, Histogram* out) {
  if (bytes.size() < kCompressedHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("compressed V2 encoding truncated: ", bytes.size(),
                     " bytes, the header alone needs ", kCompressedHeaderSize));
  }
  const auto* header = reinterpret_cast<const unsigned char*>(bytes.data());
  const uint32_t cookie = GetU32(header);
  if ((cookie & kCookieBaseMask) != kV2CompressedEncodingCookieBase) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "not a compressed HdrHistogram V2 encoding: cookie 0x%08x, want 0x%08x%s", cookie,
        kHdrV2CompressedEncodingCookie,
        (cookie & kCookieBaseMask) == kV2EncodingCookieBase ? " (this one is uncompressed)" : ""));
  }
  const int32_t compressed_length = static_cast<int32_t>(GetU32(header + 4));
  const size_t following = bytes.size() - kCompressedHeaderSize;
  if (compressed_length < 0 || static_cast<size_t>(compressed_length) != following) {
    return absl::InvalidArgumentError(absl::StrCat("compressed V2 header declares ",
                                                   compressed_length, " compressed bytes but ",
                                                   following, " follow it"));
  }

  Inflater inflater(bytes.substr(kCompressedHeaderSize));
  BENCH_RETURN_IF_ERROR(inflater.init_status());
  char v2_header[kV2HeaderSize];
  size_t produced = 0;
  BENCH_RETURN_IF_ERROR(inflater.Inflate(v2_header, sizeof(v2_header), &produced));
  if (produced < kV2HeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat("inflated V2 encoding is ", produced,
                                                   " bytes, shorter than its ", kV2HeaderSize,
                                                   "-byte header"));
  }
  BENCH_ASSIGN_OR_RETURN(DecodedHeader decoded,
                         ParseV2Header(reinterpret_cast<const unsigned char*>(v2_header)));
  BENCH_RETURN_IF_ERROR(PrepareHistogram(decoded, out));
  if (decoded.payload_length + static_cast<int64_t>(kV2HeaderSize) >
      kMaxDeflateRatio * compressed_length) {
    return absl::InvalidArgumentError(absl::StrCat("V2 header declares a payload of ",
                                                   decoded.payload_length, " bytes, more than ",
                                                   compressed_length, " deflated bytes can hold"));
  }

  // Inflate exactly the declared payload, then make sure nothing follows it: a zip bomb is
  // refused after one more byte, never inflated.
  std::string payload(static_cast<size_t>(decoded.payload_length), '\0');
  BENCH_RETURN_IF_ERROR(inflater.Inflate(payload.data(), payload.size(), &produced));
  if (produced < payload.size()) {
    return absl::InvalidArgumentError(absl::StrCat("V2 payload truncated: header declares ",
                                                   payload.size(), " bytes, the stream holds ",
                                                   produced));
  }
  char extra = 0;
  BENCH_RETURN_IF_ERROR(inflater.Inflate(&extra, 1, &produced));
  if (produced > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inflated data is longer than the declared V2 payload of ", payload.size(), " bytes"));
  }
  if (inflater.unused_input() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(inflater.unused_input(), " bytes follow the end of the zlib stream"));
  }
  return DecodeCounts(payload, out);
}

absl::StatusOr<Histogram> DecodeUncompressed(std::string_view bytes) {
  Histogram histogram;
  BENCH_RETURN_IF_ERROR(DecodeUncompressedInto(bytes, &histogram));
  return histogram;
}

absl::StatusOr<Histogram> DecodeCompressed(std::string_view bytes) {
  Histogram histogram;
  BENCH_RETURN_IF_ERROR(DecodeCompressedInto(bytes, &histogram));
  return histogram;
}

std::string EncodeCompressedBase64(const Histogram& histogram) {
  const std::string compressed = EncodeCompressed(histogram);
  return absl::Base64Escape(absl::string_view(compressed.data(), compressed.size()));
}

absl::StatusOr<Histogram> DecodeCompressedBase64(std::string_view base64) {
  std::string bytes;
  if (!absl::Base64Unescape(absl::string_view(base64.data(), base64.size()), &bytes)) {
    return absl::InvalidArgumentError("compressed V2 histogram: invalid base64");
  }
  return DecodeCompressed(bytes);
}

}  // namespace bench
