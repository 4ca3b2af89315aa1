#include "controller/metrics_exporter.h"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"
#include "common/run_stats.h"

namespace bench::controller {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr double kMicrosPerSecond = 1e6;

// Upper bounds in microseconds: integers, so an HdrHistogram bucket's highest equivalent value
// compares exactly, and each bound / 1e6 prints short (0.00025, not 0.0002499999999999999).
// TTFT as vLLM's vllm:time_to_first_token_seconds, so the two can sit on one dashboard.
constexpr std::array<int64_t, 22> kTtftBoundsUs = {
    1'000,      5'000,       10'000,      20'000,       40'000,     60'000,
    80'000,     100'000,     250'000,     500'000,      750'000,    1'000'000,
    2'500'000,  5'000'000,   7'500'000,   10'000'000,   20'000'000, 40'000'000,
    80'000'000, 160'000'000, 640'000'000, 2'560'000'000};
// Token gaps: from 1 ms (simulators and fast decoders) to 80 s.
constexpr std::array<int64_t, 24> kTokenGapBoundsUs = {
    1'000,   2'500,     5'000,     7'500,     10'000,     15'000,     20'000,     25'000,
    50'000,  75'000,    100'000,   150'000,   200'000,    300'000,    400'000,    500'000,
    750'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 20'000'000, 40'000'000, 80'000'000};
// Whole requests, as vLLM's vllm:e2e_request_latency_seconds plus 0.1 and 0.25 s.
constexpr std::array<int64_t, 21> kE2eBoundsUs = {
    100'000,    250'000,    500'000,     800'000,     1'000'000,   1'500'000,   2'000'000,
    2'500'000,  5'000'000,  10'000'000,  15'000'000,  20'000'000,  30'000'000,  40'000'000,
    50'000'000, 60'000'000, 120'000'000, 240'000'000, 480'000'000, 960'000'000, 1'920'000'000};
// How late the generator sent: healthy is tens of microseconds, trouble is milliseconds.
constexpr std::array<int64_t, 18> kScheduleLagBoundsUs = {
    10,     50,     100,     250,     500,     1'000,     2'500,     5'000,     10'000,
    25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

struct LatencySeries {
  LatencyMetric metric;
  const char* name;  // after llmd_bench_ and llmd_bench_run_
  const char* what;  // for the help text
  const int64_t* bounds_us;
  size_t bound_count;
};
const std::array<LatencySeries, 5> kLatencySeries = {{
    {LatencyMetric::kScheduleLag, "schedule_lag_seconds",
     "send time minus intended send time (the generator's own lateness)",
     kScheduleLagBoundsUs.data(), kScheduleLagBoundsUs.size()},
    {LatencyMetric::kTtft, "ttft_seconds", "time to first token of successful requests",
     kTtftBoundsUs.data(), kTtftBoundsUs.size()},
    {LatencyMetric::kItl, "itl_seconds", "gaps between consecutive output chunks",
     kTokenGapBoundsUs.data(), kTokenGapBoundsUs.size()},
    {LatencyMetric::kTpot, "tpot_seconds",
     "time per output token after the first, per successful request", kTokenGapBoundsUs.data(),
     kTokenGapBoundsUs.size()},
    {LatencyMetric::kE2eLatency, "e2e_latency_seconds",
     "end-to-end latency of successful requests from their send time", kE2eBoundsUs.data(),
     kE2eBoundsUs.size()},
}};

struct Quantile {
  const char* label;
  double percentile;
};
constexpr std::array<Quantile, 3> kQuantiles = {{{"0.5", 50}, {"0.9", 90}, {"0.99", 99}}};

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

// One sample of a gauge or counter family.
void AddSample(MetricFamily& family, double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

MetricFamily Single(std::string name, std::string help, MetricType type, double value) {
  MetricFamily family = Family(std::move(name), std::move(help), type);
  AddSample(family, value);
  return family;
}

// Cumulative counts at `bounds_us` (ascending) from the HdrHistogram's non-zero buckets, which
// come in increasing value order: a bucket counts under a bound when its highest equivalent
// value is <= the bound.
ClientMetric::Histogram ToPrometheus(const Histogram& histogram, const int64_t* bounds_us,
                                     size_t bound_count) {
  ClientMetric::Histogram out;
  out.bucket.resize(bound_count + 1);
  size_t next = 0;
  uint64_t running = 0;
  histogram.ForEachNonZeroBucket([&](const Histogram::Bucket& bucket) {
    while (next < bound_count && bucket.highest_value > bounds_us[next]) {
      out.bucket[next++].cumulative_count = running;
    }
    running += static_cast<uint64_t>(bucket.count);
  });
  for (; next < bound_count; ++next) out.bucket[next].cumulative_count = running;
  for (size_t i = 0; i < bound_count; ++i) {
    out.bucket[i].upper_bound = static_cast<double>(bounds_us[i]) / kMicrosPerSecond;
  }
  const uint64_t total = static_cast<uint64_t>(histogram.TotalCount());
  out.bucket[bound_count].upper_bound = std::numeric_limits<double>::infinity();  // le="+Inf"
  out.bucket[bound_count].cumulative_count = total;
  out.sample_count = total;
  out.sample_sum = histogram.Mean() * static_cast<double>(total) / kMicrosPerSecond;
  return out;
}

std::vector<MetricFamily> Families(const ControllerMetrics& m) {
  std::vector<MetricFamily> families;
  constexpr MetricType kGauge = MetricType::Gauge;
  constexpr MetricType kCounter = MetricType::Counter;

  // --- the controller now ---
  families.push_back(Single("llmd_bench_ready",
                            "1 while the controller accepts runs (as /readyz), else 0.", kGauge,
                            m.ready ? 1 : 0));
  families.push_back(Single("llmd_bench_workers_connected",
                            "Workers connected to the controller (said hello).", kGauge,
                            static_cast<double>(m.workers_connected)));
  families.push_back(Single("llmd_bench_workers_busy", "Workers working on the active run.", kGauge,
                            static_cast<double>(m.workers_busy)));
  families.push_back(Single("llmd_bench_runs_queued",
                            "Runs queued or waiting for workers (not yet started).", kGauge,
                            static_cast<double>(m.runs_queued)));
  {
    MetricFamily finished =
        Family("llmd_bench_runs_finished_total",
               "Runs that ended, by final state (with those found in the results "
               "directory at start).",
               kCounter);
    // Every final state from the start, so a rate() over it has a series before the first run.
    std::map<std::string, uint64_t> by_state = {{RunPhaseName(RunPhase::kDone), 0},
                                                {RunPhaseName(RunPhase::kFailed), 0},
                                                {RunPhaseName(RunPhase::kCancelled), 0},
                                                {RunPhaseName(RunPhase::kInterrupted), 0}};
    for (const auto& [state, count] : m.runs_finished) by_state[state] = count;
    for (const auto& [state, count] : by_state) {
      AddSample(finished, static_cast<double>(count), {{"state", state}});
    }
    families.push_back(std::move(finished));
  }

  // --- the active run ---
  families.push_back(Single("llmd_bench_run_active", "1 while a run is running or draining.",
                            kGauge, m.run_active ? 1 : 0));
  {
    MetricFamily info = Family("llmd_bench_run_info",
                               "The active run: always 1, its id and phase in the labels.", kGauge);
    if (m.run_active) AddSample(info, 1, {{"run_id", m.run_id}, {"phase", m.run_phase}});
    families.push_back(std::move(info));
  }
  families.push_back(Single("llmd_bench_target_rate_requests_per_second",
                            "Requested rate of the active open-loop run; 0 otherwise.", kGauge,
                            m.target_rate));
  families.push_back(Single("llmd_bench_achieved_rate_requests_per_second",
                            "Requests sent per second by the active run over the last full "
                            "interval.",
                            kGauge, m.achieved_rate));
  families.push_back(Single("llmd_bench_requests_in_flight",
                            "Requests of the active run sent and not yet ended.", kGauge,
                            m.in_flight));
  families.push_back(Single("llmd_bench_requests_queued",
                            "Requests of the active run due but waiting in the workers for a "
                            "connection or concurrency slot (client-side queue).",
                            kGauge, m.client_queue));

  // --- every run since start (in-window requests of applied shards) ---
  const StatsShard& totals = m.totals;
  {
    MetricFamily requests = Family(
        "llmd_bench_requests_total",
        "In-window requests of every run since the controller started, by outcome.", kCounter);
    AddSample(requests, static_cast<double>(totals.succeeded), {{"outcome", "success"}});
    AddSample(requests, static_cast<double>(totals.failed), {{"outcome", "failed"}});
    AddSample(requests, static_cast<double>(totals.incomplete), {{"outcome", "incomplete"}});
    families.push_back(std::move(requests));
  }
  {
    MetricFamily errors = Family("llmd_bench_request_errors_total",
                                 "Failed in-window requests by error category (http_5xx:503, "
                                 "timeout, rst_stream:2, ...).",
                                 kCounter);
    for (const auto& [category, count] : totals.errors) {
      AddSample(errors, static_cast<double>(count), {{"category", category}});
    }
    families.push_back(std::move(errors));
  }
  families.push_back(Single("llmd_bench_input_tokens_total",
                            "Prompt tokens of successful in-window requests.", kCounter,
                            static_cast<double>(totals.input_tokens)));
  families.push_back(Single("llmd_bench_output_tokens_total",
                            "Output tokens of successful in-window requests.", kCounter,
                            static_cast<double>(totals.output_tokens)));
  for (const LatencySeries& series : kLatencySeries) {
    MetricFamily family =
        Family(std::string("llmd_bench_") + series.name,
               std::string("Every run since start: ") + series.what + ", in seconds.",
               MetricType::Histogram);
    ClientMetric metric;
    metric.histogram =
        ToPrometheus(totals.histogram(series.metric), series.bounds_us, series.bound_count);
    family.metric.push_back(std::move(metric));
    families.push_back(std::move(family));
  }

  // --- the active run's percentiles so far ---
  for (const LatencySeries& series : kLatencySeries) {
    MetricFamily family = Family(std::string("llmd_bench_run_") + series.name,
                                 std::string("The active run so far: ") + series.what +
                                     ", quantiles in seconds (HdrHistogram, 3 significant digits).",
                                 kGauge);
    const Histogram& window = m.run_window.histogram(series.metric);
    if (m.run_active && window.TotalCount() > 0) {
      for (const Quantile& quantile : kQuantiles) {
        AddSample(
            family,
            static_cast<double>(window.ValueAtPercentile(quantile.percentile)) / kMicrosPerSecond,
            {{"quantile", quantile.label}});
      }
    }
    families.push_back(std::move(family));
  }

  // --- shard bookkeeping ---
  families.push_back(Single("llmd_bench_shards_applied_total",
                            "Report shards from workers applied to runs.", kCounter,
                            static_cast<double>(m.shards_applied)));
  families.push_back(Single("llmd_bench_shards_duplicate_total",
                            "Report shards received again after a reconnect, acknowledged and "
                            "ignored (each shard applies once).",
                            kCounter, static_cast<double>(m.shards_duplicate)));
  families.push_back(Single("llmd_bench_shard_apply_errors_total",
                            "Report shards or stages that could not be applied (undecodable, "
                            "out of range or not mergeable).",
                            kCounter, static_cast<double>(m.shard_apply_errors)));
  return families;
}

std::string Serialize(const std::vector<MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace

// Builds the families from a fresh Coordinator::Metrics() on every Collect().
class MetricsExporter::Collector : public prometheus::Collectable {
 public:
  explicit Collector(Coordinator& coordinator) : coordinator_(coordinator) {}
  std::vector<MetricFamily> Collect() const override { return Families(coordinator_.Metrics()); }

 private:
  Coordinator& coordinator_;
};

std::string FormatControllerMetrics(const ControllerMetrics& metrics) {
  return Serialize(Families(metrics));
}

MetricsExporter::MetricsExporter(Coordinator& coordinator)
    : coordinator_(coordinator), collector_(std::make_unique<Collector>(coordinator)) {}

MetricsExporter::~MetricsExporter() = default;

std::string MetricsExporter::Scrape() const { return Serialize(collector_->Collect()); }

void MetricsExporter::AddRoutes(HttpEndpoint& endpoint) {
  endpoint.Handle("/metrics", [this] {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = Scrape();
    return response;
  });
  endpoint.Handle("/healthz", [] {
    HttpResponse response;
    response.body = "ok";
    return response;
  });
  endpoint.Handle("/readyz", [this] {
    HttpResponse response;
    if (coordinator_.Ready()) {
      response.body = "ready";
    } else {
      response.status = 503;
      response.body = "not ready";
    }
    return response;
  });
}

}  // namespace bench::controller
