#include "common/trace.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> Offsets(const Trace& trace) {
  std::vector<int64_t> offsets;
  for (const TraceRecord& record : trace.records) offsets.push_back(record.offset_ns);
  return offsets;
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<Trace> trace = ParseTrace(text, "t.jsonl");
  EXPECT_FALSE(trace.ok()) << text;
  if (trace.ok()) return "";
  EXPECT_EQ(trace.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(trace.status().message());
}

TEST(TraceTest, ReadsRecordsSkipsBlanksAndCommentsAndShiftsToTheFirst) {
  const std::string text =
      "\xEF\xBB\xBF# recorded 2024-05-10\n"
      "{\"timestamp\": 2.5, \"input_length\": 100, \"output_length\": 20}\n"
      "\n"
      "   \t\r\n"
      "  # another comment\n"
      "{\"timestamp\": 3, \"input_length\": 7, \"output_length\": 1, \"hash_ids\": [1, 2]}\r\n"
      "{\"output_length\": 64, \"timestamp\": 4.000000001, \"input_length\": 12.0}";  // no \n
  absl::StatusOr<Trace> trace = ParseTrace(text, "t.jsonl");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_THAT(trace->records,
              ElementsAre(TraceRecord{0, 100, 20, 2}, TraceRecord{500'000'000, 7, 1, 6},
                          TraceRecord{1'500'000'001, 12, 64, 7}));
  EXPECT_EQ(trace->out_of_order, 0);
  EXPECT_EQ(trace->span_ns(), 1'500'000'001);
}

TEST(TraceTest, UnsortedLinesAreSortedStably) {
  const std::string text =
      "{\"timestamp\": 5, \"input_length\": 1, \"output_length\": 1}\n"
      "{\"timestamp\": 1, \"input_length\": 2, \"output_length\": 2}\n"
      "{\"timestamp\": 3, \"input_length\": 3, \"output_length\": 3}\n"
      "{\"timestamp\": 1, \"input_length\": 4, \"output_length\": 4}\n"
      "{\"timestamp\": 6, \"input_length\": 5, \"output_length\": 5}\n";
  absl::StatusOr<Trace> trace = ParseTrace(text, "t.jsonl");
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(Offsets(*trace),
            (std::vector<int64_t>{0, 0, 2'000'000'000, 4'000'000'000, 5'000'000'000}));
  std::vector<int64_t> lines;
  for (const TraceRecord& record : trace->records) lines.push_back(record.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{2, 4, 3, 1, 5})) << "equal times keep file order";
  EXPECT_EQ(trace->out_of_order, 3) << "lines 2, 3 and 4 come before line 1 in time";
}

TEST(TraceTest, AcceptsMillisecondsAndAzureDateTimesWithTheirColumnNames) {
  absl::StatusOr<Trace> millis = ParseTrace(
      "{\"timestamp_ms\": 27482, \"input_tokens\": 6955, \"output_tokens\": 52}\n"
      "{\"timestamp_ms\": 30535, \"input_tokens\": 6472, \"output_tokens\": 26}\n",
      "m.jsonl");
  ASSERT_TRUE(millis.ok()) << millis.status();
  EXPECT_THAT(millis->records,
              ElementsAre(TraceRecord{0, 6955, 52, 1}, TraceRecord{3'053'000'000, 6472, 26, 2}));

  absl::StatusOr<Trace> azure = ParseTrace(
      "{\"TIMESTAMP\": \"2023-11-16 18:15:46.6805900\", \"ContextTokens\": 374, "
      "\"GeneratedTokens\": 44}\n"
      "{\"TIMESTAMP\": \"2023-11-16 18:15:50.9951690\", \"ContextTokens\": 396, "
      "\"GeneratedTokens\": 109}\n"
      "{\"TIMESTAMP\": \"2023-11-16T18:15:46Z\", \"ContextTokens\": 879, \"GeneratedTokens\": 1}\n",
      "azure.jsonl");
  ASSERT_TRUE(azure.ok()) << azure.status();
  EXPECT_THAT(azure->records,
              ElementsAre(TraceRecord{0, 879, 1, 3}, TraceRecord{680'590'000, 374, 44, 1},
                          TraceRecord{4'995'169'000, 396, 109, 2}));
}

TEST(TraceTest, EveryBadFieldIsNamedWithFileAndLine) {
  struct Case {
    std::string line;
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({"timestamp": 1, "input_length": "x", "output_length": 5})",
       R"(t.jsonl:1: input_length must be a positive integer, got "x")"},
      {R"({"timestamp": 1, "input_length": 0, "output_length": 5})",
       "t.jsonl:1: input_length must be a positive integer, got 0"},
      {R"({"timestamp": 1, "input_length": 1.5, "output_length": 5})",
       "t.jsonl:1: input_length must be a positive integer, got 1.5"},
      {R"({"timestamp": 1, "input_length": 10000001, "output_length": 5})",
       "t.jsonl:1: input_length must be at most 10000000, got 10000001"},
      {R"({"timestamp": 1, "input_length": 18446744073709551615, "output_length": 5})",
       "t.jsonl:1: input_length must be at most 10000000, got 18446744073709551615"},
      {R"({"timestamp": 1, "input_length": 3, "output_length": -2})",
       "t.jsonl:1: output_length must be a positive integer, got -2"},
      {R"({"timestamp": 1, "ContextTokens": 3, "GeneratedTokens": null})",
       "t.jsonl:1: GeneratedTokens must be a positive integer, got null"},
      {R"({"timestamp": "soon", "input_length": 3, "output_length": 2})",
       R"(t.jsonl:1: timestamp must be a number of seconds >= 0, got "soon")"},
      {R"({"timestamp": -0.5, "input_length": 3, "output_length": 2})",
       "t.jsonl:1: timestamp must be a number of seconds >= 0, got -0.5"},
      {R"({"timestamp": 1e10, "input_length": 3, "output_length": 2})",
       "t.jsonl:1: timestamp must be at most 9e9 seconds, got 10000000000.0"},
      {R"({"timestamp_ms": [1], "input_length": 3, "output_length": 2})",
       "t.jsonl:1: timestamp_ms must be a number of milliseconds >= 0, got [1]"},
      {R"({"TIMESTAMP": "16/11/2023", "input_length": 3, "output_length": 2})",
       R"(t.jsonl:1: TIMESTAMP must be a date-time "YYYY-MM-DD HH:MM:SS[.fraction]", got "16/11/2023")"},
      {R"({"TIMESTAMP": "0001-01-01 00:00:00", "input_length": 3, "output_length": 2})",
       R"(t.jsonl:1: TIMESTAMP must be between 1970 and 2255, got "0001-01-01 00:00:00")"},
      {R"({"input_length": 3, "output_length": 2})",
       "t.jsonl:1: missing timestamp (seconds from the trace start; or timestamp_ms, or "
       "TIMESTAMP)"},
      {R"({"timestamp": 0, "output_length": 2})",
       "t.jsonl:1: missing input_length (prompt tokens; or input_tokens, or ContextTokens)"},
      {R"({"timestamp": 0, "input_length": 2})",
       "t.jsonl:1: missing output_length (max_tokens; or output_tokens, or GeneratedTokens)"},
      {R"({"timestamp": 0, "timestamp_ms": 0, "input_length": 2, "output_length": 2})",
       "t.jsonl:1: both timestamp and timestamp_ms given; keep one"},
      {R"({"timestamp": 0, "input_length": 2, "ContextTokens": 2, "output_length": 2})",
       "t.jsonl:1: both input_length and ContextTokens given; keep one"},
      {R"([0, 2, 2])", "t.jsonl:1: must be a JSON object, got [0,2,2]"},
      {R"({"timestamp": 0, "input_length": 2)",
       "t.jsonl:1: not valid JSON (The JSON document has an improper structure: missing or "
       "superfluous commas, braces, missing keys, etc.)"},
  };
  for (const Case& c : cases) EXPECT_EQ(ErrorOf(c.line), c.error) << c.line;
}

TEST(TraceTest, ListsEveryBadLineUpToTheLimitThenCounts) {
  std::string text = "# header\n{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n";
  absl::StrAppend(&text, "{\"timestamp\": 1, \"input_length\": 1}\n");
  absl::StrAppend(&text, "{\"timestamp_ms\": 1, \"input_length\": 1, \"output_length\": 1}\n");
  EXPECT_EQ(ErrorOf(text),
            "t.jsonl:3: missing output_length (max_tokens; or output_tokens, or GeneratedTokens)\n"
            "t.jsonl:4: timestamp_ms differs from the time field timestamp of line 2; use one "
            "time field throughout");

  std::string many;
  for (int i = 0; i < kMaxTraceErrors + 5; ++i) absl::StrAppend(&many, "{}\n");
  const std::string error = ErrorOf(many);
  EXPECT_THAT(error, HasSubstr(absl::StrCat("t.jsonl:", kMaxTraceErrors, ": missing timestamp")));
  EXPECT_THAT(error, testing::Not(HasSubstr(absl::StrCat("t.jsonl:", kMaxTraceErrors + 1, ":"))));
  EXPECT_THAT(error, testing::EndsWith("\nt.jsonl: ... and 5 more bad lines"));
}

TEST(TraceTest, EmptyTraceIsAnError) {
  for (std::string_view text : {"", "\n\n", "# only a comment\n   \n"}) {
    EXPECT_EQ(ErrorOf(text),
              "t.jsonl: no requests in the trace (one JSON object per line with timestamp, "
              "input_length and output_length)");
  }
}

TEST(TraceTest, ReadsFilesInChunksAndReportsMissingOnes) {
  const std::string path = ::testing::TempDir() + "/trace_test_big.jsonl";
  {
    std::ofstream out(path);
    // ~2.9 MB: lines cross the reader's 1 MiB chunk boundaries.
    for (int i = 0; i < 50'000; ++i) {
      out << "{\"timestamp\": " << i * 0.001 << ", \"input_length\": " << (i % 97) + 1
          << ", \"output_length\": " << (i % 13) + 1 << "}\n";
    }
  }
  absl::StatusOr<Trace> trace = ReadTraceFile(path);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->records.size(), 50'000u);
  for (size_t i = 0; i < trace->records.size(); ++i) {
    const TraceRecord& record = trace->records[i];
    ASSERT_EQ(record.offset_ns, static_cast<int64_t>(i) * 1'000'000) << i;
    ASSERT_EQ(record.input_length, static_cast<int64_t>(i % 97) + 1) << i;
    ASSERT_EQ(record.output_length, static_cast<int64_t>(i % 13) + 1) << i;
  }
  EXPECT_EQ(trace->CountBetween(0, 1'000'000'000), 1000);
  EXPECT_EQ(trace->CountBetween(10'000'000'000, 20'000'000'000), 10'000);
  EXPECT_EQ(trace->CountBetween(49'999'000'000, 100'000'000'000), 1);
  EXPECT_EQ(trace->CountBetween(5, 5), 0);
  std::remove(path.c_str());

  absl::StatusOr<Trace> missing = ReadTraceFile("/nonexistent/t.jsonl");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "load.trace: file not found: /nonexistent/t.jsonl");

  const std::string bad = ::testing::TempDir() + "/trace_test_bad.jsonl";
  {
    std::ofstream out(bad);
    out << "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n{\"timestamp\": 1}\n";
  }
  absl::StatusOr<Trace> bad_trace = ReadTraceFile(bad);
  EXPECT_EQ(bad_trace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_trace.status().message(),
            bad + ":2: missing input_length (prompt tokens; or input_tokens, or ContextTokens)");
  std::remove(bad.c_str());
}

}  // namespace
}  // namespace bench
