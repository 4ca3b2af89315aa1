// One generation request in bench-sim: waits for a batch slot, then emits its tokens on schedule
// (TTFT after it starts, then one inter-token gap per token) as SSE events or, unstreamed, one
// body at the end; then gives its slot back and tells its connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sim/emitter.h"
#include "sim/failure.h"
#include "sim/model.h"
#include "sim/openai_format.h"
#include "sim/openai_request.h"
#include "sim/scheduler.h"

namespace bench::sim {

class ServerConnection;
class SimWorker;

// Owned by its connection (by stream); loop thread only. The worker and the connection outlive
// it; the connection calls Stop() before letting it go.
class Generation final : public TimedTask, public AdmissionListener {
 public:
  struct Setup {
    GenerationRequest request;
    uint64_t request_key = 0;  // Seeds the length draw, the words and the jitter.
    OutputPlan plan;
    std::string id;  // chatcmpl-... / cmpl-...
    int64_t created_unix_seconds = 0;
    int64_t arrival_ns = 0;  // IncomingRequest::arrival_ns
    // A mid-stream failure to inject (failure.h) after half the tokens; kNone for none.
    FailureKind failure = FailureKind::kNone;
  };

  Generation(SimWorker& worker, ServerConnection* connection, int32_t stream, Setup setup);
  ~Generation() override;
  Generation(const Generation&) = delete;  // Pinned: the emitter and its ticket point here.
  Generation& operator=(const Generation&) = delete;

  // Asks for a batch slot; a streamed response's head goes out at once (as vLLM's does, before
  // the first token). False when the waiting queue is full: nothing was sent and the caller
  // answers 429 and drops the object.
  bool Start();
  // The client went away: leaves the emitter and gives back the slot (or the queue place).
  // Idempotent; the object is inert afterwards.
  void Stop();

  // TimedTask: the next token is due.
  void OnDue(int64_t now_ns) override;
  void Prefetch(PrefetchStage stage) const override;
  // AdmissionListener: a queued request got its slot.
  void OnAdmitted(int64_t start_ns) override;

 private:
  // Disaggregated mode (--disagg) goes kWaiting (prefill queue) -> kPrefilling (prefill slot)
  // -> kTransferring (no slot) -> kDecodeWaiting (decode queue) -> kRunning (decode slot).
  enum class State {
    kNew,
    kWaiting,
    kRunning,
    kDone,
    kStopped,
    kPrefilling,
    kTransferring,
    kDecodeWaiting
  };

  void Complete(int64_t now_ns);
  // The unstreamed response body (text, finish_reason, usage; kv_transfer_params for a prefill
  // leg), replacing `out`.
  void AppendWholeBody(std::string& out);
  // The injected failure strikes (once: it clears setup_.failure). True when this object is done
  // with (stopped or retired).
  bool InjectFailure();
  // Gives the slot back and hands the stream to the connection, which retires this object.
  void Release();
  // Disaggregated: the prefill (kPrefilling) or the KV transfer (kTransferring) is done.
  void AdvanceDisaggregated();
  // Disaggregated: the decode slot is ours from `start_ns`; token 0 is due then, or when the
  // transfer ends if that is later.
  void StartDecode(int64_t start_ns);
  // The prompt's KV cache was computed elsewhere (kv_transfer_params.do_remote_prefill): token 0
  // is due once it has moved here, `start_ns` + the KV transfer, instead of after a prefill.
  void BeginRemoteKv(int64_t start_ns);
  // The scheduler whose slot a kRunning sequence holds: the decode instance's when disaggregated,
  // except for a prefill leg, which never leaves the prefill instance.
  Scheduler& RunningScheduler();
  bool remote_prefill() const { return setup_.request.kv_transfer.do_remote_prefill; }
  // A prefill leg (kv_transfer_params.do_remote_decode): prefill, one token, answer.
  bool remote_decode() const { return setup_.request.kv_transfer.do_remote_decode; }
  const char* finish_reason() const {
    if (remote_decode()) return "remote_decode";
    return setup_.plan.stopped_by_length ? "length" : "stop";
  }

  SimWorker& worker_;
  ServerConnection* connection_;
  const int32_t stream_;
  Setup setup_;
  OutputText text_;
  ResponseFormatter formatter_;
  std::shared_ptr<AdmissionTicket> ticket_;  // Shared with the scheduler while it waits.
  State state_ = State::kNew;
  int64_t next_index_ = 0;   // The next token to emit.
  int64_t next_due_ns_ = 0;  // Its due time, from the schedule (not from the last write).
  int64_t start_ns_ = 0;
  int64_t cached_tokens_ = 0;  // Prompt tokens found in the prefix cache.
  int64_t last_emit_ns_ = 0;
};

}  // namespace bench::sim
