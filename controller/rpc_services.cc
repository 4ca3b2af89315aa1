#include "controller/rpc_services.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench.grpc.pb.h"
#include "common/config_yaml.h"
#include "common/logging.h"
#include "common/mutex.h"

namespace bench::controller {
namespace {

using bench::v1::ControllerMessage;
using bench::v1::WorkerMessage;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical codes.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// One worker stream. Starts reading in the constructor and deletes itself in OnDone. Writes are
// queued: the callback API allows one outstanding write.
class WorkerStream final : public grpc::ServerBidiReactor<WorkerMessage, ControllerMessage>,
                           public WorkerPeer {
 public:
  WorkerStream(grpc::CallbackServerContext* context, Coordinator& coordinator,
               const TokenCheck& tokens)
      : coordinator_(coordinator), context_(context) {
    const grpc::Status auth = tokens.Check(*context);
    if (!auth.ok()) {
      BENCH_LOG(WARNING) << "worker stream from " << context->peer()
                         << " refused: " << auth.error_message();
      finished_ = true;
      Finish(auth);
      return;
    }
    key_ = coordinator_.AttachWorker(this, context->peer());
    StartRead(&incoming_);
  }

  void Send(const ControllerMessage& message) override {
    MutexLock lock(mu_);
    if (finished_ || finish_pending_) return;
    // A peer that reads nothing (its flow-control window full) must not grow the queue without
    // bound: a worker reads everything at once, so this many waiting means it stopped.
    if (queue_.size() >= kMaxQueuedMessages) {
      BENCH_LOG(WARNING) << "worker stream " << context_->peer() << ": ended, it reads nothing ("
                         << queue_.size() << " messages waiting)";
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                absl::StrCat("the worker reads nothing: ", queue_.size(),
                                             " messages are waiting for it")));
      if (finish_pending_) context_->TryCancel();
      return;
    }
    queue_.push_back(message);
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void Disconnect(const std::string& reason) override {
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE, reason));
  }
  void Refuse(const std::string& reason) override {
    End(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, reason));
  }
  void Reject(const std::string& reason) override {
    End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, reason));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      MutexLock lock(mu_);
      FinishLocked(grpc::Status::OK);
      return;
    }
    coordinator_.OnWorkerMessage(key_, incoming_);
    {
      MutexLock lock(mu_);
      if (finished_ || finish_pending_) return;  // The coordinator ended the stream.
    }
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(mu_);
    queue_.pop_front();
    if (!ok) {
      queue_.clear();
      writing_ = false;
      if (finish_pending_ && !finished_) {
        finished_ = true;
        Finish(pending_status_);
        return;
      }
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    if (!queue_.empty() && !finish_pending_) {
      StartWrite(&queue_.front());
      return;
    }
    writing_ = false;
    if (finish_pending_ && !finished_) {
      finished_ = true;
      Finish(pending_status_);
    }
  }

  void OnDone() override {
    if (key_ != 0) coordinator_.DetachWorker(key_, "stream closed");
    delete this;
  }

 private:
  void End(const grpc::Status& status) {
    MutexLock lock(mu_);
    FinishLocked(status);
    // A write stuck on a peer that stopped reading (a full flow-control window) would hold the
    // finish back for ever: cancel the call, so it fails and OnWriteDone finishes.
    if (finish_pending_) context_->TryCancel();
  }
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || finish_pending_) return;
    if (writing_) {
      // Finish once the write in progress completes.
      finish_pending_ = true;
      pending_status_ = std::move(status);
      return;
    }
    finished_ = true;
    Finish(std::move(status));
  }

  static constexpr size_t kMaxQueuedMessages = 1024;
  Coordinator& coordinator_;
  grpc::CallbackServerContext* context_;  // gRPC's; valid until OnDone
  uint64_t key_ = 0;
  WorkerMessage incoming_;
  Mutex mu_;
  std::deque<ControllerMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status pending_status_ ABSL_GUARDED_BY(mu_);
};

