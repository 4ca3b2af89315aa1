#include "controller/coordinator.h"

#include <algorithm>
#include <optional>
#include <random>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/allow_list.h"
#include "common/config_yaml.h"
#include "common/logging.h"
#include "common/rpc_share.h"
#include "common/status_macros.h"
#include "controller/coordinator_internal.h"
#include "controller/plots.h"
#include "controller/prometheus_collect.h"
#include "controller/report.h"
#include "controller/results.h"
#include "controller/served_models.h"
#include "controller/summary.h"

namespace bench::controller {
namespace {

std::string NewRunId(const std::string& name) {
  std::random_device device;
  return absl::StrCat(name, "-",
                      absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()), "-",
                      absl::Hex(device() & 0xffff, absl::kZeroPad4));
}

}  // namespace

std::string RunPhaseName(RunPhase phase) {
  switch (phase) {
    case RunPhase::kQueued:
      return "queued";
    case RunPhase::kWaitingForWorkers:
      return "waiting-for-workers";
    case RunPhase::kRunning:
      return "running";
    case RunPhase::kDraining:
      return "draining";
    case RunPhase::kDone:
      return "done";
    case RunPhase::kFailed:
      return "failed";
    case RunPhase::kCancelled:
      return "cancelled";
    case RunPhase::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

bool IsTerminal(RunPhase phase) {
  return phase == RunPhase::kDone || phase == RunPhase::kFailed || phase == RunPhase::kCancelled ||
         phase == RunPhase::kInterrupted;
}

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) {}

Coordinator::~Coordinator() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    changed_.notify_all();
    tick_.notify_all();
  }
  if (ticker_.joinable()) ticker_.join();
}

void Coordinator::Start() {
  {
    MutexLock lock(mu_);
    if (options_.recover_runs) RecoverRuns();
    started_ = true;
  }
  ticker_ = std::thread([this] { TickerMain(); });
}

bool Coordinator::Ready() {
  MutexLock lock(mu_);
  return started_ && !stopping_;
}

void Coordinator::TickerMain() {
  std::unique_lock<Mutex> lock(mu_);
  while (!stopping_) {
    // Its own wake-ups only (every 50 ms, or a submit or cancel): shards arrive a thousand times
    // a second and must not each run a tick.
    tick_.wait_for(lock, std::chrono::milliseconds(50));
    if (stopping_) break;
    Tick();
    if (unannounced_changes_) {
      unannounced_changes_ = false;
      changed_.notify_all();
    }
  }
}

void Coordinator::Touch(RunRecord& run) {
  ++run.version;
  changed_.notify_all();
}

void Coordinator::TouchQuietly(RunRecord& run) {
  ++run.version;
  unannounced_changes_ = true;  // Watchers hear of it at the next tick.
}

Coordinator::RunRecord* Coordinator::Active() {
  for (auto& run : runs_) {
    if (!IsTerminal(run->phase)) return run.get();
  }
  return nullptr;
}

// ---- workers ----------------------------------------------------------------------------------

uint64_t Coordinator::AttachWorker(WorkerPeer* peer, std::string peer_address) {
  MutexLock lock(mu_);
  auto worker = std::make_unique<Worker>();
  worker->key = next_key_++;
  worker->peer = peer;
  worker->address = std::move(peer_address);
  worker->last_heard = absl::Now();
  const uint64_t key = worker->key;
  workers_[key] = std::move(worker);
  return key;
}

void Coordinator::DetachWorker(uint64_t key, const std::string& reason) {
  MutexLock lock(mu_);
  auto it = workers_.find(key);
  if (it == workers_.end()) return;
  Worker& worker = *it->second;
  if (worker.hello) {
    BENCH_LOG(INFO) << "worker " << worker.name << " (" << worker.id
                    << ") disconnected: " << reason;
  }
  if (RunRecord* run = Active(); run != nullptr) {
    for (Slot& slot : run->slots) {
      if (slot.key == key) {
        slot.key = 0;
        slot.detached_at = absl::Now();
      }
    }
  }
  workers_.erase(it);
}

std::unique_ptr<Coordinator::DecodeBuffers> Coordinator::TakeDecodeBuffers() {
  MutexLock lock(decode_mu_);
  if (spare_decode_buffers_.empty()) return std::make_unique<DecodeBuffers>();
  std::unique_ptr<DecodeBuffers> buffers = std::move(spare_decode_buffers_.back());
  spare_decode_buffers_.pop_back();
  return buffers;
}

