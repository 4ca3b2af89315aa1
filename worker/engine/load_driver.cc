#include "worker/engine/load_driver.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/failure_text.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/engine/openai_body.h"
#include "worker/engine/sse_parser.h"

namespace bench::engine {
namespace {

// How often timeouts are checked. Timeouts are seconds long; 10 ms of slack is noise.
constexpr uint64_t kTimeoutSweepMs = 10;
// The start of an HTTP error body kept to explain the failure.
constexpr size_t kMaxErrorBodyBytes = 512;
// How much longer than the request timeout a drain waits (see FinishSendingIfDone).
constexpr int64_t kDrainMarginNs = 100'000'000;

Outcome OutcomeOf(TransportOutcome transport) {
  switch (transport) {
    case TransportOutcome::kCompleted:
      return Outcome::kSuccess;
    case TransportOutcome::kConnect:
      return Outcome::kConnect;
    case TransportOutcome::kTls:
      return Outcome::kTls;
    case TransportOutcome::kReset:
      return Outcome::kReset;
    case TransportOutcome::kRstStream:
      return Outcome::kRstStream;
    case TransportOutcome::kGoaway:
      return Outcome::kGoaway;
    case TransportOutcome::kProtocol:
      return Outcome::kProtocol;
    case TransportOutcome::kTruncated:
      return Outcome::kTruncatedStream;
    case TransportOutcome::kCancelled:
      return Outcome::kTimeout;
  }
  return Outcome::kProtocol;
}

}  // namespace

// A conversation in progress: which one, its turn, and the history its next turn sends.
struct LoadDriver::Conversation {
  uint64_t index = 0;  // Its prompt index (PromptSource::TurnCount/GetTurn).
  int64_t turn = 0;    // The turn in flight, or the next one while thinking.
  int64_t turns = 0;
  int64_t due_ns = 0;  // While thinking: when the next turn is meant to be sent.
  // The messages so far as JSON objects joined by commas (no brackets), their words (the
  // generator's estimate of the prompt), and the user message of the turn in flight.
  std::string history;
  int64_t history_words = 0;
  std::string user_message;
  int64_t user_words = 0;
  std::string session_id;
};

// One request's life: observes the HTTP exchange, parses the stream, times the output chunks.
// Pooled by the driver and reused; `generation` tells a stale deadline from a live one.
class LoadDriver::Request final : public ResponseObserver {
 public:
  explicit Request(LoadDriver* driver)
      : driver_(driver),
        parser_(driver->plan_.max_response_bytes, driver->plan_.max_response_bytes),
        gaps_(&driver->recorder_.itl_layout()) {}

  void Reset(const Queued& queued, bool in_window, int64_t input_estimate) {
    ++generation_;
    active_ = true;
    id_ = 0;
    queued_ = queued;
    in_window_ = in_window;
    input_estimate_ = input_estimate;
    sent_ns_ = 0;
    connect_wait_ns_ = 0;
    http_status_ = 0;
    gaps_.Clear();
    body_bytes_ = 0;
    declared_length_ = -1;
    too_large_ = false;
    too_large_reason_ = nullptr;
    content_type_.clear();
    content_encoding_.clear();
    location_.clear();
    error_body_.clear();
    invalid_reason_.clear();
    parser_.Reset();
    done_seen_ = false;
    invalid_ = false;
    error_event_ = false;
    unrequested_encoding_ = false;
    not_event_stream_ = false;
    usage_reported_ = false;
    output_tokens_ = 0;
    input_tokens_ = 0;
    cached_tokens_ = -1;
    cancel_as_incomplete_ = false;
    reply_.clear();
    payload_.content_sink =
        queued.conversation != nullptr || driver_->plan_.output_tokenizer != nullptr ? &reply_
                                                                                     : nullptr;
    body_decoder_.Reset(&payload_);
  }

  Conversation* conversation() const { return queued_.conversation; }
  // The reply's text, kept for a conversation's history or the output tokenizer.
  const std::string& reply() const { return reply_; }

  uint64_t generation() const { return generation_; }
  // Intrusive list of open requests, owned by the driver.
  Request* older = nullptr;
  Request* newer = nullptr;
  int64_t deadline_ns = 0;
  bool active() const { return active_; }
  HttpClient::RequestId id() const { return id_; }
  void set_id(HttpClient::RequestId id) { id_ = id; }
  void set_cancel_as_incomplete() { cancel_as_incomplete_ = true; }

