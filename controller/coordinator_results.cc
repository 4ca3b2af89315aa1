// The coordinator's results: the merged RunResult of a run, its results directory (flushed while
// it goes, final at its end), the runs found on disk after a restart, and the views clients and
// /metrics read.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "controller/coordinator.h"
#include "controller/coordinator_internal.h"
#include "controller/plots.h"
#include "controller/report.h"
#include "controller/results.h"
#include "controller/summary.h"
#include "nlohmann/json.hpp"

namespace bench::controller {

ControllerMetrics Coordinator::Metrics() {
  MutexLock lock(mu_);
  ControllerMetrics metrics;
  metrics.ready = started_ && !stopping_;
  for (const auto& [key, worker] : workers_) {
    if (!worker->hello) continue;
    ++metrics.workers_connected;
    metrics.workers_busy += worker->run_id.empty() ? 0 : 1;
  }
  for (const auto& run : runs_) {
    if (IsTerminal(run->phase)) {
      ++metrics.runs_finished[RunPhaseName(run->phase)];
    } else if (run->phase == RunPhase::kQueued || run->phase == RunPhase::kWaitingForWorkers) {
      ++metrics.runs_queued;
    }
  }
  if (RunRecord* run = Active();
      run != nullptr && (run->phase == RunPhase::kRunning || run->phase == RunPhase::kDraining)) {
    const Progress progress = ProgressOf(*run);
    metrics.run_active = true;
    metrics.run_id = run->id;
    metrics.run_phase = RunPhaseName(run->phase);
    metrics.target_rate = run->requested_rate;
    metrics.achieved_rate = progress.achieved_rate;
    metrics.in_flight = progress.in_flight;
    metrics.client_queue = progress.client_queue;
    for (const StatsShard& stage : run->stages) (void)metrics.run_window.Merge(stage);
  }
  // Finished runs' figures plus the active run's so far: no second merge of every shard.
  metrics.totals = totals_;
  if (metrics.run_active) (void)metrics.totals.Merge(metrics.run_window);
  metrics.shards_applied = shards_applied_;
  metrics.shards_duplicate = shards_duplicate_;
  metrics.shard_apply_errors = shard_apply_errors_;
  return metrics;
}

ControllerView Coordinator::View() {
  MutexLock lock(mu_);
  ControllerView view;
  view.ready = started_ && !stopping_;
  for (const auto& [key, worker] : workers_) {  // keys grow: connection order
    if (!worker->hello) continue;
    view.workers.push_back(
        {worker->id, worker->name, worker->threads, worker->run_id, worker->address});
  }
  for (const auto& run : runs_) {
    if (run->phase == RunPhase::kQueued || run->phase == RunPhase::kWaitingForWorkers) {
      ++view.runs_queued;
    } else if (run->phase == RunPhase::kRunning || run->phase == RunPhase::kDraining) {
      view.active_run_id = run->id;
    }
  }
  return view;
}

RunResult Coordinator::Merge(const RunRecord& run) {
  const Plan& plan = run.plan;
  RunResult result;
  result.stages = run.stages;
  result.turns = run.turns;
  result.series = run.series;
  result.connections = run.connections;
  result.interval_ns = Nanos(run.config.metrics.interval);
  for (const Slot& slot : run.slots) {
    result.engine_threads += static_cast<int>(slot.threads);
    WorkerFigures figures;
    figures.name = slot.name;
    figures.worker_id = slot.worker_id;
    figures.threads = static_cast<int>(slot.threads);
    figures.active = slot.share.active;
    figures.concurrency = slot.share.concurrency;
    for (const SharePhase& phase : slot.share.phases) {
      if (phase.spec.type == ArrivalSpec::Type::kPoisson ||
          phase.spec.type == ArrivalSpec::Type::kGamma) {
        figures.rate += phase.spec.rate_per_s;
      }
    }
    figures.sent = slot.sent;
    figures.succeeded = slot.succeeded;
    figures.failed = slot.failed;
    figures.incomplete = slot.incomplete;
    figures.lost = slot.lost;
    figures.lost_in_flight = slot.lost ? slot.in_flight : 0;
    figures.clock_offset_ms = static_cast<double>(slot.clock_offset_ns) / 1e6;
    if (slot.clock_rtt < absl::InfiniteDuration()) {
      figures.clock_rtt_ms = absl::ToDoubleMilliseconds(slot.clock_rtt);
    }
    result.worker_figures.push_back(std::move(figures));
  }
  result.warmup_ns = Nanos(plan.warmup);
  result.window_ns = Nanos(plan.measurement);
  result.measured_window_ns = result.window_ns;
  if (run.cancelled || run.failing || run.aborted) {
    const absl::Time stopped = run.cancelled ? run.cancelled_at
                               : run.aborted ? run.aborted_at
                                             : run.failed_at;
    const int64_t ran = Nanos(stopped - run.start) - result.warmup_ns;
    result.measured_window_ns = std::clamp<int64_t>(ran, 0, result.window_ns);
  } else if (plan.capped && plan.cap_reached_after.has_value()) {
    result.measured_window_ns = std::min<int64_t>(result.window_ns, Nanos(*plan.cap_reached_after));
  }
  result.closed_loop = run.whole.closed_loop;
  result.concurrency = run.whole.concurrency;
  if (!result.closed_loop) {
    result.requested_rate = run.requested_rate;
    result.requested_requests = plan.measured_requests.value_or(0);
  }
  for (const StatsShard& stage : result.stages) result.window_started += stage.requests_sent;
  for (const IntervalPoint& point : result.series) {
    result.peak_client_queue = std::max(result.peak_client_queue, point.client_queue);
  }
  result.workers = static_cast<int>(run.slots.size());
  result.cancelled = run.cancelled;
  result.host = HostName();
  result.aborted = run.aborted;
  result.abort_reason = run.abort_reason;
  result.started_at_utc = absl::FormatTime(absl::RFC3339_sec, run.start, absl::UTCTimeZone());
  result.finished_at_utc = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
  result.notes = run.notes;
  if (run.shard_errors > 0) {
    result.notes.push_back(
        absl::StrCat(run.shard_errors, " report shards could not be applied; figures are short"));
  }
  if (run.written.metrics.raw) {
    const uint64_t written = run.request_log != nullptr ? run.request_log->written() : 0;
    result.notes.push_back(absl::StrCat("metrics.raw: requests.jsonl holds ", written,
                                        " records, one per request that ended"));
    if (!run.request_log_error.empty()) {
      result.records_missing =
          absl::StrCat(run.records_dropped, " records not written: ", run.request_log_error);
    } else if (run.records_dropped > 0) {
      result.records_missing = absl::StrCat(
          run.records_dropped,
          " records dropped by workers (an engine thread keeps at most 100,000 between report "
          "shards, a shard carries at most 200,000 or about 16 MB)");
    }
  }
  return result;
}

void Coordinator::Finish(RunRecord& run) {
  if (run.failing) {
    run.phase = RunPhase::kFailed;
    run.exit_code = run.failure_exit_code;
  } else if (run.cancelled) {
    run.phase = RunPhase::kCancelled;
    run.exit_code = 5;
  } else {
    run.phase = RunPhase::kDone;
  }
  run.finished = absl::Now();
  // A run refused before any worker started sent nothing: there are no results to keep.
  bool started = false;
  for (const Slot& slot : run.slots) started = started || slot.acked;
  if (started || !run.failing) {
    if (absl::Status flushed = Flush(run, true); !flushed.ok()) {
      run.error = absl::StrCat(run.error.empty() ? "" : run.error + "; ",
                               "cannot write results: ", flushed.message());
      run.phase = RunPhase::kFailed;
      run.exit_code = 1;
    }
  }
  for (const StatsShard& stage : run.stages) (void)totals_.Merge(stage);
  for (auto& [key, worker] : workers_) {
    if (worker->run_id == run.id) worker->run_id.clear();
  }
  BENCH_LOG(INFO) << "run " << run.id << " " << RunPhaseName(run.phase) << " (exit "
                  << run.exit_code << ")"
                  << (run.results_path.empty() ? "" : ", results in " + run.results_path);
  Touch(run);
}

absl::Status Coordinator::Flush(RunRecord& run, bool final) {
  RunResult result = Merge(run);
  const PrometheusConfig& prometheus = run.written.metrics.prometheus;
  if (final && !prometheus.endpoint.empty()) {
    // Read once, at the end, over the window (and the drain); each request is bounded, so a
    // dead Prometheus delays the results by seconds, and only warns.
    const absl::Time window_start = run.start + run.plan.warmup;
    PrometheusCollection collected =
        CollectPrometheus(prometheus, window_start, absl::Now(), absl::Seconds(3));
    result.prometheus_json = std::move(collected.json);
    result.prometheus_hit_ratio = collected.cache_hit_ratio;
    result.prometheus_error = std::move(collected.error);
    result.prometheus_series = std::move(collected.series);
  }
  if (!final) {
    result.notes.push_back(absl::StrCat("partial: flushed while the run was ",
                                        RunPhaseName(run.phase), "; figures up to ",
                                        result.finished_at_utc));
  }
  const RunSummary summary = Summarize(run.written, result);
  if (final) {
    run.summary_json = SummaryToJson(summary);
    run.summary_table = RenderSummaryTable(summary);
    if (run.phase == RunPhase::kDone) run.exit_code = ExitCodeFor(summary);
  }
  if (run.results_path.empty()) {
    BENCH_ASSIGN_OR_RETURN(run.results_path, CreateResultsDirectory(run.written, run.start));
  }
  BENCH_RETURN_IF_ERROR(WriteResultsInto(run.results_path, run.written, result, summary));
  if (final) run.request_log.reset();  // every shard is in: requests.jsonl is complete
  if (final && run.written.output.Wants(OutputFormat::kPng)) {
    // Charts are drawn once, at the end. A chart that fails costs no result: the figures are
    // written; the error is logged and shown with the run.
    if (absl::Status plotted = WritePlots(run.results_path, result, summary); !plotted.ok()) {
      BENCH_LOG(WARNING) << "run " << run.id << ": plots not drawn: " << plotted;
      run.error = absl::StrCat(run.error.empty() ? "" : run.error + "; ",
                               "plots not drawn: ", plotted.message());
    }
  }
  if (final) {
    // Reports are rebuilt from the files just written, as `report --input DIR` does.
    if (absl::Status reported = WriteRunReports(run.results_path, run.written); !reported.ok()) {
      BENCH_LOG(WARNING) << "run " << run.id << ": reports not written: " << reported;
      run.error = absl::StrCat(run.error.empty() ? "" : run.error + "; ",
                               "reports not written: ", reported.message());
    }
  }
  nlohmann::json state;
  state["run_id"] = run.id;
  state["name"] = run.config.benchmark.name;
  state["state"] = RunPhaseName(run.phase);
  state["exit_code"] = run.exit_code;
  state["target"] = run.config.target.endpoint;
  state["created_unix_ns"] = absl::ToUnixNanos(run.created);
  state["finished_unix_ns"] = final ? absl::ToUnixNanos(run.finished) : 0;
  state["error"] = run.error;
  return WriteResultFile(run.results_path + "/run.json", state.dump(2) + "\n");
}

void Coordinator::RecoverRuns() {
  namespace fs = std::filesystem;
  std::error_code error;
  std::vector<std::unique_ptr<RunRecord>> found;
  for (auto it = fs::directory_iterator(options_.results_dir, error);
       !error && it != fs::directory_iterator(); it.increment(error)) {
    const fs::path state_path = it->path() / "run.json";
    std::ifstream file(state_path);
    if (!file) continue;
    const nlohmann::json state = nlohmann::json::parse(file, nullptr, /*allow_exceptions=*/false);
    if (!state.is_object() || !state.contains("run_id") || !state["run_id"].is_string()) continue;
    auto run = std::make_unique<RunRecord>();
    run->id = state.value("run_id", "");
    run->config.benchmark.name = state.value("name", "");
    run->config.target.endpoint = state.value("target", "");
    run->created = absl::FromUnixNanos(state.value("created_unix_ns", int64_t{0}));
    run->finished = absl::FromUnixNanos(state.value("finished_unix_ns", int64_t{0}));
    run->error = state.value("error", "");
    run->exit_code = state.value("exit_code", -1);
    run->results_path = it->path().string();
    const std::string phase = state.value("state", "");
    run->phase = phase == "done"        ? RunPhase::kDone
                 : phase == "failed"    ? RunPhase::kFailed
                 : phase == "cancelled" ? RunPhase::kCancelled
                                        : RunPhase::kInterrupted;
    std::ifstream summary(it->path() / "summary.json");
    if (summary) {
      std::stringstream text;
      text << summary.rdbuf();
      run->summary_json = text.str();
    }
    if (run->phase == RunPhase::kInterrupted && phase != "interrupted") {
      run->exit_code = 1;
      run->finished = absl::Now();
      run->error = absl::StrCat("interrupted: the controller stopped while the run was ", phase,
                                "; the results hold what was flushed before");
      nlohmann::json rewritten = state;
      rewritten["state"] = "interrupted";
      rewritten["exit_code"] = 1;
      rewritten["error"] = run->error;
      rewritten["finished_unix_ns"] = absl::ToUnixNanos(run->finished);
      (void)WriteResultFile(state_path.string(), rewritten.dump(2) + "\n");
      BENCH_LOG(WARNING) << "run " << run->id << " was " << phase
                         << " when the controller stopped: now interrupted";
    }
    found.push_back(std::move(run));
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a->created < b->created; });
  for (auto& run : found) runs_.push_back(std::move(run));
}

