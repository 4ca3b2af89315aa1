// The controller's run engine (SPEC section 5), shared by `serve` and `run`: a registry of
// connected workers, a queue of runs (one runs at a time), the split of each run into worker
// shares, the common start, exactly-once application of delta shards, worker loss, and the
// merged RunResult that the summary and the results directory are made from. It speaks bench.v1
// messages but knows nothing of gRPC streams: the WorkerLink service hands it WorkerPeers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench.pb.h"
#include "common/config.h"
#include "common/mutex.h"
#include "common/run_stats.h"
#include "controller/run_result.h"

namespace bench::controller {

// One worker stream as the coordinator sees it. Implemented by the WorkerLink reactor; every
// method is thread-safe and never blocks.
class WorkerPeer {
 public:
  virtual ~WorkerPeer() = default;
  virtual void Send(const bench::v1::ControllerMessage& message) = 0;
  // Ends the stream (the worker reconnects); DetachWorker follows.
  virtual void Disconnect(const std::string& reason) = 0;
  // Ends the stream for good: the worker cannot work with this controller (an incompatible
  // protocol version), so it should stop rather than reconnect.
  virtual void Refuse(const std::string& reason) { Disconnect(reason); }
  // Ends the stream of a peer that broke the protocol (a message missing what it must carry).
  virtual void Reject(const std::string& reason) { Disconnect(reason); }
};

// Per-run limits a daemon enforces at submit; 0 = no limit.
struct RunCaps {
  double max_rate = 0;          // requests/s (the mean rate of open-loop shapes)
  int64_t max_concurrency = 0;  // load.concurrency
  absl::Duration max_duration = absl::ZeroDuration();  // warmup + duration
  int64_t max_workers = 0;                             // workers a run may use
};

struct CoordinatorOptions {
  std::string controller_id = "controller";
  absl::Duration lease = absl::Seconds(5);
  absl::Duration ping_interval = absl::Seconds(1);
  // Between the assignments and the common start: time for workers to load prompts and ready
  // their threads.
  absl::Duration start_delay = absl::Seconds(1);
  // Where result directories go; empty: each run's output.dir.
  std::string results_dir;
  bool enforce_allow_list = false;  // serve: always; run: off (the user's own machine)
  std::vector<std::string> allowed_targets;
  RunCaps caps;
  size_t max_queued_runs = 16;
  // On Start(), list the runs found under results_dir (their run.json); a run that was not
  // finished when the last controller stopped is shown as interrupted with what it flushed.
  bool recover_runs = false;
};

enum class RunPhase {
  kQueued,
  kWaitingForWorkers,
  kRunning,
  kDraining,
  kDone,
  kFailed,
  kCancelled,
  kInterrupted,
};
std::string RunPhaseName(RunPhase phase);
bool IsTerminal(RunPhase phase);

// A live view of a run, for progress displays.
struct Progress {
  double elapsed_s = 0;  // since time 0 of the schedule (negative before it)
  double total_s = 0;    // warmup + measurement
  bool warming_up = false;
  bool draining = false;
  // Open loop, requests/s now: the stage's own rate, a ramp's current one, else the mean; 0 for
  // a closed loop.
  double requested_rate = 0;
  uint32_t stage = 0;        // 1-based stage of load.type stages now; 0 outside them
  uint32_t stages = 0;       // the run's stage count (0 without stages)
  double achieved_rate = 0;  // requests sent per second over the last full interval
  uint64_t started = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint32_t in_flight = 0;
  uint32_t client_queue = 0;
  double ttft_p50_ms = -1;  // in-window successes so far; negative when none yet
  double ttft_p99_ms = -1;
  uint32_t workers = 0;
};

// What clients see of a run.
struct RunInfo {
  std::string run_id;
  std::string name;
  RunPhase phase = RunPhase::kQueued;
  absl::Time created;
  absl::Time finished;
  std::string error;          // why it failed, or what the user should know
  int exit_code = -1;         // SPEC section 7, once terminal
  std::string summary_json;   // once terminal (partial when failed or cancelled)
  std::string summary_table;  // the console table
  std::string results_path;   // the results directory, once written
  std::string target;         // endpoint (for list)
  Progress progress;
  uint64_t version = 0;  // bumps on every change a watcher cares about
};

// What /metrics shows: the controller's state now and counters since it started.
struct ControllerMetrics {
  size_t workers_connected = 0;                   // said hello
  size_t workers_busy = 0;                        // working on the active run
  size_t runs_queued = 0;                         // queued or waiting for workers
  std::map<std::string, uint64_t> runs_finished;  // by final phase name ("done", "failed", ...)
  // The active run, if any (running or draining).
  bool run_active = false;
  std::string run_id;
  std::string run_phase;     // RunPhaseName, "" when none
  double target_rate = 0;    // requests/s of the active open-loop run; 0 otherwise
  double achieved_rate = 0;  // requests sent per second over the last full interval
  uint32_t in_flight = 0;
  uint32_t client_queue = 0;
  // Every applied shard of every run since the controller started (in-window requests):
  // outcomes, tokens, errors by category and the latency histograms, merged exactly.
  StatsShard totals;
  // The active run's merged window so far (empty when none): its live percentiles.
  StatsShard run_window;
  uint64_t shards_applied = 0;
  uint64_t shards_duplicate = 0;  // acknowledged and ignored
  uint64_t shard_apply_errors = 0;
  bool ready = false;  // accepting runs (the ticker runs)
};

// What `status` without a run shows: the daemon and the workers connected to it.
struct ControllerView {
  struct WorkerView {
    std::string id;
    std::string name;
    uint32_t threads = 1;
    std::string run_id;  // "" when idle
    std::string address;
  };
  bool ready = false;
  std::vector<WorkerView> workers;  // said hello, in connection order
  size_t runs_queued = 0;
  std::string active_run_id;  // running or draining
};

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator();  // Stops the ticker; connected peers are not told.
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Starts the ticker thread (leases, pings, starting and finishing runs).
  void Start();

