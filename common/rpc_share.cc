#include "common/rpc_share.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/histogram_codec.h"
#include "common/rpc_histogram.h"
#include "common/status_macros.h"

namespace bench {
namespace {

using PbSpec = bench::v1::ArrivalSpec;

PbSpec::Type ToProto(ArrivalSpec::Type type) {
  switch (type) {
    case ArrivalSpec::Type::kConstant:
      return PbSpec::TYPE_CONSTANT;
    case ArrivalSpec::Type::kPoisson:
      return PbSpec::TYPE_POISSON;
    case ArrivalSpec::Type::kGamma:
      return PbSpec::TYPE_GAMMA;
    case ArrivalSpec::Type::kRamp:
      return PbSpec::TYPE_RAMP;
    case ArrivalSpec::Type::kBurst:
      return PbSpec::TYPE_BURST;
    case ArrivalSpec::Type::kStages:
      return PbSpec::TYPE_STAGES;
    case ArrivalSpec::Type::kTrace:
      return PbSpec::TYPE_TRACE;
  }
  return PbSpec::TYPE_CONSTANT;
}

absl::StatusOr<ArrivalSpec::Type> FromProto(int type) {
  switch (type) {
    case PbSpec::TYPE_CONSTANT:
      return ArrivalSpec::Type::kConstant;
    case PbSpec::TYPE_POISSON:
      return ArrivalSpec::Type::kPoisson;
    case PbSpec::TYPE_GAMMA:
      return ArrivalSpec::Type::kGamma;
    case PbSpec::TYPE_RAMP:
      return ArrivalSpec::Type::kRamp;
    case PbSpec::TYPE_BURST:
      return ArrivalSpec::Type::kBurst;
    case PbSpec::TYPE_STAGES:
      return ArrivalSpec::Type::kStages;
    case PbSpec::TYPE_TRACE:
      return ArrivalSpec::Type::kTrace;
  }
  return absl::InvalidArgumentError(absl::StrCat("share.phases.spec.type: unknown value ", type));
}

}  // namespace

void ToProto(const WorkShare& share, bench::v1::WorkShare* out) {
  out->Clear();
  out->set_active(share.active);
  out->set_closed_loop(share.closed_loop);
  out->set_concurrency(share.concurrency);
  out->set_max_requests(share.max_requests);
  out->set_prompt_stride(share.prompt_stride);
  out->set_prompt_offset(share.prompt_offset);
  out->set_not_before_ns(share.not_before_ns);
  out->set_min_connections(share.min_connections);
  for (const SharePhase& phase : share.phases) {
    bench::v1::SharePhase* p = out->add_phases();
    p->set_start_ns(phase.start_ns);
    p->set_sequence_base(phase.sequence_base);
    const ArrivalSpec& spec = phase.spec;
    PbSpec* s = p->mutable_spec();
    s->set_type(ToProto(spec.type));
    s->set_rate_per_s(spec.rate_per_s);
    s->set_burstiness(spec.burstiness);
    s->set_ramp_from_per_s(spec.ramp_from_per_s);
    s->set_ramp_to_per_s(spec.ramp_to_per_s);
    s->set_burst_size(spec.burst_size);
    s->set_burst_every_ns(spec.burst_every_ns);
    for (const ArrivalStage& stage : spec.stages) {
      bench::v1::Stage* st = s->add_stages();
      st->set_rate(stage.rate_per_s);
      st->set_duration_ns(stage.duration_ns);
    }
    s->mutable_trace_offsets_ns()->Add(spec.trace_offsets_ns.begin(), spec.trace_offsets_ns.end());
    s->set_duration_ns(spec.duration_ns);
    s->set_seed(spec.seed);
    s->set_slice_cycle(spec.slice.cycle);
    s->mutable_slice_offsets()->Add(spec.slice.offsets.begin(), spec.slice.offsets.end());
  }
  for (const FixedLength& length : share.fixed_lengths) {
    out->add_fixed_input_lengths(length.input);
    out->add_fixed_output_lengths(length.output);
  }
}

absl::StatusOr<WorkShare> FromProto(const bench::v1::WorkShare& in) {
  WorkShare share;
  share.active = in.active();
  share.closed_loop = in.closed_loop();
  share.concurrency = in.concurrency();
  share.max_requests = in.max_requests();
  share.prompt_stride = in.prompt_stride();
  share.prompt_offset = in.prompt_offset();
  share.not_before_ns = in.not_before_ns();
  share.min_connections = in.min_connections();
  if (share.prompt_stride == 0) {
    return absl::InvalidArgumentError("share.prompt_stride must be >= 1, got 0");
  }
  for (const bench::v1::SharePhase& p : in.phases()) {
    SharePhase phase;
    phase.start_ns = p.start_ns();
    phase.sequence_base = p.sequence_base();
    const PbSpec& s = p.spec();
    BENCH_ASSIGN_OR_RETURN(phase.spec.type, FromProto(s.type()));
    phase.spec.rate_per_s = s.rate_per_s();
    phase.spec.burstiness = s.burstiness();
    phase.spec.ramp_from_per_s = s.ramp_from_per_s();
    phase.spec.ramp_to_per_s = s.ramp_to_per_s();
    phase.spec.burst_size = s.burst_size();
    phase.spec.burst_every_ns = s.burst_every_ns();
    for (const bench::v1::Stage& st : s.stages()) {
      phase.spec.stages.push_back(ArrivalStage{st.rate(), st.duration_ns()});
    }
    phase.spec.trace_offsets_ns.assign(s.trace_offsets_ns().begin(), s.trace_offsets_ns().end());
    phase.spec.duration_ns = s.duration_ns();
    phase.spec.seed = s.seed();
    phase.spec.slice.cycle = s.slice_cycle();
    phase.spec.slice.offsets.assign(s.slice_offsets().begin(), s.slice_offsets().end());
    BENCH_RETURN_IF_ERROR(ValidateArrivalSpec(phase.spec));
    share.phases.push_back(std::move(phase));
  }
  if (in.fixed_input_lengths_size() != in.fixed_output_lengths_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("share.fixed_input_lengths has ", in.fixed_input_lengths_size(),
                     " entries, fixed_output_lengths ", in.fixed_output_lengths_size()));
  }
  share.fixed_lengths.reserve(static_cast<size_t>(in.fixed_input_lengths_size()));
  for (int i = 0; i < in.fixed_input_lengths_size(); ++i) {
    share.fixed_lengths.push_back({in.fixed_input_lengths(i), in.fixed_output_lengths(i)});
  }
  return share;
}

