// The coordinator's private state, shared by its implementation files: coordinator.cc (workers,
// clients, the ticker), coordinator_assign.cc (splitting and assigning shares, rebalancing) and
// coordinator_results.cc (merging, results on disk, views for clients and /metrics). Nothing
// else includes it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/plan.h"
#include "common/run_stats.h"
#include "common/share.h"
#include "controller/coordinator.h"
#include "controller/request_log.h"

namespace bench::controller {

inline int64_t Nanos(absl::Duration duration) { return absl::ToInt64Nanoseconds(duration); }

constexpr int kOffsetSamples = 5;
// A series point index beyond any run (a shard naming one is ignored, not allocated for).
constexpr int64_t kMaxSeriesPoints = 1'000'000;

// A connected worker stream.
struct Coordinator::Worker {
  uint64_t key = 0;
  WorkerPeer* peer = nullptr;
  std::string address;
  bool hello = false;
  std::string id;
  std::string name;
  uint32_t threads = 1;
  absl::Time last_heard;
  // Clock offset (worker wall clock - controller wall clock) from the ping with the shortest
  // round trip so far.
  uint64_t ping_nonce = 0;
  absl::Time ping_sent;
  absl::Time next_ping;
  bool has_offset = false;
  int pongs = 0;
  absl::Duration best_rtt = absl::InfiniteDuration();
  // Shard acknowledgements are batched (one covers every shard up to its sequence): at most one
  // every ack interval, to keep a thousand workers' message rate down.
  std::string ack_run_id;
  uint64_t ack_pending = 0;  // 0: nothing to acknowledge
  absl::Time last_ack;
  absl::Time last_sent;  // acknowledgements and pings: what keeps the worker's lease alive
  int64_t offset_ns = 0;
  std::string run_id;  // The run it works on, if any.
  // A run it still holds that is over here (told to stop after a reconnect): it is not free
  // until its final shard for that run arrives.
  std::string draining_run_id;
};

// One worker's part in a run and everything it reported.
struct Coordinator::Slot {
  std::string worker_id;
  std::string name;
  uint64_t key = 0;  // 0 while its stream is gone
  absl::Time detached_at;
  uint32_t threads = 1;
  WorkShare share;                    // its first share (the per-worker figures show it)
  std::vector<uint32_t> generations;  // the shares it was given, oldest first
  std::map<uint32_t, int64_t> cuts;   // generation -> run time its schedule was cut at
  WorkShare latest;                   // the share of its newest generation
  bool acked = false;
  bool final = false;
  bool lost = false;
  uint64_t applied = 0;  // the last sequence applied
  // Its own figures are counters only: the histograms go straight into the run's merge, so a
  // thousand workers cost no thousand copies of every histogram.
  uint64_t sent = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t incomplete = 0;
  std::vector<std::pair<uint32_t, uint32_t>> gauges;  // per interval: in flight, client queue
  uint64_t started = 0;
  uint32_t in_flight = 0;
  uint32_t client_queue = 0;
  // The worker's clock minus the controller's when its share was assigned (ping/pong, from the
  // best round trip), and that round trip: its start time was given on its own clock.
  int64_t clock_offset_ns = 0;
  absl::Duration clock_rtt = absl::ZeroDuration();
};

struct Coordinator::RunRecord {
  std::string id;
  bool preflight = false;  // a client's test request before its run: not listed
  BenchmarkConfig config;
  std::vector<std::string> notes;
  Plan plan;
  WorkShare whole;
  double requested_rate = 0;  // open loop (trace: its rate over the window)
  RunPhase phase = RunPhase::kQueued;
  absl::Time created;
  absl::Time finished;
  absl::Time start;     // time 0 of the schedule, on the controller's clock
  absl::Time deadline;  // stop waiting for final shards
  std::vector<Slot> slots;
  std::string waiting_message;
  bool failing = false;
  absl::Time failed_at;
  int failure_exit_code = 1;
  bool cancelled = false;
  absl::Time cancelled_at;
  // slo.abortOnFail: stopped early because an SLO broke (judged on the merged figures).
  bool aborted = false;
  absl::Time aborted_at;
  std::string abort_reason;
  absl::Time next_slo_check;
  std::string error;
  int exit_code = -1;
  std::string summary_json;
  std::string summary_table;
  std::string results_path;
  uint64_t version = 1;
  uint64_t shard_errors = 0;
  BenchmarkConfig written;  // the config as results are written (output.dir of the controller)
  absl::Time next_flush;
  uint32_t generation = 1;         // of the newest split
  bool rebalance_pending = false;  // a worker joined or was lost: re-split at a tick
  bool share_orphaned = false;     // a lost worker's (or refused) share waits for a re-split
  std::string config_yaml;         // what assignments carry
  absl::flat_hash_map<std::string, size_t> slot_by_worker;  // worker id -> index in slots
  // Every applied shard merged, per stage, and the per-interval series summed over workers.
  std::vector<StatsShard> stages;
  std::vector<StatsShard> turns;  // conversations: per turn, as stages
  std::vector<IntervalPoint> series;
  ConnectionStats connections;  // every worker's, merged
  // metrics.raw: requests.jsonl, opened with the first records; closed by the final flush.
  std::unique_ptr<RequestLog> request_log;
  uint64_t records_dropped = 0;   // by workers' engines, or not written
  std::string request_log_error;  // set once a write failed: later records are dropped
};

}  // namespace bench::controller
