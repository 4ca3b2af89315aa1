// summary.json: the RunSummary as JSON (controller/RESULTS.md documents every field).
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/version.h"
#include "controller/summary.h"
#include "controller/summary_format.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

// Microsecond resolution is all the histograms have; more digits would be noise.
double Round3(double value) { return std::round(value * 1000) / 1000; }

Json OptionalNumber(const std::optional<double>& value, bool round = true) {
  if (!value.has_value()) return nullptr;
  return round ? Round3(*value) : *value;
}

Json MetricJson(const MetricSummary& metric) {
  const bool empty = metric.count == 0;
  auto ms = [empty](double value) -> Json { return empty ? Json(nullptr) : Json(Round3(value)); };
  Json json;
  json["count"] = metric.count;
  json["mean_ms"] = ms(metric.mean_ms);
  json["stddev_ms"] = ms(metric.stddev_ms);
  json["min_ms"] = ms(metric.min_ms);
  json["max_ms"] = ms(metric.max_ms);
  Json percentiles = Json::object();
  for (const PercentileValue& p : metric.percentiles) {
    percentiles[PercentileLabel(p.percentile)] = ms(p.value_ms);
  }
  json["percentiles"] = std::move(percentiles);
  json["clamped"] = metric.clamped;
  return json;
}

Json RequestsJson(const RequestSummary& requests) {
  Json json;
  json["in_window"] = requests.in_window;
  json["succeeded"] = requests.succeeded;
  json["failed"] = requests.failed;
  json["incomplete"] = requests.incomplete;
  json["error_rate"] = OptionalNumber(requests.error_rate, /*round=*/false);
  Json errors = Json::array();
  for (const auto& [category, count] : requests.errors) {
    const auto examples = requests.error_examples.find(category);
    errors.push_back(
        Json{{"category", category},
             {"count", count},
             {"examples",
              examples != requests.error_examples.end() ? Json(examples->second) : Json::array()}});
  }
  json["errors"] = std::move(errors);
  return json;
}

// The fields every block has, appended to `json` (the top level or a stage object).
void AppendBlockJson(const BlockSummary& block, Json& json) {
  json["requests"] = RequestsJson(block.requests);

  Json latency = Json::object();
  for (const MetricSummary& metric : block.latency) latency[metric.name] = MetricJson(metric);
  json["latency"] = std::move(latency);

  const ThroughputSummary& t = block.throughput;
  Json throughput;
  throughput["requests_per_s"] = OptionalNumber(t.requests_per_s);
  throughput["output_tokens_per_s"] = OptionalNumber(t.output_tokens_per_s);
  throughput["total_tokens_per_s"] = OptionalNumber(t.total_tokens_per_s);
  throughput["completed_in_window"] = t.completed_in_window;
  throughput["offered_requests_per_s"] = OptionalNumber(block.rates.achieved_rate);
  throughput["drain_s"] = OptionalNumber(t.drain_s);
  throughput["target_behind"] = t.target_behind;
  throughput["input_tokens"] = t.input_tokens;
  throughput["output_tokens"] = t.output_tokens;
  if (t.per_interval.has_value()) {
    const IntervalDistribution& d = *t.per_interval;
    throughput["per_interval_requests_per_s"] = Json{{"intervals", d.intervals},
                                                     {"min", Round3(d.min)},
                                                     {"mean", Round3(d.mean)},
                                                     {"p50", Round3(d.p50)},
                                                     {"max", Round3(d.max)}};
  } else {
    throughput["per_interval_requests_per_s"] = nullptr;
  }
  json["throughput"] = std::move(throughput);

  const RateSummary& r = block.rates;
  json["rates"] = Json{{"closed_loop", r.closed_loop},
                       {"requested_rate", OptionalNumber(r.requested_rate)},
                       {"achieved_rate", OptionalNumber(r.achieved_rate)},
                       {"achieved_ratio", OptionalNumber(r.achieved_ratio, /*round=*/false)},
                       {"sent", r.sent},
                       {"failed_before_send", r.failed_before_send}};

  if (block.goodput_rps.has_value()) {
    std::optional<double> share;
    if (block.requests.succeeded > 0) {
      share = static_cast<double>(block.slo_met) / static_cast<double>(block.requests.succeeded);
    }
    json["goodput"] = Json{{"requests_per_s", Round3(*block.goodput_rps)},
                           {"slo_met", block.slo_met},
                           {"slo_met_ratio", OptionalNumber(share, /*round=*/false)}};
  } else {
    json["goodput"] = nullptr;
  }

  const CacheSummary& c = block.cache;
  json["cache"] =
      Json{{"hit_ratio", OptionalNumber(c.hit_ratio, /*round=*/false)},
           {"cached_tokens", c.cached_tokens},
           {"input_tokens_with_cache_info", c.input_tokens_with_cache_info},
           {"reason", c.hit_ratio.has_value() ? Json(nullptr) : Json(c.reason)},
           {"source", c.source.empty() ? Json(nullptr) : Json(c.source)},
           {"hit_ratio_from_counters", OptionalNumber(c.hit_ratio_from_counters, /*round=*/false)}};
  json["generator"] = Json{{"limited", block.generator_limited},
                           {"rules", block.generator_rules},
                           {"timing_noise_p99_ms", OptionalNumber(block.timing_noise_p99_ms)},
                           {"message", block.generator_message}};
}