void ToProto(const StatsShard& stats, bench::v1::StageStats* out) {
  bench::v1::Counters* c = out->mutable_counters();
  c->set_requests_sent(stats.requests_sent);
  c->set_requests_succeeded(stats.succeeded);
  c->set_requests_failed(stats.failed);
  c->set_requests_incomplete(stats.incomplete);
  c->set_input_tokens(stats.input_tokens);
  c->set_output_tokens(stats.output_tokens);
  c->set_cached_tokens(stats.cached_tokens);
  c->set_input_tokens_with_cache_info(stats.input_tokens_with_cache_info);
  c->set_slo_met(stats.slo_met);
  c->set_usage_missing(stats.usage_missing);
  c->set_last_end_ns(stats.last_end_ns);
  for (const auto& [key, count] : stats.errors) (*c->mutable_errors())[key] = count;
  for (const auto& [key, texts] : stats.error_examples) {
    for (const std::string& text : texts) (*c->mutable_error_examples())[key].add_text(text);
  }
  for (int i = 0; i < kLatencyMetricCount; ++i) {
    const auto metric = static_cast<LatencyMetric>(i);
    const Histogram& histogram = stats.histogram(metric);
    if (histogram.TotalCount() == 0) continue;
    ToProto(LatencyMetricName(metric), histogram, out->add_histograms());
  }
}

absl::Status FromProto(const bench::v1::StageStats& in, StatsShard* out) {
  StatsShard& stats = *out;
  const bench::v1::Counters& c = in.counters();
  stats.requests_sent = c.requests_sent();
  stats.succeeded = c.requests_succeeded();
  stats.failed = c.requests_failed();
  stats.incomplete = c.requests_incomplete();
  stats.input_tokens = c.input_tokens();
  stats.output_tokens = c.output_tokens();
  stats.cached_tokens = c.cached_tokens();
  stats.input_tokens_with_cache_info = c.input_tokens_with_cache_info();
  stats.slo_met = c.slo_met();
  stats.usage_missing = c.usage_missing();
  stats.last_end_ns = c.last_end_ns();
  stats.errors.clear();
  for (const auto& [key, count] : c.errors()) stats.errors[key] = count;
  stats.error_examples.clear();
  for (const auto& [key, examples] : c.error_examples()) {
    if (c.errors().count(key) == 0) continue;  // An example of nothing counted: dropped.
    for (const std::string& text : examples.text()) stats.AddErrorExample(key, text);
  }
  bool seen[kLatencyMetricCount] = {};
  for (const bench::v1::EncodedHistogram& encoded : in.histograms()) {
    LatencyMetric metric;
    if (!LatencyMetricFromName(encoded.metric(), &metric)) {
      return absl::InvalidArgumentError(
          absl::StrCat("stage stats: unknown metric '", encoded.metric(), "'"));
    }
    if (seen[static_cast<int>(metric)]) {
      return absl::InvalidArgumentError(
          absl::StrCat("stage stats: metric '", encoded.metric(), "' appears twice"));
    }
    seen[static_cast<int>(metric)] = true;
    absl::Status decoded =
        DecodeCompressedInto(encoded.hdr_v2_compressed(), &stats.histogram(metric));
    if (!decoded.ok()) {
      return absl::Status(decoded.code(),
                          absl::StrCat("histogram '", encoded.metric(), "': ", decoded.message()));
    }
  }
  for (int i = 0; i < kLatencyMetricCount; ++i) {
    if (!seen[i]) stats.latency[i].Reset();
  }
  return absl::OkStatus();
}

