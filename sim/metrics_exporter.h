// bench-sim's /metrics: the vLLM metric names (SPEC section 9) with label model_name, kept in a
// prometheus-cpp registry and served as Prometheus text by the sim's own HTTP route (no second
// server: prometheus-cpp's Exposer would bring civetweb and another port). prometheus-cpp is
// seen only by metrics_exporter.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bench::sim {

// Thread-safe (prometheus-cpp's metrics are); one per process, shared by every loop.
class SimMetrics {
 public:
  explicit SimMetrics(std::string model_name);
  ~SimMetrics();
  SimMetrics(const SimMetrics&) = delete;
  SimMetrics& operator=(const SimMetrics&) = delete;

  void SetRunning(int64_t running);
  void SetWaiting(int64_t waiting);
  void SetKvCacheUsage(double fraction);
  void AddPromptTokens(int64_t tokens);
  void AddGenerationTokens(int64_t tokens);
  void AddPrefixCacheQueries(int64_t tokens, int64_t hits);
  // A request finished with all its tokens; `finish_reason` is "length" or "stop".
  void AddRequestSuccess(std::string_view finish_reason);

  void ObserveTimeToFirstToken(double seconds);
  void ObserveInterTokenLatency(double seconds);
  void ObserveE2eLatency(double seconds);
  void ObserveQueueTime(double seconds);

  // The exposition text (Prometheus text format 0.0.4).
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bench::sim
