#include "controller/local_engine.h"

#include <algorithm>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/plan.h"
#include "common/status_macros.h"
#include "common/trace.h"
#include "worker/engine/endpoint.h"
#include "worker/engine/engine.h"

namespace bench::controller {
namespace {

int64_t Nanos(absl::Duration duration) { return absl::ToInt64Nanoseconds(duration); }

engine::HttpProtocol ToEngine(Protocol protocol) {
  switch (protocol) {
    case Protocol::kAuto:
      return engine::HttpProtocol::kAuto;
    case Protocol::kHttp1:
      return engine::HttpProtocol::kHttp1;
    case Protocol::kH2c:
      return engine::HttpProtocol::kH2c;
    case Protocol::kH2:
      return engine::HttpProtocol::kH2;
  }
  return engine::HttpProtocol::kAuto;
}

engine::PromptSpec ToEngine(const PromptsConfig& prompts, uint64_t seed) {
  engine::PromptSpec spec;
  switch (prompts.type) {
    case PromptsType::kSynthetic:
      spec.source = engine::PromptSpec::Source::kSynthetic;
      break;
    case PromptsType::kFile:
      spec.source = engine::PromptSpec::Source::kFile;
      break;
    case PromptsType::kShareGpt:
      spec.source = engine::PromptSpec::Source::kShareGpt;
      // As vLLM's benchmark does: ask for the length of the recorded answer.
      spec.dataset_output_length = true;
      break;
  }
  spec.input_length = prompts.input_length;
  spec.output_length = prompts.output_length;
  spec.dataset_path = prompts.dataset;
  spec.prefix_ratio = prompts.prefix_ratio;
  spec.prefix_groups = static_cast<uint32_t>(prompts.prefix_groups);
  spec.seed = seed;
  return spec;
}

// The schedule of an open-loop run as phases: warmup holds the starting rate of a ramp or of the
// first stage (as the plan says), then the configured shape runs over the measurement window.
// `trace` is the parsed load.trace for type trace, else null.
absl::StatusOr<std::vector<engine::ArrivalPhase>> Phases(const BenchmarkConfig& config,
                                                         const Plan& plan, const Trace* trace) {
  const LoadConfig& load = config.load;
  const int64_t warmup = Nanos(plan.warmup);
  const int64_t total = Nanos(plan.total);
  ArrivalSpec spec;
  spec.seed = config.benchmark.seed;
  std::vector<engine::ArrivalPhase> phases;
  auto add_warmup_at = [&](double rate) -> absl::Status {
    if (warmup == 0 || rate <= 0) return absl::OkStatus();
    ArrivalSpec warm;
    warm.type = ArrivalSpec::Type::kConstant;
    warm.rate_per_s = rate;
    warm.duration_ns = warmup;
    phases.push_back(engine::ArrivalPhase{0, warm, 0});
    return absl::OkStatus();
  };
  auto next_base = [&]() -> absl::StatusOr<uint64_t> {
    if (phases.empty()) return 0;
    BENCH_ASSIGN_OR_RETURN(const double count, ExpectedArrivalCount(phases.back().spec));
    return static_cast<uint64_t>(count);
  };
  switch (load.type) {
    case LoadType::kConstant:
    case LoadType::kPoisson:
    case LoadType::kGamma:
      spec.type = load.type == LoadType::kConstant  ? ArrivalSpec::Type::kConstant
                  : load.type == LoadType::kPoisson ? ArrivalSpec::Type::kPoisson
                                                    : ArrivalSpec::Type::kGamma;
      spec.rate_per_s = load.rate;
      spec.burstiness = load.burstiness;
      spec.duration_ns = total;
      phases.push_back(engine::ArrivalPhase{0, spec, 0});
      break;
    case LoadType::kBurst:
      spec.type = ArrivalSpec::Type::kBurst;
      spec.burst_size = load.burst.size;
      spec.burst_every_ns = Nanos(load.burst.every);
      spec.duration_ns = total;
      phases.push_back(engine::ArrivalPhase{0, spec, 0});
      break;
    case LoadType::kRamp: {
      BENCH_RETURN_IF_ERROR(add_warmup_at(load.ramp.from));
      spec.type = ArrivalSpec::Type::kRamp;
      spec.ramp_from_per_s = load.ramp.from;
      spec.ramp_to_per_s = load.ramp.to;
      spec.duration_ns = Nanos(plan.measurement);
      BENCH_ASSIGN_OR_RETURN(const uint64_t base, next_base());
      phases.push_back(engine::ArrivalPhase{warmup, spec, base});
      break;
    }
    case LoadType::kStages: {
      BENCH_RETURN_IF_ERROR(add_warmup_at(load.stages.empty() ? 0 : load.stages.front().rate));
      spec.type = ArrivalSpec::Type::kStages;
      for (const StageConfig& stage : load.stages) {
        spec.stages.push_back(ArrivalStage{stage.rate, Nanos(stage.duration)});
      }
      spec.duration_ns = Nanos(plan.measurement);
      BENCH_ASSIGN_OR_RETURN(const uint64_t base, next_base());
      phases.push_back(engine::ArrivalPhase{warmup, spec, base});
      break;
    }
    case LoadType::kTrace:
      // One phase over warmup + window: record i at its offset, prompt i with its lengths.
      // Records at or after the window's end are not sent; warmup is simply the records before
      // benchmark.warmup.
      spec.type = ArrivalSpec::Type::kTrace;
      spec.trace_offsets_ns.reserve(trace->records.size());
      for (const TraceRecord& record : trace->records) {
        spec.trace_offsets_ns.push_back(record.offset_ns);
      }
      spec.duration_ns = total;
      phases.push_back(engine::ArrivalPhase{0, std::move(spec), 0});
      break;
    case LoadType::kConcurrency:
      break;  // Closed loop: no schedule.
  }
  return phases;
}

engine::SloLimits SloLimitsOf(const SloConfig& slo) {
  engine::SloLimits limits;
  for (const SloThreshold& threshold : slo.thresholds) {
    int64_t* limit = nullptr;
    if (threshold.metric == "ttft") limit = &limits.ttft_ns;
    if (threshold.metric == "tpot") limit = &limits.tpot_ns;
    if (threshold.metric == "itl") limit = &limits.itl_ns;
    if (threshold.metric == "e2e_latency") limit = &limits.e2e_latency_ns;
    if (threshold.metric == "ntpot") limit = &limits.ntpot_ns;
    // Several percentiles for one metric: a request is held to the loosest.
    if (limit != nullptr) *limit = std::max(*limit, Nanos(threshold.max));
  }
  return limits;
}

absl::StatusOr<engine::EnginePlan> BuildPlan(const BenchmarkConfig& config, const Plan& plan,
                                             const Trace* trace, int threads) {
  BENCH_RETURN_IF_ERROR(CheckRunnable(config));
  engine::EnginePlan p;
  BENCH_ASSIGN_OR_RETURN(p.endpoint, engine::ParseEndpointUrl(config.target.endpoint));
  auto addresses = engine::ResolveEndpoint(p.endpoint);
  if (!addresses.ok()) {
    return absl::Status(addresses.status().code(),
                        absl::StrCat("target.endpoint: ", addresses.status().message()));
  }
  p.addresses = std::move(addresses).value();
  p.client.protocol = ToEngine(config.target.protocol);
  p.client.connect_timeout_ms =
      std::min<int64_t>(10'000, absl::ToInt64Milliseconds(config.target.timeout));
  p.tls.ca_file = config.target.tls.ca_file;
  p.tls.insecure_skip_verify = config.target.tls.insecure_skip_verify;
  switch (config.target.protocol) {
    case Protocol::kH2:
      p.tls.alpn = {"h2"};
      break;
    case Protocol::kHttp1:
      p.tls.alpn = {"http/1.1"};
      break;
    default:
      p.tls.alpn = {"h2", "http/1.1"};
  }
  p.request.chat = plan.api.value_or(Api::kChatCompletions) == Api::kChatCompletions;
  p.request.model = config.target.model;
  p.request.extra_body_json = config.target.extra_body == "{}" ? "" : config.target.extra_body;
  for (const Header& header : config.target.headers) {
    p.headers.emplace_back(header.name, header.value);
  }
  p.prompts = ToEngine(config.prompts, config.benchmark.seed);
  if (trace != nullptr) {
    p.prompts.fixed_lengths.reserve(trace->records.size());
    for (const TraceRecord& record : trace->records) {
      p.prompts.fixed_lengths.push_back({record.input_length, record.output_length});
    }
  }
  p.closed_loop = !IsOpenLoop(config.load.type);
  p.concurrency = static_cast<uint32_t>(p.closed_loop && config.load.concurrency == 0
                                            ? kDefaultClosedLoopConcurrency
                                            : config.load.concurrency);
  BENCH_ASSIGN_OR_RETURN(p.phases, Phases(config, plan, trace));
  p.warmup_ns = Nanos(plan.warmup);
  p.duration_ns = Nanos(plan.measurement);
  p.max_requests = static_cast<uint64_t>(std::max<int64_t>(0, config.benchmark.max_requests));
  p.timeout_ns = Nanos(config.target.timeout);
  p.interval_ns = Nanos(config.metrics.interval);
  p.stage_count = config.load.type == LoadType::kStages
                      ? static_cast<int>(std::max<size_t>(1, config.load.stages.size()))
                      : 1;
  p.slo = SloLimitsOf(config.slo);
  p.threads =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return p;
}

}  // namespace

struct LocalRun::State {
  BenchmarkConfig config;
  Plan plan;
  // type trace: the records in the measurement window (after any maxRequests cap), their mean
  // rate over the window, and when the cap stops sending (from the window's start).
  double trace_rate = 0;
  std::unique_ptr<engine::Engine> engine;
  bool cancelled = false;
  int64_t cancelled_at_ns = 0;
};

LocalRun::LocalRun(std::unique_ptr<State> state) : state_(std::move(state)) {}
LocalRun::~LocalRun() = default;

absl::StatusOr<std::unique_ptr<LocalRun>> LocalRun::Create(const BenchmarkConfig& config,
                                                           int threads) {
  auto state = std::make_unique<State>();
  state->config = config;
  state->plan = MakePlan(config);
  std::shared_ptr<const Trace> trace = state->plan.trace;
  if (config.load.type == LoadType::kTrace) {
    if (trace == nullptr) {
      // The plan could not use the file: the reader says why (errors name the file and line, or
      // say load.trace).
      absl::StatusOr<Trace> read = ReadTraceFile(config.load.trace);
      if (!read.ok()) return read.status();
      trace = std::make_shared<const Trace>(*std::move(read));
    }
    const Plan& plan = state->plan;
    if (plan.measured_requests.value_or(0) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "load.trace: no record of ", config.load.trace, " falls in the measurement window (",
          absl::FormatDuration(plan.warmup), " to ", absl::FormatDuration(plan.total),
          " after the start); the trace spans ",
          absl::FormatDuration(absl::Nanoseconds(trace->span_ns())),
          " - shorten benchmark.warmup"));
    }
    // The rate the trace asks for where it is measured (its records vary over time), up to
    // where maxRequests stops sending.
    const int64_t measured_ns = plan.cap_reached_after.has_value() ? Nanos(*plan.cap_reached_after)
                                                                   : Nanos(plan.measurement);
    state->trace_rate =
        measured_ns > 0 ? *plan.measured_requests / (static_cast<double>(measured_ns) / 1e9) : 0;
  }
  BENCH_ASSIGN_OR_RETURN(engine::EnginePlan engine_plan,
                         BuildPlan(config, state->plan, trace.get(), threads));
  state->plan.trace.reset();  // The engine has its own copies of the offsets and lengths.
  BENCH_ASSIGN_OR_RETURN(state->engine, engine::Engine::Create(std::move(engine_plan)));
  return std::unique_ptr<LocalRun>(new LocalRun(std::move(state)));
}

