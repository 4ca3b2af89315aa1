#include "worker/engine/sse_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace bench::engine {
namespace {

constexpr char kBom[] = "\xEF\xBB\xBF";
constexpr std::string_view kDefaultEventType = "message";

// Index of the first `c` in bytes[from, size), or size.
size_t FindByte(std::string_view bytes, size_t from, char c) {
  const void* hit = std::memchr(bytes.data() + from, c, bytes.size() - from);
  return hit == nullptr ? bytes.size() : static_cast<const char*>(hit) - bytes.data();
}

}  // namespace

SseParser::SseParser(size_t max_line_bytes, size_t max_event_data_bytes)
    : max_line_bytes_(max_line_bytes), max_event_data_bytes_(max_event_data_bytes) {
  BENCH_CHECK_GT(max_line_bytes_, size_t{0});
  BENCH_CHECK_GT(max_event_data_bytes_, size_t{0});
}

void SseParser::Reset() {
  status_ = absl::OkStatus();
  bom_matched_ = 0;
  bom_done_ = false;
  skip_lf_ = false;
  line_buf_.clear();
  event_open_ = false;
  has_data_ = false;
  data_in_view_ = false;
  data_view_ = {};
  data_buf_.clear();
  event_type_.clear();
  last_event_id_.clear();
  retry_ms_.reset();
  comment_count_ = 0;
  event_count_ = 0;
}

bool SseParser::EndedMidEvent() const {
  if (!status_.ok()) return true;  // It stopped inside the line that was too long.
  const bool partial_bom = !bom_done_ && bom_matched_ > 0;
  return partial_bom || !line_buf_.empty() || event_open_;
}

void SseParser::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
  line_buf_.clear();  // Nothing more is parsed; EndedMidEvent() no longer looks at it.
}

absl::Status SseParser::Feed(std::string_view bytes,
                             absl::FunctionRef<void(const SseEvent&)> on_event) {
  if (!status_.ok()) return status_;
  if (!bom_done_) {
    // The BOM may arrive split over several Feed() calls; hold the matched prefix until settled.
    while (bom_matched_ < 3 && !bytes.empty()) {
      if (bytes.front() != kBom[bom_matched_]) break;
      ++bom_matched_;
      bytes.remove_prefix(1);
    }
    if (bom_matched_ < 3 && bytes.empty()) return absl::OkStatus();
    bom_done_ = true;
    // A partial match was ordinary text after all: parse it before the rest.
    if (bom_matched_ < 3) FeedLines(std::string_view(kBom, bom_matched_), on_event);
  }
  if (status_.ok()) FeedLines(bytes, on_event);
  if (data_in_view_) {
    // The caller's buffer goes away after this call: keep the undispatched data.
    data_buf_.assign(data_view_.data(), data_view_.size());
    data_in_view_ = false;
    data_view_ = {};
  }
  return status_;
}

void SseParser::FeedLines(std::string_view bytes,
                          absl::FunctionRef<void(const SseEvent&)> on_event) {
  size_t pos = 0;
  // Positions of the next LF and CR at or after `pos`, found with memchr and reused while still
  // ahead, so CR-only or LF-only streams stay linear in the buffer size.
  size_t next_lf = 0;
  size_t next_cr = 0;
  bool lf_valid = false;
  bool cr_valid = false;
  while (pos < bytes.size()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes[pos] == '\n') {
        ++pos;
        continue;
      }
    }
    if (!lf_valid || next_lf < pos) {
      next_lf = FindByte(bytes, pos, '\n');
      lf_valid = true;
    }
    if (!cr_valid || next_cr < pos) {
      next_cr = FindByte(bytes, pos, '\r');
      cr_valid = true;
    }
    const size_t eol = std::min(next_lf, next_cr);
    const size_t piece_size = eol - pos;
    if (line_buf_.size() + piece_size > max_line_bytes_) {
      Fail(absl::ResourceExhaustedError(
          absl::StrCat("SSE line longer than max_line_bytes=", max_line_bytes_)));
      return;
    }
    if (eol == bytes.size()) {
      line_buf_.append(bytes.data() + pos, piece_size);
      return;
    }
    if (line_buf_.empty()) {
      ProcessLine(bytes.substr(pos, piece_size), /*in_input=*/true, on_event);
    } else {
      line_buf_.append(bytes.data() + pos, piece_size);
      ProcessLine(line_buf_, /*in_input=*/false, on_event);
      line_buf_.clear();
    }
    if (!status_.ok()) return;
    skip_lf_ = bytes[eol] == '\r';
    pos = eol + 1;
  }
}

void SseParser::ProcessLine(std::string_view line, bool in_input,
                            absl::FunctionRef<void(const SseEvent&)> on_event) {
  if (line.empty()) {
    Dispatch(on_event);
    return;
  }
  if (line.front() == ':') {
    ++comment_count_;
    return;
  }
  event_open_ = true;
  std::string_view name = line;
  std::string_view value;
  const size_t colon = FindByte(line, 0, ':');
  if (colon < line.size()) {
    name = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    AppendData(value, in_input);
  } else if (name == "event") {
    event_type_.assign(value.data(), value.size());
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) {
      last_event_id_.assign(value.data(), value.size());
    }
  } else if (name == "retry") {
    if (value.empty()) return;
    uint64_t ms = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return;
      const uint64_t digit = static_cast<uint64_t>(c - '0');
      constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
      ms = ms > (kMax - digit) / 10 ? kMax : ms * 10 + digit;
    }
    retry_ms_ = ms;
  }
  // Any other field is ignored.
}

void SseParser::AppendData(std::string_view value, bool in_input) {
  const size_t current = !has_data_ ? 0 : data_in_view_ ? data_view_.size() : data_buf_.size();
  const size_t joined = current + (has_data_ ? 1 : 0) + value.size();
  if (joined > max_event_data_bytes_) {
    Fail(absl::ResourceExhaustedError(
        absl::StrCat("SSE event data longer than max_event_data_bytes=", max_event_data_bytes_)));
    return;
  }
  if (!has_data_) {
    has_data_ = true;
    if (in_input) {
      // The common case, `data: {...}\n\n` in one read: deliver it without a copy.
      data_in_view_ = true;
      data_view_ = value;
    } else {
      data_buf_.assign(value.data(), value.size());
    }
    return;
  }
  if (data_in_view_) {
    data_buf_.assign(data_view_.data(), data_view_.size());
    data_in_view_ = false;
    data_view_ = {};
  }
  data_buf_.push_back('\n');
  data_buf_.append(value.data(), value.size());
}

void SseParser::Dispatch(absl::FunctionRef<void(const SseEvent&)> on_event) {
  event_open_ = false;
  if (!has_data_) {
    event_type_.clear();
    return;
  }
  SseEvent event;
  event.type = event_type_.empty() ? kDefaultEventType : std::string_view(event_type_);
  event.data = data_in_view_ ? data_view_ : std::string_view(data_buf_);
  event.id = last_event_id_;
  ++event_count_;
  on_event(event);
  has_data_ = false;
  data_in_view_ = false;
  data_view_ = {};
  data_buf_.clear();
  event_type_.clear();
}

}  // namespace bench::engine
