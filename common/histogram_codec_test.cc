#include "common/histogram_codec.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kDefaultCountsLength = 23552;  // See histogram_test.cc for the derivation.

// The format, written out independently of the encoder under test.
void PutU32(uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}
void PutU64(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}
struct HeaderFields {
  uint32_t cookie = 0x1c849313;
  int64_t payload_length = 0;
  uint32_t normalizing_index_offset = 0;
  int32_t digits = 3;
  int64_t lowest = 1;
  int64_t highest = 3'600'000'000;
  uint64_t ratio_bits = 0x3ff0000000000000;  // 1.0
};
std::string Header(const HeaderFields& f) {
  std::string out;
  PutU32(f.cookie, &out);
  PutU32(static_cast<uint32_t>(f.payload_length), &out);
  PutU32(f.normalizing_index_offset, &out);
  PutU32(static_cast<uint32_t>(f.digits), &out);
  PutU64(static_cast<uint64_t>(f.lowest), &out);
  PutU64(static_cast<uint64_t>(f.highest), &out);
  PutU64(f.ratio_bits, &out);
  return out;
}
// ZigZag, then 7 bits a byte for up to 8 bytes, then one whole byte.
std::string Varint(int64_t value) {
  uint64_t bits = (static_cast<uint64_t>(value) << 1) ^ (value < 0 ? ~uint64_t{0} : 0);
  std::string out;
  for (int i = 0; i < 8 && (bits >> 7) != 0; ++i) {
    out.push_back(static_cast<char>((bits & 0x7f) | 0x80));
    bits >>= 7;
  }
  if (out.size() == 8) {
    out.push_back(static_cast<char>(bits));
  } else {
    out.push_back(static_cast<char>(bits & 0x7f));
  }
  return out;
}
// A default-layout V2 encoding with the given payload, payload length filled in.
std::string Uncompressed(const std::string& payload) {
  HeaderFields fields;
  fields.payload_length = static_cast<int64_t>(payload.size());
  return Header(fields) + payload;
}

