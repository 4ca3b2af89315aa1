#include "common/trace.h"

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/file_chunks.h"
#include "common/status_macros.h"

namespace bench {
namespace {

namespace dom = simdjson::dom;

// Debian's Abseil does not alias absl::string_view to std::string_view.
absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

// The three ways a line may give its time; a file uses one.
enum class TimeField { kSeconds, kMillis, kDateTime };

constexpr std::string_view kTimeKeys[] = {"timestamp", "timestamp_ms", "TIMESTAMP"};
constexpr std::string_view kInputKeys[] = {"input_length", "input_tokens", "ContextTokens"};
constexpr std::string_view kOutputKeys[] = {"output_length", "output_tokens", "GeneratedTokens"};

// Times beyond these would overflow int64 nanoseconds (9.2e18); Unix seconds fit easily.
constexpr double kMaxSeconds = 9e9;
constexpr double kMaxMillis = 9e12;

template <size_t N>
int KeyIndex(const std::string_view (&keys)[N], std::string_view key) {
  for (size_t i = 0; i < N; ++i) {
    if (keys[i] == key) return static_cast<int>(i);
  }
  return -1;
}

// The value as JSON, bounded: what an error message repeats of the user's text.
std::string Got(dom::element value) {
  std::string text = simdjson::minify(value);
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return text;
}

absl::StatusOr<int64_t> ReadLength(std::string_view key, dom::element value) {
  int64_t count = 0;
  double real = 0;
  if (value.get_int64().get(count) == simdjson::SUCCESS) {
    // An integer.
  } else if (value.get_double().get(real) == simdjson::SUCCESS && real == std::floor(real) &&
             real >= 1 && real <= static_cast<double>(kMaxTraceTokens)) {
    count = static_cast<int64_t>(real);  // 12.0, as pandas writes integer columns with gaps
  } else if (value.is_number() && real >= 1 && real == std::floor(real)) {
    count = kMaxTraceTokens + 1;  // An integer too large for int64: reported as too large.
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(key), " must be a positive integer, got ", Got(value)));
  }
  if (count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(key), " must be a positive integer, got ", Got(value)));
  }
  if (count > kMaxTraceTokens) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(key), " must be at most ", kMaxTraceTokens, ", got ", Got(value)));
  }
  return count;
}

absl::StatusOr<int64_t> ReadTimeNs(TimeField field, dom::element value) {
  const std::string_view key = kTimeKeys[static_cast<int>(field)];
  if (field == TimeField::kDateTime) {
    std::string_view text;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      absl::Time time;
      std::string error;
      for (const char* format :
           {"%Y-%m-%d %H:%M:%E*S", "%Y-%m-%dT%H:%M:%E*S", "%Y-%m-%dT%H:%M:%E*S%Ez"}) {
        if (absl::ParseTime(format, Absl(text), absl::UTCTimeZone(), &time, &error)) {
          // The range the numeric times allow: offsets between any two records then fit int64.
          if (time < absl::UnixEpoch() ||
              time > absl::FromUnixSeconds(static_cast<int64_t>(kMaxSeconds))) {
            return absl::InvalidArgumentError(
                absl::StrCat(Absl(key), " must be between 1970 and 2255, got ", Got(value)));
          }
          return absl::ToUnixNanos(time);
        }
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(key), " must be a date-time \"YYYY-MM-DD HH:MM:SS[.fraction]\", got ", Got(value)));
  }
  const bool millis = field == TimeField::kMillis;
  const char* unit = millis ? "milliseconds" : "seconds";
  double number = 0;
  if (!value.is_number() || value.get_double().get(number) != simdjson::SUCCESS || number < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(key), " must be a number of ", unit, " >= 0, got ", Got(value)));
  }
  if (number > (millis ? kMaxMillis : kMaxSeconds)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(key), " must be at most ", millis ? "9e12" : "9e9", " ", unit, ", got ", Got(value)));
  }
  return std::llround(number * (millis ? 1e6 : 1e9));
}

struct ParsedLine {
  TimeField time_field = TimeField::kSeconds;
  int64_t time_ns = 0;  // Not yet shifted to the earliest record.
  int64_t input_length = 0;
  int64_t output_length = 0;
};

// One line that is neither blank nor a comment.
absl::StatusOr<ParsedLine> ParseLine(dom::parser& parser, std::string_view line) {
  dom::element root;
  if (auto error = parser.parse(line.data(), line.size()).get(root); error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON (", simdjson::error_message(error), ")"));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("must be a JSON object, got ", Got(root)));
  }
  // For each role, the key that gave it and its value.
  std::optional<std::pair<std::string_view, dom::element>> time, input, output;
  int time_index = -1;
  for (dom::key_value_pair field : object) {
    std::optional<std::pair<std::string_view, dom::element>>* slot = nullptr;
    if (const int i = KeyIndex(kTimeKeys, field.key); i >= 0) {
      slot = &time;
      time_index = i;
    } else if (KeyIndex(kInputKeys, field.key) >= 0) {
      slot = &input;
    } else if (KeyIndex(kOutputKeys, field.key) >= 0) {
      slot = &output;
    } else {
      continue;  // Other columns of real traces (hash_ids, ...) are not ours.
    }
    if (slot->has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("both ", Absl((*slot)->first), " and ",
                                                     Absl(field.key), " given; keep one"));
    }
    slot->emplace(field.key, field.value);
  }
  if (!time.has_value()) {
    return absl::InvalidArgumentError(
        "missing timestamp (seconds from the trace start; or timestamp_ms, or TIMESTAMP)");
  }
  if (!input.has_value()) {
    return absl::InvalidArgumentError(
        "missing input_length (prompt tokens; or input_tokens, or ContextTokens)");
  }
  if (!output.has_value()) {
    return absl::InvalidArgumentError(
        "missing output_length (max_tokens; or output_tokens, or GeneratedTokens)");
  }
  ParsedLine parsed;
  parsed.time_field = static_cast<TimeField>(time_index);
  absl::StatusOr<int64_t> time_ns = ReadTimeNs(parsed.time_field, time->second);
  if (!time_ns.ok()) return time_ns.status();
  parsed.time_ns = *time_ns;
  absl::StatusOr<int64_t> input_length = ReadLength(input->first, input->second);
  if (!input_length.ok()) return input_length.status();
  parsed.input_length = *input_length;
  absl::StatusOr<int64_t> output_length = ReadLength(output->first, output->second);
  if (!output_length.ok()) return output_length.status();
  parsed.output_length = *output_length;
  return parsed;
}

