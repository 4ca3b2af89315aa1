#include "worker/rpc_agent.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iterator>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "bench.grpc.pb.h"
#include "common/allow_list.h"
#include "common/clock.h"
#include "common/config_yaml.h"
#include "common/logging.h"
#include "common/rpc_share.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "grpcpp/grpcpp.h"
#include "worker/share_runner.h"

namespace bench::worker {
namespace {

// metrics.raw: a record is about 50 bytes on the wire plus up to 3 per chunk gap
// (metrics.rawTokenTimes), so a shard stays near 10 MB, 16 MB at most.
constexpr size_t kMaxRecordsPerShard = 200'000;
constexpr size_t kRecordBytes = 64;
constexpr size_t kChunkGapBytes = 3;
constexpr size_t kMaxRecordBytesPerShard = 16 << 20;

using bench::v1::ControllerMessage;
using bench::v1::WorkerMessage;
using Stream = grpc::ClientReaderWriter<WorkerMessage, ControllerMessage>;

constexpr const char* kVersion = kToolVersion;

std::string RandomId() {
  std::random_device device;
  return absl::StrCat(
      "w-", absl::Hex(static_cast<uint64_t>(device()) << 32 | device(), absl::kZeroPad16));
}

int64_t UnixNowNs() { return absl::ToUnixNanos(absl::Now()); }

}  // namespace

class WorkerAgent::Impl {
 public:
  Impl(std::shared_ptr<grpc::Channel> channel, AgentOptions options)
      : stub_(bench::v1::WorkerLink::NewStub(channel)), options_(std::move(options)) {
    if (options_.worker_id.empty()) options_.worker_id = RandomId();
    if (options_.name.empty()) options_.name = HostName();
    if (options_.threads <= 0) {
      options_.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    }
  }

  ~Impl() { Shutdown(); }

  void Start() {
    link_thread_ = std::thread([this] { LinkMain(); });
    run_thread_ = std::thread([this] { RunMain(); });
  }

  void Shutdown() {
    MutexLock joining(join_mu_);  // A second caller waits for the first to finish.
    {
      MutexLock lock(mu_);
      shutdown_ = true;
      if (context_ != nullptr) context_->TryCancel();
      cv_.notify_all();
    }
    if (link_thread_.joinable()) link_thread_.join();
    if (run_thread_.joinable()) run_thread_.join();
    MutexLock lock(mu_);
    run_.reset();  // Cancels what is in flight.
  }

  int Wait() {
    std::unique_lock<Mutex> lock(mu_);
    cv_.wait(lock, [this] { return shutdown_; });
    return exit_code_;
  }

  const std::string& worker_id() const { return options_.worker_id; }

 private:
  struct Run {
    std::string run_id;
    // One runner per generation: a rebalance hands the rest of the run to new shares, which run
    // beside the old ones (cut at the handover time) until those drain.
    std::map<uint32_t, std::unique_ptr<ShareRunner>> runners;
    int64_t interval_ns = 1'000'000'000;
    int64_t drain_ns = 0;  // target.timeout: how long in-flight requests may take
    absl::Time next_cut;
    uint64_t next_sequence = 1;
    std::deque<bench::v1::ReportShard> unacked;
    size_t sent = 0;  // unacked[0, sent) went out on the current stream
    bool final_cut = false;
    bool lease_stopped = false;
    int accepting = 0;  // assignments being prepared for this run
  };