  void OnRequestSent(int64_t sent_ns, int64_t connect_wait_ns) override {
    sent_ns_ = sent_ns;
    connect_wait_ns_ = connect_wait_ns;
    driver_->recorder_.OnSent(sent_ns,
                              ScheduleLagNs(queued_.intended_ns, sent_ns, connect_wait_ns));
  }

  void OnResponseHeaders(const ResponseHead& head, int64_t) override {
    http_status_ = head.http_status;
    // The request asked for no content coding and, streaming, for server-sent events: a gzip
    // body or a whole JSON reply is the server's error, not a stream cut short.
    unrequested_encoding_ = !IsIdentityEncoding(head.content_encoding);
    not_event_stream_ = !head.event_stream;
    // Kept to explain a failure (cut to kMaxHeaderValueBytes by the sessions).
    content_type_.assign(head.content_type);
    content_encoding_.assign(head.content_encoding);
    location_.assign(head.location);
    declared_length_ = head.content_length;
  }

  void OnResponseBody(std::string_view bytes, int64_t read_time_ns) override {
    if (http_status_ < 200 || http_status_ >= 300) {
      // An error body: the status decides; its start explains the failure.
      const size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, error_body_.size());
      error_body_.append(bytes.substr(0, room));
      return;
    }
    if (too_large_) return;
    const DriverPlan& plan = driver_->plan_;
    if (!driver_->builder_.streaming()) {
      // Decoded as it arrives: memory per request does not grow with the body.
      body_bytes_ += bytes.size();
      if (body_bytes_ > plan.max_response_bytes ||
          (declared_length_ >= 0 &&
           static_cast<uint64_t>(declared_length_) > plan.max_response_bytes)) {
        return EndTooLarge("the body is larger than target.maxResponseBytes");
      }
      if (!invalid_) BodyDecoded(body_decoder_.Feed(bytes));
      return;
    }
    if (invalid_) return;
    const absl::Status status = parser_.Feed(bytes, [&](const SseEvent& event) {
      if (invalid_ || too_large_) return;
      const absl::Status decoded = driver_->decoder_.DecodeStreamEvent(event.data, payload_);
      if (!decoded.ok()) {
        invalid_ = true;
        invalid_reason_ = absl::StrCat("an event does not decode: ", decoded.message());
        return;
      }
      if (payload_.done) done_seen_ = true;
      if (payload_.has_output) {
        gaps_.OnChunk(read_time_ns);
        driver_->recorder_.OnOutputChunk(read_time_ns);
        if (plan.max_response_tokens > 0 &&
            gaps_.chunks() > static_cast<uint64_t>(plan.max_response_tokens)) {
          too_large_ = true;
          too_large_reason_ = "more output chunks than target.maxResponseTokens";
        }
      }
      if (reply_.size() > plan.max_response_bytes) {
        too_large_ = true;
        too_large_reason_ =
            "the reply text, kept to count its tokens or as a conversation's history, is "
            "larger than target.maxResponseBytes";
      }
      if (payload_.usage.has_value()) TakeUsage(*payload_.usage);
      if (payload_.error.has_value() && !error_event_) {
        error_event_ = true;
        invalid_reason_ = absl::StrCat("error event: ", payload_.error->message);
      }
    });
    // An event over the size cap is too large; anything else the parser refuses is not SSE.
    if (absl::IsResourceExhausted(status) && !too_large_) {
      too_large_ = true;
      too_large_reason_ = "an event is larger than target.maxResponseBytes";
    }
    if (!status.ok() && !too_large_ && !invalid_) {
      invalid_ = true;
      invalid_reason_ = absl::StrCat("not an event stream: ", status.message());
    }
    if (too_large_) EndTooLarge(too_large_reason_);
  }

