#include "controller/rpc_services.h"

#include <openssl/crypto.h>

#include <deque>
#include <filesystem>
#include <fstream>

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
    queue_.push_back(message);
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void Disconnect(const std::string& reason) override {
    MutexLock lock(mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, reason));
    // A write stuck on a peer that stopped reading (a full flow-control window) would hold the
    // finish back for ever: cancel the call, so it fails and OnWriteDone finishes.
    if (finish_pending_) context_->TryCancel();
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

// Client RPCs on the synchronous API: there are few clients, and Watch and FetchResults are
// simplest as loops.
class BenchmarkServiceImpl final : public bench::v1::BenchmarkService::Service {
 public:
  BenchmarkServiceImpl(Coordinator& coordinator, const TokenCheck& tokens)
      : coordinator_(coordinator), tokens_(tokens) {}

  grpc::Status Submit(grpc::ServerContext* context, const bench::v1::SubmitRequest* request,
                      bench::v1::SubmitResponse* response) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) return auth;
    std::vector<ConfigOverride> overrides;
    for (const std::string& text : request->overrides()) {
      absl::StatusOr<ConfigOverride> parsed = ParseSetFlag(text);
      if (!parsed.ok()) return ToGrpc(absl::InvalidArgumentError(parsed.status().message()));
      overrides.push_back(*std::move(parsed));
    }
    absl::StatusOr<ParsedConfig> parsed =
        ParseConfig(request->config_yaml(), "submitted config", overrides);
    if (!parsed.ok()) return ToGrpc(absl::InvalidArgumentError(parsed.status().message()));
    absl::StatusOr<std::string> id =
        coordinator_.Submit(parsed->config, parsed->notes, TokenCheck::Caller(*context));
    if (!id.ok()) return ToGrpc(id.status());
    response->set_run_id(*id);
    for (const std::string& note : parsed->notes) response->add_warnings(note);
    return grpc::Status::OK;
  }

  grpc::Status Watch(grpc::ServerContext* context, const bench::v1::WatchRequest* request,
                     grpc::ServerWriter<bench::v1::Progress>* writer) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) return auth;
    uint64_t seen = 0;
    absl::Time next_write;
    while (!context->IsCancelled()) {
      absl::StatusOr<RunInfo> info =
          coordinator_.WaitForChange(request->run_id(), seen, absl::Milliseconds(500));
      if (!info.ok()) return ToGrpc(info.status());
      seen = info->version;
      const bool terminal = IsTerminal(info->phase);
      if (absl::Now() < next_write && !terminal) continue;  // At most twice a second.
      next_write = absl::Now() + absl::Milliseconds(500);
      bench::v1::Progress progress;
      FillProgress(*info, &progress);
      if (!writer->Write(progress)) break;
      if (terminal) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status GetRun(grpc::ServerContext* context, const bench::v1::GetRunRequest* request,
                      bench::v1::Run* response) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) return auth;
    absl::StatusOr<RunInfo> info = coordinator_.GetRun(request->run_id());
    if (!info.ok()) return ToGrpc(info.status());
    FillRun(*info, response);
    return grpc::Status::OK;
  }

  grpc::Status ListRuns(grpc::ServerContext* context, const bench::v1::ListRunsRequest* request,
                        bench::v1::ListRunsResponse* response) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) return auth;
    for (const RunInfo& info : coordinator_.ListRuns(request->limit())) {
      FillRun(info, response->add_runs());
    }
    return grpc::Status::OK;
  }

  grpc::Status Cancel(grpc::ServerContext* context, const bench::v1::CancelRequest* request,
                      bench::v1::CancelResponse* response) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) return auth;
    absl::StatusOr<RunPhase> phase =
        coordinator_.Cancel(request->run_id(), TokenCheck::Caller(*context), absl::Seconds(5));
    if (!phase.ok()) return ToGrpc(phase.status());
    response->set_state(static_cast<bench::v1::RunState>(RunStateOf(*phase, 5)));
    return grpc::Status::OK;
  }

  grpc::Status FetchResults(grpc::ServerContext* context,
                            const bench::v1::FetchResultsRequest* request,
                            grpc::ServerWriter<bench::v1::ResultFile>* writer) override {
    if (grpc::Status auth = tokens_.Check(*context); !auth.ok()) return auth;
    absl::StatusOr<RunInfo> info = coordinator_.GetRun(request->run_id());
    if (!info.ok()) return ToGrpc(info.status());
    if (info->results_path.empty()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("run ", request->run_id(), " has no results yet (",
                                       RunPhaseName(info->phase), ")"));
    }
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::path root(info->results_path);
    for (auto it = fs::recursive_directory_iterator(root, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (!it->is_regular_file()) continue;
      const std::string relative = fs::relative(it->path(), root).string();
      std::ifstream file(it->path(), std::ios::binary);
      std::string chunk(1 << 20, '\0');
      uint64_t offset = 0;
      bool wrote_any = false;
      while (file) {
        file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        const std::streamsize got = file.gcount();
        if (got <= 0 && wrote_any) break;
        bench::v1::ResultFile piece;
        piece.set_path(relative);
        piece.set_offset(offset);
        piece.set_data(chunk.data(), static_cast<size_t>(std::max<std::streamsize>(got, 0)));
        piece.set_last_chunk(!file || file.peek() == EOF);
        offset += static_cast<uint64_t>(std::max<std::streamsize>(got, 0));
        wrote_any = true;
        if (!writer->Write(piece)) return grpc::Status::CANCELLED;
        if (piece.last_chunk()) break;
      }
    }
    if (error) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("reading ", root.string(), ": ", error.message()));
    }
    return grpc::Status::OK;
  }

 private:
  Coordinator& coordinator_;
  const TokenCheck& tokens_;
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
      return exit_code == 3 ? bench::v1::RUN_STATE_SLO_FAILED : bench::v1::RUN_STATE_SUCCEEDED;
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