absl::StatusOr<StatsShard> FromProto(const bench::v1::StageStats& in) {
  StatsShard stats;
  BENCH_RETURN_IF_ERROR(FromProto(in, &stats));
  return stats;
}

void ToProto(const ConnectionStats& stats, bench::v1::ClientCounters* out) {
  out->set_connections_opened(stats.opened);
  out->set_connection_failures(stats.failed);
  out->set_retries(stats.retries);
  out->set_streams(stats.streams);
  out->set_bytes(stats.bytes);
  out->set_max_streams(stats.max_streams);
  out->set_max_bytes(stats.max_bytes);
  out->set_max_concurrent_streams(stats.max_concurrent_streams);
  out->set_server_max_streams(stats.server_max_streams);
  out->set_unreachable_ns(stats.unreachable_ns);
  if (stats.connect_time.TotalCount() > 0) {
    ToProto("connect_time", stats.connect_time, out->mutable_connect_time());
  }
}

absl::StatusOr<ConnectionStats> FromProto(const bench::v1::ClientCounters& in) {
  ConnectionStats stats;
  stats.opened = in.connections_opened();
  stats.failed = in.connection_failures();
  stats.retries = in.retries();
  stats.streams = in.streams();
  stats.bytes = in.bytes();
  stats.max_streams = in.max_streams();
  stats.max_bytes = in.max_bytes();
  stats.max_concurrent_streams = in.max_concurrent_streams();
  stats.server_max_streams = in.server_max_streams();
  stats.unreachable_ns = in.unreachable_ns();
  if (in.has_connect_time()) {
    const absl::Status decoded =
        DecodeCompressedInto(in.connect_time().hdr_v2_compressed(), &stats.connect_time);
    if (!decoded.ok()) {
      return absl::Status(decoded.code(),
                          absl::StrCat("connect_time histogram: ", decoded.message()));
    }
  }
  return stats;
}

void ToProto(const IntervalPoint& point, uint32_t index, bench::v1::SeriesPoint* out) {
  out->set_index(index);
  out->set_started(point.started);
  out->set_completed(point.completed);
  out->set_succeeded(point.succeeded);
  out->set_failed(point.failed);
  out->set_output_tokens(point.output_tokens);
  out->set_input_tokens(point.input_tokens);
  out->set_output_chunks(point.output_chunks);
  out->set_schedule_lag_us(point.schedule_lag_us);
  out->set_in_flight(point.in_flight);
  out->set_client_queue(point.client_queue);
}

IntervalPoint FromProto(const bench::v1::SeriesPoint& in, int64_t interval_ns) {
  IntervalPoint point;
  point.start_ns = static_cast<int64_t>(in.index()) * interval_ns;
  point.started = in.started();
  point.completed = in.completed();
  point.succeeded = in.succeeded();
  point.failed = in.failed();
  point.output_tokens = in.output_tokens();
  point.input_tokens = in.input_tokens();
  point.output_chunks = in.output_chunks();
  point.schedule_lag_us = in.schedule_lag_us();
  point.in_flight = in.in_flight();
  point.client_queue = in.client_queue();
  return point;
}

void ToProto(const RequestRecord& record, bench::v1::RequestRecord* out) {
  out->set_intended_ns(record.intended_ns);
  out->set_sent_ns(record.sent_ns);
  out->set_first_chunk_ns(record.first_chunk_ns);
  out->set_last_chunk_ns(record.last_chunk_ns);
  out->set_end_ns(record.end_ns);
  out->set_input_tokens(record.input_tokens);
  out->set_output_tokens(record.output_tokens);
  out->set_cached_tokens(record.cached_tokens);
  out->set_chunks(record.chunks);
  out->set_stage(record.stage);
  out->set_turn(record.turn < 0 ? 0 : static_cast<uint32_t>(record.turn) + 1);
  out->set_in_window(record.in_window);
  out->set_outcome(record.outcome);
  out->mutable_chunk_gaps_us()->Assign(record.chunk_gaps_us.begin(), record.chunk_gaps_us.end());
  out->set_chunk_gaps_folded(record.chunk_gaps_folded);
}

RequestRecord FromProto(const bench::v1::RequestRecord& in) {
  RequestRecord record;
  record.intended_ns = in.intended_ns();
  record.sent_ns = in.sent_ns();
  record.first_chunk_ns = in.first_chunk_ns();
  record.last_chunk_ns = in.last_chunk_ns();
  record.end_ns = in.end_ns();
  record.input_tokens = in.input_tokens();
  record.output_tokens = in.output_tokens();
  record.cached_tokens = in.cached_tokens();
  record.chunks = in.chunks();
  record.stage = in.stage();
  // Beyond any conversation (turns are at most 1,000): read as none rather than overflow.
  record.turn = in.turn() == 0 || in.turn() > 1'000'000 ? -1 : static_cast<int32_t>(in.turn()) - 1;
  record.in_window = in.in_window();
  record.outcome = in.outcome();
  record.chunk_gaps_us.assign(in.chunk_gaps_us().begin(), in.chunk_gaps_us().end());
  record.chunk_gaps_folded = in.chunk_gaps_folded();
  return record;
}

}  // namespace bench