Json SloJson(const std::vector<SloVerdict>& verdicts) {
  Json json;
  json["configured"] = !verdicts.empty();
  bool passed = true;
  Json list = Json::array();
  for (const SloVerdict& v : verdicts) {
    passed = passed && v.passed;
    Json item;
    item["metric"] = v.metric;
    if (v.metric == "errorRate") {
      item["limit"] = v.limit_error_rate;
      item["actual"] = v.has_actual ? Json(v.actual_error_rate) : Json(nullptr);
    } else {
      item["percentile"] = v.percentile;
      item["limit_ms"] = Round3(v.limit_ms);
      item["actual_ms"] = v.has_actual ? Json(Round3(v.actual_ms)) : Json(nullptr);
    }
    item["passed"] = v.passed;
    list.push_back(std::move(item));
  }
  json["passed"] = verdicts.empty() ? Json(nullptr) : Json(passed);
  json["verdicts"] = std::move(list);
  return json;
}

}  // namespace

Json ConnectionsToJson(const ConnectionStats& c) {
  const int64_t connected = c.connect_time.TotalCount();
  auto mean = [connected](uint64_t total) -> Json {
    if (connected == 0) return nullptr;
    return Round3(static_cast<double>(total) / static_cast<double>(connected));
  };
  Json connect_ms = nullptr;
  if (connected > 0) {
    auto ms = [](int64_t us) { return Round3(UsToMs(static_cast<double>(us))); };
    connect_ms = Json{{"p50", ms(c.connect_time.ValueAtPercentile(50))},
                      {"p90", ms(c.connect_time.ValueAtPercentile(90))},
                      {"p99", ms(c.connect_time.ValueAtPercentile(99))},
                      {"max", ms(c.connect_time.Max())}};
  }
  return Json{
      {"opened", c.opened},
      {"failed", c.failed},
      {"retries", c.retries},
      {"connected", connected},
      {"streams_per_connection", Json{{"mean", mean(c.streams)}, {"max", c.max_streams}}},
      {"bytes_per_connection", Json{{"mean", mean(c.bytes)}, {"max", c.max_bytes}}},
      {"max_concurrent_streams", c.max_concurrent_streams},
      {"server_max_streams", c.server_max_streams > 0 ? Json(c.server_max_streams) : Json(nullptr)},
      {"connect_ms", std::move(connect_ms)},
      {"unreachable_s", Round3(Seconds(c.unreachable_ns))},
  };
}