// Takes the trace line by line (from memory or a file read in chunks) and builds the Trace.
class TraceBuilder {
 public:
  explicit TraceBuilder(std::string_view source_name) : source_(source_name) {}

  // Text in any chunks; lines may be split between them.
  void Feed(std::string_view text) {
    while (!text.empty()) {
      const size_t newline = text.find('\n');
      if (newline == std::string_view::npos) {
        pending_.append(text);
        return;
      }
      if (pending_.empty()) {
        AddLine(text.substr(0, newline));
      } else {
        pending_.append(text.substr(0, newline));
        AddLine(pending_);
        pending_.clear();
      }
      text.remove_prefix(newline + 1);
    }
  }

  absl::StatusOr<Trace> Finish() {
    if (!pending_.empty()) {
      AddLine(pending_);
      pending_.clear();
    }
    if (bad_lines_ > 0) {
      if (bad_lines_ > static_cast<int64_t>(errors_.size())) {
        errors_.push_back(absl::StrCat(Absl(source_), ": ... and ",
                                       bad_lines_ - static_cast<int64_t>(errors_.size()),
                                       " more bad lines"));
      }
      return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n"));
    }
    if (trace_.records.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Absl(source_),
                       ": no requests in the trace (one JSON object per line with timestamp, "
                       "input_length and output_length)"));
    }
    const int64_t earliest = min_time_ns_;
    for (TraceRecord& record : trace_.records) record.offset_ns -= earliest;
    if (trace_.out_of_order > 0) {
      std::stable_sort(
          trace_.records.begin(), trace_.records.end(),
          [](const TraceRecord& a, const TraceRecord& b) { return a.offset_ns < b.offset_ns; });
    }
    return std::move(trace_);
  }

 private:
  void AddLine(std::string_view line) {
    ++line_number_;
    if (line_number_ == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') return;
    absl::StatusOr<ParsedLine> parsed = ParseLine(parser_, line);
    if (parsed.ok() && time_field_.has_value() && parsed->time_field != *time_field_) {
      parsed = absl::InvalidArgumentError(absl::StrCat(
          Absl(kTimeKeys[static_cast<int>(parsed->time_field)]), " differs from the time field ",
          Absl(kTimeKeys[static_cast<int>(*time_field_)]), " of line ", time_field_line_,
          "; use one time field throughout"));
    }
    if (!parsed.ok()) {
      ++bad_lines_;
      if (errors_.size() < static_cast<size_t>(kMaxTraceErrors)) {
        errors_.push_back(
            absl::StrCat(Absl(source_), ":", line_number_, ": ", parsed.status().message()));
      }
      return;
    }
    if (!time_field_.has_value()) {
      time_field_ = parsed->time_field;
      time_field_line_ = line_number_;
      min_time_ns_ = max_time_ns_ = parsed->time_ns;
    }
    if (parsed->time_ns < max_time_ns_) ++trace_.out_of_order;
    min_time_ns_ = std::min(min_time_ns_, parsed->time_ns);
    max_time_ns_ = std::max(max_time_ns_, parsed->time_ns);
    if (bad_lines_ > 0) return;  // The trace is rejected anyway: keep only the checking going.
    trace_.records.push_back(
        TraceRecord{parsed->time_ns, parsed->input_length, parsed->output_length, line_number_});
  }

  std::string_view source_;
  dom::parser parser_;
  std::string pending_;
  int64_t line_number_ = 0;
  std::optional<TimeField> time_field_;
  int64_t time_field_line_ = 0;
  int64_t min_time_ns_ = 0;
  int64_t max_time_ns_ = 0;
  Trace trace_;
  std::vector<std::string> errors_;
  int64_t bad_lines_ = 0;
};

}  // namespace

int64_t Trace::CountBetween(int64_t begin_ns, int64_t end_ns) const {
  const auto before = [](const TraceRecord& record, int64_t time) {
    return record.offset_ns < time;
  };
  const auto begin = std::lower_bound(records.begin(), records.end(), begin_ns, before);
  const auto end = std::lower_bound(records.begin(), records.end(), end_ns, before);
  return end > begin ? end - begin : 0;
}

absl::StatusOr<Trace> ParseTrace(std::string_view text, std::string_view source_name) {
  TraceBuilder builder(source_name);
  builder.Feed(text);
  return builder.Finish();
}

absl::StatusOr<Trace> ReadTraceFile(const std::string& path) {
  TraceBuilder builder(path);
  BENCH_RETURN_IF_ERROR(ReadFileChunks(path, "load.trace", [&](std::string_view chunk) {
    builder.Feed(chunk);
    return absl::OkStatus();
  }));
  return builder.Finish();
}

}  // namespace bench