class WorkerLinkService final : public bench::v1::WorkerLink::CallbackService {
 public:
  WorkerLinkService(Coordinator& coordinator, const TokenCheck& tokens)
      : coordinator_(coordinator), tokens_(tokens) {}

  grpc::ServerBidiReactor<WorkerMessage, ControllerMessage>* Connect(
      grpc::CallbackServerContext* context) override {
    return new WorkerStream(context, coordinator_, tokens_);
  }

 private:
  Coordinator& coordinator_;
  const TokenCheck& tokens_;
};

void FillProgress(const RunInfo& info, bench::v1::Progress* out) {
  const Progress& p = info.progress;
  out->set_run_id(info.run_id);
  out->set_state(static_cast<bench::v1::RunState>(RunStateOf(info.phase, info.exit_code)));
  out->set_elapsed_ns(static_cast<int64_t>(p.elapsed_s * 1e9));
  out->set_total_ns(static_cast<int64_t>(p.total_s * 1e9));
  out->set_remaining_ns(static_cast<int64_t>(std::max(0.0, p.total_s - p.elapsed_s) * 1e9));
  out->set_requested_rate(p.requested_rate);
  out->set_achieved_rate(p.achieved_rate);
  out->set_in_flight(p.in_flight);
  out->set_client_queue(p.client_queue);
  out->set_ttft_p50_ms(p.ttft_p50_ms);
  out->set_ttft_p99_ms(p.ttft_p99_ms);
  out->set_errors(p.failed);
  out->set_succeeded(p.succeeded);
  out->set_started(p.started);
  out->set_workers(p.workers);
  out->set_warming_up(p.warming_up);
  out->set_stage(p.stage);
  out->set_stages(p.stages);
  out->set_draining(p.draining);
  out->set_message(info.error);
}

void FillRun(const RunInfo& info, bench::v1::Run* out) {
  out->set_run_id(info.run_id);
  out->set_name(info.name);
  out->set_state(static_cast<bench::v1::RunState>(RunStateOf(info.phase, info.exit_code)));
  out->set_created_unix_ns(absl::ToUnixNanos(info.created));
  if (IsTerminal(info.phase)) out->set_finished_unix_ns(absl::ToUnixNanos(info.finished));
  out->set_summary_json(info.summary_json);
  out->set_summary_table(info.summary_table);
  out->set_error(info.error);
  out->set_exit_code(info.exit_code);
  out->set_target(info.target);
  FillProgress(info, out->mutable_progress());
}

// A streaming call refused up front (authentication, unknown run): finishes at once.
template <typename T>
class RefusedWriter final : public grpc::ServerWriteReactor<T> {
 public:
  explicit RefusedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

// Watch: one reactor per watcher. The coordinator's WaitForChange blocks, so a thread of the
// watcher's own waits for the run to change and starts each write (allowed from any thread);
// the reactor writes one progress message at a time. They share State: the reactor ends in
// OnDone, the thread when it sees `done`; the service waits for its threads when destroyed.
class WatchReactor final : public grpc::ServerWriteReactor<bench::v1::Progress> {
 public:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool writing = false;
    bool done = false;      // nothing more may be started (finished, cancelled or deleted)
    bool finished = false;  // Finish was called (exactly once, as the API requires)
    bench::v1::Progress message;
  };