  void OnRequestEnd(const RequestEnd& end, int64_t end_ns) override {
    RequestResult result;
    result.intended_ns = queued_.intended_ns;
    result.sent_ns = sent_ns_;
    result.connect_wait_ns = connect_wait_ns_;
    result.end_ns = end_ns;
    result.stage = queued_.stage;
    if (queued_.conversation != nullptr) {
      result.turn = static_cast<int32_t>(queued_.conversation->turn);
    }
    result.in_window = in_window_;
    result.http_status = http_status_;
    result.h2_error_code = end.h2_error_code;
    result.outcome = Classify(end);
    if (result.outcome == Outcome::kSuccess && !driver_->builder_.streaming()) {
      // A plain JSON response: one "chunk" when it completed.
      if (!invalid_) BodyDecoded(body_decoder_.Finish());
      if (invalid_) {
        result.outcome = Outcome::kInvalidResponse;
      } else {
        if (payload_.usage.has_value()) TakeUsage(*payload_.usage);
        if (payload_.has_output) gaps_.OnChunk(end_ns);
      }
    }
    if (gaps_.chunks() > 0) {
      result.first_chunk_ns = gaps_.first_ns();
      result.last_chunk_ns = gaps_.last_ns();
    }
    result.chunks = gaps_.chunks();
    result.gaps = &gaps_;
    result.usage_reported = usage_reported_ && output_tokens_ >= 0;
    result.output_tokens = usage_reported_ ? output_tokens_ : static_cast<int64_t>(gaps_.chunks());
    if (!usage_reported_ && result.outcome == Outcome::kSuccess &&
        driver_->plan_.output_tokenizer != nullptr) {
      result.output_tokens = driver_->plan_.output_tokenizer->Count(reply_);
    }
    result.input_tokens = input_tokens_ > 0 ? input_tokens_ : input_estimate_;
    result.cached_tokens = cached_tokens_;
    if (result.outcome != Outcome::kSuccess && result.outcome != Outcome::kIncomplete) {
      Explain(result.outcome, end, explanation_);
      result.explanation = explanation_;
    }
    active_ = false;
    // Last statement: the driver may reuse this object for the next request.
    driver_->OnRequestDone(this, result);
  }

 private:
  // The response passed target.maxResponseBytes or maxResponseTokens: stop reading it. Cancel()
  // ends the request before it returns, and this object may then be reused at once: nothing
  // may touch it after the call.
  // A non-streaming body's decoding went on (or ended) with `status`: not OK makes it invalid.
  void BodyDecoded(const absl::Status& status) {
    if (status.ok()) return;
    invalid_ = true;
    invalid_reason_ = absl::StrCat("the body does not decode as a completion: ", status.message());
  }

  void EndTooLarge(const char* reason) {
    too_large_ = true;
    too_large_reason_ = reason;
    driver_->client_.Cancel(id_);
  }

  // Why the request failed, in a line that is safe to keep in results (see failure_text.h).
  void Explain(Outcome outcome, const RequestEnd& end, std::string& out) const {
    out.clear();
    switch (outcome) {
      case Outcome::kHttp4xx:
      case Outcome::kHttp5xx:
        out = ErrorBodyText();
        break;
      case Outcome::kInvalidResponse:
        if (http_status_ > 599 || http_status_ < 200) {
          out = absl::StrCat("status ", http_status_, " is not a final HTTP status");
        } else if (http_status_ >= 300) {
          out = location_.empty() ? absl::StrCat("redirect ", http_status_, " without a Location")
                                  : absl::StrCat("redirect ", http_status_, " to ", location_);
        } else if (unrequested_encoding_) {
          out = absl::StrCat("content-encoding ", content_encoding_, " was not requested");
        } else if (driver_->builder_.streaming() && not_event_stream_) {
          out = absl::StrCat("content-type ",
                             content_type_.empty() ? std::string("(none)") : content_type_,
                             ", expected text/event-stream");
        } else {
          out = invalid_reason_;
        }
        break;
      case Outcome::kTruncatedStream:
        out = end.outcome == TransportOutcome::kTruncated
                  ? std::string(end.detail.message())
                  : absl::StrCat("the stream ended without data: [DONE] after ", gaps_.chunks(),
                                 " chunks");
        break;
      case Outcome::kTimeout:
        out = http_status_ == 0
                  ? absl::StrCat("no response within the ", TimeoutSeconds(), " s timeout")
                  : absl::StrCat("still open at the ", TimeoutSeconds(), " s timeout, ",
                                 gaps_.chunks(), " chunks in");
        break;
      case Outcome::kResponseTooLarge:
        out = too_large_reason_ != nullptr ? too_large_reason_ : "";
        break;
      default:  // Transport failures: the connection's own words (TLS reasons, resets, ...).
        out = std::string(end.detail.message());
        break;
    }
    MaskSecrets(out, driver_->header_values_);
    out = PrintableExcerpt(out, StatsShard::kMaxErrorExampleBytes);
  }