void Coordinator::WarmDecodeBuffers(size_t sets, size_t stages, size_t turns) {
  MutexLock lock(decode_mu_);
  while (spare_decode_buffers_.size() < sets) {
    spare_decode_buffers_.push_back(std::make_unique<DecodeBuffers>());
  }
  for (const std::unique_ptr<DecodeBuffers>& buffers : spare_decode_buffers_) {
    if (buffers->stages.size() < stages) buffers->stages.resize(stages);
    if (buffers->turns.size() < turns) buffers->turns.resize(turns);
  }
}

void Coordinator::ReturnDecodeBuffers(std::unique_ptr<DecodeBuffers> buffers) {
  MutexLock lock(decode_mu_);
  spare_decode_buffers_.push_back(std::move(buffers));
}

void Coordinator::OnWorkerMessage(uint64_t key, const bench::v1::WorkerMessage& message) {
  // A shard's histograms are decoded before the lock is taken: inflating them is most of the
  // work, and a thousand workers' streams should not queue on the mutex for it. The buffers
  // come from a pool rather than per thread: a thread_local set (2.6 MB a stage) was allocated
  // again by every new thread gRPC ran the stream on, and a run-mode soak's RSS stepped up.
  // Only shards take a set: a pong arriving beside a shard must not grow the pool.
  std::unique_ptr<DecodeBuffers> buffers;
  absl::Cleanup give_back = [this, &buffers] {
    if (buffers != nullptr) ReturnDecodeBuffers(std::move(buffers));
  };
  absl::Status decode_status;
  if (message.has_shard()) {
    buffers = TakeDecodeBuffers();
    std::vector<StatsShard>& decoded = buffers->stages;
    std::vector<StatsShard>& decoded_turns = buffers->turns;
    const bench::v1::ReportShard& shard = message.shard();
    if (decoded.size() < static_cast<size_t>(shard.stages_size())) {
      decoded.resize(static_cast<size_t>(shard.stages_size()));
    }
    for (int i = 0; i < shard.stages_size() && decode_status.ok(); ++i) {
      decode_status = FromProto(shard.stages(i), &decoded[static_cast<size_t>(i)]);
    }
    if (decoded_turns.size() < static_cast<size_t>(shard.turns_size())) {
      decoded_turns.resize(static_cast<size_t>(shard.turns_size()));
    }
    for (int i = 0; i < shard.turns_size() && decode_status.ok(); ++i) {
      decode_status = FromProto(shard.turns(i), &decoded_turns[static_cast<size_t>(i)]);
    }
  }
  MutexLock lock(mu_);
  auto it = workers_.find(key);
  if (it == workers_.end()) return;
  Worker& worker = *it->second;
  const absl::Time now = absl::Now();
  worker.last_heard = now;
  if (!worker.hello && !message.has_hello()) {
    worker.peer->Reject("the first message must be hello");
    return;
  }
  switch (message.kind_case()) {
    case bench::v1::WorkerMessage::kHello: {
      if (worker.hello) break;
      const bench::v1::Hello& hello = message.hello();
      if (hello.protocol_version() != kProtocolVersion) {
        worker.peer->Refuse(absl::StrCat("the worker speaks protocol version ",
                                         hello.protocol_version(), ", this controller speaks ",
                                         kProtocolVersion, " (bench.v1): use matching releases"));
        return;
      }
      if (hello.worker_id().empty()) {
        worker.peer->Reject("hello needs a worker_id");
        return;
      }
      // A worker that reconnects before its old stream timed out replaces it.
      for (auto& [other_key, other] : workers_) {
        if (other_key != key && other->id == hello.worker_id()) {
          other->peer->Disconnect("replaced by a new stream of the same worker");
          other->hello = false;
        }
      }
      worker.hello = true;
      worker.id = hello.worker_id();
      worker.name = hello.hostname().empty() ? hello.worker_id() : hello.hostname();
      worker.threads = std::max<uint32_t>(1, hello.engine_threads());
      bench::v1::ControllerMessage welcome;
      welcome.mutable_welcome()->set_controller_id(options_.controller_id);
      welcome.mutable_welcome()->set_lease_ns(Nanos(options_.lease));
      welcome.mutable_welcome()->set_heartbeat_interval_ns(1'000'000'000);
      worker.peer->Send(welcome);
      worker.next_ping = now;  // At the next tick: the clock offset is needed to start.
      BENCH_LOG(INFO) << "worker " << worker.name << " (" << worker.id << ", " << worker.threads
                      << " threads) connected from " << worker.address;
      RunRecord* run = Active();
      for (const std::string& pending : hello.pending_run_ids()) {
        bool resumed = false;
        if (run != nullptr && run->id == pending) {
          auto found = run->slot_by_worker.find(worker.id);
          if (found != run->slot_by_worker.end() && !run->slots[found->second].lost) {
            Slot& slot = run->slots[found->second];
            slot.key = key;
            worker.run_id = run->id;
            resumed = true;
            Resume(*run, worker, slot);
          }
        }
        if (!resumed) {
          worker.draining_run_id = pending;
          // A run this controller no longer has (it restarted, or the run ended): drop it.
          bench::v1::ControllerMessage stop;
          stop.mutable_stop()->set_run_id(pending);
          stop.mutable_stop()->set_reason(bench::v1::Stop::REASON_FAILED);
          worker.peer->Send(stop);
        }
      }
      if (run != nullptr) {
        if (worker.run_id.empty() && run->phase == RunPhase::kRunning &&
            run->config.cluster.on_worker_loss == WorkerLossPolicy::kRebalance) {
          run->rebalance_pending = true;
        }
        Touch(*run);
      }
      break;
    }
    case bench::v1::WorkerMessage::kHeartbeat:
      break;
    case bench::v1::WorkerMessage::kPong: {
      if (message.pong().nonce() != worker.ping_nonce) break;
      ++worker.pongs;
      const absl::Duration rtt = now - worker.ping_sent;
      if (rtt <= worker.best_rtt) {
        worker.best_rtt = rtt;
        const int64_t midpoint = absl::ToUnixNanos(worker.ping_sent + rtt / 2);
        worker.offset_ns = message.pong().worker_unix_ns() - midpoint;
        worker.has_offset = true;
      }
      break;
    }
    case bench::v1::WorkerMessage::kAssignmentAck: {
      RunRecord* run = Active();
      const bench::v1::AssignmentAck& ack = message.assignment_ack();
      if (run == nullptr || run->id != ack.run_id()) break;
      for (Slot& slot : run->slots) {
        if (slot.worker_id != worker.id) continue;
        if (ack.accepted()) {
          slot.acked = true;
        } else if (ack.generation() > 1) {
          // Its old share was cut at the handover: re-split the rest without it.
          slot.final = true;
          run->rebalance_pending = true;
          run->share_orphaned = true;
          run->notes.push_back(absl::StrCat("worker ", worker.name,
                                            " refused its rebalanced share (", ack.error(),
                                            "); the rest is split again without it"));
        } else if (!run->failing) {
          // The exit code of SPEC section 7: an unreachable target fails the run; a config the
          // worker cannot use (a missing dataset, an unset ${env:} variable) is invalid input;
          // a target outside the allow-list is denied.
          const auto code = static_cast<absl::StatusCode>(ack.error_code());
          const bool target = ack.error().find("target.endpoint") != std::string::npos;
          const int exit_code =
              code == absl::StatusCode::kPermissionDenied ? 6
              : target                                    ? 1
              : code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound
                  ? 2
                  : 1;
          slot.final = true;
          Fail(*run, absl::StrCat("worker ", worker.name, " refused its share: ", ack.error()),
               exit_code);
        }
      }
      break;
    }
    case bench::v1::WorkerMessage::kShard:
      ApplyShard(worker, message.shard(), buffers->stages, buffers->turns, decode_status);
      break;
    case bench::v1::WorkerMessage::KIND_NOT_SET:
      break;
  }
}

void Coordinator::ApplyShard(Worker& worker, const bench::v1::ReportShard& shard,
                             const std::vector<StatsShard>& decoded,
                             const std::vector<StatsShard>& decoded_turns,
                             const absl::Status& decode_status) {
  // Immediately for final shards, duplicates and refusals; else batched (see Worker).
  auto ack = [&](uint64_t sequence, bool now = true) {
    if (now || shard.final() || absl::Now() - worker.last_ack >= AckInterval() ||
        worker.ack_run_id != shard.run_id()) {
      SendAck(worker, shard.run_id(), sequence);
    } else {
      worker.ack_pending = sequence;
    }
  };
  // Only the active run takes shards; any other run's are over (acknowledged and dropped).
  RunRecord* run = Active();
  if (run != nullptr && run->id != shard.run_id()) run = nullptr;
  Slot* slot = nullptr;
  if (run != nullptr && !IsTerminal(run->phase) && shard.worker_id() == worker.id) {
    auto it = run->slot_by_worker.find(worker.id);
    if (it != run->slot_by_worker.end()) slot = &run->slots[it->second];
  }
  if (shard.final() && shard.run_id() == worker.draining_run_id) worker.draining_run_id.clear();
  if (slot == nullptr) {
    ack(shard.sequence());  // A run that is over (or not this worker's): nothing to apply.
    return;
  }
  // A slot marked lost is applied too: its worker stopped sending when its own lease ran out,
  // before its share was handed over, so what it measured until then is real and arrives once
  // the partition heals. In order like any shard, so each counts once.
  if (shard.sequence() <= slot->applied) {
    ++shards_duplicate_;
    ack(slot->applied);  // A duplicate after a reconnect: applied once already.
    return;
  }
  if (shard.sequence() != slot->applied + 1) return;  // A gap: the worker resends in order.

  const int64_t interval_ns = Nanos(run->config.metrics.interval);
  absl::StatusOr<ConnectionStats> connections = FromProto(shard.client());
  // Everything was decoded first: a shard applies whole or not at all.
  absl::Status status = decode_status;
  if (status.ok()) status = connections.status();
  for (int i = 0; i < shard.stages_size() && status.ok(); ++i) {
    if (shard.stages(i).stage_index() >= run->stages.size()) {
      status = absl::InvalidArgumentError(
          absl::StrCat("stage index ", shard.stages(i).stage_index(), " out of range"));
    }
  }
  for (int i = 0; i < shard.turns_size() && status.ok(); ++i) {
    if (shard.turns(i).stage_index() >= run->turns.size()) {
      status = absl::InvalidArgumentError(
          absl::StrCat("turn index ", shard.turns(i).stage_index(), " out of range"));
    }
  }
  if (!status.ok()) {
    ++run->shard_errors;
    ++shard_apply_errors_;
    BENCH_LOG(ERROR) << "run " << run->id << ": shard " << shard.sequence() << " of worker "
                     << worker.name << " does not apply: " << status;
    ack(shard.sequence());
    slot->applied = shard.sequence();
    return;
  }
  for (int i = 0; i < shard.stages_size(); ++i) {
    const StatsShard& stats = decoded[static_cast<size_t>(i)];
    slot->sent += stats.requests_sent;
    slot->succeeded += stats.succeeded;
    slot->failed += stats.failed;
    slot->incomplete += stats.incomplete;
    if (absl::Status merged = run->stages[shard.stages(i).stage_index()].Merge(stats);
        !merged.ok()) {
      ++run->shard_errors;
      ++shard_apply_errors_;
    }
  }
  for (int i = 0; i < shard.turns_size(); ++i) {
    if (absl::Status merged =
            run->turns[shard.turns(i).stage_index()].Merge(decoded_turns[static_cast<size_t>(i)]);
        !merged.ok()) {
      ++run->shard_errors;
      ++shard_apply_errors_;
    }
  }
  ++shards_applied_;
  WriteRecords(*run, worker, shard);
  for (const bench::v1::SeriesPoint& point : shard.series()) {
    const uint32_t index = point.index();
    if (index >= kMaxSeriesPoints) continue;  // Beyond any run: ignore rather than allocate.
    if (run->series.size() <= index) {
      const size_t old = run->series.size();
      run->series.resize(index + 1);
      for (size_t i = old; i < run->series.size(); ++i) {
        run->series[i].start_ns = static_cast<int64_t>(i) * interval_ns;
      }
    }
    if (slot->gauges.size() <= index) slot->gauges.resize(index + 1);
    const IntervalPoint delta = FromProto(point, interval_ns);
    IntervalPoint& merged = run->series[index];
    merged.AddCounters(delta);
    // Gauges: the sum of every worker's latest reading for the interval.
    auto& [in_flight, client_queue] = slot->gauges[index];
    merged.in_flight = merged.in_flight - in_flight + delta.in_flight;
    merged.client_queue = merged.client_queue - client_queue + delta.client_queue;
    in_flight = delta.in_flight;
    client_queue = delta.client_queue;
  }
  slot->started = shard.started();
  slot->in_flight = shard.in_flight();
  slot->client_queue = shard.client_queue();
  run->connections.Merge(*connections);
  slot->applied = shard.sequence();
  if (shard.final()) slot->final = true;
  ack(shard.sequence(), /*now=*/false);
  TouchQuietly(*run);
}

void Coordinator::WriteRecords(RunRecord& run, const Worker& worker,
                               const bench::v1::ReportShard& shard) {
  run.records_dropped += shard.records_dropped();
  if (shard.records_size() == 0) return;
  const uint64_t count = static_cast<uint64_t>(shard.records_size());
  if (!run.written.metrics.raw || !run.request_log_error.empty()) {
    run.records_dropped += count;
    return;
  }
  if (run.request_log == nullptr) {
    absl::Status opened = absl::OkStatus();
    if (run.results_path.empty()) {
      absl::StatusOr<std::string> path = CreateResultsDirectory(run.written, run.start);
      if (path.ok()) {
        run.results_path = *path;
      } else {
        opened = path.status();
      }
    }
    if (opened.ok()) {
      absl::StatusOr<std::unique_ptr<RequestLog>> log = RequestLog::Open(
          run.results_path + "/requests.jsonl", run.written.metrics.raw_token_times);
      if (log.ok()) {
        run.request_log = *std::move(log);
      } else {
        opened = log.status();
      }
    }
    if (!opened.ok()) {
      run.request_log_error = std::string(opened.message());
      BENCH_LOG(ERROR) << "run " << run.id << ": requests.jsonl: " << opened;
      run.records_dropped += count;
      return;
    }
  }
  std::vector<RequestRecord> records;
  records.reserve(count);
  for (const bench::v1::RequestRecord& record : shard.records())
    records.push_back(FromProto(record));
  if (absl::Status written = run.request_log->Append(worker.name, records); !written.ok()) {
    run.request_log_error = std::string(written.message());
    BENCH_LOG(ERROR) << "run " << run.id << ": " << written;
    run.records_dropped += count;
  }
}

absl::Duration Coordinator::AckInterval() const {
  return std::min(absl::Seconds(2), options_.lease / 3);
}

void Coordinator::SendAck(Worker& worker, const std::string& run_id, uint64_t sequence) {
  bench::v1::ControllerMessage message;
  message.mutable_shard_ack()->set_run_id(run_id);
  message.mutable_shard_ack()->set_sequence(sequence);
  worker.peer->Send(message);
  worker.ack_run_id = run_id;
  worker.ack_pending = 0;
  worker.last_ack = absl::Now();
  worker.last_sent = worker.last_ack;
}

// ---- clients ----------------------------------------------------------------------------------

absl::Status Coordinator::CheckAllowed(const BenchmarkConfig& config, const std::string& caller) {
  if (!options_.enforce_allow_list) return absl::OkStatus();
  absl::Status allowed = CheckTargetAllowed(config.target.endpoint, options_.allowed_targets);
  if (!allowed.ok()) {
    BENCH_LOG(WARNING) << "audit: submit denied name=" << config.benchmark.name
                       << " caller=" << caller << ": " << allowed.message();
  }
  return allowed;
}

absl::Status Coordinator::Check(const BenchmarkConfig& config, const std::string& caller) {
  return Admit(config, {}, caller).status();
}

absl::StatusOr<std::string> Coordinator::Submit(const BenchmarkConfig& config,
                                                std::vector<std::string> notes,
                                                const std::string& caller, bool preflight) {
  // Only a preflight's shape may be left out of `list`: one request, one at a time.
  if (preflight && (config.load.type != LoadType::kConcurrency || config.load.concurrency != 1 ||
                    config.benchmark.max_requests != 1)) {
    return absl::InvalidArgumentError(
        "a preflight run is a closed loop of 1 with benchmark.maxRequests 1");
  }
  BENCH_ASSIGN_OR_RETURN(std::unique_ptr<RunRecord> run, Admit(config, std::move(notes), caller));
  run->preflight = preflight;
  MutexLock lock(mu_);
  size_t waiting = 0;
  for (const auto& r : runs_) waiting += IsTerminal(r->phase) ? 0 : 1;
  if (waiting >= options_.max_queued_runs) {
    return absl::ResourceExhaustedError(absl::StrCat("the run queue is full (", waiting,
                                                     " runs waiting or running); try again later"));
  }
  run->id = NewRunId(config.benchmark.name);
  run->created = absl::Now();
  const std::string id = run->id;
  BENCH_LOG(INFO) << "audit: submit run=" << id << " name=" << config.benchmark.name
                  << " target=" << config.target.endpoint << " caller=" << caller;
  runs_.push_back(std::move(run));
  tick_.notify_all();
  return id;
}

absl::StatusOr<std::unique_ptr<Coordinator::RunRecord>> Coordinator::Admit(
    const BenchmarkConfig& submitted, std::vector<std::string> notes, const std::string& caller) {
  auto run = std::make_unique<RunRecord>();
  run->config = submitted;
  const BenchmarkConfig& config = run->config;
  // Without a model, the one the target lists (`run` has asked already; `submit` asks here, where
  // the target is reachable) - only once the allow-list has let the target through.
  if (config.target.model.empty() && !config.target.endpoint.empty()) {
    BENCH_RETURN_IF_ERROR(CheckAllowed(config, caller));
    BENCH_ASSIGN_OR_RETURN(std::optional<std::string> note,
                           TakeOnlyServedModel(run->config.target));
    if (note.has_value()) notes.push_back(*std::move(note));
  }
  if (absl::Status runnable = CheckRunnable(config); !runnable.ok()) {
    return absl::InvalidArgumentError(runnable.message());
  }
  if (config.load.series.kind != SeriesKind::kNone) {
    return absl::InvalidArgumentError(
        absl::StrCat("load.type ", std::string(LoadTypeName(config.load)),
                     " is a series of runs: `bench-controller run` "
                     "or `submit` drives it, giving the controller one probe at a time"));
  }
  if (config.cluster.on_worker_loss == WorkerLossPolicy::kRebalance &&
      config.benchmark.max_requests > 0) {
    return absl::InvalidArgumentError(
        "cluster.onWorkerLoss: rebalance cannot re-split benchmark.maxRequests among workers "
        "mid-run; use fail or drop maxRequests");
  }
  run->notes = std::move(notes);
  run->plan = MakePlan(config);
  const Plan& plan = run->plan;
  const RunCaps& caps = options_.caps;
  const double peak = std::max(plan.mean_rate, plan.peak_rate);
  if (caps.max_rate > 0 && peak > caps.max_rate) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("load: %.6g requests/s exceeds this controller's cap of %.6g (--max-rate)",
                        peak, caps.max_rate));
  }
  if (caps.max_concurrency > 0 && plan.in_flight > caps.max_concurrency) {
    return absl::ResourceExhaustedError(absl::StrCat("load.concurrency: ", plan.in_flight,
                                                     " exceeds this controller's cap of ",
                                                     caps.max_concurrency, " (--max-concurrency)"));
  }
  if (caps.max_concurrency > 0 && !plan.closed_loop && plan.in_flight == 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "load.concurrency: an open loop without a cap exceeds this controller's cap of ",
        caps.max_concurrency, " (--max-concurrency); set load.concurrency"));
  }
  if (caps.max_duration > absl::ZeroDuration() && plan.total > caps.max_duration) {
    return absl::ResourceExhaustedError(
        absl::StrCat("benchmark: warmup + duration ", absl::FormatDuration(plan.total),
                     " exceeds this controller's cap of ", absl::FormatDuration(caps.max_duration),
                     " (--max-duration)"));
  }
  if (caps.max_workers > 0 && config.cluster.workers > caps.max_workers) {
    return absl::ResourceExhaustedError(absl::StrCat("cluster.workers: ", config.cluster.workers,
                                                     " exceeds this controller's cap of ",
                                                     caps.max_workers, " (--max-workers)"));
  }
  BENCH_RETURN_IF_ERROR(CheckAllowed(config, caller));
  if (config.load.type == LoadType::kTrace) {
    if (plan.trace == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "load.trace: ", plan.trace_error.empty() ? plan.trace_note : plan.trace_error,
          " (the trace is read on the controller)"));
    }
    if (plan.measured_requests.value_or(0) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("load.trace: no record of ", config.load.trace,
                       " falls in the measurement window; shorten benchmark.warmup"));
    }
    const int64_t measured_ns = plan.cap_reached_after.has_value() ? Nanos(*plan.cap_reached_after)
                                                                   : Nanos(plan.measurement);
    run->requested_rate =
        measured_ns > 0 ? *plan.measured_requests / (static_cast<double>(measured_ns) / 1e9) : 0;
  } else if (!plan.closed_loop) {
    run->requested_rate = plan.mean_rate;
  }
  absl::StatusOr<WorkShare> whole = MakeWholeShare(config, plan, plan.trace.get());
  if (!whole.ok()) return absl::InvalidArgumentError(whole.status().message());
  run->whole = *std::move(whole);
  run->plan.trace.reset();  // The share holds what workers need.
  run->written = config;
  if (!options_.results_dir.empty()) run->written.output.dir = options_.results_dir;
  // Before anything is sent: a finished run must have somewhere to go.
  if (absl::Status writable = CheckResultsWritable(run->written); !writable.ok()) {
    return writable;
  }
  BENCH_RETURN_IF_ERROR(CheckPlotsPossible(run->written));
  BENCH_RETURN_IF_ERROR(CheckReportsPossible(run->written));
  BENCH_RETURN_IF_ERROR(CheckPrometheusEndpoint(run->written));
  return run;
}

