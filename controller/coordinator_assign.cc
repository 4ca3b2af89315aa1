// The coordinator's shares: starting a run on the ready workers, assignments, rebalancing the
// rest of a run among live and joining workers, resuming a returning worker, stopping a run.
#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config_yaml.h"
#include "common/logging.h"
#include "common/rpc_share.h"
#include "controller/coordinator.h"
#include "controller/coordinator_internal.h"

namespace bench::controller {

void Coordinator::TryStart(RunRecord& run) {
  std::vector<Worker*> ready;
  size_t connected = 0;
  for (auto& [key, worker] : workers_) {
    if (!worker->hello) continue;
    ++connected;
    if (worker->run_id.empty() && worker->draining_run_id.empty() && worker->has_offset) {
      ready.push_back(worker.get());
    }
  }
  const size_t needed =
      run.config.cluster.workers > 0 ? static_cast<size_t>(run.config.cluster.workers) : 1;
  if (ready.size() < needed) {
    const std::string message =
        absl::StrCat("waiting for ", needed, needed == 1 ? " worker" : " workers", " (", connected,
                     " connected, ", ready.size(), " ready)");
    if (message != run.waiting_message) {
      run.waiting_message = message;
      Touch(run);
    }
    return;
  }
  if (options_.caps.max_workers > 0 &&
      ready.size() > static_cast<size_t>(options_.caps.max_workers)) {
    ready.resize(static_cast<size_t>(options_.caps.max_workers));
  }
  std::vector<double> weights;
  for (Worker* worker : ready) weights.push_back(worker->threads);
  absl::StatusOr<std::vector<WorkShare>> shares = SplitShare(run.whole, weights);
  if (!shares.ok()) {
    Fail(run, absl::StrCat("cannot split the run: ", shares.status().message()), 1);
    Finish(run);
    return;
  }
  // The workers send the headers: they get the secrets (over the authenticated channel).
  run.config_yaml = ConfigToYamlWithSecrets(run.config);
  const absl::Time start = absl::Now() + options_.start_delay;
  run.start = start;
  run.deadline = start + run.plan.total + run.config.target.timeout + absl::Seconds(30);
  run.phase = RunPhase::kRunning;
  run.stages.resize(run.config.load.type == LoadType::kStages
                        ? std::max<size_t>(1, run.config.load.stages.size())
                        : 1);
  run.turns.resize(static_cast<size_t>(TurnShardCount(run.config.prompts)));
  // The series gains a point per interval: its room is taken once rather than doubled as it
  // grows (each doubling leaves a hole a long-running controller's heap keeps).
  const size_t intervals = static_cast<size_t>(std::min<int64_t>(
      run.plan.total / std::max(run.config.metrics.interval, absl::Milliseconds(1)) + 2,
      kMaxSeriesPoints));
  run.series.reserve(intervals);
  // Shards are decoded outside the lock, a set of buffers per decode running at once (at most
  // one a core): the sets are made now, so that the run takes its memory at its start, not
  // whenever two shards first arrive together.
  WarmDecodeBuffers(
      std::min<size_t>(ready.size(), std::max(1u, std::thread::hardware_concurrency())),
      run.stages.size(), run.turns.size());
  for (size_t i = 0; i < ready.size(); ++i) {
    Worker& worker = *ready[i];
    Slot slot;
    slot.worker_id = worker.id;
    slot.name = worker.name;
    slot.key = worker.key;
    slot.threads = worker.threads;
    slot.share = (*shares)[i];
    slot.latest = (*shares)[i];
    slot.generations.push_back(run.generation);
    slot.gauges.reserve(intervals);
    run.slot_by_worker[slot.worker_id] = run.slots.size();
    run.slots.push_back(std::move(slot));
  }
  for (size_t i = 0; i < ready.size(); ++i) {
    Assign(run, *ready[i], run.slots[i], static_cast<uint32_t>(i),
           static_cast<uint32_t>(ready.size()));
  }
  BENCH_LOG(INFO) << "run " << run.id << ": started on " << ready.size()
                  << (ready.size() == 1 ? " worker" : " workers");
  Touch(run);
}

void Coordinator::Assign(RunRecord& run, Worker& worker, Slot& slot, uint32_t index,
                         uint32_t count) {
  worker.run_id = run.id;
  bench::v1::ControllerMessage message;
  bench::v1::Assignment* assignment = message.mutable_assignment();
  assignment->set_run_id(run.id);
  assignment->set_worker_index(index);
  assignment->set_worker_count(count);
  assignment->mutable_plan()->set_config_yaml(run.config_yaml);
  ToProto(slot.latest, assignment->mutable_plan()->mutable_share());
  assignment->mutable_plan()->set_report_interval_ns(Nanos(run.config.metrics.interval));
  // Time 0 of the run on the worker's clock; a later generation's share starts later by its
  // not_before_ns.
  assignment->set_start_worker_unix_ns(absl::ToUnixNanos(run.start) + worker.offset_ns);
  slot.clock_offset_ns = worker.offset_ns;
  slot.clock_rtt = worker.best_rtt;
  assignment->set_generation(slot.generations.back());
  assignment->set_enforce_allowed_targets(options_.enforce_allow_list);
  for (const std::string& entry : options_.allowed_targets) {
    assignment->add_allowed_targets(entry);
  }
  worker.peer->Send(message);
}

void Coordinator::Rebalance(RunRecord& run, const std::string& reason) {
  const absl::Time handover = absl::Now() + options_.start_delay;
  if (handover >= run.start + run.plan.total) {
    run.notes.push_back(absl::StrCat(reason,
                                     "; not rebalanced: the schedule ends before a new "
                                     "share could start"));
    return;
  }
  const int64_t handover_ns = std::max<int64_t>(0, Nanos(handover - run.start));
  // The workers that take part: those still on the run, then idle ones (joined mid-run).
  std::vector<size_t> live;
  for (size_t i = 0; i < run.slots.size(); ++i) {
    const Slot& slot = run.slots[i];
    if (!slot.lost && !slot.final && slot.key != 0 && workers_.count(slot.key) > 0) {
      live.push_back(i);
    }
  }
  std::vector<Worker*> joining;
  for (auto& [key, worker] : workers_) {
    if (worker->hello && worker->run_id.empty() && worker->draining_run_id.empty() &&
        worker->has_offset) {
      bool known = false;
      for (const Slot& slot : run.slots) known = known || slot.worker_id == worker->id;
      if (!known) joining.push_back(worker.get());
    }
  }
  if (options_.caps.max_workers > 0) {
    const size_t room = static_cast<size_t>(options_.caps.max_workers) -
                        std::min(live.size(), static_cast<size_t>(options_.caps.max_workers));
    if (joining.size() > room) joining.resize(room);
  }
  if (live.empty() && joining.empty()) {
    Fail(run, reason + "; no worker is left to take the run over", 1);
    return;
  }
  std::vector<double> weights;
  for (size_t i : live) weights.push_back(run.slots[i].threads);
  for (Worker* worker : joining) weights.push_back(worker->threads);
  WorkShare rest = run.whole;
  rest.not_before_ns = handover_ns;
  absl::StatusOr<std::vector<WorkShare>> shares = SplitShare(rest, weights);
  if (!shares.ok()) {
    Fail(run, absl::StrCat(reason, "; cannot re-split the run: ", shares.status().message()), 1);
    return;
  }
  ++run.generation;
  // Hand over: the current shares end where the new ones begin.
  for (size_t i : live) {
    Slot& slot = run.slots[i];
    for (uint32_t generation : slot.generations) {
      bench::v1::ControllerMessage message;
      message.mutable_stop()->set_run_id(run.id);
      message.mutable_stop()->set_cut_at_run_ns(handover_ns);
      message.mutable_stop()->set_generation(generation);
      if (slot.cuts.count(generation) == 0) slot.cuts[generation] = handover_ns;
      workers_[slot.key]->peer->Send(message);
    }
  }
  for (Worker* worker : joining) {
    Slot slot;
    slot.worker_id = worker->id;
    slot.name = worker->name;
    slot.key = worker->key;
    slot.threads = worker->threads;
    run.slot_by_worker[slot.worker_id] = run.slots.size();
    run.slots.push_back(std::move(slot));
    live.push_back(run.slots.size() - 1);
  }
  for (size_t k = 0; k < live.size(); ++k) {
    Slot& slot = run.slots[live[k]];
    if (slot.generations.empty()) slot.share = (*shares)[k];
    slot.latest = (*shares)[k];
    slot.generations.push_back(run.generation);
    Assign(run, *workers_[slot.key], slot, static_cast<uint32_t>(k),
           static_cast<uint32_t>(live.size()));
  }
  const std::string note = absl::StrFormat(
      "%s; rebalanced: from %.1f s of the run the rest is split among %d workers (generation %u)",
      reason, static_cast<double>(handover_ns) / 1e9, static_cast<int>(live.size()),
      run.generation);
  run.notes.push_back(note);
  BENCH_LOG(WARNING) << "run " << run.id << ": " << note;
  Touch(run);
}

void Coordinator::Resume(RunRecord& run, Worker& worker, Slot& slot) {
  // What it may have missed while away: the cuts of its older shares, its newest share (a worker
  // ignores one it already runs), or the end of the run.
  if (run.failing || run.cancelled) {
    bench::v1::ControllerMessage message;
    message.mutable_stop()->set_run_id(run.id);
    message.mutable_stop()->set_reason(run.cancelled ? bench::v1::Stop::REASON_CANCELLED
                                                     : bench::v1::Stop::REASON_FAILED);
    message.mutable_stop()->set_drain_ns(Nanos(absl::Seconds(2)));
    worker.peer->Send(message);
    return;
  }
  for (const auto& [generation, cut_ns] : slot.cuts) {
    bench::v1::ControllerMessage message;
    message.mutable_stop()->set_run_id(run.id);
    message.mutable_stop()->set_cut_at_run_ns(cut_ns);
    message.mutable_stop()->set_generation(generation);
    worker.peer->Send(message);
  }
  if (!slot.generations.empty()) {
    Assign(run, worker, slot, 0, static_cast<uint32_t>(run.slots.size()));
  }
}

void Coordinator::StopRun(RunRecord& run, bench::v1::Stop::Reason reason, absl::Duration drain) {
  for (Slot& slot : run.slots) {
    if (slot.key == 0 || slot.final) continue;
    auto it = workers_.find(slot.key);
    if (it == workers_.end()) continue;
    bench::v1::ControllerMessage message;
    message.mutable_stop()->set_run_id(run.id);
    message.mutable_stop()->set_reason(reason);
    message.mutable_stop()->set_drain_ns(Nanos(drain));
    it->second->peer->Send(message);
  }
}

}  // namespace bench::controller
