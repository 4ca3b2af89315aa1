#include "worker/engine/sse_parser.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/engine/openai_stream.h"

// Counts heap allocations so tests can prove the steady state allocates nothing. Replacing the
// global operator new is allowed once per program; this binary has no other replacement. Every
// form is replaced (nothrow and aligned too), so sanitizers never see mixed allocators.
namespace {
std::atomic<int64_t> g_allocation_count{0};
void* CountedAllocate(size_t size, size_t alignment = 0) {
  g_allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = alignment == 0
                ? std::malloc(size)
                : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  if (p == nullptr) std::abort();
  return p;
}
}  // namespace

void* operator new(size_t size) { return CountedAllocate(size); }
void* operator new[](size_t size) { return CountedAllocate(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return CountedAllocate(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return CountedAllocate(size); }
void* operator new(size_t size, std::align_val_t align) {
  return CountedAllocate(size, static_cast<size_t>(align));
}
void* operator new[](size_t size, std::align_val_t align) {
  return CountedAllocate(size, static_cast<size_t>(align));
}
void* operator new(size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return CountedAllocate(size, static_cast<size_t>(align));
}
void* operator new[](size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return CountedAllocate(size, static_cast<size_t>(align));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace bench::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr uint64_t kSeed = 20240610;

struct Event {
  std::string type;
  std::string data;
  std::string id;
  bool operator==(const Event&) const = default;
};

void PrintTo(const Event& e, std::ostream* os) {
  *os << "{type=\"" << e.type << "\" data=\"" << e.data << "\" id=\"" << e.id << "\"}";
}

Event Message(std::string data, std::string id = "") {
  return Event{"message", std::move(data), std::move(id)};
}

// Everything observable about one parse.
struct ParseResult {
  std::vector<Event> events;
  absl::StatusCode code = absl::StatusCode::kOk;
  uint64_t comments = 0;
  bool ended_mid_event = false;
  std::optional<uint64_t> retry_ms;
  bool operator==(const ParseResult&) const = default;
};

void PrintTo(const ParseResult& r, std::ostream* os) {
  *os << "{code=" << absl::StatusCodeToString(r.code) << " comments=" << r.comments
      << " mid=" << r.ended_mid_event << " events=" << ::testing::PrintToString(r.events) << "}";
}

ParseResult ParsePieces(SseParser& parser, const std::vector<std::string_view>& pieces) {
  ParseResult result;
  for (std::string_view piece : pieces) {
    const absl::Status status = parser.Feed(piece, [&](const SseEvent& e) {
      result.events.push_back(Event{std::string(e.type), std::string(e.data), std::string(e.id)});
    });
    if (!status.ok()) {
      result.code = status.code();
      break;
    }
  }
  result.comments = parser.comment_count();
  result.ended_mid_event = parser.EndedMidEvent();
  result.retry_ms = parser.retry_ms();
  return result;
}

ParseResult Parse(const std::vector<std::string_view>& pieces,
                  size_t max_line = SseParser::kDefaultMaxLineBytes,
                  size_t max_data = SseParser::kDefaultMaxEventDataBytes) {
  SseParser parser(max_line, max_data);
  return ParsePieces(parser, pieces);
}

std::vector<std::string_view> Whole(std::string_view input) { return {input}; }

std::vector<std::string_view> SplitAt(std::string_view input, size_t position) {
  return {input.substr(0, position), input.substr(position)};
}

std::vector<std::string_view> ByteByByte(std::string_view input) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < input.size(); ++i) pieces.push_back(input.substr(i, 1));
  return pieces;
}

// Pieces of 0 to 2 * mean_size bytes (empty pieces included on purpose).
std::vector<std::string_view> RandomPieces(std::string_view input, std::mt19937_64& rng,
                                           size_t mean_size) {
  std::uniform_int_distribution<size_t> size(0, 2 * mean_size);
  std::vector<std::string_view> pieces;
  size_t pos = 0;
  while (pos < input.size()) {
    const size_t n = std::min(size(rng), input.size() - pos);
    pieces.push_back(input.substr(pos, n));
    pos += n;
  }
  return pieces;
}

// ---------------------------------------------------------------------------------------------
// WHATWG interpretation rules, one case at a time. Each is checked whole and byte by byte.

struct WhatwgCase {
  const char* name;
  std::string input;
  std::vector<Event> events;
  uint64_t comments = 0;
  bool ended_mid_event = false;
};

void PrintTo(const WhatwgCase& c, std::ostream* os) { *os << c.name; }

class WhatwgTest : public ::testing::TestWithParam<WhatwgCase> {};

TEST_P(WhatwgTest, WholeAndByteByByte) {
  const WhatwgCase& c = GetParam();
  for (const auto& pieces : {Whole(c.input), ByteByByte(c.input)}) {
    const ParseResult result = Parse(pieces);
    EXPECT_EQ(result.code, absl::StatusCode::kOk);
    EXPECT_EQ(result.events, c.events) << "pieces: " << pieces.size();
    EXPECT_EQ(result.comments, c.comments);
    EXPECT_EQ(result.ended_mid_event, c.ended_mid_event);
  }
}

using namespace std::string_literals;  // "\0"s keeps embedded NULs.

INSTANTIATE_TEST_SUITE_P(
    Cases, WhatwgTest,
    ::testing::Values(
        WhatwgCase{"Simple", "data: a\n\n", {Message("a")}},
        WhatwgCase{"NoSpaceAfterColon", "data:a\n\n", {Message("a")}},
        WhatwgCase{"OnlyOneSpaceRemoved", "data:  a \n\n", {Message(" a ")}},
        WhatwgCase{"TabIsNotStripped", "data:\ta\n\n", {Message("\ta")}},
        WhatwgCase{"ColonsInValue", "data: {\"a\":\"b:c\"}\n\n", {Message("{\"a\":\"b:c\"}")}},
        WhatwgCase{"FieldWithoutColonHasEmptyValue", "data\n\n", {Message("")}},
        WhatwgCase{"EmptyDataIsDispatched", "data:\n\n", {Message("")}},
        WhatwgCase{
            "MultiLineDataJoinedWithLf", "data: a\ndata: b\ndata: c\n\n", {Message("a\nb\nc")}},
        WhatwgCase{"TrailingEmptyDataLineKeepsLf", "data: a\ndata:\n\n", {Message("a\n")}},
        WhatwgCase{"NoDataNoEvent", "event: foo\nid: 1\n\n", {}},
        WhatwgCase{
            "EventTypeResetWhenNothingDispatched", "event: foo\n\ndata: x\n\n", {Message("x")}},
        WhatwgCase{"EventType",
                   "event: update\ndata: x\n\ndata: y\n\n",
                   {Event{"update", "x", ""}, Message("y")}},
        WhatwgCase{"EmptyEventTypeIsMessage", "event\ndata: x\n\n", {Message("x")}},
        WhatwgCase{"LastEventTypeWins", "event: a\nevent: b\ndata: x\n\n", {Event{"b", "x", ""}}},
        WhatwgCase{"IdPersistsAcrossEvents",
                   "id: 7\ndata: a\n\ndata: b\n\n",
                   {Message("a", "7"), Message("b", "7")}},
        WhatwgCase{"IdWithNulIgnored",
                   "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"s,
                   {Message("a", "1"), Message("b", "1")}},
        WhatwgCase{"EmptyIdClearsIt",
                   "id: 1\ndata: a\n\nid\ndata: b\n\n",
                   {Message("a", "1"), Message("b", "")}},
        WhatwgCase{"NulInDataPassesThrough", "data: a\0b\n\n"s, {Message("a\0b"s)}},
        WhatwgCase{"UnknownFieldIgnored", "foo: bar\ndata: x\n\n", {Message("x")}},
        WhatwgCase{"FieldNamesAreCaseSensitive", "Data: x\n\n", {}},
        WhatwgCase{"SpaceBeforeColonIsPartOfName", "data : x\n\n", {}},
        WhatwgCase{"Comment", ": hello\n\n", {}, 1}, WhatwgCase{"EmptyComment", ":\n", {}, 1},
        WhatwgCase{"CommentInsideEvent", "data: a\n: ping\ndata: b\n\n", {Message("a\nb")}, 1},
        WhatwgCase{"CrLineEndings", "data: a\rdata: b\r\r", {Message("a\nb")}},
        WhatwgCase{"CrLfLineEndings", "data: a\r\ndata: b\r\n\r\n", {Message("a\nb")}},
        WhatwgCase{"MixedLineEndings",
                   "data: a\ndata: b\r\ndata: c\r\r\ndata: d\n\n",
                   {Message("a\nb\nc"), Message("d")}},
        WhatwgCase{
            "LfThenCrLfIsTwoBreaks", "data: a\n\r\ndata: b\n\n", {Message("a"), Message("b")}},
        WhatwgCase{"CrCrIsEmptyLine", "data: a\r\rdata: b\r\n\r\n", {Message("a"), Message("b")}},
        WhatwgCase{"ExtraEmptyLinesDispatchNothing", "\n\n\r\ndata: a\n\n\n\n", {Message("a")}},
        WhatwgCase{"Bom",
                   "\xEF\xBB\xBF"
                   "data: a\n\n",
                   {Message("a")}},
        WhatwgCase{"OnlyOneBomStripped",
                   "\xEF\xBB\xBF\xEF\xBB\xBF"
                   "data: a\n\ndata: b\n\n",
                   {Message("b")}},
        WhatwgCase{"BomLaterIsText",
                   "data: a\n\n\xEF\xBB\xBF"
                   "data: b\n\n",
                   {Message("a")}},
        WhatwgCase{"PartialBomIsText",
                   "\xEF\xBB"
                   "data: a\n\ndata: b\n\n",
                   {Message("b")}},
        WhatwgCase{"PartialBomAsData", "\xEF\xBB\n\ndata: \xEF\xBB\n\n", {Message("\xEF\xBB")}},
        WhatwgCase{"UnterminatedEventNotDispatched", "data: a\n", {}, 0, true},
        WhatwgCase{"UnterminatedLine", "data: a\n\ndata: b", {Message("a")}, 0, true},
        WhatwgCase{"UnterminatedNonDataField", "event: x\n", {}, 0, true},
        WhatwgCase{"UnterminatedComment", ": keep", {}, 0, true},
        WhatwgCase{"EndsAfterComment", "data: a\n\n: ping\n", {Message("a")}, 1, false},
        WhatwgCase{"EndsWithCr", "data: a\r\r", {Message("a")}, 0, false},
        WhatwgCase{"Empty", "", {}, 0, false}),
    [](const ::testing::TestParamInfo<WhatwgCase>& info) { return std::string(info.param.name); });

TEST(SseParserTest, RetryDigitsOnly) {
  EXPECT_EQ(Parse(Whole("retry: 1500\n")).retry_ms, 1500u);
  EXPECT_EQ(Parse(Whole("retry: 1500\nretry: 15a\n")).retry_ms, 1500u);
  EXPECT_EQ(Parse(Whole("retry: -5\n")).retry_ms, std::nullopt);
  EXPECT_EQ(Parse(Whole("retry:\n")).retry_ms, std::nullopt);
  EXPECT_EQ(Parse(Whole("retry:  7\n")).retry_ms, std::nullopt);  // " 7" is not all digits.
  EXPECT_EQ(Parse(Whole("retry: 99999999999999999999999\n")).retry_ms, UINT64_MAX);
  // retry alone does not make an event.
  EXPECT_THAT(Parse(Whole("retry: 10\n\n")).events, IsEmpty());
}

TEST(SseParserTest, CrAtEndOfOneFeedAndLfAtStartOfNextIsOneBreak) {
  const ParseResult result = Parse({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  EXPECT_THAT(result.events, ElementsAre(Message("a\nb")));
  EXPECT_FALSE(result.ended_mid_event);
}

TEST(SseParserTest, EmptyFeedsBetweenCrAndLf) {
  const ParseResult result = Parse({"data: a\r", "", "", "\n\r", "", "\n"});
  EXPECT_THAT(result.events, ElementsAre(Message("a")));
}

TEST(SseParserTest, BomSplitAcrossFeeds) {
  EXPECT_THAT(Parse({"\xEF", "\xBB", "\xBF", "data: a\n\n"}).events, ElementsAre(Message("a")));
  // A BOM prefix that stops matching is text of the first line (here: a field name).
  EXPECT_THAT(Parse({"\xEF", "\xBB", "x: 1\n\ndata: b\n\n"}).events, ElementsAre(Message("b")));
  EXPECT_TRUE(Parse({"\xEF", "\xBB"}).ended_mid_event);
}

TEST(SseParserTest, CountsEvents) {
  SseParser parser;
  int delivered = 0;
  ASSERT_TRUE(
      parser
          .Feed("data: a\n\n: c\n\ndata: b\n\nevent: x\n\n", [&](const SseEvent&) { ++delivered; })
          .ok());
  EXPECT_EQ(parser.event_count(), 2u);
  EXPECT_EQ(delivered, 2);
  EXPECT_EQ(parser.comment_count(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Limits.

TEST(SseParserTest, LineAtLimitIsAccepted) {
  const std::string line = "data: " + std::string(10, 'x');  // 16 bytes.
  const ParseResult result = Parse(Whole(line + "\n\n"), /*max_line=*/16);
  EXPECT_EQ(result.code, absl::StatusCode::kOk);
  EXPECT_THAT(result.events, ElementsAre(Message(std::string(10, 'x'))));
}

TEST(SseParserTest, LineOverLimitIsResourceExhaustedWhateverTheSplit) {
  const std::string input = "data: ok\n\ndata: " + std::string(11, 'x') + "\n\ndata: after\n\n";
  for (size_t split = 0; split <= input.size(); ++split) {
    const ParseResult result = Parse(SplitAt(input, split), /*max_line=*/16);
    EXPECT_EQ(result.code, absl::StatusCode::kResourceExhausted) << "split " << split;
    // Events before the long line are delivered, none after it.
    EXPECT_THAT(result.events, ElementsAre(Message("ok"))) << "split " << split;
    EXPECT_TRUE(result.ended_mid_event) << "split " << split;
  }
}

TEST(SseParserTest, UnterminatedLongLineFailsBeforeItEnds) {
  SseParser parser(/*max_line_bytes=*/16);
  const absl::Status status = parser.Feed(std::string(17, 'x'), [](const SseEvent&) {});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("max_line_bytes=16"));
}

TEST(SseParserTest, LongCommentCountsAgainstTheLimit) {
  EXPECT_EQ(Parse(Whole(": " + std::string(100, 'c') + "\n"), 16).code,
            absl::StatusCode::kResourceExhausted);
}

TEST(SseParserTest, EventDataOverLimitIsResourceExhausted) {
  // Four lines of 8 bytes joined with LF = 35 bytes; the limit is 34.
  const std::string input =
      "data: 11111111\ndata: 22222222\ndata: 33333333\ndata: 44444444\n\ndata: z\n\n";
  const ParseResult at_limit = Parse(Whole(input), 1024, /*max_data=*/35);
  EXPECT_EQ(at_limit.code, absl::StatusCode::kOk);
  EXPECT_EQ(at_limit.events.size(), 2u);
  for (const auto& pieces : {Whole(input), ByteByByte(input)}) {
    const ParseResult over = Parse(pieces, 1024, /*max_data=*/34);
    EXPECT_EQ(over.code, absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(over.events, IsEmpty());
  }
}

TEST(SseParserTest, FailedStateIsStickyUntilReset) {
  SseParser parser(/*max_line_bytes=*/8);
  int delivered = 0;
  const auto count = [&](const SseEvent&) { ++delivered; };
  EXPECT_EQ(parser.Feed("data: too long\n\n", count).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(parser.Feed("data: a\n\n", count).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(delivered, 0);
  parser.Reset();
  EXPECT_TRUE(parser.Feed("data: a\n\n", count).ok());
  EXPECT_EQ(delivered, 1);
}

// ---------------------------------------------------------------------------------------------
// Reuse and copies.

TEST(SseParserTest, ResetForgetsPartialLineEventAndId) {
  SseParser parser;
  std::vector<Event> events;
  const auto collect = [&](const SseEvent& e) {
    events.push_back(Event{std::string(e.type), std::string(e.data), std::string(e.id)});
  };
  ASSERT_TRUE(parser.Feed("\xEF\xBB\xBFid: 9\nevent: t\ndata: a\n\ndata: half", collect).ok());
  EXPECT_TRUE(parser.EndedMidEvent());
  parser.Reset();
  EXPECT_FALSE(parser.EndedMidEvent());
  EXPECT_EQ(parser.event_count(), 0u);
  // A new response: its BOM is stripped again, nothing of the old one leaks in.
  ASSERT_TRUE(parser
                  .Feed("\xEF\xBB\xBF"
                        "data: b\n\n",
                        collect)
                  .ok());
  EXPECT_THAT(events, ElementsAre(Event{"t", "a", "9"}, Message("b")));
}

TEST(SseParserTest, ResetAfterCrForgetsPendingLf) {
  SseParser parser;
  std::vector<std::string> data;
  const auto collect = [&](const SseEvent& e) { data.emplace_back(e.data); };
  ASSERT_TRUE(parser.Feed("data: a\r\r", collect).ok());
  parser.Reset();
  // The leading LF is an empty line of the new stream, not the end of the old CR.
  ASSERT_TRUE(parser.Feed("\ndata: b\n\n", collect).ok());
  EXPECT_THAT(data, ElementsAre("a", "b"));
}

bool PointsInto(std::string_view inner, std::string_view outer) {
  const auto in = reinterpret_cast<uintptr_t>(inner.data());
  const auto out = reinterpret_cast<uintptr_t>(outer.data());
  return in >= out && in + inner.size() <= out + outer.size();
}

TEST(SseParserTest, SingleLineDataInTheBufferIsNotCopied) {
  SseParser parser;
  const std::string input = "data: {\"x\":1}\n\ndata: {\"y\":2}\r\n\r\n";
  int seen = 0;
  ASSERT_TRUE(parser
                  .Feed(input,
                        [&](const SseEvent& e) {
                          ++seen;
                          EXPECT_TRUE(PointsInto(e.data, input)) << e.data;
                        })
                  .ok());
  EXPECT_EQ(seen, 2);
}

TEST(SseParserTest, DataLeftOverFromAnEarlierFeedIsCopied) {
  SseParser parser;
  std::string first = "data: abc\n";  // The event is completed by the next Feed.
  std::string delivered;
  ASSERT_TRUE(parser.Feed(first, [](const SseEvent&) {}).ok());
  first.assign(first.size(), '#');  // The caller reuses its read buffer.
  const std::string second = "\n";
  ASSERT_TRUE(parser
                  .Feed(second,
                        [&](const SseEvent& e) {
                          EXPECT_FALSE(PointsInto(e.data, first));
                          delivered = std::string(e.data);
                        })
                  .ok());
  EXPECT_EQ(delivered, "abc");
}

// A typical chat stream as a server sends it: one event per read.
std::vector<std::string> TypicalEvents(int count) {
  std::vector<std::string> events;
  events.reserve(count + 2);
  for (int i = 0; i < count; ++i) {
    events.push_back(
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
        "\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word" +
        std::to_string(i % 10) + "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
  }
  events.push_back(
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":"
      "0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
      "\"completion_tokens\":4,\"prompt_tokens_details\":{\"cached_tokens\":1}}}\n\n");
  events.push_back("data: [DONE]\n\n");
  return events;
}

// Parses and decodes `pieces`; returns the number of output chunks.
int ParseAndDecode(SseParser& parser, OpenAiDecoder& decoder, OpenAiPayload& payload,
                   const std::vector<std::string_view>& pieces) {
  int chunks = 0;
  parser.Reset();
  for (std::string_view piece : pieces) {
    const absl::Status status = parser.Feed(piece, [&](const SseEvent& e) {
      if (decoder.DecodeStreamEvent(e.data, payload).ok() && payload.has_output) ++chunks;
    });
    if (!status.ok()) return -1;
  }
  return chunks;
}

TEST(SseParserTest, SteadyStateAllocatesNothing) {
  const std::vector<std::string> events = TypicalEvents(50);
  std::string whole;
  for (const auto& e : events) whole += e;
  const std::vector<std::string_view> per_event(events.begin(), events.end());
  std::mt19937_64 rng(kSeed);
  const std::vector<std::string_view> random = RandomPieces(whole, rng, 37);
  const std::vector<std::string_view> bytes = ByteByByte(whole);

  SseParser parser;
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  // Warm-up: buffers grow to their working size (and the counter is seen to count).
  const int64_t before_warm_up = g_allocation_count.load();
  for (const auto* pieces : {&per_event, &random, &bytes}) {
    ASSERT_EQ(ParseAndDecode(parser, decoder, payload, *pieces), 50);
  }
  EXPECT_GT(g_allocation_count.load(), before_warm_up);
  for (const auto* pieces : {&per_event, &random, &bytes}) {
    const int64_t before = g_allocation_count.load();
    const int chunks = ParseAndDecode(parser, decoder, payload, *pieces);
    const int64_t allocations = g_allocation_count.load() - before;
    EXPECT_EQ(chunks, 50);
    EXPECT_EQ(allocations, 0) << "pieces: " << pieces->size();
  }
}

// ---------------------------------------------------------------------------------------------
// Recorded streams (worker/engine/testdata), fed whole, split at every byte, in random pieces
// and byte by byte: the events and what the engine takes from them never change.

std::string ReadTestdata(const std::string& name) {
  const char* source_dir = std::getenv("BENCH_SOURCE_DIR");
  const std::filesystem::path dir =
      source_dir != nullptr ? std::filesystem::path(source_dir) / "worker/engine/testdata"
                            : std::filesystem::path(__FILE__).parent_path() / "testdata";
  std::ifstream in(dir / name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << (dir / name);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What the engine takes from a stream.
struct StreamSummary {
  ParseResult parse;
  int output_chunks = 0;
  size_t output_bytes = 0;
  size_t reasoning_bytes = 0;
  size_t tool_call_bytes = 0;
  int done_events = 0;
  int invalid_events = 0;
  std::optional<OpenAiUsage> usage;
  std::string finish_reason;
  std::optional<OpenAiError> error;
  bool operator==(const StreamSummary&) const = default;
};

void PrintTo(const StreamSummary& s, std::ostream* os) {
  *os << "{chunks=" << s.output_chunks << " bytes=" << s.output_bytes << " done=" << s.done_events
      << " invalid=" << s.invalid_events << " finish=\"" << s.finish_reason
      << "\" parse=" << ::testing::PrintToString(s.parse) << "}";
}

StreamSummary Summarize(const std::vector<std::string_view>& pieces) {
  StreamSummary summary;
  summary.parse = Parse(pieces);
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  for (const Event& event : summary.parse.events) {
    if (!decoder.DecodeStreamEvent(event.data, payload).ok()) {
      ++summary.invalid_events;
      continue;
    }
    if (payload.has_output) ++summary.output_chunks;
    summary.output_bytes += payload.output_bytes;
    summary.reasoning_bytes += payload.reasoning_bytes;
    summary.tool_call_bytes += payload.tool_call_bytes;
    if (payload.done) ++summary.done_events;
    if (payload.usage) summary.usage = payload.usage;
    if (!payload.finish_reason.empty()) summary.finish_reason = payload.finish_reason;
    if (payload.error && !summary.error) summary.error = payload.error;
  }
  return summary;
}

// Expected values are read off the fixture files by hand.
// Every member has a default so designated initializers may leave any of them out.
struct RecordedStream {
  const char* file = "";
  size_t events = 0;
  int output_chunks = 0;
  size_t output_bytes = 0;
  size_t reasoning_bytes = 0;
  size_t tool_call_bytes = 0;
  uint64_t comments = 0;
  bool ended_mid_event = false;
  int done_events = 1;
  std::optional<OpenAiUsage> usage = std::nullopt;
  std::string finish_reason{};
  std::optional<OpenAiError> error = std::nullopt;
  std::optional<uint64_t> retry_ms = std::nullopt;
};

void PrintTo(const RecordedStream& s, std::ostream* os) { *os << s.file; }

OpenAiUsage Usage(int64_t prompt, int64_t completion, std::optional<int64_t> total,
                  std::optional<int64_t> cached = std::nullopt) {
  return OpenAiUsage{prompt, completion, total, cached};
}

class RecordedStreamTest : public ::testing::TestWithParam<RecordedStream> {
 protected:
  void ExpectFixtureValues(const StreamSummary& s) {
    const RecordedStream& want = GetParam();
    EXPECT_EQ(s.parse.code, absl::StatusCode::kOk);
    EXPECT_EQ(s.parse.events.size(), want.events);
    EXPECT_EQ(s.output_chunks, want.output_chunks);
    EXPECT_EQ(s.output_bytes, want.output_bytes);
    EXPECT_EQ(s.reasoning_bytes, want.reasoning_bytes);
    EXPECT_EQ(s.tool_call_bytes, want.tool_call_bytes);
    EXPECT_EQ(s.parse.comments, want.comments);
    EXPECT_EQ(s.parse.ended_mid_event, want.ended_mid_event);
    EXPECT_EQ(s.parse.retry_ms, want.retry_ms);
    EXPECT_EQ(s.done_events, want.done_events);
    EXPECT_EQ(s.invalid_events, 0);
    EXPECT_EQ(s.usage, want.usage);
    EXPECT_EQ(s.finish_reason, want.finish_reason);
    EXPECT_EQ(s.error, want.error);
  }
};

TEST_P(RecordedStreamTest, AnySplitGivesTheSameResult) {
  const std::string input = ReadTestdata(GetParam().file);
  ASSERT_FALSE(input.empty());
  const StreamSummary whole = Summarize(Whole(input));
  ExpectFixtureValues(whole);

  for (size_t split = 0; split <= input.size(); ++split) {
    ASSERT_EQ(Summarize(SplitAt(input, split)), whole) << "split at " << split;
  }
  std::mt19937_64 rng(kSeed);
  for (int round = 0; round < 100; ++round) {
    const size_t mean = size_t{1} << (round % 8);  // 1 .. 128 bytes.
    ASSERT_EQ(Summarize(RandomPieces(input, rng, mean)), whole) << "round " << round;
  }
  EXPECT_EQ(Summarize(ByteByByte(input)), whole);
}

std::string ReplaceAll(std::string_view text, char from, std::string_view to) {
  std::string out;
  for (char c : text) {
    if (c == from) {
      out.append(to);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

TEST_P(RecordedStreamTest, OtherLineEndingsGiveTheSameResult) {
  const std::string input = ReadTestdata(GetParam().file);
  const StreamSummary expected = Summarize(Whole(input));
  // JSON never holds a raw CR or LF, so every CR and LF in a fixture is a line ending.
  std::string lf_only;
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '\r' && i + 1 < input.size() && input[i + 1] == '\n') continue;
    lf_only.push_back(input[i] == '\r' ? '\n' : input[i]);
  }
  for (std::string_view ending : {"\n", "\r\n", "\r"}) {
    const std::string converted = ReplaceAll(lf_only, '\n', ending);
    EXPECT_EQ(Summarize(Whole(converted)), expected);
    EXPECT_EQ(Summarize(ByteByByte(converted)), expected);
    std::mt19937_64 rng(kSeed);
    EXPECT_EQ(Summarize(RandomPieces(converted, rng, 16)), expected);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, RecordedStreamTest,
    ::testing::Values(
        // Role chunk, 11 content chunks ("The" ... " été"), finish chunk, usage chunk with empty
        // choices, [DONE].
        RecordedStream{.file = "vllm_chat_usage.sse",
                       .events = 15,
                       .output_chunks = 11,
                       .output_bytes = 51,
                       .usage = Usage(17, 11, 28),
                       .finish_reason = "stop"},
        RecordedStream{.file = "completions.sse",
                       .events = 10,
                       .output_chunks = 8,
                       .output_bytes = 36,
                       .usage = Usage(5, 8, 13, 4),
                       .finish_reason = "length"},
        // 4 reasoning_content + 1 reasoning (24 bytes), 3 content (9 bytes); usage on the last
        // content chunk.
        RecordedStream{.file = "reasoning.sse",
                       .events = 10,
                       .output_chunks = 8,
                       .output_bytes = 33,
                       .reasoning_bytes = 24,
                       .usage = Usage(9, 8, 17),
                       .finish_reason = "stop"},
        // Name delta "get_weather" (11) and four argument pieces (36).
        RecordedStream{.file = "tool_calls.sse",
                       .events = 9,
                       .output_chunks = 5,
                       .output_bytes = 47,
                       .tool_call_bytes = 47,
                       .usage = Usage(210, 21, 231),
                       .finish_reason = "tool_calls"},
        RecordedStream{.file = "keepalive_comments.sse",
                       .events = 4,
                       .output_chunks = 2,
                       .output_bytes = 8,
                       .comments = 4,
                       .usage = Usage(8, 2, 10),
                       .finish_reason = "stop"},
        RecordedStream{.file = "tgi_chat.sse",
                       .events = 4,
                       .output_chunks = 3,
                       .output_bytes = 16,
                       .usage = Usage(6, 3, 9),
                       .finish_reason = "length"},
        RecordedStream{.file = "crlf.sse",
                       .events = 6,
                       .output_chunks = 3,
                       .output_bytes = 17,
                       .comments = 1,
                       .finish_reason = "stop"},
        RecordedStream{.file = "cr_only.sse",
                       .events = 6,
                       .output_chunks = 3,
                       .output_bytes = 17,
                       .comments = 1,
                       .finish_reason = "stop"},
        // Multi-line data, id:, event:, retry:, an unknown field, an event type with no data.
        RecordedStream{.file = "fields.sse",
                       .events = 5,
                       .output_chunks = 2,
                       .output_bytes = 10,
                       .finish_reason = "stop",
                       .retry_ms = 2500},
        RecordedStream{.file = "bom.sse",
                       .events = 3,
                       .output_chunks = 2,
                       .output_bytes = 7,
                       .finish_reason = "stop"},
        RecordedStream{.file = "error_midstream.sse",
                       .events = 5,
                       .output_chunks = 2,
                       .output_bytes = 9,
                       .error = OpenAiError{"The engine is dead.", "InternalServerError", "500"}},
        RecordedStream{.file = "truncated.sse",
                       .events = 3,
                       .output_chunks = 2,
                       .output_bytes = 6,
                       .ended_mid_event = true,
                       .done_events = 0}),
    [](const ::testing::TestParamInfo<RecordedStream>& info) {
      std::string name = info.param.file;
      name = name.substr(0, name.find('.'));
      return name;
    });

TEST(RecordedStreamFieldsTest, MultiLineDataAndIds) {
  const ParseResult result = Parse(Whole(ReadTestdata("fields.sse")));
  ASSERT_EQ(result.events.size(), 5u);
  EXPECT_EQ(result.events[0].id, "evt-1");
  EXPECT_EQ(
      result.events[0].data,
      "{\"id\":\"chatcmpl-ml\",\"object\":\"chat.completion.chunk\",\n\"choices\":[{\"index\":"
      "0,\n \"delta\":{\"content\":\"multi\"},\"finish_reason\":null}]}");
  EXPECT_EQ(result.events[1].id, "evt-2");
  EXPECT_EQ(result.events[2].type, "heartbeat");
  EXPECT_EQ(result.events[3].type, "message");  // "event: unused" had no data.
  EXPECT_EQ(result.events[4].data, "[DONE]");
}

}  // namespace
}  // namespace bench::engine
