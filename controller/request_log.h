// requests.jsonl (metrics.raw): one JSON object per line per request, appended as the workers'
// shards arrive, so the controller's memory stays flat however long the run. Each shard is
// applied once (sequence numbers), so each request is written once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/run_stats.h"

namespace bench::controller {

class RequestLog {
 public:
  // Opens (creates or appends to) `path`; lines list chunk gaps when `with_chunk_gaps`
  // (metrics.rawTokenTimes).
  static absl::StatusOr<std::unique_ptr<RequestLog>> Open(const std::string& path,
                                                          bool with_chunk_gaps = false);
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // Writes one line per record, tagged with the worker's name.
  absl::Status Append(const std::string& worker, const std::vector<RequestRecord>& records);
  uint64_t written() const { return written_; }

 private:
  RequestLog(int fd, bool with_chunk_gaps) : fd_(fd), with_chunk_gaps_(with_chunk_gaps) {}
  int fd_;
  bool with_chunk_gaps_;
  uint64_t written_ = 0;
};

// One record's line (without the newline): times in seconds since the run's start, ttft_ms and
// e2e_ms derived, null for what did not happen; the stage 1-based, as in summary.json; with
// `with_chunk_gaps`, chunk_gaps_ms: every gap in order, or null when they were folded.
std::string RequestRecordJson(const std::string& worker, const RequestRecord& record,
                              bool with_chunk_gaps = false);

}  // namespace bench::controller