Histogram RandomHistogram(std::mt19937_64& rng) {
  struct Layout {
    int64_t lowest;
    int64_t highest;
    int digits;
  };
  static constexpr Layout kLayouts[] = {{1, 3'600'000'000, 3},
                                        {1, 3'600'000'000, 3},
                                        {1, 3'600'000'000, 2},
                                        {1, 1'000, 0},
                                        {1000, 3'600'000'000, 3},
                                        {7, 10'000'000, 4},
                                        {1, std::numeric_limits<int64_t>::max(), 2}};
  const Layout& layout = kLayouts[rng() % std::size(kLayouts)];
  absl::StatusOr<Histogram> h = Histogram::Create(layout.lowest, layout.highest, layout.digits);
  EXPECT_TRUE(h.ok()) << h.status();
  const int samples = static_cast<int>(rng() % 2000);
  std::lognormal_distribution<double> lognormal(std::log(1e5), 2.5);
  for (int i = 0; i < samples; ++i) {
    switch (rng() % 8) {
      case 0:
        h->RecordN(0, static_cast<int64_t>(rng() % 3));
        break;
      case 1:  // Huge counts need all 9 varint bytes.
        h->RecordN(static_cast<int64_t>(rng() % 100'000), static_cast<int64_t>(rng() >> 20));
        break;
      default:
        h->Record(static_cast<int64_t>(std::min(lognormal(rng), 9e18)));
    }
  }
  return *std::move(h);
}

TEST(HistogramCodecTest, RoundTripsRandomHistograms) {
  constexpr uint64_t kSeed = 4242;
  std::mt19937_64 rng(kSeed);
  for (int iteration = 0; iteration < 300; ++iteration) {
    SCOPED_TRACE(absl::StrCat("seed=", kSeed, " iteration=", iteration));
    const Histogram original = RandomHistogram(rng);
    const std::string compressed = EncodeCompressed(original);
    absl::StatusOr<Histogram> decoded = DecodeCompressed(compressed);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, original);
    EXPECT_EQ(decoded->TotalCount(), original.TotalCount());
    EXPECT_EQ(decoded->Min(), original.Min());
    EXPECT_EQ(decoded->Max(), original.Max());
    EXPECT_EQ(decoded->ValueAtPercentile(99.9), original.ValueAtPercentile(99.9));
    EXPECT_EQ(EncodeCompressed(*decoded), compressed);  // Deterministic bytes.

    absl::StatusOr<Histogram> plain = DecodeUncompressed(EncodeUncompressed(original));
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(*plain, original);

    absl::StatusOr<Histogram> from_base64 =
        DecodeCompressedBase64(EncodeCompressedBase64(original));
    ASSERT_TRUE(from_base64.ok()) << from_base64.status();
    EXPECT_EQ(*from_base64, original);
  }
}

TEST(HistogramCodecTest, RoundTripsTheLargestAllowedLayout) {
  absl::StatusOr<Histogram> h = Histogram::Create(1, 3'600'000'000, 5);  // 2^21 counts.
  ASSERT_TRUE(h.ok()) << h.status();
  for (int64_t v = 0; v < 3'600'000'000; v = v * 3 + 1) h->RecordN(v, v + 1);
  h->Record(std::numeric_limits<int64_t>::max());
  absl::StatusOr<Histogram> decoded = DecodeCompressed(EncodeCompressed(*h));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, *h);
  EXPECT_EQ(decoded->Max(), h->Max());
}

TEST(HistogramCodecTest, EmptyHistogramBytesFollowTheFormat) {
  const std::string bytes = EncodeUncompressed(Histogram());
  // Header, then a single zero count (index 0 is always written).
  EXPECT_EQ(bytes, Header({.payload_length = 1}) + std::string(1, '\0'));
  const std::string compressed = EncodeCompressed(Histogram());
  ASSERT_GE(compressed.size(), 10u);
  EXPECT_EQ(compressed.substr(0, 4), "\x1c\x84\x93\x14");
  const uint32_t length = (uint32_t{static_cast<uint8_t>(compressed[4])} << 24) |
                          (uint32_t{static_cast<uint8_t>(compressed[5])} << 16) |
                          (uint32_t{static_cast<uint8_t>(compressed[6])} << 8) |
                          uint32_t{static_cast<uint8_t>(compressed[7])};
  EXPECT_EQ(length, compressed.size() - 8);
  EXPECT_EQ(static_cast<uint8_t>(compressed[8]), 0x78);  // zlib header: deflate, 32 KiB window.
  absl::StatusOr<Histogram> decoded = DecodeCompressed(compressed);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->TotalCount(), 0);
}

TEST(HistogramCodecTest, CountsAreZigZagVarintsWithZeroRuns) {
  Histogram h;
  h.Record(0);        // Index 0.
  h.RecordN(5, 300);  // Index 5, after four zeros.
  // 1 -> zigzag 2; four zeros -> -4 -> zigzag 7; 300 -> zigzag 600 = 0x258 -> d8 04.
  EXPECT_EQ(EncodeUncompressed(h), Uncompressed("\x02\x07\xd8\x04"));
}

TEST(HistogramCodecTest, NinthVarintByteIsTakenWhole) {
  // 2^62 -> zigzag 2^63: eight 7-bit groups of zero with continuation, then the byte 0x80.
  // A plain LEB128 reader would take that 0x80 as "more follows"; HdrHistogram's does not.
  const std::string payload(9, '\x80');
  Histogram h;
  ASSERT_TRUE(h.RecordN(0, int64_t{1} << 62));
  EXPECT_EQ(EncodeUncompressed(h), Uncompressed(payload));
  absl::StatusOr<Histogram> decoded = DecodeUncompressed(Uncompressed(payload));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->CountAtIndex(0), int64_t{1} << 62);
  // So a varint can never be longer than 9 bytes: a tenth 0x80 starts a new varint, which here
  // runs past the payload.
  absl::StatusOr<Histogram> ten = DecodeUncompressed(Uncompressed(std::string(10, '\x80')));
  EXPECT_EQ(ten.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ten.status().message()), HasSubstr("varint"));
}

TEST(HistogramCodecTest, AcceptsHdrHistogramJsHeaderQuirks) {
  // hdr-histogram-js writes 1 as normalizing index offset and an int64 1 as the ratio.
  HeaderFields fields{.payload_length = 2, .normalizing_index_offset = 1, .ratio_bits = 1};
  absl::StatusOr<Histogram> decoded = DecodeUncompressed(Header(fields) + "\x07\x06");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->TotalCount(), 3);
  EXPECT_EQ(decoded->CountAtIndex(4), 3);
  // And any word-size nibble in the cookie, as HdrHistogram's readers.
  fields.cookie = 0x1c849303;
  EXPECT_TRUE(DecodeUncompressed(Header(fields) + "\x07\x06").ok());
}

std::string ValidCompressed() {
  std::mt19937_64 rng(99);
  std::lognormal_distribution<double> lognormal(std::log(200'000.0), 0.8);
  Histogram h;
  for (int i = 0; i < 500; ++i) h.Record(static_cast<int64_t>(lognormal(rng)));
  return EncodeCompressed(h);
}

TEST(HistogramCodecTest, EveryTruncationIsRejected) {
  const std::string compressed = ValidCompressed();
  for (size_t size = 0; size < compressed.size(); ++size) {
    EXPECT_EQ(DecodeCompressed(compressed.substr(0, size)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "prefix " << size;
  }
  // Truncated deflate data whose length field was made to match: the zlib stream ends early.
  for (size_t size = 8; size < compressed.size(); ++size) {
    std::string cut = compressed.substr(0, size);
    const uint32_t length = static_cast<uint32_t>(size - 8);
    for (int b = 0; b < 4; ++b) cut[4 + b] = static_cast<char>(length >> (24 - 8 * b));
    EXPECT_EQ(DecodeCompressed(cut).status().code(), absl::StatusCode::kDataLoss)
        << "deflate prefix " << size - 8;
  }
  absl::StatusOr<Histogram> valid = DecodeCompressed(compressed);
  ASSERT_TRUE(valid.ok()) << valid.status();
  const std::string plain = EncodeUncompressed(*valid);
  for (size_t size = 0; size < plain.size(); ++size) {
    EXPECT_EQ(DecodeUncompressed(plain.substr(0, size)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "uncompressed prefix " << size;
  }
}

TEST(HistogramCodecTest, RejectsWrongCookies) {
  std::string compressed = ValidCompressed();
  compressed[3] = '\x05';  // 0x1c849305: no V2 base.
  absl::Status status = DecodeCompressed(compressed).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("cookie"));

  // An uncompressed encoding handed to the compressed decoder, and the other way round.
  status = DecodeCompressed(EncodeUncompressed(Histogram())).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("uncompressed"));
  EXPECT_EQ(DecodeUncompressed(std::string(EncodeCompressed(Histogram())) + std::string(40, '\0'))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  // A compressed envelope whose inflated content has the wrong inner cookie.
  HeaderFields fields{.cookie = 0x1c849301, .payload_length = 1};
  status = DecodeCompressed(CompressV2(Header(fields) + std::string(1, '\0'))).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("cookie"));
}

TEST(HistogramCodecTest, RejectsHugeDeclaredLengths) {
  std::string compressed = ValidCompressed();
  for (const char* length : {"\x7f\xff\xff\xff", "\xff\xff\xff\xff", "\x00\x00\x00\x00"}) {
    std::string changed = compressed;
    changed.replace(4, 4, length, 4);
    EXPECT_EQ(DecodeCompressed(changed).status().code(), absl::StatusCode::kInvalidArgument);
  }
  // Payload length beyond what the layout can need (9 bytes a count).
  const HeaderFields too_long{.payload_length = 9 * kDefaultCountsLength + 1};
  absl::Status status = DecodeCompressed(CompressV2(Header(too_long))).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("payload length"));
  const HeaderFields huge{.payload_length = 0x7fffffff};
  EXPECT_EQ(DecodeUncompressed(Header(huge)).status().code(), absl::StatusCode::kInvalidArgument);
  const HeaderFields negative{.payload_length = -1};
  EXPECT_EQ(DecodeUncompressed(Header(negative)).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Allowed by the layout, but more than a few dozen deflated bytes can ever expand to.
  const HeaderFields unreachable{.payload_length = 9 * kDefaultCountsLength};
  status = DecodeCompressed(CompressV2(Header(unreachable))).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("deflated bytes"));
  // Declared longer than what the stream holds.
  const HeaderFields short_stream{.payload_length = 10};
  status = DecodeCompressed(CompressV2(Header(short_stream) + "\x02")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("truncated"));
}

TEST(HistogramCodecTest, RejectsLayoutsTooLargeOrInvalid) {
  for (const HeaderFields& fields : {
           HeaderFields{.digits = 5, .highest = std::numeric_limits<int64_t>::max()},
           HeaderFields{.digits = 6},
           HeaderFields{.digits = -1},
           HeaderFields{.lowest = 0},
           HeaderFields{.lowest = 1000, .highest = 1999},
       }) {
    SCOPED_TRACE(absl::StrCat("digits=", fields.digits, " lowest=", fields.lowest,
                              " highest=", fields.highest));
    HeaderFields with_payload = fields;
    with_payload.payload_length = 1;
    const std::string plain = Header(with_payload) + std::string(1, '\0');
    EXPECT_EQ(DecodeUncompressed(plain).status().code(), absl::StatusCode::kInvalidArgument);
    const absl::Status status = DecodeCompressed(CompressV2(plain)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("layout"));
  }
}

TEST(HistogramCodecTest, RejectsZipBombQuickly) {
  // A valid one-count encoding followed by 100 MB of zeros, deflated to about 100 KB. The
  // decoder must stop one byte past the declared payload instead of inflating it all.
  std::string bomb = Uncompressed(std::string(1, '\x02'));
  bomb.resize(bomb.size() + 100'000'000, '\0');
  const std::string compressed = CompressV2(bomb);
  bomb.clear();
  bomb.shrink_to_fit();
  ASSERT_LT(compressed.size(), 200'000u);
  const absl::Status status = DecodeCompressed(compressed).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("longer than the declared"));
}

TEST(HistogramCodecTest, CorruptZlibIsDataLoss) {
  const std::string valid = ValidCompressed();
  std::string bad_header = valid;
  bad_header[9] = static_cast<char>(bad_header[9] ^ 0x01);  // zlib header check bits.
  EXPECT_EQ(DecodeCompressed(bad_header).status().code(), absl::StatusCode::kDataLoss);
  std::string bad_checksum = valid;
  bad_checksum.back() = static_cast<char>(bad_checksum.back() ^ 0xff);  // Adler-32 trailer.
  EXPECT_EQ(DecodeCompressed(bad_checksum).status().code(), absl::StatusCode::kDataLoss);

  // Bytes after the end of the zlib stream, counted in the declared length.
  std::string trailing = valid + "xyz";
  const uint32_t length = static_cast<uint32_t>(trailing.size() - 8);
  for (int b = 0; b < 4; ++b) trailing[4 + b] = static_cast<char>(length >> (24 - 8 * b));
  const absl::Status status = DecodeCompressed(trailing).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("follow the end"));
}

TEST(HistogramCodecTest, RejectsBadPayloads) {
  struct Case {
    std::string name;
    std::string payload;
    std::string message;
  };
  const Case cases[] = {
      {"varint cut after a continuation byte", "\x02\x80", "varint"},
      {"varint missing its ninth byte", std::string(8, '\x80'), "varint"},
      {"zero run past the end", Varint(-(kDefaultCountsLength + 1)), "zero counts"},
      {"zero run of INT64_MIN", Varint(std::numeric_limits<int64_t>::min()), "zero counts"},
      {"count past the end", Varint(-kDefaultCountsLength) + Varint(1), "past the end"},
      {"total count overflows",
       Varint(std::numeric_limits<int64_t>::max()) + Varint(std::numeric_limits<int64_t>::max()),
       "overflow"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const absl::Status plain = DecodeUncompressed(Uncompressed(c.payload)).status();
    EXPECT_EQ(plain.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(plain.message()), HasSubstr(c.message));
    const absl::Status compressed = DecodeCompressed(CompressV2(Uncompressed(c.payload))).status();
    EXPECT_EQ(compressed.code(), absl::StatusCode::kInvalidArgument);
  }
  // A zero run reaching exactly the end is fine.
  EXPECT_TRUE(DecodeUncompressed(Uncompressed(Varint(-kDefaultCountsLength))).ok());
  EXPECT_EQ(Varint(std::numeric_limits<int64_t>::max()).size(), 9u);
}

TEST(HistogramCodecTest, Base64) {
  EXPECT_EQ(DecodeCompressedBase64("not base64 !!").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeCompressedBase64("").status().code(), absl::StatusCode::kInvalidArgument);
  // Compressed bytes start with the cookie 1c 84 93 14: "HISTF" in base64, as in .hlog files.
  EXPECT_EQ(EncodeCompressedBase64(Histogram()).substr(0, 5), "HISTF");
}

}  // namespace
}  // namespace bench
