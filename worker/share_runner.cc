#include "worker/share_runner.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/plan.h"
#include "common/status_macros.h"
#include "worker/engine/endpoint.h"
#include "worker/engine/engine.h"

namespace bench::worker {
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
    case PromptsType::kConversation:
      spec.conversation = true;
      spec.turns = prompts.conversation.turns;
      if (prompts.dataset.empty()) {
        spec.source = engine::PromptSpec::Source::kSynthetic;
      } else {
        spec.source = engine::PromptSpec::Source::kShareGpt;
        spec.dataset_output_length = true;
      }
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

// prompts.tokenizer, loaded (null when not set).
absl::StatusOr<std::shared_ptr<const engine::Tokenizer>> LoadTokenizer(
    const PromptsConfig& prompts) {
  if (prompts.tokenizer.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<engine::Tokenizer>> tokenizer =
      engine::Tokenizer::Load(prompts.tokenizer);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat("prompts.tokenizer: ", tokenizer.status().message()));
  }
  return std::shared_ptr<const engine::Tokenizer>(std::move(tokenizer).value());
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CheckConfigFiles(const BenchmarkConfig& config) {
  std::vector<std::string> checked;
  BENCH_ASSIGN_OR_RETURN(std::shared_ptr<const engine::Tokenizer> tokenizer,
                         LoadTokenizer(config.prompts));
  if (tokenizer != nullptr) {
    // Building a prompt source checks that the tokenizer gives exact lengths.
    engine::PromptSpec spec = ToEngine(config.prompts, config.benchmark.seed);
    spec.tokenizer = tokenizer;
    spec.source = engine::PromptSpec::Source::kSynthetic;
    absl::StatusOr<std::unique_ptr<engine::PromptSource>> prompts =
        engine::PromptSource::Create(spec);
    if (!prompts.ok()) return prompts.status();
    checked.push_back(
        absl::StrCat("prompts.tokenizer ", config.prompts.tokenizer, ": ", tokenizer->Describe()));
  }
  if (!config.prompts.dataset.empty()) {
    engine::PromptSpec spec = ToEngine(config.prompts, config.benchmark.seed);
    spec.tokenizer = tokenizer;
    absl::StatusOr<std::unique_ptr<engine::PromptSource>> prompts =
        engine::PromptSource::Create(spec);
    if (!prompts.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("prompts.dataset: ", prompts.status().message()));
    }
    checked.push_back(absl::StrCat("prompts.dataset ", config.prompts.dataset, ": ",
                                   (*prompts)->dataset_size(), " prompts"));
  }
  if (!config.target.tls.ca_file.empty()) {
    engine::TlsClientOptions tls;
    tls.ca_file = config.target.tls.ca_file;
    absl::StatusOr<std::unique_ptr<engine::TlsContext>> context =
        engine::TlsContext::CreateClient(tls);
    if (!context.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("target.tls.caFile: ", context.status().message()));
    }
    checked.push_back(absl::StrCat("target.tls.caFile ", config.target.tls.ca_file, ": loaded"));
  }
  return checked;
}

namespace {

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

constexpr size_t kMaxPendingRecordsPerThread = 100'000;

absl::StatusOr<engine::EnginePlan> BuildPlan(const BenchmarkConfig& config, const WorkShare& share,
                                             int threads, std::string_view session_id_prefix) {
  BENCH_RETURN_IF_ERROR(CheckRunnable(config));
  const Plan plan = MakePlan(config, PlanOptions{.read_trace_file = false});
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
  p.client.max_streams_per_connection =
      static_cast<size_t>(config.target.max_streams_per_connection);
  p.client.min_connections = share.min_connections;
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
  BENCH_ASSIGN_OR_RETURN(p.prompts.tokenizer, LoadTokenizer(config.prompts));
  p.output_tokenizer = p.prompts.tokenizer;
  p.prompts.fixed_lengths.reserve(share.fixed_lengths.size());
  for (const FixedLength& length : share.fixed_lengths) {
    p.prompts.fixed_lengths.push_back({length.input, length.output});
  }
  p.closed_loop = share.closed_loop;
  p.concurrency = share.concurrency;
  for (const SharePhase& phase : share.phases) {
    p.phases.push_back(engine::ArrivalPhase{phase.start_ns, phase.spec, phase.sequence_base});
  }
  p.warmup_ns = Nanos(plan.warmup);
  p.duration_ns = Nanos(plan.measurement);
  p.max_requests = share.max_requests;
  p.prompt_stride = share.prompt_stride;
  p.prompt_offset = share.prompt_offset;
  p.not_before_ns = share.not_before_ns;
  p.timeout_ns = Nanos(config.target.timeout);
  p.max_response_bytes = static_cast<size_t>(config.target.max_response_bytes);
  p.max_response_tokens = config.target.max_response_tokens;
  p.interval_ns = Nanos(config.metrics.interval);
  // One report interval of records per thread is far below this at any rate a real server
  // sustains per engine thread; the bound keeps a runaway from growing the worker.
  p.max_pending_records = config.metrics.raw ? kMaxPendingRecordsPerThread : 0;
  p.record_chunk_gaps = config.metrics.raw_token_times;
  p.stage_count = config.load.type == LoadType::kStages
                      ? static_cast<int>(std::max<size_t>(1, config.load.stages.size()))
                      : 1;
  p.turn_count = TurnShardCount(config.prompts);
  p.think_ns = Nanos(config.prompts.conversation.think_time);
  p.session_header = config.prompts.conversation.session_header;
  p.session_id_prefix = absl::StrCat(std::string(session_id_prefix), "-");
  p.slo = SloLimitsOf(config.slo);
  p.threads =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return p;
}

}  // namespace

