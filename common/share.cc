#include "common/share.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace bench {
namespace {

int64_t Nanos(absl::Duration duration) { return absl::ToInt64Nanoseconds(duration); }

// The schedule of an open-loop run as phases: warmup holds the starting rate of a ramp or of the
// first stage (as the plan says), then the configured shape runs over the measurement window.
absl::StatusOr<std::vector<SharePhase>> Phases(const BenchmarkConfig& config, const Plan& plan,
                                               const Trace* trace) {
  const LoadConfig& load = config.load;
  const int64_t warmup = Nanos(plan.warmup);
  const int64_t total = Nanos(plan.total);
  ArrivalSpec spec;
  spec.seed = config.benchmark.seed;
  std::vector<SharePhase> phases;
  auto add_warmup_at = [&](double rate) {
    if (warmup == 0 || rate <= 0) return;
    ArrivalSpec warm;
    warm.type = ArrivalSpec::Type::kConstant;
    warm.rate_per_s = rate;
    warm.duration_ns = warmup;
    phases.push_back(SharePhase{0, warm, 0});
  };
  auto next_base = [&]() -> absl::StatusOr<uint64_t> {
    if (phases.empty()) return 0;
    BENCH_ASSIGN_OR_RETURN(const double count, ExpectedArrivalCount(phases.back().spec));
    return static_cast<uint64_t>(count);
  };
  switch (load.type) {
    case LoadType::kConstant:
    case LoadType::kPoisson:
    case LoadType::kGamma:
      spec.type = load.type == LoadType::kConstant  ? ArrivalSpec::Type::kConstant
                  : load.type == LoadType::kPoisson ? ArrivalSpec::Type::kPoisson
                                                    : ArrivalSpec::Type::kGamma;
      spec.rate_per_s = load.rate;
      spec.burstiness = load.burstiness;
      spec.duration_ns = total;
      phases.push_back(SharePhase{0, spec, 0});
      break;
    case LoadType::kBurst:
      spec.type = ArrivalSpec::Type::kBurst;
      spec.burst_size = load.burst.size;
      spec.burst_every_ns = Nanos(load.burst.every);
      spec.duration_ns = total;
      phases.push_back(SharePhase{0, spec, 0});
      break;
    case LoadType::kRamp: {
      add_warmup_at(load.ramp.from);
      spec.type = ArrivalSpec::Type::kRamp;
      spec.ramp_from_per_s = load.ramp.from;
      spec.ramp_to_per_s = load.ramp.to;
      spec.duration_ns = Nanos(plan.measurement);
      BENCH_ASSIGN_OR_RETURN(const uint64_t base, next_base());
      phases.push_back(SharePhase{warmup, spec, base});
      break;
    }
    case LoadType::kStages: {
      add_warmup_at(load.stages.empty() ? 0 : load.stages.front().rate);
      spec.type = ArrivalSpec::Type::kStages;
      for (const StageConfig& stage : load.stages) {
        spec.stages.push_back(ArrivalStage{stage.rate, Nanos(stage.duration)});
      }
      spec.duration_ns = Nanos(plan.measurement);
      BENCH_ASSIGN_OR_RETURN(const uint64_t base, next_base());
      phases.push_back(SharePhase{warmup, spec, base});
      break;
    }
    case LoadType::kTrace:
      // One phase over warmup + window: record i at its offset, prompt i with its lengths.
      // Records at or after the window's end are not sent; warmup is simply the records before
      // benchmark.warmup.
      if (trace == nullptr) return absl::InvalidArgumentError("load.trace: no parsed trace");
      spec.type = ArrivalSpec::Type::kTrace;
      spec.trace_offsets_ns.reserve(trace->records.size());
      for (const TraceRecord& record : trace->records) {
        spec.trace_offsets_ns.push_back(record.offset_ns);
      }
      spec.duration_ns = total;
      phases.push_back(SharePhase{0, std::move(spec), 0});
      break;
    case LoadType::kConcurrency:
      break;  // Closed loop: no schedule.
  }
  return phases;
}

}  // namespace

std::vector<uint64_t> SplitCount(uint64_t total, const std::vector<double>& weights) {
  std::vector<uint64_t> parts(weights.size(), 0);
  if (weights.empty()) return parts;
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> remainders(weights.size(), 0);
  uint64_t assigned = 0;
  for (size_t j = 0; j < weights.size(); ++j) {
    const double exact = sum > 0 ? static_cast<double>(total) * weights[j] / sum : 0;
    parts[j] = std::min<uint64_t>(total - assigned, static_cast<uint64_t>(std::floor(exact)));
    remainders[j] = exact - static_cast<double>(parts[j]);
    assigned += parts[j];
  }
  std::vector<size_t> order(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return remainders[a] > remainders[b]; });
  for (size_t r = 0; assigned < total; r = (r + 1) % order.size(), ++assigned) ++parts[order[r]];
  return parts;
}

