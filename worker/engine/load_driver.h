// The load driver of one engine thread: it sends requests at their intended times (open loop) or
// as slots free (closed loop), holds requests that exceed the concurrency cap in a client queue,
// times every request out, and turns each response into a RequestResult for the recorder. It
// knows nothing of HTTP framing (HttpClient does) and nothing of the config format.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "common/arrival.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/http_client.h"
#include "worker/engine/openai_stream.h"
#include "worker/engine/precise_timer.h"
#include "worker/engine/prompts.h"
#include "worker/engine/recorder.h"
#include "worker/engine/request_builder.h"
#include "worker/engine/tokenizer.h"

namespace bench::engine {

// A schedule that starts `start_ns` after time 0; a run's schedule is one or more phases back to
// back (e.g. a warmup at the first stage's rate, then the stages).
struct ArrivalPhase {
  int64_t start_ns = 0;
  ArrivalSpec spec;
  // Added to the arrivals' sequence indices, so prompt indices stay unique across phases.
  uint64_t sequence_base = 0;
};

// One thread's share of the load.
struct DriverPlan {
  bool closed_loop = false;
  // Open loop: cap on requests in flight (0 = none). Closed loop: the number of virtual users.
  uint32_t concurrency = 0;
  std::vector<ArrivalPhase> phases;  // Open loop: this thread's schedule over warmup + duration.
  int64_t warmup_ns = 0;
  int64_t duration_ns = 0;
  uint64_t max_requests = 0;  // In-window requests this thread may start; 0 = no limit.
  int64_t timeout_ns = 600'000'000'000;
  // Prompt index of a request: the arrival's sequence index for deterministic schedules; for
  // random schedules and closed loops, k * prompt_stride + prompt_offset for this thread's k-th.
  uint32_t prompt_stride = 1;
  uint32_t prompt_offset = 0;
  // Nothing is sent before this run time: arrivals earlier are skipped and closed-loop users
  // start then (a share handed over mid-run).
  int64_t not_before_ns = 0;
  // A response is response_too_large past these: a non-streaming body (decoded as it arrives)
  // or one server-sent event (held whole to be decoded) of more bytes, or more output chunks
  // (0 = no limit).
  size_t max_response_bytes = size_t{16} << 20;
  int64_t max_response_tokens = 0;
  // Conversations (closed loop only): each user holds one conversation (PromptSource::TurnCount
  // and GetTurn, indexed like closed-loop prompts). A turn is sent think_ns after the previous
  // reply, with the history - every earlier user turn and the server's reply to it - as its
  // messages; a failed turn ends its conversation (there is no reply to build on) and the user
  // starts the next one. With session_header, every turn carries session_id_prefix + the
  // conversation's index in that header.
  bool conversations = false;
  int64_t think_ns = 0;
  std::string session_header;
  std::string session_id_prefix;
  // When set (it must outlive the driver), every reply's text is kept (up to
  // max_response_bytes) and a success without usage counts its output tokens with it.
  const Tokenizer* output_tokenizer = nullptr;
};

struct DriverCounters {
  uint64_t started = 0;  // requests handed to the client
  uint32_t in_flight = 0;
  uint32_t client_queue = 0;
  bool sending = false;
  bool finished = false;
};

// Lives on one loop thread; every method must be called there. The loop, client, prompts,
// builder and recorder must outlive it.
class LoadDriver {
 public:
  LoadDriver(EventLoop& loop, HttpClient& client, const PromptSource& prompts,
             const RequestBuilder& builder, RequestHead head, Recorder& recorder, DriverPlan plan);
  ~LoadDriver();
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  // Starts the schedule; `run_start_ns` is time 0 of the arrival schedule (MonotonicNowNs()).
  absl::Status Start(int64_t run_start_ns, absl::AnyInvocable<void()> on_finished);
  // Stops sending. Requests in flight get up to `drain_ns` to finish; then they are cancelled
  // and counted as incomplete. Queued requests that never left are counted as incomplete.
  void StopSending(int64_t drain_ns);
  // Ends the schedule at run time `run_ns` (arrivals at or after it are not sent, closed-loop
  // users stop then); requests in flight finish normally. For a share handed over mid-run.
  void CutAt(int64_t run_ns);