ShareRunner::~ShareRunner() = default;

absl::StatusOr<std::unique_ptr<ShareRunner>> ShareRunner::Create(const BenchmarkConfig& config,
                                                                 const WorkShare& share,
                                                                 int threads,
                                                                 std::string_view run_id) {
  std::unique_ptr<ShareRunner> runner(new ShareRunner());
  runner->stage_count_ = config.load.type == LoadType::kStages
                             ? static_cast<int>(std::max<size_t>(1, config.load.stages.size()))
                             : 1;
  runner->reported_stages_.resize(static_cast<size_t>(runner->stage_count_));
  runner->reported_turns_.resize(static_cast<size_t>(TurnShardCount(config.prompts)));
  if (!share.active) return runner;
  BENCH_ASSIGN_OR_RETURN(engine::EnginePlan plan, BuildPlan(config, share, threads, run_id));
  BENCH_ASSIGN_OR_RETURN(runner->engine_, engine::Engine::Create(std::move(plan)));
  return runner;
}

int ShareRunner::threads() const { return engine_ == nullptr ? 0 : engine_->plan().threads; }

absl::Status ShareRunner::StartAt(int64_t run_start_ns) {
  started_ = true;
  if (engine_ == nullptr) return absl::OkStatus();
  return engine_->StartAt(run_start_ns);
}

void ShareRunner::StopSending(absl::Duration drain) {
  if (engine_ != nullptr && started_) engine_->StopSending(Nanos(drain));
}

void ShareRunner::CutScheduleAt(int64_t run_ns) {
  if (engine_ != nullptr && started_) engine_->CutScheduleAt(run_ns);
}

bool ShareRunner::Finished() {
  if (engine_ == nullptr) return true;
  if (!started_) return false;
  return engine_->WaitUntilFinished(absl::ZeroDuration());
}

absl::StatusOr<ShareDelta> ShareRunner::CutDelta() {
  ShareDelta delta;
  if (engine_ == nullptr || !started_) {
    delta.finished = engine_ == nullptr;
    return delta;
  }
  // Finished before the snapshot: the snapshot then holds everything.
  const bool finished = engine_->WaitUntilFinished(absl::ZeroDuration());
  engine::EngineSnapshot snapshot = engine_->Snapshot();
  engine_->TakeRecords(&delta.records, &delta.records_dropped);
  for (size_t s = 0; s < snapshot.stages.size() && s < reported_stages_.size(); ++s) {
    StatsShard stage = snapshot.stages[s];
    BENCH_RETURN_IF_ERROR(stage.Subtract(reported_stages_[s]));
    if (stage.Empty()) continue;
    reported_stages_[s] = std::move(snapshot.stages[s]);
    delta.stages.emplace_back(static_cast<uint32_t>(s), std::move(stage));
  }
  for (size_t t = 0; t < snapshot.turns.size() && t < reported_turns_.size(); ++t) {
    StatsShard turn = snapshot.turns[t];
    BENCH_RETURN_IF_ERROR(turn.Subtract(reported_turns_[t]));
    if (turn.Empty()) continue;
    reported_turns_[t] = std::move(snapshot.turns[t]);
    delta.turns.emplace_back(static_cast<uint32_t>(t), std::move(turn));
  }
  if (reported_series_.size() < snapshot.series.size()) {
    reported_series_.resize(snapshot.series.size());
  }
  for (size_t i = 0; i < snapshot.series.size(); ++i) {
    const IntervalPoint& now = snapshot.series[i];
    IntervalPoint& before = reported_series_[i];
    // The last point always goes: its gauges are the live reading.
    if (before == now && i + 1 < snapshot.series.size()) continue;
    delta.series.emplace_back(static_cast<uint32_t>(i), now.DeltaSince(before));
    before = now;
  }
  delta.started = snapshot.started;
  delta.in_flight = snapshot.in_flight;
  delta.client_queue = snapshot.client_queue;
  delta.connections = snapshot.client.connections;
  BENCH_RETURN_IF_ERROR(delta.connections.Subtract(reported_connections_));
  reported_connections_ = std::move(snapshot.client.connections);
  delta.finished = finished;
  return delta;
}

}  // namespace bench::worker