absl::StatusOr<WorkShare> MakeWholeShare(const BenchmarkConfig& config, const Plan& plan,
                                         const Trace* trace) {
  WorkShare share;
  share.closed_loop = !IsOpenLoop(config.load.type);
  share.concurrency = static_cast<uint32_t>(share.closed_loop && config.load.concurrency == 0
                                                ? kDefaultClosedLoopConcurrency
                                                : config.load.concurrency);
  BENCH_ASSIGN_OR_RETURN(share.phases, Phases(config, plan, trace));
  share.max_requests = static_cast<uint64_t>(std::max<int64_t>(0, config.benchmark.max_requests));
  share.min_connections = static_cast<uint32_t>(std::max<int64_t>(0, config.target.connections));
  if (trace != nullptr && config.load.type == LoadType::kTrace) {
    share.fixed_lengths.reserve(trace->records.size());
    for (const TraceRecord& record : trace->records) {
      share.fixed_lengths.push_back({record.input_length, record.output_length});
    }
  }
  return share;
}

absl::StatusOr<std::vector<WorkShare>> SplitShare(const WorkShare& whole,
                                                  const std::vector<double>& weights) {
  if (weights.empty()) return absl::InvalidArgumentError("split: no parts");
  for (size_t j = 0; j < weights.size(); ++j) {
    if (!std::isfinite(weights[j]) || weights[j] <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("split: weights[", j, "] must be finite and > 0, got ", weights[j]));
    }
  }
  const size_t n = weights.size();
  std::vector<WorkShare> parts(n);
  for (size_t j = 0; j < n; ++j) {
    WorkShare& part = parts[j];
    part.active = whole.active;
    part.closed_loop = whole.closed_loop;
    part.prompt_stride = whole.prompt_stride * static_cast<uint32_t>(n);
    part.prompt_offset = whole.prompt_offset + whole.prompt_stride * static_cast<uint32_t>(j);
    part.fixed_lengths = whole.fixed_lengths;
    part.not_before_ns = whole.not_before_ns;
  }
  if (!whole.active) return parts;

  // Which parts take part: under a cap each needs at least one slot (and one request), or it
  // would run uncapped. Removing the zero parts can starve another one: repeat until stable.
  std::vector<size_t> active(n);
  std::iota(active.begin(), active.end(), 0);
  auto weights_of = [&](const std::vector<size_t>& ids) {
    std::vector<double> w;
    for (size_t id : ids) w.push_back(weights[id]);
    return w;
  };
  std::vector<uint64_t> concurrency, max_requests;
  for (;;) {
    const std::vector<double> w = weights_of(active);
    concurrency = SplitCount(whole.concurrency, w);
    max_requests = SplitCount(whole.max_requests, w);
    std::vector<size_t> kept;
    for (size_t k = 0; k < active.size(); ++k) {
      const bool starved = (whole.concurrency > 0 && concurrency[k] == 0) ||
                           (whole.max_requests > 0 && max_requests[k] == 0);
      if (!starved) kept.push_back(active[k]);
    }
    if (kept.size() == active.size()) break;
    active = std::move(kept);
    if (active.empty()) break;
  }
  for (WorkShare& part : parts) part.active = false;
  if (active.empty()) return parts;

  std::vector<std::vector<ArrivalSpec>> phase_parts;
  for (const SharePhase& phase : whole.phases) {
    BENCH_ASSIGN_OR_RETURN(std::vector<ArrivalSpec> specs,
                           SplitArrival(phase.spec, weights_of(active)));
    phase_parts.push_back(std::move(specs));
  }
  const std::vector<uint64_t> min_connections =
      SplitCount(whole.min_connections, weights_of(active));
  for (size_t k = 0; k < active.size(); ++k) {
    WorkShare& part = parts[active[k]];
    part.active = true;
    part.concurrency = static_cast<uint32_t>(concurrency[k]);
    part.max_requests = max_requests[k];
    part.min_connections = static_cast<uint32_t>(min_connections[k]);
    for (size_t p = 0; p < whole.phases.size(); ++p) {
      part.phases.push_back(
          SharePhase{whole.phases[p].start_ns, phase_parts[p][k], whole.phases[p].sequence_base});
    }
  }
  return parts;
}

}  // namespace bench
