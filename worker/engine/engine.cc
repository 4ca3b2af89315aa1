#include "worker/engine/engine.h"

#include <condition_variable>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/engine/event_loop.h"
#include "worker/engine/load_driver.h"

namespace bench::engine {

std::vector<uint64_t> SplitEvenly(uint64_t total, int parts) {
  std::vector<uint64_t> shares(static_cast<size_t>(std::max(parts, 1)), total / std::max(parts, 1));
  for (uint64_t i = 0; i < total % shares.size(); ++i) ++shares[i];
  return shares;
}

// One engine thread. Everything created in Main() lives on that thread; other threads reach it
// through the loop's Post() and the mutex-guarded results below.
class Engine::Worker {
 public:
  Worker(Engine& engine, int index, DriverPlan plan, HttpClientOptions client)
      : engine_(engine),
        index_(index),
        plan_(std::move(plan)),
        client_options_(std::move(client)) {}

  ~Worker() {
    if (thread_.joinable()) {
      StopSending(0);
      thread_.join();
    }
  }

  absl::Status Start(int64_t run_start_ns) {
    BENCH_ASSIGN_OR_RETURN(loop_, EventLoop::Create());
    thread_ = std::thread([this, run_start_ns] { Main(run_start_ns); });
    std::unique_lock<Mutex> lock(mu_);
    cv_.wait(lock, [this] { return ready_; });
    return start_status_;
  }

  void StopSending(int64_t drain_ns) {
    if (loop_ == nullptr) return;  // Never started.
    loop_->Post([this, drain_ns] {
      if (driver_ != nullptr) driver_->StopSending(drain_ns);
    });
  }

  void CutAt(int64_t run_ns) {
    if (loop_ == nullptr) return;
    loop_->Post([this, run_ns] {
      if (driver_ != nullptr) driver_->CutAt(run_ns);
    });
  }

  bool WaitFinished(absl::Time deadline) {
    std::unique_lock<Mutex> lock(mu_);
    while (!finished_) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      cv_.wait_for(lock, absl::ToChronoNanoseconds(left));
    }
    return true;
  }

  // Copies this thread's figures; from any thread.
  void Snapshot(RecorderSnapshot& recorder, DriverCounters& counters, HttpClientStats& client) {
    std::unique_lock<Mutex> lock(mu_);
    if (!finished_ && loop_ != nullptr) {
      const uint64_t wanted = ++snapshot_requests_;
      lock.unlock();
      loop_->Post([this, wanted] {
        RecorderSnapshot taken = recorder_->Snapshot();
        const DriverCounters driver_counters = driver_->counters();
        const HttpClientStats client_stats = client_->stats();
        MutexLock guard(mu_);
        KeepRecordsLocked();
        latest_ = std::move(taken);
        latest_counters_ = driver_counters;
        latest_client_ = client_stats;
        snapshots_taken_ = wanted;
        cv_.notify_all();
      });
      lock.lock();
      cv_.wait(lock, [&] { return snapshots_taken_ >= wanted || finished_; });
    }
    recorder = latest_;
    counters = latest_counters_;
    client = latest_client_;
  }

  void TakeRecords(std::vector<RequestRecord>* out, uint64_t* dropped) {
    MutexLock lock(mu_);
    out->insert(out->end(), std::make_move_iterator(records_.begin()),
                std::make_move_iterator(records_.end()));
    records_.clear();
    *dropped += records_dropped_;
    records_dropped_ = 0;
  }

 private:
  void Main(int64_t run_start_ns) {
    client_ = std::make_unique<HttpClient>(*loop_, engine_.plan_.endpoint, engine_.plan_.addresses,
                                           engine_.tls_.get(), client_options_);
    recorder_ = std::make_unique<Recorder>(run_start_ns, engine_.plan_.interval_ns,
                                           engine_.plan_.stage_count, engine_.plan_.slo,
                                           engine_.plan_.turn_count);
    recorder_->KeepRecords(engine_.plan_.max_pending_records, engine_.plan_.record_chunk_gaps);
    driver_ = std::make_unique<LoadDriver>(*loop_, *client_, *engine_.prompts_, *engine_.builder_,
                                           engine_.head_, *recorder_, plan_);
    // Connections for a closed loop's users are made in the start delay, before time 0, as
    // h2load connects its clients first: setup is then its own figure, not schedule lag.
    client_->Preconnect(plan_.closed_loop ? plan_.concurrency : 0);
    const absl::Status status = driver_->Start(run_start_ns, [this] { loop_->Stop(); });
    {
      MutexLock lock(mu_);
      ready_ = true;
      start_status_ = status;
      cv_.notify_all();
    }
    if (status.ok()) loop_->Run();

    RecorderSnapshot final_snapshot = recorder_->Snapshot();
    const DriverCounters final_counters = driver_->counters();
    const HttpClientStats final_client = client_->stats();
    {
      MutexLock lock(mu_);
      KeepRecordsLocked();
    }
    driver_.reset();
    client_.reset();
    recorder_.reset();
    const absl::Status closed = loop_->Close();
    if (!closed.ok()) BENCH_LOG(ERROR) << "engine thread " << index_ << ": " << closed;
    MutexLock lock(mu_);
    latest_ = std::move(final_snapshot);
    latest_counters_ = final_counters;
    latest_counters_.finished = true;
    latest_client_ = final_client;
    finished_ = true;
    cv_.notify_all();
  }

