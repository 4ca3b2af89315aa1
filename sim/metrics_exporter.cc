#include "sim/metrics_exporter.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

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
                       .Add({{"model_name", model}}, kRequestBuckets)) {}

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
  prometheus::Histogram& ttft;
  prometheus::Histogram& itl;
  prometheus::Histogram& e2e;
  prometheus::Histogram& queue_time;
};

SimMetrics::SimMetrics(std::string model_name) : impl_(std::make_unique<Impl>(model_name)) {}
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
  (finish_reason == "length" ? impl_->success_length : impl_->success_stop).Increment();
}
void SimMetrics::ObserveTimeToFirstToken(double seconds) { impl_->ttft.Observe(seconds); }
void SimMetrics::ObserveInterTokenLatency(double seconds) { impl_->itl.Observe(seconds); }
void SimMetrics::ObserveE2eLatency(double seconds) { impl_->e2e.Observe(seconds); }
void SimMetrics::ObserveQueueTime(double seconds) { impl_->queue_time.Observe(seconds); }

std::string SimMetrics::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, impl_->registry->Collect());
  return out.str();
}

}  // namespace bench::sim