  double TimeoutSeconds() const { return static_cast<double>(driver_->plan_.timeout_ns) / 1e9; }

  // The start of an HTTP error body: its OpenAI/vLLM error message when it decodes, else the
  // raw bytes; secrets masked by Explain().
  std::string ErrorBodyText() const {
    if (error_body_.empty()) return absl::StrCat("status ", http_status_, ", empty body");
    OpenAiPayload payload;
    if (driver_->decoder_.DecodeResponse(error_body_, payload).ok() && payload.error.has_value() &&
        !payload.error->message.empty()) {
      return payload.error->message;
    }
    return error_body_;
  }

  Outcome Classify(const RequestEnd& end) const {
    if (too_large_) return Outcome::kResponseTooLarge;
    if (end.outcome == TransportOutcome::kCancelled) {
      return cancel_as_incomplete_ ? Outcome::kIncomplete : Outcome::kTimeout;
    }
    if (end.outcome != TransportOutcome::kCompleted) return OutcomeOf(end.outcome);
    // HTTP status codes are 100-599 (RFC 9110 section 15): "999" is no server error, it is not
    // HTTP.
    if (http_status_ > 599) return Outcome::kInvalidResponse;
    if (http_status_ >= 500) return Outcome::kHttp5xx;
    if (http_status_ >= 400) return Outcome::kHttp4xx;
    if (http_status_ < 200 || http_status_ >= 300) return Outcome::kInvalidResponse;
    if (unrequested_encoding_) return Outcome::kInvalidResponse;
    if (!driver_->builder_.streaming()) return Outcome::kSuccess;
    if (not_event_stream_ || invalid_ || error_event_) return Outcome::kInvalidResponse;
    // A stream must end with [DONE]; anything else was cut short.
    if (!done_seen_ || parser_.EndedMidEvent()) return Outcome::kTruncatedStream;
    return Outcome::kSuccess;
  }

  void TakeUsage(const OpenAiUsage& usage) {
    if (usage.completion_tokens.has_value()) {
      usage_reported_ = true;
      output_tokens_ = *usage.completion_tokens;
    }
    if (usage.prompt_tokens.has_value()) input_tokens_ = *usage.prompt_tokens;
    if (usage.cached_tokens.has_value()) cached_tokens_ = *usage.cached_tokens;
  }

  LoadDriver* driver_;
  uint64_t generation_ = 0;
  bool active_ = false;
  HttpClient::RequestId id_ = 0;
  Queued queued_{};
  bool in_window_ = false;
  int64_t input_estimate_ = 0;
  int64_t sent_ns_ = 0;
  int64_t connect_wait_ns_ = 0;
  int http_status_ = 0;
  bool unrequested_encoding_ = false;  // Content-Encoding other than identity
  bool not_event_stream_ = false;      // Content-Type other than text/event-stream
  SseParser parser_;
  OpenAiPayload payload_;
  ChunkGaps gaps_;
  OpenAiBodyDecoder body_decoder_;  // a non-streaming body, decoded as it arrives
  size_t body_bytes_ = 0;           // its size so far, also past the cap
  int64_t declared_length_ = -1;    // the response's Content-Length, -1 when none
  bool too_large_ = false;          // past max_response_bytes or max_response_tokens
  const char* too_large_reason_ = nullptr;
  // What explains a failure: the response's headers, the start of an error body, the reason a
  // body was invalid; the explanation itself (buffers reused across requests).
  std::string content_type_;
  std::string content_encoding_;
  std::string location_;
  std::string error_body_;
  std::string invalid_reason_;
  std::string explanation_;
  bool done_seen_ = false;
  bool invalid_ = false;
  bool error_event_ = false;
  bool usage_reported_ = false;
  int64_t output_tokens_ = 0;
  int64_t input_tokens_ = 0;
  int64_t cached_tokens_ = -1;
  bool cancel_as_incomplete_ = false;
  std::string reply_;  // The reply's text so far, when payload_.content_sink points here.
};

