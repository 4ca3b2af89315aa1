#include "sim/generation.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/check.h"
#include "common/clock.h"
#include "sim/server_connection.h"
#include "sim/sim_worker.h"

namespace bench::sim {
namespace {

constexpr std::string_view kEventStream = "text/event-stream; charset=utf-8";

double Seconds(int64_t ns) { return static_cast<double>(ns) * 1e-9; }

// The sequences that slow this one's decode (LatencyModel::DecodeLoad).
int64_t DecodeLoad(const SimShared& shared) {
  return shared.latency.DecodeLoad(
      shared.scheduler.running(),
      shared.decode_scheduler != nullptr ? shared.decode_scheduler->running() : 0);
}

// Where a prefill leg says its KV cache is (sim/README.md): this process and its first --listen
// address (the bound port), and one block id per --block-size tokens of the prompt. bench-sim's
// decode side reads none of it back; the values only need to be well-formed for the sidecar to
// forward.
RemoteKvSource KvSource(const SimShared& shared, int64_t prompt_tokens) {
  const SimConfig& config = shared.config;
  RemoteKvSource source;
  source.engine_id = absl::StrCat("bench-sim-", absl::Hex(shared.id_nonce, absl::kZeroPad16));
  source.block_count = (prompt_tokens + config.block_size - 1) / config.block_size;
  const ListenAddress& listen = config.listen.front();
  const bool wildcard = listen.host.empty() || listen.host == "0.0.0.0" || listen.host == "::";
  source.host = wildcard ? "localhost" : listen.host;
  source.port = shared.first_port;
  return source;
}

OutputText MakeText(const SimConfig& config, const GenerationRequest& request, uint64_t key) {
  if (config.mode == OutputMode::kEcho) return OutputText::Echo(request.echo_text, key);
  return OutputText::Random(key);
}

}  // namespace

Generation::Generation(SimWorker& worker, ServerConnection* connection, int32_t stream, Setup setup)
    : worker_(worker),
      connection_(connection),
      stream_(stream),
      setup_(std::move(setup)),
      text_(MakeText(worker.shared().config, setup_.request, setup_.request_key)),
      formatter_(setup_.request.kind, setup_.id, setup_.created_unix_seconds,
                 worker.shared().config.model) {
  // The echo source now lives in text_.
  std::string().swap(setup_.request.echo_text);
  // A prefill leg stops after the prefill's own token: the decode is the remote side's (as
  // llm-d's sidecar asks with max_tokens 1, whatever this request's own limits say).
  if (remote_decode()) setup_.plan.completion_tokens = 1;
}

Generation::~Generation() { Stop(); }

bool Generation::Start() {
  ticket_ = std::make_shared<AdmissionTicket>(&worker_.loop());
  ticket_->listener = this;
  if (remote_prefill() && worker_.shared().latency.disaggregated()) {
    // Nothing for the prefill instance to do: straight to the transfer, then the decode queue.
    if (setup_.request.stream) connection_->BeginStream(stream_, 200, kEventStream);
    state_ = State::kTransferring;
    start_ns_ = setup_.arrival_ns;
    worker_.shared().metrics.ObserveQueueTime(0);
    worker_.shared().metrics.AddPromptTokens(setup_.request.prompt_tokens);
    BeginRemoteKv(setup_.arrival_ns);
    return true;
  }
  const Scheduler::Admission admission = worker_.shared().scheduler.Admit(ticket_);
  if (admission == Scheduler::Admission::kRejected) {
    ticket_->listener = nullptr;
    ticket_.reset();
    state_ = State::kStopped;
    return false;
  }
  if (setup_.request.stream) connection_->BeginStream(stream_, 200, kEventStream);
  if (admission == Scheduler::Admission::kRunning) {
    OnAdmitted(setup_.arrival_ns);  // No queue wait.
  } else {
    state_ = State::kWaiting;
  }
  return true;
}

void Generation::OnAdmitted(int64_t start_ns) {
  if (state_ == State::kDecodeWaiting) {
    StartDecode(start_ns);
    return;
  }
  if (state_ != State::kNew && state_ != State::kWaiting) return;
  state_ = State::kRunning;
  start_ns_ = start_ns;
  SimShared& shared = worker_.shared();
  shared.metrics.ObserveQueueTime(Seconds(start_ns - setup_.arrival_ns));
  shared.metrics.AddPromptTokens(setup_.request.prompt_tokens);
  if (remote_prefill()) {
    BeginRemoteKv(start_ns);
    return;
  }
  if (shared.prefix_cache != nullptr) {
    const int64_t hit_blocks = shared.prefix_cache->Lookup(setup_.request.prompt_blocks);
    // As vLLM, at least the last prompt token is computed even when everything is cached.
    cached_tokens_ = std::min(hit_blocks * shared.config.block_size,
                              std::max<int64_t>(0, setup_.request.prompt_tokens - 1));
    shared.metrics.AddPrefixCacheQueries(setup_.request.prompt_tokens, cached_tokens_);
  }
  next_due_ns_ = start_ns + shared.latency.PrefillNs(setup_.request.prompt_tokens - cached_tokens_);
  // A prefill leg holds its prefill slot to the end: it has no decode to move to.
  if (shared.latency.disaggregated() && !remote_decode()) state_ = State::kPrefilling;
  worker_.emitter().Schedule(this, next_due_ns_);
}

void Generation::BeginRemoteKv(int64_t start_ns) {
  SimShared& shared = worker_.shared();
  // No prefill here, so the prefix cache is neither consulted nor filled.
  std::vector<uint64_t>().swap(setup_.request.prompt_blocks);
  const int64_t transfer_ns = shared.latency.KvTransferNs(setup_.request.prompt_tokens);
  shared.metrics.ObserveKvTransferTime(Seconds(transfer_ns));
  next_due_ns_ = start_ns + transfer_ns;
  worker_.emitter().Schedule(this, next_due_ns_);
}

void Generation::Prefetch(PrefetchStage stage) const {
  // This object, then its event prefix and its stream's state in the session: each a likely
  // cache miss when thousands of streams take turns.
  if (stage == PrefetchStage::kSelf) {
    const char* self = reinterpret_cast<const char*>(this);
    for (size_t line = 0; line < sizeof(*this); line += 64) __builtin_prefetch(self + line);
    return;
  }
  formatter_.Prefetch();
  if (setup_.request.stream && state_ == State::kRunning) connection_->PrefetchStream(stream_);
}

void Generation::OnDue(int64_t now_ns) {
  if (state_ == State::kPrefilling || state_ == State::kTransferring) {
    AdvanceDisaggregated();
    return;
  }
  if (state_ != State::kRunning) return;
  SimShared& shared = worker_.shared();
  const int64_t total = setup_.plan.completion_tokens;
  if (next_index_ >= total) {
    Complete(now_ns);
    return;
  }
  if (setup_.failure != FailureKind::kNone &&
      next_index_ == FailurePolicy::TokensBeforeFailure(total) && InjectFailure()) {
    return;
  }
  const int64_t index = next_index_++;
  const bool last = next_index_ == total;
  if (index == 0) {
    shared.metrics.ObserveTimeToFirstToken(Seconds(now_ns - setup_.arrival_ns));
    // The prefill is done: its blocks are in the cache from now on.
    if (shared.prefix_cache != nullptr && !remote_prefill()) {
      shared.prefix_cache->Insert(setup_.request.prompt_blocks);
      shared.metrics.SetKvCacheUsage(static_cast<double>(shared.prefix_cache->size()) /
                                     static_cast<double>(shared.prefix_cache->capacity()));
      std::vector<uint64_t>().swap(setup_.request.prompt_blocks);
    }
  } else {
    worker_.pending_metrics().ObserveInterTokenLatency(Seconds(now_ns - last_emit_ns_));
  }
  last_emit_ns_ = now_ns;
  worker_.pending_metrics().AddGenerationTokens(1);

  if (setup_.request.stream) {
    std::string& event = worker_.scratch();
    if (index == 0 && setup_.request.kind == ApiKind::kChat) {
      event.clear();
      formatter_.AppendRoleEvent(event);
      connection_->SendEvent(stream_, event);
    }
    std::string& delta = worker_.delta_scratch();
    delta.clear();
    text_.AppendDelta(index, delta);
    event.clear();
    formatter_.AppendTokenEvent(
        delta, (last && setup_.request.kind == ApiKind::kCompletions) ? finish_reason() : nullptr,
        event);
    connection_->SendEvent(stream_, event);
  }
  if (last) {
    Complete(now_ns);
    return;
  }
  next_due_ns_ += shared.latency.TokenGapNs(setup_.request_key, next_index_, DecodeLoad(shared));
  worker_.emitter().Schedule(this, next_due_ns_);
}

void Generation::Complete(int64_t now_ns) {
  SimShared& shared = worker_.shared();
  state_ = State::kDone;
  const Usage usage{setup_.request.prompt_tokens, setup_.plan.completion_tokens, cached_tokens_};
  std::string& out = worker_.scratch();
  if (setup_.request.stream) {
    if (setup_.request.kind == ApiKind::kChat) {
      out.clear();
      formatter_.AppendFinishEvent(finish_reason(), out);
      connection_->SendEvent(stream_, out);
    }
    if (setup_.request.include_usage) {
      out.clear();
      formatter_.AppendUsageEvent(usage, out);
      connection_->SendEvent(stream_, out);
    }
    out.clear();
    ResponseFormatter::AppendDoneEvent(out);
    connection_->SendEvent(stream_, out);
  } else {
    AppendWholeBody(out);
    connection_->Respond(stream_, 200, "application/json", out);
  }
  shared.metrics.ObserveE2eLatency(Seconds(now_ns - setup_.arrival_ns));
  shared.metrics.AddRequestSuccess(finish_reason());
  Release();
}

void Generation::AppendWholeBody(std::string& out) {
  std::string text;
  for (int64_t i = 0; i < setup_.plan.completion_tokens; ++i) text_.AppendDelta(i, text);
  const Usage usage{setup_.request.prompt_tokens, setup_.plan.completion_tokens, cached_tokens_};
  out.clear();
  if (remote_decode()) {
    const RemoteKvSource source = KvSource(worker_.shared(), usage.prompt_tokens);
    formatter_.AppendFullResponse(text, finish_reason(), usage, out, &source);
  } else {
    formatter_.AppendFullResponse(text, finish_reason(), usage, out);
  }
}

bool Generation::InjectFailure() {
  SimShared& shared = worker_.shared();
  const FailureKind kind = std::exchange(setup_.failure, FailureKind::kNone);  // Strikes once.
  switch (kind) {
    case FailureKind::kStall:
      // The due times behind it move too: the stream goes on as if nothing happened.
      shared.metrics.AddInjectedFailures(kind, 1);
      next_due_ns_ += absl::ToInt64Nanoseconds(shared.config.failure_stall);
      worker_.emitter().Schedule(this, next_due_ns_);
      return true;
    case FailureKind::kTruncate:
      shared.metrics.AddInjectedFailures(kind, 1);
      state_ = State::kDone;
      if (!setup_.request.stream) {
        // A body cut in half, sent as if whole: the client finds it unreadable.
        std::string& out = worker_.scratch();
        AppendWholeBody(out);
        out.resize(out.size() / 2);
        connection_->Respond(stream_, 200, "application/json", out);
      }
      Release();
      return true;
    case FailureKind::kReset:
    case FailureKind::kRstStream:
    case FailureKind::kGoaway:
      // The connection counts, stops and retires every generation it fails, this one included.
      connection_->FailStream(stream_, kind);
      return true;
    default:  // The status kinds were answered before the generation existed.
      return false;
  }
}

void Generation::Release() {
  ticket_->listener = nullptr;
  RunningScheduler().Finish();
  ServerConnection* connection = std::exchange(connection_, nullptr);
  // Last: the connection retires this object.
  connection->FinishStream(stream_, setup_.request.stream);
}

void Generation::Stop() {
  switch (state_) {
    case State::kWaiting:
      // False: already promoted; the posted start sees no listener and passes the slot on.
      worker_.shared().scheduler.CancelWaiting(*ticket_);
      break;
    case State::kRunning:
      worker_.emitter().Cancel(this);
      RunningScheduler().Finish();
      break;
    case State::kPrefilling:
      worker_.emitter().Cancel(this);
      worker_.shared().scheduler.Finish();
      break;
    case State::kTransferring:  // Holds no slot.
      worker_.emitter().Cancel(this);
      break;
    case State::kDecodeWaiting:
      // False: already promoted; the posted start sees no listener and passes the slot on.
      worker_.shared().decode_scheduler->CancelWaiting(*ticket_);
      break;
    case State::kNew:
    case State::kDone:
    case State::kStopped:
      break;
  }
  if (ticket_ != nullptr) ticket_->listener = nullptr;
  state_ = State::kStopped;
  connection_ = nullptr;
}

// Disaggregated prefill/decode (sim/README.md). The ticket that queued for the prefill slot
// queues again for the decode slot: it is idle in between (not queued, its start has run).
void Generation::AdvanceDisaggregated() {
  SimShared& shared = worker_.shared();
  if (state_ == State::kPrefilling) {
    // The prefill instance is done: its slot goes to the next prefill, its blocks are cached.
    shared.scheduler.Finish();
    if (shared.prefix_cache != nullptr) {
      shared.prefix_cache->Insert(setup_.request.prompt_blocks);
      shared.metrics.SetKvCacheUsage(static_cast<double>(shared.prefix_cache->size()) /
                                     static_cast<double>(shared.prefix_cache->capacity()));
      std::vector<uint64_t>().swap(setup_.request.prompt_blocks);
    }
    const int64_t transfer_ns = shared.latency.KvTransferNs(setup_.request.prompt_tokens);
    shared.metrics.ObserveKvTransferTime(Seconds(transfer_ns));
    state_ = State::kTransferring;
    next_due_ns_ += transfer_ns;  // From the schedule: a late wake-up does not add to it.
    worker_.emitter().Schedule(this, next_due_ns_);
    return;
  }
  // The KV cache is on the decode side.
  state_ = State::kDecodeWaiting;
  switch (shared.decode_scheduler->Admit(ticket_)) {
    case Scheduler::Admission::kRunning:
      StartDecode(next_due_ns_);
      break;
    case Scheduler::Admission::kQueued:  // OnAdmitted() follows.
      break;
    case Scheduler::Admission::kRejected:
      BENCH_CHECK(false);  // The decode queue is unbounded (sim_worker.h).
      break;
  }
}

void Generation::StartDecode(int64_t start_ns) {
  state_ = State::kRunning;
  next_due_ns_ = std::max(next_due_ns_, start_ns);
  worker_.emitter().Schedule(this, next_due_ns_);
}

Scheduler& Generation::RunningScheduler() {
  SimShared& shared = worker_.shared();
  if (remote_decode()) return shared.scheduler;
  return shared.decode_scheduler != nullptr ? *shared.decode_scheduler : shared.scheduler;
}

}  // namespace bench::sim