  // One stream at a time, reconnecting with jittered exponential backoff until Shutdown().
  void LinkMain() {
    std::mt19937_64 jitter(std::random_device{}());
    absl::Duration backoff = options_.backoff_initial;
    while (true) {
      grpc::ClientContext context;
      if (!options_.token.empty()) {
        context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
      }
      {
        MutexLock lock(mu_);
        if (shutdown_) return;
        context_ = &context;
      }
      std::shared_ptr<Stream> stream(stub_->Connect(&context));
      bool welcomed = false;
      WorkerMessage hello_message;
      bench::v1::Hello* hello = hello_message.mutable_hello();
      hello->set_worker_id(options_.worker_id);
      hello->set_hostname(options_.name);
      hello->set_version(kVersion);
      hello->set_protocol_version(kProtocolVersion);
      hello->set_engine_threads(static_cast<uint32_t>(options_.threads));
      {
        MutexLock lock(mu_);
        if (run_ != nullptr) {
          hello->add_pending_run_ids(run_->run_id);
          run_->sent = 0;  // Everything unacknowledged goes again on this stream.
        }
      }
      // The hello goes first, before the stream is published to the run thread.
      bool said_hello = stream->Write(hello_message);
      if (said_hello) {
        MutexLock lock(write_mu_);
        stream_ = stream;
      }
      if (said_hello) {
        ControllerMessage message;
        while (stream->Read(&message)) {
          if (message.has_welcome() && !welcomed) {
            welcomed = true;
            backoff = options_.backoff_initial;
            BENCH_LOG(INFO) << "worker " << options_.name << " (" << options_.worker_id
                            << "): connected to controller " << message.welcome().controller_id();
          }
          Handle(message);
        }
      }
      {
        MutexLock lock(write_mu_);
        stream_.reset();
      }
      const grpc::Status status = stream->Finish();
      {
        MutexLock lock(mu_);
        context_ = nullptr;
        if (shutdown_) return;
        // Refused for good: a wrong token, or a controller of another protocol version.
        if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
            status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
            status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
          BENCH_LOG(ERROR) << "worker " << options_.name
                           << ": the controller refused it: " << status.error_message();
          // 6: denied; 2: this binary cannot work with that controller (its protocol version).
          exit_code_ = status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ? 2 : 6;
          shutdown_ = true;
          cv_.notify_all();
          return;
        }
      }
      const double factor = std::uniform_real_distribution<double>(0.5, 1.0)(jitter);
      const absl::Duration wait = backoff * factor;
      BENCH_LOG(WARNING) << "worker " << options_.name << ": controller link "
                         << (welcomed ? "lost" : "failed") << " (" << status.error_message()
                         << "); reconnecting in " << absl::FormatDuration(wait);
      backoff = std::min(options_.backoff_max, backoff * 2);
      std::unique_lock<Mutex> lock(mu_);
      cv_.wait_for(lock, absl::ToChronoNanoseconds(wait), [this] { return shutdown_; });
      if (shutdown_) return;
    }
  }

  // Writes one message on the current stream; false when there is none or it broke.
  bool Send(const WorkerMessage& message) {
    MutexLock lock(write_mu_);
    if (stream_ == nullptr) return false;
    last_sent_ns_.store(MonotonicNowNs(), std::memory_order_relaxed);
    return stream_->Write(message);
  }

  // Lock-free: read under mu_, written under write_mu_ (which a blocked Write may hold long).
  absl::Duration SinceLastSent() const {
    return absl::Nanoseconds(MonotonicNowNs() - last_sent_ns_.load(std::memory_order_relaxed));
  }

  void Handle(const ControllerMessage& message) {
    {
      MutexLock lock(mu_);
      last_heard_ = absl::Now();
      heard_once_ = true;
    }
    switch (message.kind_case()) {
      case ControllerMessage::kWelcome:
        if (message.welcome().lease_ns() > 0) {
          MutexLock lock(mu_);
          lease_ = absl::Nanoseconds(message.welcome().lease_ns());
        }
        break;
      case ControllerMessage::kAssignment:
        OnAssignment(message.assignment());
        break;
      case ControllerMessage::kStop: {
        MutexLock lock(mu_);
        const bench::v1::Stop& stop = message.stop();
        if (run_ == nullptr || run_->run_id != stop.run_id()) break;
        if (stop.cut_at_run_ns() > 0) {
          auto it = run_->runners.find(stop.generation());
          if (it != run_->runners.end()) it->second->CutScheduleAt(stop.cut_at_run_ns());
        } else {
          for (auto& [generation, runner] : run_->runners) {
            runner->StopSending(absl::Nanoseconds(stop.drain_ns()));
          }
        }
        break;
      }
      case ControllerMessage::kPing: {
        WorkerMessage pong;
        pong.mutable_pong()->set_nonce(message.ping().nonce());
        pong.mutable_pong()->set_worker_unix_ns(UnixNowNs());
        Send(pong);
        break;
      }
      case ControllerMessage::kShardAck: {
        MutexLock lock(mu_);
        if (run_ == nullptr || run_->run_id != message.shard_ack().run_id()) break;
        while (!run_->unacked.empty() &&
               run_->unacked.front().sequence() <= message.shard_ack().sequence()) {
          run_->unacked.pop_front();
          if (run_->sent > 0) --run_->sent;
        }
        cv_.notify_all();
        break;
      }
      case ControllerMessage::KIND_NOT_SET:
        break;
    }
  }