std::string SummaryToJson(const RunSummary& summary) {
  Json json;
  json["schema_version"] = 1;
  Json benchmark;
  benchmark["name"] = summary.name;
  benchmark["load_type"] = summary.load_type;
  benchmark["closed_loop"] = summary.closed_loop;
  benchmark["concurrency"] = summary.concurrency;
  benchmark["percentiles"] = summary.percentiles;
  benchmark["warmup_s"] = summary.warmup_s;
  benchmark["window_s"] = summary.window_s;
  benchmark["measured_window_s"] = summary.measured_window_s;
  benchmark["interval_s"] = summary.interval_s;
  benchmark["started_at"] = summary.started_at_utc;
  benchmark["finished_at"] = summary.finished_at_utc;
  benchmark["cancelled"] = summary.cancelled;
  benchmark["aborted"] = summary.aborted;
  benchmark["window_started"] = summary.window_started;
  benchmark["config_sha256"] = summary.config_sha256;
  benchmark["collect"] = summary.collect;
  json["benchmark"] = std::move(benchmark);
  json["target"] = Json{{"endpoint", summary.endpoint},
                        {"model", summary.model},
                        {"api", summary.api},
                        {"protocol", summary.protocol}};
  json["tool"] = Json{{"name", kToolName},
                      {"version", kToolVersion},
                      {"commit", kToolCommit},
                      {"host", summary.host}};

  AppendBlockJson(summary.overall, json);
  json["generator"]["peak_client_queue"] = summary.peak_client_queue;
  json["slo"] = SloJson(summary.slo);
  if (summary.first_failed_stage > 0) json["slo"]["passed"] = false;
  json["slo"]["first_failed_stage"] =
      summary.first_failed_stage > 0 ? Json(summary.first_failed_stage) : Json(nullptr);
  json["slo"]["abort_reason"] = summary.aborted ? Json(summary.abort_reason) : Json(nullptr);

  Json warnings = Json::array();
  for (const Warning& w : summary.warnings) {
    warnings.push_back(Json{{"code", w.code}, {"message", w.message}});
  }
  json["warnings"] = std::move(warnings);
  json["notes"] = summary.notes;
  json["connections"] = ConnectionsToJson(summary.connections);
  json["engine"] = Json{{"threads", summary.engine_threads}, {"workers", summary.workers}};
  Json workers = Json::array();
  for (const WorkerFigures& w : summary.worker_figures) {
    workers.push_back(Json{{"name", w.name},
                           {"id", w.worker_id},
                           {"threads", w.threads},
                           {"active", w.active},
                           {"concurrency", w.concurrency},
                           {"rate", w.rate > 0 ? Json(w.rate) : Json(nullptr)},
                           {"requests", w.sent},
                           {"succeeded", w.succeeded},
                           {"failed", w.failed},
                           {"incomplete", w.incomplete},
                           {"lost", w.lost},
                           {"lost_in_flight", w.lost_in_flight},
                           {"clock_offset_ms", Round3(w.clock_offset_ms)},
                           {"clock_rtt_ms", Round3(w.clock_rtt_ms)}});
  }
  json["workers"] = std::move(workers);

  Json stages = Json::array();
  for (const BlockSummary& block : summary.stages) {
    Json stage;
    stage["stage"] = block.stage;
    stage["rate"] = OptionalNumber(block.stage_rate);
    stage["window_s"] = block.window_s;
    AppendBlockJson(block, stage);
    stage["slo"] = SloJson(block.slo);
    stages.push_back(std::move(stage));
  }
  json["stages"] = std::move(stages);
  if (!summary.turns.empty()) {
    Json turns = Json::array();
    for (const BlockSummary& block : summary.turns) {
      Json turn;
      turn["turn"] = block.stage;
      // The last shard holds every later turn too when conversations may be longer.
      turn["and_later"] = summary.turns_capped && block.stage == static_cast<int>(kMaxTurnShards);
      AppendBlockJson(block, turn);
      turns.push_back(std::move(turn));
    }
    json["turns"] = std::move(turns);
  }
  // Notes and names come from outside: replace invalid UTF-8 rather than throw.
  return json.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace bench::controller
