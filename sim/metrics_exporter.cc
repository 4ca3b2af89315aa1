#include "sim/metrics_exporter.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

namespace bench::sim {
namespace {

// vLLM's bucket boundaries (vllm/engine/metrics.py, as llm-d's simulator copies them).
const prometheus::Histogram::BucketBoundaries kTtftBuckets = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const prometheus::Histogram::BucketBoundaries kItlBuckets = {
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
    0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const prometheus::Histogram::BucketBoundaries kRequestBuckets = {
    0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
// vLLM's NIXL connector's vllm:nixl_xfer_time_seconds buckets (kv_connector/v1/nixl_connector.py).
const prometheus::Histogram::BucketBoundaries kKvTransferBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 5.0};

}  // namespace

struct SimMetrics::Impl {
  explicit Impl(const std::string& model)
      : registry(std::make_shared<prometheus::Registry>()),
        running(prometheus::BuildGauge()
                    .Name("vllm:num_requests_running")
                    .Help("Number of requests in model execution batches.")
                    .Register(*registry)
                    .Add({{"model_name", model}})),
        waiting(prometheus::BuildGauge()
                    .Name("vllm:num_requests_waiting")
                    .Help("Number of requests waiting to be processed.")
                    .Register(*registry)
                    .Add({{"model_name", model}})),
        kv_cache_usage(prometheus::BuildGauge()
                           .Name("vllm:kv_cache_usage_perc")
                           .Help("KV-cache usage. 1 means 100 percent usage.")
                           .Register(*registry)
                           .Add({{"model_name", model}})),
        prompt_tokens(prometheus::BuildCounter()
                          .Name("vllm:prompt_tokens_total")
                          .Help("Number of prefill tokens processed.")
                          .Register(*registry)
                          .Add({{"model_name", model}})),
        generation_tokens(prometheus::BuildCounter()
                              .Name("vllm:generation_tokens_total")
                              .Help("Number of generation tokens processed.")
                              .Register(*registry)
                              .Add({{"model_name", model}})),
        prefix_cache_queries(prometheus::BuildCounter()
                                 .Name("vllm:prefix_cache_queries_total")
                                 .Help("Prefix cache queries, in terms of number of queried "
                                       "tokens.")
                                 .Register(*registry)
                                 .Add({{"model_name", model}})),
        prefix_cache_hits(prometheus::BuildCounter()
                              .Name("vllm:prefix_cache_hits_total")
                              .Help("Prefix cache hits, in terms of number of cached tokens.")
                              .Register(*registry)
                              .Add({{"model_name", model}})),
        success_family(prometheus::BuildCounter()
                           .Name("vllm:request_success_total")
                           .Help("Count of successfully processed requests.")
                           .Register(*registry)),
        success_length(success_family.Add({{"model_name", model}, {"finish_reason", "length"}})),
        success_stop(success_family.Add({{"model_name", model}, {"finish_reason", "stop"}})),
        success_remote_decode(
            success_family.Add({{"model_name", model}, {"finish_reason", "remote_decode"}})),
        ttft(prometheus::BuildHistogram()
                 .Name("vllm:time_to_first_token_seconds")
                 .Help("Histogram of time to first token in seconds.")
                 .Register(*registry)
                 .Add({{"model_name", model}}, kTtftBuckets)),
        itl(prometheus::BuildHistogram()
                .Name("vllm:inter_token_latency_seconds")
                .Help("Histogram of inter-token latency in seconds.")
                .Register(*registry)
                .Add({{"model_name", model}}, kItlBuckets)),
        e2e(prometheus::BuildHistogram()
                .Name("vllm:e2e_request_latency_seconds")
                .Help("Histogram of end to end request latency in seconds.")
                .Register(*registry)
                .Add({{"model_name", model}}, kRequestBuckets)),
        queue_time(prometheus::BuildHistogram()
                       .Name("vllm:request_queue_time_seconds")
                       .Help("Histogram of time spent in WAITING phase for request.")
                       .Register(*registry)
                       .Add({{"model_name", model}}, kRequestBuckets)),
        injected_family(prometheus::BuildCounter()
                            .Name("bench_sim:injected_failures_total")
                            .Help("Requests failed on purpose by failure injection, by kind.")
                            .Register(*registry)) {
    // Every kind from the start, so a scrape reads 0 rather than nothing.
    for (int i = 1; i < kFailureKindCount; ++i) {
      const std::string kind(FailureKindName(static_cast<FailureKind>(i)));
      injected[i] = &injected_family.Add({{"model_name", model}, {"kind", kind}});
    }
  }

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge& running;
  prometheus::Gauge& waiting;
  prometheus::Gauge& kv_cache_usage;
  prometheus::Counter& prompt_tokens;
  prometheus::Counter& generation_tokens;
  prometheus::Counter& prefix_cache_queries;
  prometheus::Counter& prefix_cache_hits;
  prometheus::Family<prometheus::Counter>& success_family;
  prometheus::Counter& success_length;
  prometheus::Counter& success_stop;
  prometheus::Counter& success_remote_decode;
  prometheus::Histogram& ttft;
  prometheus::Histogram& itl;
  prometheus::Histogram& e2e;
  prometheus::Histogram& queue_time;
  prometheus::Family<prometheus::Counter>& injected_family;
  std::array<prometheus::Counter*, kFailureKindCount> injected{};
  prometheus::Histogram* kv_transfer =
      nullptr;  // Registered with --disagg or a --kv-transfer-* setting.
};

SimMetrics::SimMetrics(std::string model_name)
    : impl_(std::make_unique<Impl>(model_name)), model_name_(model_name) {}

void SimMetrics::EnableKvTransferMetrics() {
  if (impl_->kv_transfer != nullptr) return;
  impl_->kv_transfer = &prometheus::BuildHistogram()
                            .Name("vllm:nixl_xfer_time_seconds")
                            .Help("Histogram of transfer duration for NIXL KV Cache transfers.")
                            .Register(*impl_->registry)
                            .Add({{"model_name", model_name_}}, kKvTransferBuckets);
}

void SimMetrics::ObserveKvTransferTime(double seconds) {
  if (impl_->kv_transfer != nullptr) impl_->kv_transfer->Observe(seconds);
}
SimMetrics::~SimMetrics() = default;

void SimMetrics::SetRunning(int64_t running) { impl_->running.Set(static_cast<double>(running)); }
void SimMetrics::SetWaiting(int64_t waiting) { impl_->waiting.Set(static_cast<double>(waiting)); }
void SimMetrics::SetKvCacheUsage(double fraction) { impl_->kv_cache_usage.Set(fraction); }
void SimMetrics::AddPromptTokens(int64_t tokens) {
  impl_->prompt_tokens.Increment(static_cast<double>(tokens));
}
void SimMetrics::AddGenerationTokens(int64_t tokens) {
  impl_->generation_tokens.Increment(static_cast<double>(tokens));
}
void SimMetrics::AddPrefixCacheQueries(int64_t tokens, int64_t hits) {
  impl_->prefix_cache_queries.Increment(static_cast<double>(tokens));
  impl_->prefix_cache_hits.Increment(static_cast<double>(hits));
}
void SimMetrics::AddRequestSuccess(std::string_view finish_reason) {
  if (finish_reason == "length") {
    impl_->success_length.Increment();
  } else if (finish_reason == "remote_decode") {
    impl_->success_remote_decode.Increment();
  } else {
    impl_->success_stop.Increment();
  }
}
void SimMetrics::ObserveTimeToFirstToken(double seconds) { impl_->ttft.Observe(seconds); }
void SimMetrics::ObserveInterTokenLatency(double seconds) { impl_->itl.Observe(seconds); }

PendingTokenMetrics::PendingTokenMetrics() : itl_bucket_increments_(kItlBuckets.size() + 1) {}

void PendingTokenMetrics::ObserveInterTokenLatency(double seconds) {
  // The first bound at or above the value, as prometheus-cpp's Observe files it (le inclusive).
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(kItlBuckets.begin(), kItlBuckets.end(), seconds) - kItlBuckets.begin());
  itl_bucket_increments_[bucket] += 1;
  itl_sum_ += seconds;
  ++itl_count_;
}

void SimMetrics::Flush(PendingTokenMetrics& pending) {
  if (pending.itl_count_ > 0) {
    impl_->itl.ObserveMultiple(pending.itl_bucket_increments_, pending.itl_sum_);
    std::fill(pending.itl_bucket_increments_.begin(), pending.itl_bucket_increments_.end(), 0);
    pending.itl_sum_ = 0;
    pending.itl_count_ = 0;
  }
  if (pending.generation_tokens_ > 0) {
    impl_->generation_tokens.Increment(static_cast<double>(pending.generation_tokens_));
    pending.generation_tokens_ = 0;
  }
}
void SimMetrics::ObserveE2eLatency(double seconds) { impl_->e2e.Observe(seconds); }
void SimMetrics::ObserveQueueTime(double seconds) { impl_->queue_time.Observe(seconds); }
void SimMetrics::AddInjectedFailures(FailureKind kind, int64_t requests) {
  if (kind == FailureKind::kNone || requests <= 0) return;
  impl_->injected[static_cast<int>(kind)]->Increment(static_cast<double>(requests));
}

TokenLatenessRecorder::Snapshot TokenLatenessRecorder::Read() const {
  Snapshot snapshot;
  for (size_t i = 0; i < kBuckets; ++i) {
    snapshot.counts[i] = counts_[i].load(std::memory_order_relaxed);
    snapshot.count += snapshot.counts[i];
  }
  snapshot.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  return snapshot;
}

TokenLatenessRecorder* SimMetrics::AddTokenLatenessRecorder() {
  MutexLock lock(lateness_mu_);
  lateness_recorders_.push_back(std::make_unique<TokenLatenessRecorder>());
  return lateness_recorders_.back().get();
}

TokenLatenessRecorder::Snapshot SimMetrics::TokenLateness() const {
  TokenLatenessRecorder::Snapshot merged;
  MutexLock lock(lateness_mu_);
  for (const auto& recorder : lateness_recorders_) {
    const TokenLatenessRecorder::Snapshot one = recorder->Read();
    for (size_t i = 0; i < merged.counts.size(); ++i) merged.counts[i] += one.counts[i];
    merged.count += one.count;
    merged.sum_ns += one.sum_ns;
  }
  return merged;
}

namespace {

// Built by hand rather than registered: the counts live in lock-free per-loop recorders that a
// prometheus::Histogram (one mutex per Observe) cannot take.
prometheus::MetricFamily TokenLatenessFamily(const TokenLatenessRecorder::Snapshot& snapshot,
                                             const std::string& model_name) {
  prometheus::ClientMetric metric;
  metric.label.push_back({"model_name", model_name});
  metric.histogram.sample_count = snapshot.count;
  metric.histogram.sample_sum = static_cast<double>(snapshot.sum_ns) / 1e9;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < TokenLatenessRecorder::kBoundsNs.size(); ++i) {
    cumulative += snapshot.counts[i];
    prometheus::ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound = static_cast<double>(TokenLatenessRecorder::kBoundsNs[i]) / 1e9;
    metric.histogram.bucket.push_back(bucket);
  }
  prometheus::ClientMetric::Bucket infinity;  // The serializer writes le="+Inf".
  infinity.cumulative_count = snapshot.count;
  infinity.upper_bound = std::numeric_limits<double>::infinity();
  metric.histogram.bucket.push_back(infinity);
  prometheus::MetricFamily family;
  family.name = "bench_sim:token_lateness_seconds";
  family.help =
      "Time from when a scheduled event (a token) was due to when the simulator wrote it.";
  family.type = prometheus::MetricType::Histogram;
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

std::string SimMetrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  families.push_back(TokenLatenessFamily(TokenLateness(), model_name_));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace bench::sim