  void OnAssignment(const bench::v1::Assignment& assignment) {
    WorkerMessage reply;
    bench::v1::AssignmentAck* ack = reply.mutable_assignment_ack();
    ack->set_run_id(assignment.run_id());
    ack->set_generation(assignment.generation());
    const absl::Status status = Accept(assignment);
    ack->set_accepted(status.ok());
    if (!status.ok()) {
      ack->set_error(std::string(status.message()));
      ack->set_error_code(static_cast<int32_t>(status.code()));
      BENCH_LOG(ERROR) << "worker " << options_.name << ": assignment for run "
                       << assignment.run_id() << " refused: " << status.message();
    }
    Send(reply);
  }

  // The run's final shard is acknowledged: it is over here.
  void RetireRun() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    finished_runs_.push_back(run_->run_id);
    if (finished_runs_.size() > 16) finished_runs_.pop_front();
    run_.reset();
  }

  absl::Status Accept(const bench::v1::Assignment& assignment) {
    {
      MutexLock lock(mu_);
      // The controller acknowledged the last run's final shard and moved on before RunMain's
      // next pass retired it (a run submitted right after another): it is over.
      if (run_ != nullptr && run_->run_id != assignment.run_id() && run_->final_cut &&
          run_->unacked.empty()) {
        RetireRun();
      }
      if (run_ == nullptr && std::find(finished_runs_.begin(), finished_runs_.end(),
                                       assignment.run_id()) != finished_runs_.end()) {
        return absl::FailedPreconditionError(
            absl::StrCat("run ", assignment.run_id(), " already finished here"));
      }
      if (run_ != nullptr) {
        if (run_->run_id != assignment.run_id()) {
          return absl::FailedPreconditionError(absl::StrCat("busy with run ", run_->run_id));
        }
        if (run_->runners.count(assignment.generation()) > 0) {
          return absl::OkStatus();  // Sent again after a reconnect: already running.
        }
        if (run_->final_cut) {
          return absl::FailedPreconditionError(
              absl::StrCat("run ", run_->run_id, " already finished here"));
        }
        // Holds the run open (no final shard, no lease stop) while the new share is prepared.
        ++run_->accepting;
      }
    }
    const absl::Status status = Prepare(assignment);
    MutexLock lock(mu_);
    if (run_ != nullptr && run_->run_id == assignment.run_id() && run_->accepting > 0) {
      --run_->accepting;
    }
    last_heard_ = absl::Now();  // Preparing may take longer than the lease.
    return status;
  }

  // Builds and starts the assignment's runner; adds it to the run (made if new).
  absl::Status Prepare(const bench::v1::Assignment& assignment) {
    BENCH_ASSIGN_OR_RETURN(ParsedConfig parsed,
                           ParseConfig(assignment.plan().config_yaml(), "assignment"));
    BENCH_ASSIGN_OR_RETURN(WorkShare share, FromProto(assignment.plan().share()));
    if (assignment.enforce_allowed_targets() && share.active) {
      std::vector<std::string> allowed(assignment.allowed_targets().begin(),
                                       assignment.allowed_targets().end());
      BENCH_RETURN_IF_ERROR(CheckTargetAllowed(parsed.config.target.endpoint, allowed));
    }
    BENCH_ASSIGN_OR_RETURN(
        std::unique_ptr<ShareRunner> runner,
        ShareRunner::Create(parsed.config, share, options_.threads, assignment.run_id()));
    // The common start, from the controller's estimate of this worker's clock, on the monotonic
    // clock the engine schedules with.
    const int64_t start_ns = MonotonicNowNs() + (assignment.start_worker_unix_ns() - UnixNowNs());
    BENCH_RETURN_IF_ERROR(runner->StartAt(start_ns));
    BENCH_LOG(INFO) << "worker " << options_.name << ": run " << assignment.run_id()
                    << " assigned (" << assignment.worker_index() + 1 << " of "
                    << assignment.worker_count() << ", generation " << assignment.generation()
                    << ", " << (share.active ? "active" : "idle: the caps leave it no share")
                    << ")";
    MutexLock lock(mu_);
    if (run_ == nullptr) {
      run_ = std::make_unique<Run>();
      run_->run_id = assignment.run_id();
      run_->interval_ns = std::max<int64_t>(10'000'000, assignment.plan().report_interval_ns());
      run_->drain_ns = absl::ToInt64Nanoseconds(parsed.config.target.timeout);
      run_->next_cut = absl::Now() + absl::Nanoseconds(run_->interval_ns);
    }
    run_->runners[assignment.generation()] = std::move(runner);
    return absl::OkStatus();
  }

  bool AllFinished(Run& run) {
    for (auto& [generation, runner] : run.runners) {
      if (!runner->Finished()) return false;
    }
    return true;
  }

  // Cuts shards on time, enforces the lease, sends heartbeats and what is unsent.
  void RunMain() {
    absl::Time next_heartbeat = absl::Now();
    while (true) {
      std::vector<WorkerMessage> outgoing;
      {
        std::unique_lock<Mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return shutdown_; });
        if (shutdown_) return;
        const absl::Time now = absl::Now();
        if (run_ != nullptr) {
          Run& run = *run_;
          if (!run.final_cut && (now >= run.next_cut || (run.accepting == 0 && AllFinished(run)))) {
            CutShard(run);
            run.next_cut = now + absl::Nanoseconds(run.interval_ns);
          }
          if (!run.lease_stopped && !run.final_cut && run.accepting == 0 && heard_once_ &&
              now - last_heard_ > lease_) {
            BENCH_LOG(WARNING) << "worker " << options_.name << ": no word from the controller for "
                               << absl::FormatDuration(lease_)
                               << " (the lease); stopped sending new requests of run "
                               << run.run_id;
            for (auto& [generation, runner] : run.runners) {
              runner->StopSending(absl::Nanoseconds(run.drain_ns));
            }
            run.lease_stopped = true;
          }
          for (; run.sent < run.unacked.size(); ++run.sent) {
            WorkerMessage message;
            *message.mutable_shard() = run.unacked[run.sent];
            outgoing.push_back(std::move(message));
          }
          if (run.final_cut && run.unacked.empty()) RetireRun();
        }
        // A heartbeat only when nothing else went up for a second: shards say as much.
        if (now >= next_heartbeat && SinceLastSent() >= absl::Seconds(1)) {
          next_heartbeat = now + absl::Seconds(1);
          WorkerMessage heartbeat;
          heartbeat.mutable_heartbeat()->set_worker_monotonic_ns(MonotonicNowNs());
          outgoing.push_back(std::move(heartbeat));
        }
      }
      for (const WorkerMessage& message : outgoing) {
        if (!Send(message)) {
          // Not sent: resend from the first shard of this batch on the next stream.
          MutexLock lock(mu_);
          if (run_ != nullptr && message.has_shard()) run_->sent = 0;
          break;
        }
      }
    }
  }

  void CutShard(Run& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<ShareDelta> delta = CutAll(run);
    if (!delta.ok()) {
      BENCH_LOG(ERROR) << "worker " << options_.name << ": cannot cut a shard: " << delta.status();
      return;
    }
    bench::v1::ReportShard shard;
    shard.set_run_id(run.run_id);
    shard.set_worker_id(options_.worker_id);
    shard.set_sequence(run.next_sequence++);
    shard.set_worker_unix_ns(UnixNowNs());
    for (const auto& [index, stats] : delta->stages) {
      bench::v1::StageStats* stage = shard.add_stages();
      stage->set_stage_index(index);
      ToProto(stats, stage);
    }
    for (const auto& [index, stats] : delta->turns) {
      bench::v1::StageStats* turn = shard.add_turns();
      turn->set_stage_index(index);
      ToProto(stats, turn);
    }
    for (const auto& [index, point] : delta->series) ToProto(point, index, shard.add_series());
    shard.set_started(delta->started);
    shard.set_in_flight(delta->in_flight);
    shard.set_client_queue(delta->client_queue);
    ToProto(delta->connections, shard.mutable_client());
    for (const RequestRecord& record : delta->records) ToProto(record, shard.add_records());
    shard.set_records_dropped(delta->records_dropped);
    // Not the last while another generation's share is being prepared.
    const bool last = delta->finished && run.accepting == 0;
    shard.set_final(last);
    run.final_cut = last;
    if (!options_.record_shards_path.empty()) RecordShard(shard);
    run.unacked.push_back(std::move(shard));
  }

  // The deltas of every generation's runner as one: counters and histograms add, and so do the
  // gauges (each runner's own reading).
  absl::StatusOr<ShareDelta> CutAll(Run& run) {
    ShareDelta combined;
    combined.finished = true;
    std::map<uint32_t, StatsShard> stages;
    std::map<uint32_t, StatsShard> turns;
    std::map<uint32_t, IntervalPoint> series;
    for (auto& [generation, runner] : run.runners) {
      BENCH_ASSIGN_OR_RETURN(ShareDelta delta, runner->CutDelta());
      combined.finished = combined.finished && delta.finished;
      for (auto& [index, stats] : delta.stages) BENCH_RETURN_IF_ERROR(stages[index].Merge(stats));
      for (auto& [index, stats] : delta.turns) BENCH_RETURN_IF_ERROR(turns[index].Merge(stats));
      for (auto& [index, point] : delta.series) {
        auto [it, inserted] = series.try_emplace(index, point);
        if (!inserted) it->second.Merge(point);
      }
      combined.started += delta.started;
      combined.in_flight += delta.in_flight;
      combined.client_queue += delta.client_queue;
      combined.connections.Merge(delta.connections);
      combined.records.insert(combined.records.end(),
                              std::make_move_iterator(delta.records.begin()),
                              std::make_move_iterator(delta.records.end()));
      combined.records_dropped += delta.records_dropped;
    }
    // One shard stays far below kMaxMessageBytes: records beyond these bounds are dropped and
    // counted (summary.json warns), not held for later.
    size_t kept = 0;
    size_t bytes = 0;
    for (const RequestRecord& record : combined.records) {
      bytes += kRecordBytes + record.chunk_gaps_us.size() * kChunkGapBytes;
      if (kept == kMaxRecordsPerShard || bytes > kMaxRecordBytesPerShard) break;
      ++kept;
    }
    combined.records_dropped += combined.records.size() - kept;
    combined.records.resize(kept);
    for (auto& [index, stats] : stages) combined.stages.emplace_back(index, std::move(stats));
    for (auto& [index, stats] : turns) combined.turns.emplace_back(index, std::move(stats));
    for (auto& [index, point] : series) combined.series.emplace_back(index, point);
    return combined;
  }

  void RecordShard(const bench::v1::ReportShard& shard) {
    const std::string bytes = shard.SerializeAsString();
    FILE* file = std::fopen(options_.record_shards_path.c_str(), "ab");
    if (file == nullptr) return;
    const uint32_t size = static_cast<uint32_t>(bytes.size());
    const unsigned char header[4] = {
        static_cast<unsigned char>(size), static_cast<unsigned char>(size >> 8),
        static_cast<unsigned char>(size >> 16), static_cast<unsigned char>(size >> 24)};
    std::fwrite(header, 1, 4, file);
    std::fwrite(bytes.data(), 1, bytes.size(), file);
    std::fclose(file);
  }

  std::unique_ptr<bench::v1::WorkerLink::Stub> stub_;
  AgentOptions options_;
  Mutex join_mu_;
  std::thread link_thread_;
  std::thread run_thread_;

  Mutex write_mu_;  // Serializes writes; one reader runs beside them.
  std::shared_ptr<Stream> stream_ ABSL_GUARDED_BY(write_mu_);
  std::atomic<int64_t> last_sent_ns_{0};

  Mutex mu_;
  std::condition_variable_any cv_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  int exit_code_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_);
  bool heard_once_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration lease_ ABSL_GUARDED_BY(mu_) = absl::Seconds(5);
  std::unique_ptr<Run> run_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> finished_runs_ ABSL_GUARDED_BY(mu_);  // the last few, newest last
};

WorkerAgent::WorkerAgent(std::shared_ptr<grpc::Channel> channel, AgentOptions options)
    : impl_(std::make_unique<Impl>(std::move(channel), std::move(options))) {}
WorkerAgent::WorkerAgent(const std::string& address, const Dial& dial, AgentOptions options) {
  options.token = dial.token;
  impl_ = std::make_unique<Impl>(
      grpc::CreateCustomChannel(address, dial.credentials, dial.arguments), std::move(options));
}
WorkerAgent::~WorkerAgent() = default;
void WorkerAgent::Start() { impl_->Start(); }
void WorkerAgent::Shutdown() { impl_->Shutdown(); }
int WorkerAgent::Wait() { return impl_->Wait(); }
const std::string& WorkerAgent::worker_id() const { return impl_->worker_id(); }

absl::StatusOr<std::vector<std::string>> CheckRunFiles(const BenchmarkConfig& config) {
  return CheckConfigFiles(config);
}

}  // namespace bench::worker