  WatchReactor(Coordinator& coordinator, std::string run_id, std::function<void()> on_exit)
      : state_(std::make_shared<State>()) {
    std::thread([this, state = state_, &coordinator, run_id = std::move(run_id),
                 on_exit = std::move(on_exit)] {
      Loop(*state, coordinator, run_id);
      on_exit();
    }).detach();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->writing = false;
    if (!ok) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    state_->cv.notify_all();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    state_->cv.notify_all();
  }
  void OnDone() override {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->done = true;
      state_->cv.notify_all();
    }
    delete this;
  }

 private:
  // Runs on the watcher's thread. `this` is used only under state.mu while !state.done: OnDone
  // sets done before the reactor is deleted.
  void Loop(State& state, Coordinator& coordinator, const std::string& run_id) {
    uint64_t seen = 0;
    absl::Time next_write;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(state.mu);
        if (state.done) return;
      }
      absl::StatusOr<RunInfo> info =
          coordinator.WaitForChange(run_id, seen, absl::Milliseconds(500));
      std::unique_lock<std::mutex> lock(state.mu);
      if (state.done) return;
      if (!info.ok()) {
        FinishLocked(ToGrpc(info.status()));
        return;
      }
      seen = info->version;
      const bool terminal = IsTerminal(info->phase);
      if (absl::Now() < next_write && !terminal) continue;  // At most twice a second.
      next_write = absl::Now() + absl::Milliseconds(500);
      state.cv.wait(lock, [&] { return !state.writing || state.done; });
      if (state.done) return;
      state.message.Clear();
      FillProgress(*info, &state.message);
      state.writing = true;
      StartWrite(&state.message);
      if (terminal) {
        state.cv.wait(lock, [&] { return !state.writing || state.done; });
        if (state.done) return;
        FinishLocked(grpc::Status::OK);
        return;
      }
    }
  }

  // Under state_->mu. Every call is finished once, however it ends.
  void FinishLocked(const grpc::Status& status) {
    state_->done = true;
    if (state_->finished) return;
    state_->finished = true;
    Finish(status);
  }

  std::shared_ptr<State> state_;  // shared with the thread, which may outlive this reactor
};

// FetchResults: the files of a results directory, in chunks, one write at a time.
class FetchReactor final : public grpc::ServerWriteReactor<bench::v1::ResultFile> {
 public:
  FetchReactor(std::filesystem::path root, std::vector<std::filesystem::path> files)
      : root_(std::move(root)), files_(std::move(files)), chunk_(1 << 20, '\0') {
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  // Starts the write of the next chunk, or finishes.
  void Next() {
    while (true) {
      if (!file_.is_open()) {
        if (next_file_ >= files_.size()) {
          Finish(grpc::Status::OK);
          return;
        }
        path_ = files_[next_file_++];
        file_.open(path_, std::ios::binary);
        offset_ = 0;
        if (!file_) {
          Finish(grpc::Status(grpc::StatusCode::INTERNAL,
                              absl::StrCat("cannot read ", path_.string())));
          return;
        }
      }
      file_.read(chunk_.data(), static_cast<std::streamsize>(chunk_.size()));
      const size_t got = static_cast<size_t>(std::max<std::streamsize>(file_.gcount(), 0));
      const bool last = !file_ || file_.peek() == EOF;
      if (got == 0 && offset_ > 0) {  // Ended exactly at a chunk boundary: already marked.
        file_.close();
        continue;
      }
      piece_.Clear();
      piece_.set_path(std::filesystem::relative(path_, root_).string());
      piece_.set_offset(offset_);
      piece_.set_data(chunk_.data(), got);
      piece_.set_last_chunk(last);
      offset_ += got;
      if (last) file_.close();
      StartWrite(&piece_);
      return;
    }
  }

  const std::filesystem::path root_;
  const std::vector<std::filesystem::path> files_;
  size_t next_file_ = 0;
  std::filesystem::path path_;
  std::ifstream file_;
  uint64_t offset_ = 0;
  std::string chunk_;
  bench::v1::ResultFile piece_;
};

// Client RPCs on the callback API: unary calls finish in the handler; Watch and FetchResults
// are reactors.
class BenchmarkServiceImpl final : public bench::v1::BenchmarkService::CallbackService {
 public:
  BenchmarkServiceImpl(Coordinator& coordinator, const TokenCheck& tokens)
      : coordinator_(coordinator), tokens_(tokens) {}