LoadDriver::LoadDriver(EventLoop& loop, HttpClient& client, const PromptSource& prompts,
                       const RequestBuilder& builder, RequestHead head, Recorder& recorder,
                       DriverPlan plan)
    : client_(client),
      prompts_(prompts),
      builder_(builder),
      head_(std::move(head)),
      recorder_(recorder),
      plan_(std::move(plan)),
      header_values_([this] {
        std::vector<std::string> values;
        for (const auto& [name, value] : head_.headers) {
          if (name != "content-type" && name != "accept" && name != "accept-encoding" &&
              name != "user-agent") {
            values.push_back(value);
          }
        }
        return values;
      }()),
      schedule_timer_(loop, [this] { OnScheduleTimer(); }),
      think_timer_(loop, [this] { OnThinkTimer(); }),
      timeout_sweeper_(loop, [this] { SweepTimeouts(); }),
      drain_timer_(loop, [this] {
        // The drain is over: whatever is still queued or open is incomplete.
        while (!client_queue_.empty()) {
          RecordNeverSent(client_queue_.front());
          client_queue_.pop_front();
        }
        std::vector<Request*> open;
        for (Request* request = oldest_; request != nullptr; request = request->newer) {
          open.push_back(request);
        }
        for (Request* request : open) {
          request->set_cancel_as_incomplete();
          client_.Cancel(request->id());
        }
        MaybeFinish();
      }) {}

LoadDriver::~LoadDriver() = default;

bool LoadDriver::InWindow(int64_t intended_ns) const {
  const int64_t offset = intended_ns - run_start_ns_;
  return offset >= plan_.warmup_ns && offset < plan_.warmup_ns + plan_.duration_ns;
}

bool LoadDriver::AtRequestLimit() const {
  return plan_.max_requests > 0 && window_started_ >= plan_.max_requests;
}

int64_t LoadDriver::EndNs() const { return std::min(plan_.warmup_ns + plan_.duration_ns, cut_ns_); }

void LoadDriver::CutAt(int64_t run_ns) {
  cut_ns_ = std::min(cut_ns_, run_ns);
  if (!sending_) return;
  if (plan_.closed_loop) {
    if (users_started_) schedule_timer_.ArmAt(run_start_ns_ + EndNs());
    return;
  }
  if (next_arrival_.has_value() && next_arrival_->intended_send_time_ns >= cut_ns_) {
    next_arrival_.reset();
    sending_ = false;
    FinishSendingIfDone();
  }
}

absl::Status LoadDriver::Start(int64_t run_start_ns, absl::AnyInvocable<void()> on_finished) {
  run_start_ns_ = run_start_ns;
  on_finished_ = std::move(on_finished);
  sending_ = true;
  timeout_sweeper_.Start(kTimeoutSweepMs, kTimeoutSweepMs);
  if (plan_.closed_loop) {
    // Every user starts at time 0 (the timer's first shot; later for a share handed over
    // mid-run); each later request starts when its user's slot frees. Starting before time 0
    // would send requests no window counts.
    schedule_timer_.ArmAt(run_start_ns_ + plan_.not_before_ns);
    return absl::OkStatus();
  }
  for (const ArrivalPhase& phase : plan_.phases) {
    BENCH_RETURN_IF_ERROR(ValidateArrivalSpec(phase.spec));
  }
  phase_ = 0;
  BENCH_RETURN_IF_ERROR(AdvanceArrival());
  if (!next_arrival_.has_value()) {
    sending_ = false;
    FinishSendingIfDone();
    return absl::OkStatus();
  }
  schedule_timer_.ArmAt(run_start_ns_ + next_arrival_->intended_send_time_ns);
  return absl::OkStatus();
}

absl::Status LoadDriver::AdvanceArrival() {
  next_arrival_.reset();
  while (phase_ < plan_.phases.size()) {
    if (schedule_ == nullptr) {
      BENCH_ASSIGN_OR_RETURN(schedule_, MakeArrivalSchedule(plan_.phases[phase_].spec));
    }
    std::optional<Arrival> arrival = schedule_->Next();
    if (arrival.has_value()) {
      const ArrivalPhase& phase = plan_.phases[phase_];
      // Times and indices in run terms.
      arrival->intended_send_time_ns += phase.start_ns;
      arrival->sequence_index += static_cast<int64_t>(phase.sequence_base);
      if (arrival->intended_send_time_ns < plan_.not_before_ns) continue;  // Another's share.
      if (arrival->intended_send_time_ns >= cut_ns_) {
        phase_ = plan_.phases.size();  // Handed over: nothing more to send.
        schedule_.reset();
        return absl::OkStatus();
      }
      next_arrival_ = *arrival;
      return absl::OkStatus();
    }
    schedule_.reset();
    ++phase_;
  }
  return absl::OkStatus();
}