  // --- workers (called by the WorkerLink service) ---
  // Registers a stream; `peer` must stay valid until DetachWorker(key) returns.
  uint64_t AttachWorker(WorkerPeer* peer, std::string peer_address);
  void OnWorkerMessage(uint64_t key, const bench::v1::WorkerMessage& message);
  void DetachWorker(uint64_t key, const std::string& reason);
  ControllerMetrics Metrics();
  ControllerView View();
  const CoordinatorOptions& options() const { return options_; }
  // Accepting runs (started, not stopping): /readyz, without Metrics()'s copies.
  bool Ready();

  // --- clients ---
  // Queues a run; kInvalidArgument for a config that cannot run, kPermissionDenied for a target
  // outside the allow-list, kResourceExhausted over a cap or a full queue. `caller` names who
  // asked (audit log).
  // `preflight`: a client's one-request test before its run, left out of ListRuns.
  absl::StatusOr<std::string> Submit(const BenchmarkConfig& config, std::vector<std::string> notes,
                                     const std::string& caller, bool preflight = false);
  // What Submit would answer, without queueing anything (OK when it would accept the run).
  absl::Status Check(const BenchmarkConfig& config, const std::string& caller);
  absl::StatusOr<RunInfo> GetRun(const std::string& run_id);
  std::vector<RunInfo> ListRuns(size_t limit);
  // kNotFound for an unknown run, kFailedPrecondition for one already finished.
  absl::StatusOr<RunPhase> Cancel(const std::string& run_id, const std::string& caller,
                                  absl::Duration drain);
  // Blocks until the run's version differs from `seen_version` or `timeout` passes.
  absl::StatusOr<RunInfo> WaitForChange(const std::string& run_id, uint64_t seen_version,
                                        absl::Duration timeout);