int LocalRun::threads() const { return state_->engine->plan().threads; }

absl::Status LocalRun::Start() {
  BENCH_RETURN_IF_ERROR(state_->engine->Start());
  // Wall-clock time of the schedule's time 0.
  started_at_ = absl::Now() + absl::Nanoseconds(state_->engine->run_start_ns() - MonotonicNowNs());
  return absl::OkStatus();
}

Progress LocalRun::GetProgress() {
  const engine::EngineSnapshot snapshot = state_->engine->Snapshot();
  const engine::EnginePlan& p = state_->engine->plan();
  Progress progress;
  progress.elapsed_s = static_cast<double>(snapshot.taken_ns - snapshot.run_start_ns) / 1e9;
  progress.total_s = static_cast<double>(p.warmup_ns + p.duration_ns) / 1e9;
  progress.warming_up = progress.elapsed_s < static_cast<double>(p.warmup_ns) / 1e9;
  progress.draining = progress.elapsed_s >= progress.total_s || state_->cancelled;
  progress.requested_rate = p.closed_loop                           ? 0
                            : state_->plan.type == LoadType::kTrace ? state_->trace_rate
                                                                    : state_->plan.mean_rate;
  // The last complete interval says what the generator achieves now.
  const int64_t interval_index = (snapshot.taken_ns - snapshot.run_start_ns) / p.interval_ns;
  if (interval_index >= 1 && static_cast<size_t>(interval_index - 1) < snapshot.series.size()) {
    progress.achieved_rate = static_cast<double>(snapshot.series[interval_index - 1].started) /
                             (static_cast<double>(p.interval_ns) / 1e9);
  }
  progress.started = snapshot.started;
  progress.in_flight = snapshot.in_flight;
  progress.client_queue = snapshot.client_queue;
  for (const IntervalPoint& point : snapshot.series) {
    progress.succeeded += point.succeeded;
    progress.failed += point.failed;
  }
  StatsShard window;
  for (const StatsShard& stage : snapshot.stages) (void)window.Merge(stage);
  const Histogram& ttft = window.histogram(LatencyMetric::kTtft);
  if (ttft.TotalCount() > 0) {
    progress.ttft_p50_ms = static_cast<double>(ttft.ValueAtPercentile(50)) / 1000.0;
    progress.ttft_p99_ms = static_cast<double>(ttft.ValueAtPercentile(99)) / 1000.0;
  }
  progress.finished = snapshot.finished;
  return progress;
}