void LoadDriver::OnScheduleTimer() {
  if (!sending_) return;
  const int64_t now = MonotonicNowNs();
  if (plan_.closed_loop) {
    if (!users_started_) {
      users_started_ = true;
      for (uint32_t user = 0; user < plan_.concurrency && sending_; ++user) {
        AdmitNextUser(run_start_ns_ + plan_.not_before_ns);
      }
      if (!sending_) return;
    }
    if (now >= run_start_ns_ + EndNs()) {
      sending_ = false;
      FinishSendingIfDone();
    } else {
      schedule_timer_.ArmAt(run_start_ns_ + EndNs());
    }
    return;
  }
  // Release everything that is due, however late the wake-up was: lateness shows up as
  // schedule_lag instead of lost requests.
  while (sending_ && next_arrival_.has_value() &&
         run_start_ns_ + next_arrival_->intended_send_time_ns <= now) {
    const Arrival& arrival = *next_arrival_;
    const ArrivalSpec::Type type = plan_.phases[phase_].spec.type;
    const bool random_schedule =
        type == ArrivalSpec::Type::kPoisson || type == ArrivalSpec::Type::kGamma;
    const uint64_t prompt_index =
        random_schedule ? closed_loop_count_++ * plan_.prompt_stride + plan_.prompt_offset
                        : static_cast<uint64_t>(arrival.sequence_index);
    Admit(run_start_ns_ + arrival.intended_send_time_ns, prompt_index, arrival.stage);
    const absl::Status advanced = AdvanceArrival();
    if (!advanced.ok()) {
      BENCH_LOG(ERROR) << "arrival schedule: " << advanced;
      next_arrival_.reset();
    }
  }
  if (sending_ && next_arrival_.has_value()) {
    schedule_timer_.ArmAt(run_start_ns_ + next_arrival_->intended_send_time_ns);
    return;
  }
  sending_ = false;
  FinishSendingIfDone();
}

void LoadDriver::AdmitNextUser(int64_t intended_ns) {
  const uint64_t index = closed_loop_count_++ * plan_.prompt_stride + plan_.prompt_offset;
  if (!plan_.conversations) {
    Admit(intended_ns, index, 0);
    return;
  }
  Conversation* conversation = nullptr;
  if (!free_conversations_.empty()) {
    conversation = free_conversations_.back();
    free_conversations_.pop_back();
  } else {
    conversation_pool_.push_back(std::make_unique<Conversation>());
    conversation = conversation_pool_.back().get();
  }
  conversation->index = index;
  conversation->turn = 0;
  conversation->turns = prompts_.TurnCount(index);
  conversation->history.clear();
  conversation->history_words = 0;
  if (!plan_.session_header.empty()) {
    conversation->session_id = absl::StrCat(plan_.session_id_prefix, index);
  }
  Admit(intended_ns, index, 0, conversation);
}

bool LoadDriver::ContinueConversation(Conversation* conversation, const RequestResult& result,
                                      std::string_view reply, int64_t now) {
  const bool next = result.outcome == Outcome::kSuccess &&
                    conversation->turn + 1 < conversation->turns && sending_;
  if (!next) {
    free_conversations_.push_back(conversation);
    return false;
  }
  // The turn and the server's reply join the history the next turn sends.
  std::string& history = conversation->history;
  if (!history.empty()) history.push_back(',');
  history.append(conversation->user_message);
  history.append(R"(,{"role":"assistant","content":)");
  AppendJsonString(reply, history);
  history.push_back('}');
  conversation->history_words += conversation->user_words + CountWords(reply);
  ++conversation->turn;
  conversation->due_ns = now + plan_.think_ns;
  // One think time for all: the queue stays in due order. A zero think time still waits for
  // the next loop turn, so a chain of turns never recurses.
  thinking_.push_back(conversation);
  if (thinking_.size() == 1) think_timer_.ArmAt(conversation->due_ns);
  return true;
}