  // Waits for the watchers' threads (they end within half a second of their call).
  ~BenchmarkServiceImpl() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return watchers_ == 0; });
  }

  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context,
                                   const bench::v1::SubmitRequest* request,
                                   bench::v1::SubmitResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(DoSubmit(*context, *request, response));
    return reactor;
  }

  grpc::ServerWriteReactor<bench::v1::Progress>* Watch(
      grpc::CallbackServerContext* context, const bench::v1::WatchRequest* request) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) {
      return new RefusedWriter<bench::v1::Progress>(auth);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++watchers_;
    }
    return new WatchReactor(coordinator_, request->run_id(), [this] {
      std::lock_guard<std::mutex> lock(mu_);
      --watchers_;
      cv_.notify_all();
    });
  }

  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* context,
                                   const bench::v1::GetRunRequest* request,
                                   bench::v1::Run* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status = tokens_.Check(*context);
    if (status.ok()) {
      absl::StatusOr<RunInfo> info = coordinator_.GetRun(request->run_id());
      if (info.ok()) {
        FillRun(*info, response);
      } else {
        status = ToGrpc(info.status());
      }
    }
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* context,
                                     const bench::v1::ListRunsRequest* request,
                                     bench::v1::ListRunsResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status = tokens_.Check(*context);
    if (status.ok()) {
      for (const RunInfo& info : coordinator_.ListRuns(request->limit())) {
        FillRun(info, response->add_runs());
      }
    }
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetController(grpc::CallbackServerContext* context,
                                          const bench::v1::GetControllerRequest* /*request*/,
                                          bench::v1::ControllerStatus* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status = tokens_.Check(*context);
    if (status.ok()) {
      const ControllerView view = coordinator_.View();
      response->set_ready(view.ready);
      for (const ControllerView::WorkerView& worker : view.workers) {
        bench::v1::ConnectedWorker* out = response->add_workers();
        out->set_id(worker.id);
        out->set_name(worker.name);
        out->set_threads(worker.threads);
        out->set_run_id(worker.run_id);
        out->set_address(worker.address);
      }
      response->set_runs_queued(static_cast<uint32_t>(view.runs_queued));
      response->set_active_run_id(view.active_run_id);
      for (const std::string& entry : coordinator_.options().allowed_targets) {
        response->add_allowed_targets(entry);
      }
    }
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const bench::v1::CancelRequest* request,
                                   bench::v1::CancelResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status status = tokens_.Check(*context);
    if (status.ok()) {
      absl::StatusOr<RunPhase> phase =
          coordinator_.Cancel(request->run_id(), TokenCheck::Caller(*context), absl::Seconds(5));
      if (phase.ok()) {
        response->set_state(static_cast<bench::v1::RunState>(RunStateOf(*phase, 5)));
      } else {
        status = ToGrpc(phase.status());
      }
    }
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerWriteReactor<bench::v1::ResultFile>* FetchResults(
      grpc::CallbackServerContext* context,
      const bench::v1::FetchResultsRequest* request) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) {
      return new RefusedWriter<bench::v1::ResultFile>(auth);
    }
    absl::StatusOr<RunInfo> info = coordinator_.GetRun(request->run_id());
    if (!info.ok()) return new RefusedWriter<bench::v1::ResultFile>(ToGrpc(info.status()));
    if (info->results_path.empty()) {
      return new RefusedWriter<bench::v1::ResultFile>(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                       absl::StrCat("run ", request->run_id(), " has no results yet (",
                                    RunPhaseName(info->phase), ")")));
    }
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::path root(info->results_path);
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(root, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
    if (error) {
      return new RefusedWriter<bench::v1::ResultFile>(
          grpc::Status(grpc::StatusCode::INTERNAL,
                       absl::StrCat("reading ", root.string(), ": ", error.message())));
    }
    std::sort(files.begin(), files.end());
    return new FetchReactor(root, std::move(files));
  }

 private:
  grpc::Status DoSubmit(const grpc::CallbackServerContext& context,
                        const bench::v1::SubmitRequest& request,
                        bench::v1::SubmitResponse* response) {
    if (grpc::Status auth = tokens_.Check(context); !auth.ok()) return auth;
    std::vector<ConfigOverride> overrides;
    for (const std::string& text : request.overrides()) {
      absl::StatusOr<ConfigOverride> parsed = ParseSetFlag(text);
      if (!parsed.ok()) return ToGrpc(absl::InvalidArgumentError(parsed.status().message()));
      overrides.push_back(*std::move(parsed));
    }
    absl::StatusOr<ParsedConfig> parsed =
        ParseConfig(request.config_yaml(), "submitted config", overrides);
    if (!parsed.ok()) return ToGrpc(absl::InvalidArgumentError(parsed.status().message()));
    if (request.check_only()) {
      return ToGrpc(coordinator_.Check(parsed->config, TokenCheck::Caller(context)));
    }
    absl::StatusOr<std::string> id = coordinator_.Submit(
        parsed->config, parsed->notes, TokenCheck::Caller(context), request.preflight());
    if (!id.ok()) return ToGrpc(id.status());
    response->set_run_id(*id);
    for (const std::string& note : parsed->notes) response->add_warnings(note);
    return grpc::Status::OK;
  }

  Coordinator& coordinator_;
  const TokenCheck& tokens_;
  std::mutex mu_;
  std::condition_variable cv_;
  int watchers_ = 0;  // threads of live Watch calls
};

}  // namespace