absl::StatusOr<RunInfo> Coordinator::GetRun(const std::string& run_id) {
  MutexLock lock(mu_);
  for (auto& run : runs_) {
    if (run->id == run_id) return InfoOf(*run);
  }
  return absl::NotFoundError(absl::StrCat("no run ", run_id));
}

std::vector<RunInfo> Coordinator::ListRuns(size_t limit) {
  MutexLock lock(mu_);
  std::vector<RunInfo> infos;
  for (auto it = runs_.rbegin(); it != runs_.rend() && (limit == 0 || infos.size() < limit); ++it) {
    if ((*it)->preflight) continue;
    RunInfo info = InfoOf(**it);
    info.summary_json.clear();
    info.summary_table.clear();
    infos.push_back(std::move(info));
  }
  return infos;
}

absl::StatusOr<RunPhase> Coordinator::Cancel(const std::string& run_id, const std::string& caller,
                                             absl::Duration drain) {
  MutexLock lock(mu_);
  for (auto& run : runs_) {
    if (run->id != run_id) continue;
    if (IsTerminal(run->phase)) {
      return absl::FailedPreconditionError(
          absl::StrCat("run ", run_id, " is already ", RunPhaseName(run->phase)));
    }
    BENCH_LOG(INFO) << "audit: cancel run=" << run_id << " caller=" << caller;
    run->cancelled = true;
    run->cancelled_at = absl::Now();
    if (run->phase == RunPhase::kQueued || run->phase == RunPhase::kWaitingForWorkers) {
      run->phase = RunPhase::kCancelled;
      run->exit_code = 5;
      run->finished = absl::Now();
      run->error = "cancelled before it started";
    } else {
      StopRun(*run, bench::v1::Stop::REASON_CANCELLED, drain);
      run->deadline = std::min(run->deadline, absl::Now() + drain + absl::Seconds(5));
    }
    Touch(*run);
    return run->phase;
  }
  return absl::NotFoundError(absl::StrCat("no run ", run_id));
}