void LocalRun::Cancel(absl::Duration drain) {
  if (!state_->cancelled) {
    state_->cancelled = true;
    state_->cancelled_at_ns = MonotonicNowNs();
  }
  state_->engine->StopSending(Nanos(drain));
}

bool LocalRun::Wait(absl::Duration timeout) { return state_->engine->WaitUntilFinished(timeout); }

RunResult LocalRun::Result() {
  const engine::EngineSnapshot snapshot = state_->engine->Snapshot();
  const engine::EnginePlan& p = state_->engine->plan();
  const Plan& plan = state_->plan;
  RunResult result;
  result.stages = snapshot.stages;
  result.series = snapshot.series;
  result.interval_ns = p.interval_ns;
  result.warmup_ns = p.warmup_ns;
  result.window_ns = p.duration_ns;
  result.measured_window_ns = p.duration_ns;
  if (state_->cancelled) {
    const int64_t ran = state_->cancelled_at_ns - snapshot.run_start_ns - p.warmup_ns;
    result.measured_window_ns = std::clamp<int64_t>(ran, 0, p.duration_ns);
  } else if (plan.capped && plan.cap_reached_after.has_value()) {
    result.measured_window_ns = std::min<int64_t>(p.duration_ns, Nanos(*plan.cap_reached_after));
  }
  result.closed_loop = p.closed_loop;
  result.concurrency = p.concurrency;
  if (plan.type == LoadType::kTrace) {
    // The trace's own rate over the window: what it asks for, not a configured rate.
    result.requested_rate = state_->trace_rate;
    result.requested_requests = plan.measured_requests.value_or(0);
  } else if (!p.closed_loop) {
    result.requested_rate = plan.mean_rate;
    result.requested_requests = plan.measured_requests.value_or(0);
  }
  for (const StatsShard& stage : snapshot.stages) result.window_started += stage.requests_sent;
  for (const IntervalPoint& point : snapshot.series) {
    result.peak_client_queue = std::max(result.peak_client_queue, point.client_queue);
  }
  result.connections_opened = snapshot.client.connections_opened;
  result.connection_failures = snapshot.client.connection_failures;
  result.retries = snapshot.client.retries;
  result.engine_threads = p.threads;
  result.workers = 1;
  result.cancelled = state_->cancelled;
  result.started_at_utc = absl::FormatTime(absl::RFC3339_sec, started_at_, absl::UTCTimeZone());
  result.finished_at_utc = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
  return result;
}

}  // namespace bench::controller