grpc::Status TokenCheck::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing bearer token (authorization metadata)");
  }
  const std::string value(it->second.data(), it->second.size());
  const std::string kScheme = "Bearer ";
  const std::string given = absl::StartsWith(value, kScheme) ? value.substr(kScheme.size()) : "";
  // Constant time over the token's length; a length mismatch is no secret.
  if (given.size() != token_.size() ||
      CRYPTO_memcmp(given.data(), token_.data(), token_.size()) != 0) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  return grpc::Status::OK;
}

std::string TokenCheck::Caller(const grpc::ServerContextBase& context) {
  std::string caller = context.peer();
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    for (const grpc::string_ref& name : auth->GetPeerIdentity()) {
      absl::StrAppend(&caller, " cert=", std::string(name.data(), name.size()));
    }
  }
  return caller;
}

std::unique_ptr<grpc::Service> MakeWorkerLinkService(Coordinator& coordinator,
                                                     const TokenCheck& tokens) {
  return std::make_unique<WorkerLinkService>(coordinator, tokens);
}

std::unique_ptr<grpc::Service> MakeBenchmarkService(Coordinator& coordinator,
                                                    const TokenCheck& tokens) {
  return std::make_unique<BenchmarkServiceImpl>(coordinator, tokens);
}

int RunStateOf(RunPhase phase, int exit_code) {
  switch (phase) {
    case RunPhase::kQueued:
      return bench::v1::RUN_STATE_QUEUED;
    case RunPhase::kWaitingForWorkers:
      return bench::v1::RUN_STATE_WAITING_FOR_WORKERS;
    case RunPhase::kRunning:
      return bench::v1::RUN_STATE_RUNNING;
    case RunPhase::kDraining:
      return bench::v1::RUN_STATE_DRAINING;
    case RunPhase::kDone:
      return exit_code == 3   ? bench::v1::RUN_STATE_SLO_FAILED
             : exit_code == 4 ? bench::v1::RUN_STATE_ABORTED
                              : bench::v1::RUN_STATE_SUCCEEDED;
    case RunPhase::kFailed:
      return bench::v1::RUN_STATE_FAILED;
    case RunPhase::kCancelled:
      return bench::v1::RUN_STATE_CANCELLED;
    case RunPhase::kInterrupted:
      return bench::v1::RUN_STATE_INTERRUPTED;
  }
  return bench::v1::RUN_STATE_UNSPECIFIED;
}

}  // namespace bench::controller
