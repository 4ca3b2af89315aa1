#include "controller/request_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

std::string Seconds(int64_t ns) {
  return ns < 0 ? "null" : absl::StrFormat("%.6f", static_cast<double>(ns) / 1e9);
}

std::string Millis(int64_t from_ns, int64_t to_ns) {
  if (from_ns < 0 || to_ns < 0) return "null";
  return absl::StrFormat("%.3f", static_cast<double>(to_ns - from_ns) / 1e6);
}

std::string ChunkGapsJson(const RequestRecord& r) {
  if (r.chunk_gaps_folded) return ",\"chunk_gaps_ms\":null";
  std::string out = ",\"chunk_gaps_ms\":[";
  for (size_t i = 0; i < r.chunk_gaps_us.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppendFormat(&out, "%.3f", static_cast<double>(r.chunk_gaps_us[i]) / 1000.0);
  }
  return out + "]";
}

}  // namespace

std::string RequestRecordJson(const std::string& worker, const RequestRecord& r,
                              bool with_chunk_gaps) {
  // Worker names and outcomes come from outside: nlohmann escapes them (and replaces bad UTF-8).
  const nlohmann::json name = worker;
  const nlohmann::json outcome = r.outcome;
  return absl::StrCat(
      "{\"worker\":", name.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      ",\"stage\":", r.stage + 1,
      ",\"turn\":", r.turn < 0 ? std::string("null") : absl::StrCat(r.turn + 1),
      ",\"in_window\":", r.in_window ? "true" : "false",
      ",\"outcome\":", outcome.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      ",\"intended_s\":", Seconds(r.intended_ns), ",\"sent_s\":", Seconds(r.sent_ns),
      ",\"first_chunk_s\":", Seconds(r.first_chunk_ns),
      ",\"last_chunk_s\":", Seconds(r.last_chunk_ns), ",\"end_s\":", Seconds(r.end_ns),
      ",\"ttft_ms\":", Millis(r.sent_ns, r.first_chunk_ns),
      ",\"e2e_ms\":", Millis(r.sent_ns, r.end_ns), ",\"input_tokens\":", r.input_tokens,
      ",\"output_tokens\":", r.output_tokens, ",\"cached_tokens\":",
      r.cached_tokens < 0 ? std::string("null") : absl::StrCat(r.cached_tokens),
      ",\"chunks\":", r.chunks, with_chunk_gaps ? ChunkGapsJson(r) : "", "}");
}

absl::StatusOr<std::unique_ptr<RequestLog>> RequestLog::Open(const std::string& path,
                                                             bool with_chunk_gaps) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<RequestLog>(new RequestLog(fd, with_chunk_gaps));
}

RequestLog::~RequestLog() { ::close(fd_); }

absl::Status RequestLog::Append(const std::string& worker,
                                const std::vector<RequestRecord>& records) {
  std::string text;
  for (const RequestRecord& record : records) {
    absl::StrAppend(&text, RequestRecordJson(worker, record, with_chunk_gaps_), "\n");
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("cannot write requests.jsonl: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  written_ += records.size();
  return absl::OkStatus();
}

}  // namespace bench::controller
