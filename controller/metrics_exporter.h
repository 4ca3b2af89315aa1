// bench-controller's /metrics: the Coordinator's ControllerMetrics as Prometheus text (format
// 0.0.4), read afresh on every scrape by a prometheus-cpp Collectable, and served with /healthz
// and /readyz on an HttpEndpoint. prometheus-cpp is seen only by metrics_exporter.cc; README.md
// ("Controller metrics") lists every metric.
#pragma once

#include <memory>
#include <string>

#include "controller/coordinator.h"
#include "controller/http_endpoint.h"

namespace bench::controller {

// The exposition text of one snapshot. Latency histograms (microseconds inside) are exposed in
// seconds: cumulative counts at fixed bounds, each HdrHistogram bucket counted under a bound
// only when its highest equivalent value is <= the bound (so never over-counted, at most one
// bucket width, 0.1%, late).
std::string FormatControllerMetrics(const ControllerMetrics& metrics);

// Serves a Coordinator's metrics. Scrape() may be called from any thread (it takes the
// coordinator's mutex briefly through Metrics()); `coordinator` must outlive this object.
class MetricsExporter {
 public:
  explicit MetricsExporter(Coordinator& coordinator);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  // Reads Coordinator::Metrics() and serializes it.
  std::string Scrape() const;
  // Adds /metrics, /healthz (200 while the process runs) and /readyz (200 while
  // ControllerMetrics::ready, else 503) to `endpoint`, before its Start(). This object must
  // outlive the endpoint's Stop().
  void AddRoutes(HttpEndpoint& endpoint);

 private:
  class Collector;
  Coordinator& coordinator_;
  std::unique_ptr<Collector> collector_;
};

}  // namespace bench::controller