void LoadDriver::OnThinkTimer() {
  const int64_t now = MonotonicNowNs();
  while (!thinking_.empty() && thinking_.front()->due_ns <= now) {
    Conversation* conversation = thinking_.front();
    thinking_.pop_front();
    if (!sending_) {
      free_conversations_.push_back(conversation);
      continue;
    }
    Admit(conversation->due_ns, conversation->index, 0, conversation);
  }
  // An Admit above may have ended sending (the window, the request limit) and finished.
  if (!thinking_.empty() && sending_ && !finished_) think_timer_.ArmAt(thinking_.front()->due_ns);
}

void LoadDriver::Admit(int64_t intended_ns, uint64_t prompt_index, int32_t stage,
                       Conversation* conversation) {
  // A closed-loop user whose slot frees after the window has closed stops: its request would
  // load the target without being counted (the window timer may not have fired yet).
  if (plan_.closed_loop && intended_ns - run_start_ns_ >= EndNs()) {
    if (conversation != nullptr) free_conversations_.push_back(conversation);
    sending_ = false;
    FinishSendingIfDone();
    return;
  }
  if (InWindow(intended_ns)) {
    if (AtRequestLimit()) {
      if (conversation != nullptr) free_conversations_.push_back(conversation);
      sending_ = false;
      FinishSendingIfDone();
      return;
    }
    ++window_started_;
  }
  const Queued queued{intended_ns, prompt_index, stage, conversation};
  if (!plan_.closed_loop && plan_.concurrency > 0 && in_flight_ >= plan_.concurrency) {
    client_queue_.push_back(queued);
    recorder_.UpdateGauges(MonotonicNowNs(), in_flight_,
                           static_cast<uint32_t>(client_queue_.size()));
    return;
  }
  Launch(queued);
}

void LoadDriver::Link(Request* request) {
  request->older = newest_;
  request->newer = nullptr;
  if (newest_ != nullptr) newest_->newer = request;
  newest_ = request;
  if (oldest_ == nullptr) oldest_ = request;
}

void LoadDriver::Unlink(Request* request) {
  if (request->older != nullptr) request->older->newer = request->newer;
  if (request->newer != nullptr) request->newer->older = request->older;
  if (oldest_ == request) oldest_ = request->newer;
  if (newest_ == request) newest_ = request->older;
  request->older = request->newer = nullptr;
}

void LoadDriver::Launch(const Queued& queued) {
  Request* request = nullptr;
  if (!free_requests_.empty()) {
    request = free_requests_.back();
    free_requests_.pop_back();
  } else {
    pool_.push_back(std::make_unique<Request>(this));
    request = pool_.back().get();
  }
  Conversation* conversation = queued.conversation;
  Prompt prompt = conversation != nullptr
                      ? prompts_.GetTurn(conversation->index, conversation->turn)
                      : prompts_.Get(queued.prompt_index);
  int64_t input_estimate = prompt.input_tokens;
  std::optional<RequestHead> head_with_session;
  if (conversation != nullptr) {
    // The history, then this turn's user message.
    conversation->user_message.assign(R"({"role":"user","content":)");
    AppendJsonString(prompt.text, conversation->user_message);
    conversation->user_message.push_back('}');
    conversation->user_words = prompt.input_tokens;
    input_estimate += conversation->history_words;
    prompt.messages_json.clear();
    prompt.messages_json.reserve(conversation->history.size() + conversation->user_message.size() +
                                 3);
    prompt.messages_json.push_back('[');
    prompt.messages_json.append(conversation->history);
    if (!conversation->history.empty()) prompt.messages_json.push_back(',');
    prompt.messages_json.append(conversation->user_message);
    prompt.messages_json.push_back(']');
    if (!plan_.session_header.empty()) {
      head_with_session = head_;
      head_with_session->headers.emplace_back(plan_.session_header, conversation->session_id);
    }
  }
  request->Reset(queued, InWindow(queued.intended_ns), input_estimate);
  std::string body;
  builder_.BuildBody(prompt, body);
  ++started_;
  ++in_flight_;
  const uint64_t generation = request->generation();
  const int64_t now = MonotonicNowNs();
  request->deadline_ns = now + plan_.timeout_ns;
  Link(request);
  recorder_.UpdateGauges(now, in_flight_, static_cast<uint32_t>(client_queue_.size()));
  const HttpClient::RequestId id =
      client_.Send(head_with_session.has_value() ? *std::move(head_with_session) : head_,
                   std::move(body), request);
  // The request may already have ended inside Send (no connection possible) and its object
  // been reused: only a live request of this generation takes the id.
  if (request->active() && request->generation() == generation) request->set_id(id);
}