  // Loop thread, mu_ held: moves the recorder's records to records_, within the same bound.
  void KeepRecordsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<RequestRecord> taken;
    uint64_t dropped = 0;
    recorder_->TakeRecords(&taken, &dropped);
    records_dropped_ += dropped;
    const size_t room = engine_.plan_.max_pending_records > records_.size()
                            ? engine_.plan_.max_pending_records - records_.size()
                            : 0;
    if (taken.size() > room) {
      records_dropped_ += taken.size() - room;
      taken.resize(room);
    }
    records_.insert(records_.end(), std::make_move_iterator(taken.begin()),
                    std::make_move_iterator(taken.end()));
  }

  Engine& engine_;
  const int index_;
  const DriverPlan plan_;
  const HttpClientOptions client_options_;
  std::unique_ptr<EventLoop> loop_;
  std::thread thread_;
  // Loop thread only.
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<LoadDriver> driver_;

  Mutex mu_;
  std::condition_variable_any cv_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status start_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t snapshot_requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t snapshots_taken_ ABSL_GUARDED_BY(mu_) = 0;
  RecorderSnapshot latest_ ABSL_GUARDED_BY(mu_);
  DriverCounters latest_counters_ ABSL_GUARDED_BY(mu_);
  HttpClientStats latest_client_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestRecord> records_ ABSL_GUARDED_BY(mu_);  // taken from the recorder
  uint64_t records_dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

Engine::Engine(EnginePlan plan) : plan_(std::move(plan)) {}

Engine::~Engine() {
  for (auto& worker : workers_) worker->StopSending(0);
  workers_.clear();  // Joins.
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(EnginePlan plan) {
  if (plan.threads < 1) return absl::InvalidArgumentError("engine: threads must be >= 1");
  if (plan.addresses.empty()) return absl::InvalidArgumentError("engine: no target address");
  if (plan.closed_loop && plan.concurrency == 0) {
    return absl::InvalidArgumentError("engine: a closed loop needs concurrency >= 1");
  }
  if (plan.prompt_stride == 0) return absl::InvalidArgumentError("engine: prompt_stride is 0");
  if (plan.prompts.conversation && !plan.closed_loop) {
    return absl::InvalidArgumentError("engine: conversations run as a closed loop");
  }
  if (plan.prompts.conversation && !plan.request.chat) {
    return absl::InvalidArgumentError(
        "conversations need a chat endpoint (.../chat/completions): a turn sends the history as "
        "messages");
  }
  // A thread without users (or slots, or requests) would only idle, or run uncapped.
  if (plan.concurrency > 0) {
    plan.threads = static_cast<int>(std::min<uint64_t>(plan.threads, plan.concurrency));
  }
  if (plan.max_requests > 0) {
    plan.threads = static_cast<int>(std::min<uint64_t>(plan.threads, plan.max_requests));
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(plan)));
  const EnginePlan& p = engine->plan_;
  if (p.endpoint.tls) {
    BENCH_ASSIGN_OR_RETURN(engine->tls_, TlsContext::CreateClient(p.tls));
  }
  BENCH_ASSIGN_OR_RETURN(engine->prompts_, PromptSource::Create(p.prompts));
  BENCH_ASSIGN_OR_RETURN(RequestBuilder builder, RequestBuilder::Create(p.request));
  engine->builder_ = std::make_unique<RequestBuilder>(std::move(builder));
  engine->head_.scheme = p.endpoint.tls ? "https" : "http";
  engine->head_.authority = p.endpoint.authority;
  engine->head_.path = p.endpoint.path;
  // ${env:...} references are resolved here, where requests are sent, and nowhere else.
  BENCH_ASSIGN_OR_RETURN(engine->head_.headers,
                         ResolveHeaders(p.headers, engine->builder_->streaming()));

  // phases_per_thread[t][k]: thread t's share of phase k.
  std::vector<std::vector<ArrivalPhase>> phases_per_thread(static_cast<size_t>(p.threads));
  for (const ArrivalPhase& phase : p.phases) {
    BENCH_ASSIGN_OR_RETURN(const std::vector<ArrivalSpec> shares,
                           SplitArrival(phase.spec, std::vector<double>(p.threads, 1.0)));
    for (int t = 0; t < p.threads; ++t) {
      phases_per_thread[t].push_back(ArrivalPhase{phase.start_ns, shares[t], phase.sequence_base});
    }
  }
  const std::vector<uint64_t> concurrency = SplitEvenly(p.concurrency, p.threads);
  const std::vector<uint64_t> max_requests = SplitEvenly(p.max_requests, p.threads);
  const std::vector<uint64_t> min_connections = SplitEvenly(p.client.min_connections, p.threads);
  for (int t = 0; t < p.threads; ++t) {
    DriverPlan driver;
    driver.closed_loop = p.closed_loop;
    driver.concurrency = static_cast<uint32_t>(concurrency[t]);
    // Threads are at most the cap and the request limit (above), so each gets at least one of
    // each and the shares sum exactly.
    driver.phases = phases_per_thread[t];
    driver.warmup_ns = p.warmup_ns;
    driver.duration_ns = p.duration_ns;
    driver.max_requests = max_requests[t];
    driver.timeout_ns = p.timeout_ns;
    driver.max_response_bytes = p.max_response_bytes;
    driver.max_response_tokens = p.max_response_tokens;
    driver.prompt_stride = p.prompt_stride * static_cast<uint32_t>(p.threads);
    driver.prompt_offset = p.prompt_offset + p.prompt_stride * static_cast<uint32_t>(t);
    driver.not_before_ns = p.not_before_ns;
    driver.conversations = p.prompts.conversation;
    driver.output_tokenizer = p.output_tokenizer.get();
    driver.think_ns = p.think_ns;
    driver.session_header = p.session_header;
    driver.session_id_prefix = p.session_id_prefix;
    HttpClientOptions client = p.client;
    client.min_connections = min_connections[t];
    engine->workers_.push_back(
        std::make_unique<Worker>(*engine, t, std::move(driver), std::move(client)));
  }
  return engine;
}