  DriverCounters counters() const;

 private:
  class Request;
  struct Conversation;
  struct Queued {
    int64_t intended_ns;
    uint64_t prompt_index;
    int32_t stage;
    Conversation* conversation = nullptr;  // the turn's conversation, if any
  };

  void OnScheduleTimer();
  // Moves next_arrival_ to the next arrival of this or a later phase; false when all are done.
  absl::Status AdvanceArrival();
  void Admit(int64_t intended_ns, uint64_t prompt_index, int32_t stage,
             Conversation* conversation = nullptr);
  // Closed loop: the user whose slot frees at `intended_ns` sends its next request (a new
  // conversation's first turn with conversations).
  void AdmitNextUser(int64_t intended_ns);
  // A conversation's turn ended with `result` and `reply`: queues the next turn for the end of
  // the think time (true), or ends the conversation (false).
  bool ContinueConversation(Conversation* conversation, const RequestResult& result,
                            std::string_view reply, int64_t now);
  void OnThinkTimer();
  void Launch(const Queued& queued);
  void OnRequestDone(Request* request, const RequestResult& result);
  void SweepTimeouts();
  void FinishSendingIfDone();
  void MaybeFinish();
  bool InWindow(int64_t intended_ns) const;
  bool AtRequestLimit() const;
  // Run time at which sending ends: the window's end or an earlier cut.
  int64_t EndNs() const;
  void RecordNeverSent(const Queued& queued);
  void Link(Request* request);
  void Unlink(Request* request);

  HttpClient& client_;
  const PromptSource& prompts_;
  const RequestBuilder& builder_;
  RequestHead head_;
  Recorder& recorder_;
  DriverPlan plan_;
  OpenAiDecoder decoder_;  // One per thread, shared by its requests.
  // The request headers' values, masked out of failure explanations (they may be secrets);
  // not those of the headers every request carries (content-type, accept, ...).
  const std::vector<std::string> header_values_;

  int64_t run_start_ns_ = 0;
  int64_t cut_ns_ = INT64_MAX;
  size_t phase_ = 0;  // Index of the phase schedule_ runs.
  std::unique_ptr<ArrivalSchedule> schedule_;
  std::optional<Arrival> next_arrival_;
  PreciseTimer schedule_timer_;
  // Conversations between turns, in due order (one think time for all): the timer wakes for the
  // head.
  std::deque<Conversation*> thinking_;
  PreciseTimer think_timer_;
  std::vector<std::unique_ptr<Conversation>> conversation_pool_;
  std::vector<Conversation*> free_conversations_;
  Timer timeout_sweeper_;
  Timer drain_timer_;
  std::deque<Queued> client_queue_;
  // Every request object ever made (reused, destroyed with the driver) and the idle ones.
  std::vector<std::unique_ptr<Request>> pool_;
  std::vector<Request*> free_requests_;
  // Open requests in launch order, which is deadline order (one timeout for all): the sweep
  // looks at the head only, and a request leaves the list in O(1) when it ends.
  Request* oldest_ = nullptr;
  Request* newest_ = nullptr;
  uint64_t closed_loop_count_ = 0;  // Prompt counter for closed loops and random schedules.
  uint64_t window_started_ = 0;
  uint64_t started_ = 0;
  uint32_t in_flight_ = 0;
  bool sending_ = false;
  bool users_started_ = false;  // Closed loop: the users were admitted at time 0.
  bool finished_ = false;
  bool draining_ = false;
  absl::AnyInvocable<void()> on_finished_;
};

}  // namespace bench::engine