Progress Coordinator::ProgressOf(const RunRecord& run) {
  Progress progress;
  const Plan& plan = run.plan;
  progress.total_s = absl::ToDoubleSeconds(plan.total);
  progress.requested_rate = run.requested_rate;
  progress.workers = static_cast<uint32_t>(run.slots.size());
  if (run.slots.empty()) return progress;
  const absl::Time now = IsTerminal(run.phase) ? run.finished : absl::Now();
  progress.elapsed_s = absl::ToDoubleSeconds(now - run.start);
  progress.warming_up = progress.elapsed_s < absl::ToDoubleSeconds(plan.warmup);
  // Where the shape is now: the stage and its own rate, or the ramp's current rate.
  const absl::Duration into = absl::Seconds(progress.elapsed_s) - plan.warmup;
  if (plan.stages.size() > 1) {
    progress.stages = static_cast<uint32_t>(plan.stages.size());
    for (size_t k = 0; k < plan.stages.size() && into >= absl::ZeroDuration(); ++k) {
      if (into < plan.stages[k].start + plan.stages[k].duration || k + 1 == plan.stages.size()) {
        progress.stage = static_cast<uint32_t>(k + 1);
        progress.requested_rate = plan.stages[k].rate;
        break;
      }
    }
  } else if (run.config.load.type == LoadType::kRamp && plan.measurement > absl::ZeroDuration()) {
    const RampConfig& ramp = run.config.load.ramp;
    const double share = std::clamp(absl::FDivDuration(into, plan.measurement), 0.0, 1.0);
    progress.requested_rate = ramp.from + (ramp.to - ramp.from) * share;
  }
  progress.draining =
      run.phase == RunPhase::kDraining || run.cancelled || run.failing || run.aborted;
  const std::vector<IntervalPoint>& series = run.series;
  const int64_t interval_ns = Nanos(run.config.metrics.interval);
  for (const Slot& slot : run.slots) {
    progress.started += slot.started;
    progress.in_flight += slot.in_flight;
    progress.client_queue += slot.client_queue;
  }
  for (const IntervalPoint& point : series) {
    progress.succeeded += point.succeeded;
    progress.failed += point.failed;
  }
  const int64_t index =
      interval_ns > 0 ? static_cast<int64_t>(progress.elapsed_s * 1e9) / interval_ns : 0;
  if (index >= 1 && static_cast<size_t>(index - 1) < series.size()) {
    progress.achieved_rate =
        static_cast<double>(series[index - 1].started) / (static_cast<double>(interval_ns) / 1e9);
  }
  // TTFT over the stages (one, unless load.type is stages), without copying the others.
  Histogram merged_ttft;
  if (run.stages.size() > 1) {
    for (const StatsShard& stage : run.stages) {
      (void)merged_ttft.Add(stage.histogram(LatencyMetric::kTtft));
    }
  }
  const Histogram& ttft =
      run.stages.size() == 1 ? run.stages.front().histogram(LatencyMetric::kTtft) : merged_ttft;
  if (ttft.TotalCount() > 0) {
    progress.ttft_p50_ms = static_cast<double>(ttft.ValueAtPercentile(50)) / 1000.0;
    progress.ttft_p99_ms = static_cast<double>(ttft.ValueAtPercentile(99)) / 1000.0;
  }
  return progress;
}

RunInfo Coordinator::InfoOf(const RunRecord& run) {
  RunInfo info;
  info.run_id = run.id;
  info.name = run.config.benchmark.name;
  info.phase = run.phase;
  info.created = run.created;
  info.finished = run.finished;
  info.error = run.error;
  if (info.error.empty() && run.phase == RunPhase::kWaitingForWorkers) {
    info.error = run.waiting_message;
  }
  info.exit_code = run.exit_code;
  info.summary_json = run.summary_json;
  info.summary_table = run.summary_table;
  info.results_path = run.results_path;
  info.target = run.config.target.endpoint;
  info.progress = ProgressOf(run);
  info.version = run.version;
  return info;
}

}  // namespace bench::controller
