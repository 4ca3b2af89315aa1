#include "sim/generation.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "sim/server_connection.h"
#include "sim/sim_worker.h"

namespace bench::sim {
namespace {

constexpr std::string_view kEventStream = "text/event-stream; charset=utf-8";

double Seconds(int64_t ns) { return static_cast<double>(ns) * 1e-9; }

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
}

Generation::~Generation() { Stop(); }

bool Generation::Start() {
  ticket_ = std::make_shared<AdmissionTicket>(&worker_.loop());
  ticket_->listener = this;
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
  if (state_ != State::kNew && state_ != State::kWaiting) return;
  state_ = State::kRunning;
  start_ns_ = start_ns;
  SimShared& shared = worker_.shared();
  shared.metrics.ObserveQueueTime(Seconds(start_ns - setup_.arrival_ns));
  shared.metrics.AddPromptTokens(setup_.request.prompt_tokens);
  if (shared.prefix_cache != nullptr) {
    const int64_t hit_blocks = shared.prefix_cache->Lookup(setup_.request.prompt_blocks);
    // As vLLM, at least the last prompt token is computed even when everything is cached.
    cached_tokens_ = std::min(hit_blocks * shared.config.block_size,
                              std::max<int64_t>(0, setup_.request.prompt_tokens - 1));
    shared.metrics.AddPrefixCacheQueries(setup_.request.prompt_tokens, cached_tokens_);
  }
  next_due_ns_ = start_ns + shared.latency.PrefillNs(setup_.request.prompt_tokens - cached_tokens_);
  worker_.emitter().Schedule(this, next_due_ns_);
}

void Generation::OnDue(int64_t now_ns) {
  if (state_ != State::kRunning) return;
  SimShared& shared = worker_.shared();
  const int64_t total = setup_.plan.completion_tokens;
  if (next_index_ >= total) {
    Complete(now_ns);
    return;
  }
  const int64_t index = next_index_++;
  const bool last = next_index_ == total;
  if (index == 0) {
    shared.metrics.ObserveTimeToFirstToken(Seconds(now_ns - setup_.arrival_ns));
    // The prefill is done: its blocks are in the cache from now on.
    if (shared.prefix_cache != nullptr) {
      shared.prefix_cache->Insert(setup_.request.prompt_blocks);
      shared.metrics.SetKvCacheUsage(static_cast<double>(shared.prefix_cache->size()) /
                                     static_cast<double>(shared.prefix_cache->capacity()));
      std::vector<uint64_t>().swap(setup_.request.prompt_blocks);
    }
  } else {
    shared.metrics.ObserveInterTokenLatency(Seconds(now_ns - last_emit_ns_));
  }
  last_emit_ns_ = now_ns;
  shared.metrics.AddGenerationTokens(1);

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
  next_due_ns_ +=
      shared.latency.TokenGapNs(setup_.request_key, next_index_, shared.scheduler.running());
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
    std::string text;
    for (int64_t i = 0; i < setup_.plan.completion_tokens; ++i) text_.AppendDelta(i, text);
    out.clear();
    formatter_.AppendFullResponse(text, finish_reason(), usage, out);
    connection_->Respond(stream_, 200, "application/json", out);
  }
  shared.metrics.ObserveE2eLatency(Seconds(now_ns - setup_.arrival_ns));
  shared.metrics.AddRequestSuccess(finish_reason());
  ticket_->listener = nullptr;
  shared.scheduler.Finish();
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
      worker_.shared().scheduler.Finish();
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

}  // namespace bench::sim