void LoadDriver::OnRequestDone(Request* request, const RequestResult& result) {
  --in_flight_;
  recorder_.Record(result);
  Unlink(request);
  const int64_t now = MonotonicNowNs();
  Conversation* conversation = request->conversation();
  // Closed loop: the user's slot frees unless its conversation goes on. The reply joins the
  // history before the request object can be reused.
  const bool user_free =
      conversation == nullptr || !ContinueConversation(conversation, result, request->reply(), now);
  free_requests_.push_back(request);

  if (plan_.closed_loop) {
    if (sending_ && user_free) AdmitNextUser(now);
  } else if (!client_queue_.empty() && (sending_ || draining_)) {
    const Queued queued = client_queue_.front();
    client_queue_.pop_front();
    Launch(queued);
  }
  recorder_.UpdateGauges(now, in_flight_, static_cast<uint32_t>(client_queue_.size()));
  MaybeFinish();
}

void LoadDriver::SweepTimeouts() {
  const int64_t now = MonotonicNowNs();
  // Cancel() ends the request, which unlinks it: the head moves on. Its object may come back at
  // once as a new request (closed loop), so the generation tells the two apart.
  while (oldest_ != nullptr && oldest_->deadline_ns <= now) {
    Request* head = oldest_;
    const uint64_t generation = head->generation();
    client_.Cancel(head->id());
    BENCH_CHECK(oldest_ != head || head->generation() != generation)
        << "a timed-out request did not end when cancelled";
  }
}

void LoadDriver::FinishSendingIfDone() {
  if (sending_ || draining_ || finished_) return;
  // The schedule is over: requests still open get the request timeout from the window's end
  // (SPEC 3), plus a margin so that one sent at the very end times out as a timeout rather than
  // being cut off as incomplete by the drain.
  draining_ = true;
  schedule_timer_.Disarm();
  const int64_t now = MonotonicNowNs();
  const int64_t window_end = run_start_ns_ + plan_.warmup_ns + plan_.duration_ns;
  const int64_t drain_end = std::max(now, window_end) + plan_.timeout_ns + kDrainMarginNs;
  drain_timer_.Start(static_cast<uint64_t>((drain_end - now) / 1'000'000));
  MaybeFinish();
}

void LoadDriver::StopSending(int64_t drain_ns) {
  if (finished_) return;
  sending_ = false;
  // Requests that never left count as incomplete at once.
  while (!client_queue_.empty()) {
    RecordNeverSent(client_queue_.front());
    client_queue_.pop_front();
  }
  draining_ = true;
  schedule_timer_.Disarm();
  drain_timer_.Start(static_cast<uint64_t>(std::max<int64_t>(0, drain_ns / 1'000'000)));
  MaybeFinish();
}

void LoadDriver::RecordNeverSent(const Queued& queued) {
  RequestResult result;
  result.intended_ns = queued.intended_ns;
  result.end_ns = MonotonicNowNs();
  result.stage = queued.stage;
  result.in_window = InWindow(queued.intended_ns);
  result.outcome = Outcome::kIncomplete;
  recorder_.Record(result);
}

void LoadDriver::MaybeFinish() {
  if (finished_ || sending_ || !draining_ || in_flight_ > 0) return;
  if (!client_queue_.empty()) return;
  finished_ = true;
  schedule_timer_.Disarm();
  think_timer_.Disarm();
  timeout_sweeper_.Stop();
  drain_timer_.Stop();
  if (on_finished_) on_finished_();
}

DriverCounters LoadDriver::counters() const {
  return DriverCounters{started_, in_flight_, static_cast<uint32_t>(client_queue_.size()), sending_,
                        finished_};
}

}  // namespace bench::engine
