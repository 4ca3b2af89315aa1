// Per-thread measurement: turns each finished request into histogram samples, outcome counters
// and time-series points (SPEC section 3). One Recorder per engine thread, touched only by that
// thread; snapshots are copies taken on that thread and merged elsewhere.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/histogram.h"
#include "common/run_stats.h"

namespace bench::engine {

// Per-request limits for goodput (DistServe): a successful request counts as good when each of
// its own values is within the limit. 0 = no limit. When a config gives several percentiles for
// one metric, the caller passes the loosest (the per-request reading of "p99 <= x").
struct SloLimits {
  int64_t ttft_ns = 0;
  int64_t tpot_ns = 0;
  int64_t itl_ns = 0;  // against the request's mean gap between chunks
  int64_t e2e_latency_ns = 0;
  int64_t ntpot_ns = 0;
  bool any() const { return ttft_ns || tpot_ns || itl_ns || e2e_latency_ns || ntpot_ns; }
};

// The gaps between one request's output chunks, in microseconds, held until the request ends:
// only a success's gaps count toward ITL. Memory does not grow with the response: past
// kMaxRawGaps the gaps are folded into (histogram counts index, count) pairs of the ITL
// histogram's layout, at most one per bucket, which re-record exactly.
class ChunkGaps {
 public:
  static constexpr size_t kMaxRawGaps = 4096;

  // `layout` is the histogram the gaps will be recorded into (only its layout is used).
  explicit ChunkGaps(const Histogram* layout) : layout_(layout) {}

  // Forgets the gaps; keeps capacity.
  void Clear();
  // The chunk that arrived at `time_ns` (MonotonicNowNs()); gaps start at the second chunk.
  void OnChunk(int64_t time_ns);
  // Records every gap into `histogram`, which must have the layout given at construction.
  void RecordInto(Histogram& histogram) const;

  uint64_t chunks() const { return chunks_; }
  // Every gap in order (us) while none was folded; see folded().
  const std::vector<int64_t>& raw() const { return raw_; }
  bool folded() const { return !folded_.empty(); }
  int64_t first_ns() const { return first_ns_; }
  int64_t last_ns() const { return last_ns_; }

 private:
  void Fold();

  const Histogram* layout_;
  uint64_t chunks_ = 0;
  int64_t first_ns_ = 0;
  int64_t last_ns_ = 0;
  std::vector<int64_t> raw_;
  absl::flat_hash_map<int32_t, int64_t> folded_;  // counts index -> count
};

// Everything known about one request when it ends. Times are MonotonicNowNs() readings; 0 means
// "did not happen".
struct RequestResult {
  int64_t intended_ns = 0;      // schedule time (open loop) or when the slot freed (closed loop)
  int64_t sent_ns = 0;          // headers handed to the connection
  int64_t connect_wait_ns = 0;  // of sent - intended, the wait for a new connection's setup
  int64_t end_ns = 0;
  int64_t first_chunk_ns = 0;
  int64_t last_chunk_ns = 0;
  uint64_t chunks = 0;              // output chunks that arrived
  const ChunkGaps* gaps = nullptr;  // their gaps (null: none kept)
  int64_t output_tokens = 0;        // N: usage.completion_tokens, else the chunk count
  int64_t input_tokens = 0;         // usage.prompt_tokens, else the generator's estimate
  int64_t cached_tokens = -1;       // -1: the server did not report it
  bool usage_reported = false;
  Outcome outcome = Outcome::kSuccess;
  std::string_view explanation;  // a failure's, safe to keep (failure_text.h); may be empty
  int http_status = 0;
  uint32_t h2_error_code = 0;
  int32_t stage = 0;
  int32_t turn = -1;       // a conversation's turn (0-based); -1 outside conversations
  bool in_window = false;  // intended inside [warmup, warmup + duration)
};

// sent - intended, less the wait for a new connection's setup (reported as connect time, not as
// the generator's lag); never negative.
inline int64_t ScheduleLagNs(int64_t intended_ns, int64_t sent_ns, int64_t connect_wait_ns) {
  const int64_t lag = sent_ns - intended_ns - connect_wait_ns;
  return lag > 0 ? lag : 0;
}

struct RecorderSnapshot {
  std::vector<StatsShard> stages;     // in-window requests, one shard per stage
  std::vector<IntervalPoint> series;  // whole run, one point per interval
  // Conversations: in-window requests per turn; the last shard also holds every later turn.
  std::vector<StatsShard> turns;
};

class Recorder {
 public:
  // `turn_count` > 0: requests of conversations are also recorded per turn, turns past the
  // last into the last shard.
  Recorder(int64_t run_start_ns, int64_t interval_ns, int stage_count, SloLimits slo,
           int turn_count = 0);

  // Series bookkeeping as events happen.
  // `schedule_lag_ns` as ScheduleLagNs() gives it.
  void OnSent(int64_t sent_ns, int64_t schedule_lag_ns);
  void OnOutputChunk(int64_t read_time_ns);
  // In flight and queued right now; kept as the interval's closing value.
  void UpdateGauges(int64_t now_ns, uint32_t in_flight, uint32_t client_queue);

  void Record(const RequestResult& result);

  // metrics.raw: keep a RequestRecord of every request until TakeRecords, at most
  // `max_pending` (the rest only counted as dropped). Off (0) by default.
  void KeepRecords(size_t max_pending, bool with_chunk_gaps = false);
  // Appends the records kept since the last call to *out and adds the dropped count.
  void TakeRecords(std::vector<RequestRecord>* out, uint64_t* dropped);

  RecorderSnapshot Snapshot() const;
  // The layout of the ITL histograms that ChunkGaps fold into.
  const Histogram& itl_layout() const { return stages_[0].histogram(LatencyMetric::kItl); }
  // Whether the request met every SLO limit (exposed for tests).
  bool MeetsSlo(const RequestResult& result) const;

 private:
  IntervalPoint& PointAt(int64_t time_ns);
  void KeepRecord(const RequestResult& result);
  void RecordInWindow(const RequestResult& result, StatsShard& shard) const;

  int64_t run_start_ns_;
  int64_t interval_ns_;
  SloLimits slo_;
  std::vector<StatsShard> stages_;
  std::vector<StatsShard> turns_;
  std::vector<IntervalPoint> series_;
  uint32_t last_in_flight_ = 0;
  uint32_t last_client_queue_ = 0;
  size_t max_pending_records_ = 0;
  bool records_with_chunk_gaps_ = false;
  std::vector<RequestRecord> records_;
  uint64_t records_dropped_ = 0;
};

}  // namespace bench::engine