absl::Status Engine::Start() { return StartAt(MonotonicNowNs() + plan_.start_delay_ns); }

absl::Status Engine::StartAt(int64_t run_start_ns) {
  run_start_ns_ = run_start_ns;
  for (auto& worker : workers_) BENCH_RETURN_IF_ERROR(worker->Start(run_start_ns_));
  return absl::OkStatus();
}

void Engine::StopSending(int64_t drain_ns) {
  for (auto& worker : workers_) worker->StopSending(drain_ns);
}

void Engine::CutScheduleAt(int64_t run_ns) {
  for (auto& worker : workers_) worker->CutAt(run_ns);
}

bool Engine::WaitUntilFinished(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (auto& worker : workers_) {
    if (!worker->WaitFinished(deadline)) return false;
  }
  return true;
}

void Engine::TakeRecords(std::vector<RequestRecord>* out, uint64_t* dropped) {
  for (auto& worker : workers_) worker->TakeRecords(out, dropped);
}

EngineSnapshot Engine::Snapshot() {
  EngineSnapshot merged;
  merged.run_start_ns = run_start_ns_;
  merged.stages.resize(static_cast<size_t>(std::max(1, plan_.stage_count)));
  merged.turns.resize(static_cast<size_t>(std::max(0, plan_.turn_count)));
  merged.finished = true;
  for (auto& worker : workers_) {
    RecorderSnapshot recorder;
    DriverCounters counters;
    HttpClientStats client;
    worker->Snapshot(recorder, counters, client);
    for (size_t s = 0; s < recorder.stages.size() && s < merged.stages.size(); ++s) {
      BENCH_CHECK_OK(merged.stages[s].Merge(recorder.stages[s]));
    }
    for (size_t t = 0; t < recorder.turns.size() && t < merged.turns.size(); ++t) {
      BENCH_CHECK_OK(merged.turns[t].Merge(recorder.turns[t]));
    }
    if (merged.series.size() < recorder.series.size()) {
      const size_t old_size = merged.series.size();
      merged.series.resize(recorder.series.size());
      for (size_t i = old_size; i < merged.series.size(); ++i) {
        merged.series[i].start_ns = recorder.series[i].start_ns;
      }
    }
    for (size_t i = 0; i < recorder.series.size(); ++i) merged.series[i].Merge(recorder.series[i]);
    merged.started += counters.started;
    merged.in_flight += counters.in_flight;
    merged.client_queue += counters.client_queue;
    merged.finished = merged.finished && counters.finished;
    merged.client.connections.Merge(client.connections);
    merged.client.open_connections += client.open_connections;
    merged.client.queued_requests += client.queued_requests;
  }
  merged.taken_ns = MonotonicNowNs();
  return merged;
}

}  // namespace bench::engine