 private:
  struct Worker;
  struct Slot;
  struct RunRecord;

  // Every check of a submitted config; the run's record, not queued yet. Without target.model,
  // the one model the target lists (a request to the target, once it is allowed).
  absl::StatusOr<std::unique_ptr<RunRecord>> Admit(const BenchmarkConfig& submitted,
                                                   std::vector<std::string> notes,
                                                   const std::string& caller);
  // The allow-list's verdict on the target (serve); audited when denied.
  absl::Status CheckAllowed(const BenchmarkConfig& config, const std::string& caller);
  void TickerMain();
  void Tick() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TryStart(RunRecord& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `decoded` holds the shard's stages decoded (when `decode_status` is OK).
  // metrics.raw: a shard's request records appended to the run's requests.jsonl.
  void WriteRecords(RunRecord& run, const Worker& worker, const bench::v1::ReportShard& shard)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyShard(Worker& worker, const bench::v1::ReportShard& shard,
                  const std::vector<StatsShard>& decoded,
                  const std::vector<StatsShard>& decoded_turns, const absl::Status& decode_status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendAck(Worker& worker, const std::string& run_id, uint64_t sequence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Acknowledgements are batched up to this (2 s, or a third of the lease when shorter).
  absl::Duration AckInterval() const;
  void StopRun(RunRecord& run, bench::v1::Stop::Reason reason, absl::Duration drain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fail(RunRecord& run, const std::string& error, int exit_code)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // slo.abortOnFail: judges every finished stage on its own and the window so far; stops the
  // run when an SLO broke.
  void CheckAbortOnFail(RunRecord& run, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-splits the rest of the run among the live workers and any idle ones (onWorkerLoss:
  // rebalance): their current shares end at a handover time a start delay from now, and new
  // shares of the whole run's schedule from that time on begin then.
  void Rebalance(RunRecord& run, const std::string& reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Assign(RunRecord& run, Worker& worker, Slot& slot, uint32_t index, uint32_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A worker back on the run after a reconnect: resends what it may have missed.
  void Resume(RunRecord& run, Worker& worker, Slot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(RunRecord& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the run's results so far (and run.json); creates the directory on first use.
  absl::Status Flush(RunRecord& run, bool final) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecoverRuns() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  RunResult Merge(const RunRecord& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Progress ProgressOf(const RunRecord& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  RunInfo InfoOf(const RunRecord& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Touch(RunRecord& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A change watchers may learn of up to a tick later (shard figures).
  void TouchQuietly(RunRecord& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  RunRecord* Active() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A shard's histograms inflated, before the lock is taken (see OnWorkerMessage).
  struct DecodeBuffers {
    std::vector<StatsShard> stages;
    std::vector<StatsShard> turns;
  };
  std::unique_ptr<DecodeBuffers> TakeDecodeBuffers();
  // At least `sets` spare sets, each with room for `stages` and `turns` decoded shards.
  void WarmDecodeBuffers(size_t sets, size_t stages, size_t turns);
  void ReturnDecodeBuffers(std::unique_ptr<DecodeBuffers> buffers);

  const CoordinatorOptions options_;
  // Decode buffers not in use: as many as shards were ever decoded at once (gRPC's threads),
  // reused by whichever thread comes next.
  Mutex decode_mu_;
  std::vector<std::unique_ptr<DecodeBuffers>> spare_decode_buffers_ ABSL_GUARDED_BY(decode_mu_);
  Mutex mu_;
  std::condition_variable_any changed_;  // watchers (WaitForChange)
  std::condition_variable_any tick_;     // the ticker
  bool unannounced_changes_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<RunRecord>> runs_ ABSL_GUARDED_BY(mu_);  // creation order
  StatsShard totals_ ABSL_GUARDED_BY(mu_);  // every finished run's stages, merged
  uint64_t shards_applied_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t shards_duplicate_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t shard_apply_errors_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread ticker_;
};

}  // namespace bench::controller