absl::StatusOr<RunInfo> Coordinator::WaitForChange(const std::string& run_id, uint64_t seen_version,
                                                   absl::Duration timeout) {
  std::unique_lock<Mutex> lock(mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    RunRecord* found = nullptr;
    for (auto& run : runs_) {
      if (run->id == run_id) found = run.get();
    }
    if (found == nullptr) return absl::NotFoundError(absl::StrCat("no run ", run_id));
    const absl::Duration left = deadline - absl::Now();
    if (found->version != seen_version || left <= absl::ZeroDuration() || stopping_) {
      return InfoOf(*found);
    }
    changed_.wait_for(lock, absl::ToChronoNanoseconds(left));
  }
}

// ---- the run lifecycle ------------------------------------------------------------------------

void Coordinator::Tick() {
  const absl::Time now = absl::Now();
  for (auto& [key, worker] : workers_) {
    if (now - worker->last_heard > options_.lease) {
      worker->peer->Disconnect(
          absl::StrCat("no message for ", absl::FormatDuration(options_.lease), " (the lease)"));
      continue;
    }
    if (!worker->hello) continue;
    if (worker->ack_pending > 0 && now - worker->last_ack >= AckInterval()) {
      SendAck(*worker, worker->ack_run_id, worker->ack_pending);
    }
    // A few pings a second apart estimate the clock offset; after that a ping goes only when
    // nothing else went to the worker for half the lease (its lease must not run out) or to
    // refresh the offset now and then.
    const bool due =
        worker->pongs < kOffsetSamples
            ? now >= worker->next_ping
            : now - worker->last_sent >= options_.lease / 2 || now >= worker->next_ping;
    if (due) {
      worker->next_ping =
          now + (worker->pongs < kOffsetSamples ? options_.ping_interval : absl::Seconds(30));
      worker->last_sent = now;
      worker->ping_nonce = (worker->ping_nonce + 1) | 1;
      worker->ping_sent = now;
      bench::v1::ControllerMessage ping;
      ping.mutable_ping()->set_nonce(worker->ping_nonce);
      ping.mutable_ping()->set_controller_unix_ns(absl::ToUnixNanos(now));
      worker->peer->Send(ping);
    }
  }
  RunRecord* run = Active();
  if (run == nullptr) return;
  switch (run->phase) {
    case RunPhase::kQueued:
      run->phase = RunPhase::kWaitingForWorkers;
      Touch(*run);
      [[fallthrough]];
    case RunPhase::kWaitingForWorkers:
      TryStart(*run);
      return;
    default:
      break;
  }
  // Running or draining: partial results on disk, so a controller that dies leaves them
  // readable. A flush rewrites the whole series, which grows with the run: every interval at
  // first, then every tenth of the time run so far (at most 30 s), so a long run costs work in
  // proportion to its length, not to its square.
  if (now >= run->next_flush) {
    const absl::Duration interval = std::max(absl::Seconds(1), run->config.metrics.interval);
    run->next_flush =
        now + std::clamp((now - run->start) / 10, interval, std::max(interval, absl::Seconds(30)));
    bool started = false;
    for (const Slot& slot : run->slots) started = started || slot.acked;
    if (started) {
      if (absl::Status flushed = Flush(*run, false); !flushed.ok()) {
        BENCH_LOG(WARNING) << "run " << run->id << ": cannot flush results: " << flushed;
      }
    }
  }
  if (run->phase == RunPhase::kRunning && run->config.slo.abort_on_fail && !run->failing &&
      !run->cancelled && !run->aborted && now >= run->next_slo_check) {
    CheckAbortOnFail(*run, now);
  }
  if (run->phase == RunPhase::kRunning && now >= run->start + run->plan.total) {
    run->phase = RunPhase::kDraining;
    Touch(*run);
  }
  bool all_final = true;
  bool detached = false;
  std::vector<std::string> losses;
  for (Slot& slot : run->slots) {
    if (slot.final || slot.lost) continue;
    all_final = false;
    if (slot.key == 0 && now - slot.detached_at > options_.lease) {
      slot.lost = true;
      losses.push_back(absl::StrFormat(
          "worker %s lost at %.1f s of the run (its stream ended and it did not return within "
          "the %s lease); its %u requests in flight are counted as lost",
          slot.name, absl::ToDoubleSeconds(now - run->start), absl::FormatDuration(options_.lease),
          slot.in_flight));
    } else if (slot.key == 0) {
      detached = true;
    }
  }
  // Acted on after the loop: a rebalance may add slots.
  for (const std::string& loss : losses) {
    BENCH_LOG(WARNING) << "run " << run->id << ": " << loss;
    run->notes.push_back(loss);
    if (run->failing || run->cancelled) continue;
    if (run->config.cluster.on_worker_loss == WorkerLossPolicy::kRebalance) {
      run->rebalance_pending = true;
      run->share_orphaned = true;
    } else {
      Fail(*run, loss + "; cluster.onWorkerLoss is fail", 1);
    }
  }
  // A rebalance waits while a worker is away but not yet lost: it could not be told of it.
  bool joining = false;  // an idle worker ready to take a share
  for (const auto& [key, worker] : workers_) {
    joining =
        joining || (worker->hello && worker->run_id.empty() && worker->draining_run_id.empty() &&
                    worker->has_offset && run->slot_by_worker.count(worker->id) == 0);
  }
  if (run->rebalance_pending && !detached && (run->share_orphaned || joining) &&
      run->phase == RunPhase::kRunning && !run->failing && !run->cancelled) {
    run->rebalance_pending = false;
    Rebalance(*run, run->share_orphaned ? "a worker's share was left" : "a worker joined");
    run->share_orphaned = false;
  }
  if (all_final || now >= run->deadline) {
    for (Slot& slot : run->slots) {
      if (!slot.final && !slot.lost) {
        slot.lost = true;
        run->notes.push_back(absl::StrCat("worker ", slot.name,
                                          " did not send its last shard in time; its figures "
                                          "end with its last shard"));
      }
    }
    Finish(*run);
  }
}

