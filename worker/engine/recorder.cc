#include "worker/engine/recorder.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "common/check.h"

namespace bench::engine {
namespace {

// Histograms hold microseconds; a negative span (cannot happen with one monotonic clock) is
// recorded as 0 rather than dropped.
int64_t ToMicros(int64_t nanoseconds) { return std::max<int64_t>(0, (nanoseconds + 500) / 1000); }

}  // namespace

void ChunkGaps::Clear() {
  chunks_ = 0;
  first_ns_ = 0;
  last_ns_ = 0;
  raw_.clear();
  folded_.clear();
}

void ChunkGaps::OnChunk(int64_t time_ns) {
  if (chunks_++ == 0) {
    first_ns_ = last_ns_ = time_ns;
    return;
  }
  if (raw_.size() == kMaxRawGaps) Fold();
  raw_.push_back(ToMicros(time_ns - last_ns_));
  last_ns_ = time_ns;
}

void ChunkGaps::Fold() {
  std::vector<int64_t> kept;  // Above the layout's range: recorded (clamped) as they are.
  for (const int64_t gap : raw_) {
    if (gap > layout_->highest_trackable_value()) {
      kept.push_back(gap);
    } else {
      ++folded_[layout_->CountsIndexFor(gap)];
    }
  }
  raw_ = std::move(kept);
}

void ChunkGaps::RecordInto(Histogram& histogram) const {
  BENCH_CHECK(histogram.SameLayout(*layout_));
  for (const int64_t gap : raw_) histogram.Record(gap);
  for (const auto& [index, count] : folded_) {
    BENCH_CHECK(histogram.AddCountAtIndex(index, count).ok());
  }
}

Recorder::Recorder(int64_t run_start_ns, int64_t interval_ns, int stage_count, SloLimits slo,
                   int turn_count)
    : run_start_ns_(run_start_ns),
      interval_ns_(interval_ns),
      slo_(slo),
      stages_(std::max(1, stage_count)),
      turns_(static_cast<size_t>(std::max(0, turn_count))) {
  BENCH_CHECK_GT(interval_ns_, 0);
}

IntervalPoint& Recorder::PointAt(int64_t time_ns) {
  const int64_t index = std::max<int64_t>(0, (time_ns - run_start_ns_) / interval_ns_);
  while (static_cast<int64_t>(series_.size()) <= index) {
    IntervalPoint point;
    point.start_ns = static_cast<int64_t>(series_.size()) * interval_ns_;
    // Gauges carry over into intervals in which nothing changed them.
    point.in_flight = last_in_flight_;
    point.client_queue = last_client_queue_;
    series_.push_back(point);
  }
  return series_[index];
}

void Recorder::OnSent(int64_t sent_ns, int64_t schedule_lag_ns) {
  IntervalPoint& point = PointAt(sent_ns);
  ++point.started;
  point.schedule_lag_us += static_cast<uint64_t>(ToMicros(schedule_lag_ns));
}

void Recorder::OnOutputChunk(int64_t read_time_ns) { ++PointAt(read_time_ns).output_chunks; }

void Recorder::UpdateGauges(int64_t now_ns, uint32_t in_flight, uint32_t client_queue) {
  IntervalPoint& point = PointAt(now_ns);
  point.in_flight = last_in_flight_ = in_flight;
  point.client_queue = last_client_queue_ = client_queue;
}

bool Recorder::MeetsSlo(const RequestResult& r) const {
  if (r.outcome != Outcome::kSuccess) return false;
  const int64_t e2e = r.end_ns - r.sent_ns;
  if (slo_.e2e_latency_ns > 0 && e2e > slo_.e2e_latency_ns) return false;
  if (slo_.ttft_ns > 0 && (r.first_chunk_ns == 0 || r.first_chunk_ns - r.sent_ns > slo_.ttft_ns)) {
    return false;
  }
  if (slo_.ntpot_ns > 0 && r.output_tokens > 0 && e2e / r.output_tokens > slo_.ntpot_ns) {
    return false;
  }
  if (r.output_tokens > 1 && r.first_chunk_ns != 0) {
    const int64_t tpot = (r.last_chunk_ns - r.first_chunk_ns) / (r.output_tokens - 1);
    if (slo_.tpot_ns > 0 && tpot > slo_.tpot_ns) return false;
  }
  const uint64_t chunks = r.chunks;
  if (slo_.itl_ns > 0 && chunks > 1) {
    const int64_t mean_gap =
        (r.last_chunk_ns - r.first_chunk_ns) / static_cast<int64_t>(chunks - 1);
    if (mean_gap > slo_.itl_ns) return false;
  }
  return true;
}

void Recorder::KeepRecords(size_t max_pending, bool with_chunk_gaps) {
  max_pending_records_ = max_pending;
  records_with_chunk_gaps_ = with_chunk_gaps;
}

void Recorder::TakeRecords(std::vector<RequestRecord>* out, uint64_t* dropped) {
  if (out->empty()) {
    out->swap(records_);
  } else {
    out->insert(out->end(), std::make_move_iterator(records_.begin()),
                std::make_move_iterator(records_.end()));
    records_.clear();
  }
  *dropped += records_dropped_;
  records_dropped_ = 0;
}

void Recorder::KeepRecord(const RequestResult& r) {
  if (records_.size() >= max_pending_records_) {
    ++records_dropped_;
    return;
  }
  auto since_start = [this](int64_t time_ns) {
    return time_ns == 0 ? int64_t{-1} : time_ns - run_start_ns_;
  };
  RequestRecord& record = records_.emplace_back();
  record.intended_ns = since_start(r.intended_ns);
  record.sent_ns = since_start(r.sent_ns);
  record.first_chunk_ns = since_start(r.first_chunk_ns);
  record.last_chunk_ns = since_start(r.last_chunk_ns);
  record.end_ns = since_start(r.end_ns);
  record.input_tokens = r.input_tokens;
  record.output_tokens = r.output_tokens;
  record.cached_tokens = r.cached_tokens;
  record.chunks = r.chunks;
  record.stage = static_cast<uint32_t>(std::max<int32_t>(0, r.stage));
  record.turn = r.turn;
  record.in_window = r.in_window;
  record.outcome = ErrorKey(r.outcome, r.http_status, r.h2_error_code);
  if (records_with_chunk_gaps_ && r.gaps != nullptr) {
    // Past ChunkGaps::kMaxRawGaps the order is gone (folded into histogram buckets): say so
    // rather than list a part.
    if (r.gaps->folded()) {
      record.chunk_gaps_folded = true;
    } else {
      record.chunk_gaps_us = r.gaps->raw();
    }
  }
}

void Recorder::Record(const RequestResult& r) {
  if (max_pending_records_ > 0) KeepRecord(r);
  IntervalPoint& point = PointAt(r.end_ns);
  ++point.completed;
  if (r.outcome == Outcome::kSuccess) {
    ++point.succeeded;
    point.output_tokens += static_cast<uint64_t>(std::max<int64_t>(0, r.output_tokens));
    point.input_tokens += static_cast<uint64_t>(std::max<int64_t>(0, r.input_tokens));
  } else if (r.outcome != Outcome::kIncomplete) {
    ++point.failed;
  }
  if (!r.in_window) return;
  RecordInWindow(
      r, stages_[std::clamp<int32_t>(r.stage, 0, static_cast<int32_t>(stages_.size()) - 1)]);
  if (r.turn >= 0 && !turns_.empty()) {
    RecordInWindow(r, turns_[std::min<size_t>(static_cast<size_t>(r.turn), turns_.size() - 1)]);
  }
}

void Recorder::RecordInWindow(const RequestResult& r, StatsShard& shard) const {
  ++shard.requests_sent;
  if (r.sent_ns != 0) {
    shard.histogram(LatencyMetric::kScheduleLag)
        .Record(ToMicros(ScheduleLagNs(r.intended_ns, r.sent_ns, r.connect_wait_ns)));
  }
  if (r.outcome == Outcome::kIncomplete) {
    ++shard.incomplete;
    return;
  }
  // Since the run's start; at least 1 so that "ended" is never mistaken for "none did".
  shard.last_end_ns = std::max(shard.last_end_ns, std::max<int64_t>(1, r.end_ns - run_start_ns_));
  if (r.outcome != Outcome::kSuccess) {
    ++shard.failed;
    const std::string key = ErrorKey(r.outcome, r.http_status, r.h2_error_code);
    ++shard.errors[key];
    shard.AddErrorExample(key, r.explanation);
    return;
  }
  ++shard.succeeded;
  shard.input_tokens += static_cast<uint64_t>(std::max<int64_t>(0, r.input_tokens));
  shard.output_tokens += static_cast<uint64_t>(std::max<int64_t>(0, r.output_tokens));
  if (r.cached_tokens >= 0) {
    shard.cached_tokens += static_cast<uint64_t>(r.cached_tokens);
    shard.input_tokens_with_cache_info +=
        static_cast<uint64_t>(std::max<int64_t>(0, r.input_tokens));
  }
  if (!r.usage_reported) ++shard.usage_missing;
  if (MeetsSlo(r)) ++shard.slo_met;

  const int64_t e2e = r.end_ns - r.sent_ns;
  shard.histogram(LatencyMetric::kE2eLatency).Record(ToMicros(e2e));
  shard.histogram(LatencyMetric::kE2eFromIntended).Record(ToMicros(r.end_ns - r.intended_ns));
  if (r.first_chunk_ns != 0) {
    shard.histogram(LatencyMetric::kTtft).Record(ToMicros(r.first_chunk_ns - r.sent_ns));
  }
  if (r.output_tokens > 0) {
    shard.histogram(LatencyMetric::kNtpot).Record(ToMicros(e2e / r.output_tokens));
  }
  if (r.output_tokens > 1 && r.first_chunk_ns != 0) {
    shard.histogram(LatencyMetric::kTpot)
        .Record(ToMicros((r.last_chunk_ns - r.first_chunk_ns) / (r.output_tokens - 1)));
  }
  if (r.gaps != nullptr) r.gaps->RecordInto(shard.histogram(LatencyMetric::kItl));
}

RecorderSnapshot Recorder::Snapshot() const { return RecorderSnapshot{stages_, series_, turns_}; }

}  // namespace bench::engine
