// Fuzzes the SSE parser differentially: the input fed whole, split at a position taken from its
// first bytes, and byte by byte must give the same events, status and end state, and the same
// events as a naive line-by-line reference of the WHATWG rules. Every event's data also goes
// through the OpenAI chunk and response decoders, which must never crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/openai_stream.h"
#include "worker/engine/sse_parser.h"

namespace {

using bench::engine::OpenAiDecoder;
using bench::engine::OpenAiPayload;
using bench::engine::SseEvent;
using bench::engine::SseParser;

struct Event {
  std::string type;
  std::string data;
  std::string id;
  bool operator==(const Event&) const = default;
};

struct Outcome {
  std::vector<Event> events;
  absl::StatusCode code = absl::StatusCode::kOk;
  uint64_t comments = 0;
  bool ended_mid_event = false;
  std::optional<uint64_t> retry_ms;
  bool operator==(const Outcome&) const = default;
};

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "sse_parse_fuzz: %s\n", what);
  std::abort();
}

Outcome Run(SseParser& parser, const std::vector<std::string_view>& pieces) {
  parser.Reset();
  Outcome outcome;
  for (std::string_view piece : pieces) {
    const absl::Status status = parser.Feed(piece, [&](const SseEvent& e) {
      outcome.events.push_back(Event{std::string(e.type), std::string(e.data), std::string(e.id)});
    });
    if (!status.ok()) {
      outcome.code = status.code();
      break;
    }
  }
  outcome.comments = parser.comment_count();
  outcome.ended_mid_event = parser.EndedMidEvent();
  outcome.retry_ms = parser.retry_ms();
  return outcome;
}

// The WHATWG rules written as plainly as possible: split into lines first, then interpret.
// No limits; `limited` is false when a line or an event's data went over them.
Outcome Reference(std::string_view input, size_t max_line, size_t max_data, bool& limited) {
  limited = false;
  Outcome outcome;
  if (input.substr(0, 3) == "\xEF\xBB\xBF") input.remove_prefix(3);
  std::vector<std::string_view> lines;
  size_t start = 0;
  size_t i = 0;
  while (i < input.size()) {
    if (input[i] == '\r' || input[i] == '\n') {
      lines.push_back(input.substr(start, i - start));
      if (input[i] == '\r' && i + 1 < input.size() && input[i + 1] == '\n') ++i;
      start = ++i;
    } else {
      ++i;
    }
  }
  const std::string_view rest = input.substr(start);
  std::string data;
  bool has_data = false;
  std::string type;
  std::string id;
  bool open = false;
  for (std::string_view line : lines) {
    if (line.size() > max_line) {
      limited = true;
      return outcome;
    }
    if (line.empty()) {
      open = false;
      if (has_data) {
        data.pop_back();  // The final LF.
        outcome.events.push_back(Event{type.empty() ? "message" : type, data, id});
      }
      data.clear();
      has_data = false;
      type.clear();
      continue;
    }
    if (line[0] == ':') {
      ++outcome.comments;
      continue;
    }
    open = true;
    const size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    if (name == "data") {
      data.append(value);
      data.push_back('\n');
      has_data = true;
      if (data.size() - 1 > max_data) {
        limited = true;
        return outcome;
      }
    } else if (name == "event") {
      type = std::string(value);
    } else if (name == "id" && value.find('\0') == std::string_view::npos) {
      id = std::string(value);
    }
  }
  if (rest.size() > max_line) limited = true;
  outcome.ended_mid_event = open || !rest.empty();
  return outcome;
}

void DecodeAll(const Outcome& outcome) {
  static OpenAiDecoder decoder;
  OpenAiPayload payload;
  for (const Event& event : outcome.events) {
    const absl::Status status = decoder.DecodeStreamEvent(event.data, payload);
    if (status.ok()) {
      Require(payload.has_output == (payload.output_bytes > 0), "has_output mismatch");
      Require(payload.reasoning_bytes + payload.tool_call_bytes <= payload.output_bytes,
              "output byte parts exceed the total");
      Require(payload.output_bytes <= event.data.size(), "more output bytes than data");
    } else {
      Require(status.code() == absl::StatusCode::kInvalidArgument, "decode error code");
      Require(payload == OpenAiPayload{}, "payload not cleared on error");
    }
    const absl::Status response = decoder.DecodeResponse(event.data, payload);
    Require(response.ok() || response.code() == absl::StatusCode::kInvalidArgument,
            "response error code");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 2) return 0;
  // Byte 0 picks the limits (small ones reach the ResourceExhausted paths), byte 1 the split.
  const size_t max_line = (bytes[0] & 0x80) ? 4096 : 8 + (bytes[0] & 0x3f);
  const size_t max_data = (bytes[0] & 0x40) ? 4096 : 2 * max_line;
  const std::string input(reinterpret_cast<const char*>(bytes) + 2, size - 2);
  const size_t split = input.empty() ? 0 : bytes[1] % (input.size() + 1);

  SseParser parser(max_line, max_data);
  const Outcome whole = Run(parser, {input});
  const std::string_view view = input;
  Require(Run(parser, {view.substr(0, split), view.substr(split)}) == whole, "split differs");
  std::vector<std::string_view> single_bytes;
  for (size_t i = 0; i < view.size(); ++i) single_bytes.push_back(view.substr(i, 1));
  Require(Run(parser, single_bytes) == whole, "byte-by-byte differs");

  bool limited = false;
  const Outcome reference = Reference(input, max_line, max_data, limited);
  if (whole.code == absl::StatusCode::kOk) {
    Require(!limited, "reference hit a limit the parser did not");
    Require(whole.events == reference.events, "events differ from the reference");
    Require(whole.comments == reference.comments, "comment count differs from the reference");
    Require(whole.ended_mid_event == reference.ended_mid_event, "end state differs");
  } else {
    Require(whole.code == absl::StatusCode::kResourceExhausted, "unexpected error code");
    Require(limited, "parser failed where the reference found no limit");
    Require(whole.events == reference.events, "events before the limit differ");
  }
  DecodeAll(whole);
  return 0;
}