void Coordinator::CheckAbortOnFail(RunRecord& run, absl::Time now) {
  const absl::Duration interval = std::max(absl::Seconds(1), run.config.metrics.interval);
  run.next_slo_check = now + interval;
  // Shards arrive up to an interval late: a stage is judged complete an interval after its end.
  const absl::Duration window_elapsed = now - run.start - run.plan.warmup - interval;
  if (window_elapsed <= absl::ZeroDuration()) return;
  std::optional<std::string> broken;
  const std::vector<StageConfig>& stages = run.config.load.stages;
  if (run.config.load.type == LoadType::kStages && stages.size() == run.stages.size()) {
    absl::Duration end;
    for (size_t i = 0; i < stages.size() && !broken.has_value(); ++i) {
      end += stages[i].duration;
      if (end > window_elapsed) break;
      if (std::optional<std::string> stage = BrokenSlo(run.config, run.stages[i], true)) {
        broken = absl::StrCat("stage ", i + 1, ": ", *stage);
      }
    }
  }
  if (!broken.has_value()) {
    StatsShard merged;
    for (const StatsShard& stage : run.stages) (void)merged.Merge(stage);
    if (std::optional<std::string> window = BrokenSlo(run.config, merged, false)) {
      broken = absl::StrCat("the window so far: ", *window);
    }
  }
  if (!broken.has_value()) return;
  run.aborted = true;
  run.aborted_at = now;
  run.abort_reason = *broken;
  run.error = "aborted by slo.abortOnFail: " + *broken;
  BENCH_LOG(WARNING) << "run " << run.id << ": " << run.error;
  // In-flight requests may finish (they are measured), as after a cancel.
  const absl::Duration drain = absl::Seconds(5);
  StopRun(run, bench::v1::Stop::REASON_ABORTED, drain);
  run.deadline = std::min(run.deadline, now + drain + absl::Seconds(5));
  Touch(run);
}

void Coordinator::Fail(RunRecord& run, const std::string& error, int exit_code) {
  run.failing = true;
  run.failed_at = absl::Now();
  run.failure_exit_code = exit_code;
  run.error = error;
  BENCH_LOG(ERROR) << "run " << run.id << " failed: " << error;
  StopRun(run, bench::v1::Stop::REASON_FAILED, absl::Seconds(2));
  run.deadline = std::min(run.deadline, absl::Now() + absl::Seconds(10));
  Touch(run);
}

}  // namespace bench::controller
