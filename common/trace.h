// The request trace of `load.type: trace` (SPEC section 2): a JSONL file with one timestamped
// request per line (arrival time, input and output length in tokens), read and checked once and
// handed to the plan (`validate`) and the engine (`run`) as sorted offsets and lengths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace bench {

// One request of a trace.
struct TraceRecord {
  int64_t offset_ns = 0;      // From the trace's earliest record, which is at 0.
  int64_t input_length = 0;   // Prompt tokens, in [1, kMaxTraceTokens].
  int64_t output_length = 0;  // Sent as max_tokens, in [1, kMaxTraceTokens].
  int64_t line = 0;           // 1-based line of the file it came from.

  bool operator==(const TraceRecord&) const = default;
};

struct Trace {
  // Sorted by offset_ns; records with equal times keep their file order. Never empty.
  std::vector<TraceRecord> records;
  // Lines whose time was earlier than that of a line above them: 0 when the file was in order.
  int64_t out_of_order = 0;

  // Offset of the last record (the first is at 0).
  int64_t span_ns() const { return records.empty() ? 0 : records.back().offset_ns; }
  // Records with begin_ns <= offset_ns < end_ns.
  int64_t CountBetween(int64_t begin_ns, int64_t end_ns) const;
};

// Largest input_length or output_length accepted: a prompt of that many words is ~100 MB.
inline constexpr int64_t kMaxTraceTokens = 10'000'000;
// At most this many bad lines are listed in one error; the rest are counted.
inline constexpr int kMaxTraceErrors = 20;

// Parses JSONL trace text. Each non-blank line not starting with '#' is a JSON object with
//   time:   "timestamp" (seconds, a number >= 0), "timestamp_ms" (milliseconds, a number >= 0),
//           or "TIMESTAMP" (a date-time string "YYYY-MM-DD HH:MM:SS[.fraction]", UTC, as in the
//           Azure LLM inference traces) - one of them, the same one on every line;
//   input:  "input_length" (or "input_tokens", "ContextTokens"), a positive integer;
//   output: "output_length" (or "output_tokens", "GeneratedTokens"), a positive integer.
// Other keys are ignored. Times are shifted so the earliest record is at 0, and records are
// sorted by time (stably). InvalidArgument for bad content: one line per bad line (up to
// kMaxTraceErrors), each "<source_name>:<line>: <field> <problem>", e.g.
//   t.jsonl:7: input_length must be a positive integer, got "x"
// and "<source_name>: no requests ..." for a trace without records.
absl::StatusOr<Trace> ParseTrace(std::string_view text, std::string_view source_name);

// Reads and parses the file at `path` (messages name it as given). NotFound when it does not
// exist, InvalidArgument when it cannot be read or its content is bad.
absl::StatusOr<Trace> ReadTraceFile(const std::string& path);

}  // namespace bench
