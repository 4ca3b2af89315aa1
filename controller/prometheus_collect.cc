#include "controller/prometheus_collect.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "controller/http_get.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

struct Endpoint {
  std::string host;
  std::string port = "80";
  std::string prefix;  // path prefix without a trailing slash ("" or "/prometheus")
};

absl::StatusOr<Endpoint> ParseHttpEndpoint(const std::string& url) {
  if (!absl::StartsWithIgnoreCase(url, "http://")) {
    return absl::InvalidArgumentError(
        "metrics.prometheus.endpoint: only http:// is supported by this version, got " + url);
  }
  std::string rest = url.substr(7);
  Endpoint endpoint;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    endpoint.prefix = rest.substr(slash);
    rest = rest.substr(0, slash);
    while (!endpoint.prefix.empty() && endpoint.prefix.back() == '/') endpoint.prefix.pop_back();
  }
  if (!rest.empty() && rest.front() == '[') {  // [::1]:9090
    const size_t close = rest.find(']');
    endpoint.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') endpoint.port = rest.substr(close + 2);
  } else if (const size_t colon = rest.rfind(':'); colon != std::string::npos) {
    endpoint.host = rest.substr(0, colon);
    endpoint.port = rest.substr(colon + 1);
  } else {
    endpoint.host = rest;
  }
  if (endpoint.host.empty()) return absl::InvalidArgumentError("no host in " + url);
  return endpoint;
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// GET `path` under the endpoint; the body of a 200 answer.
absl::StatusOr<std::string> HttpGet(const Endpoint& endpoint, const std::string& path,
                                    absl::Duration timeout) {
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  HttpGetOptions options;
  options.timeout = timeout;
  absl::StatusOr<HttpAnswer> answer =
      controller::HttpGet(absl::StrCat("http://", ipv6 ? "[" : "", endpoint.host, ipv6 ? "]" : "",
                                       ":", endpoint.port, endpoint.prefix, path),
                          options);
  if (!answer.ok()) {
    return absl::Status(answer.status().code(),
                        absl::StrCat("Prometheus: ", answer.status().message()));
  }
  if (answer->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("HTTP ", answer->status, ": ",
                     answer->body.substr(0, std::min<size_t>(answer->body.size(), 300))));
  }
  return std::move(answer->body);
}

// The `data` of a successful API answer.
absl::StatusOr<Json> ApiData(const std::string& body) {
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return absl::DataLossError("not JSON");
  if (json.value("status", "") != "success") {
    return absl::InvalidArgumentError(absl::StrCat("Prometheus: ", json.value("errorType", "error"),
                                                   ": ", json.value("error", "")));
  }
  return json["data"];
}

double Unix(absl::Time time) { return absl::ToDoubleSeconds(time - absl::UnixEpoch()); }

std::optional<double> SampleValue(const Json& pair) {
  double value = 0;
  if (pair.is_array() && pair.size() == 2 && pair[1].is_string() &&
      absl::SimpleAtod(pair[1].get<std::string>(), &value) && std::isfinite(value)) {
    return value;
  }
  return std::nullopt;
}

}  // namespace

std::vector<PrometheusQuery> PrometheusQueries(const PrometheusConfig& config) {
  if (!config.queries.empty()) return config.queries;
  return {{"num_requests_running", "sum(vllm:num_requests_running)"},
          {"num_requests_waiting", "sum(vllm:num_requests_waiting)"},
          {"kv_cache_usage", "avg(vllm:kv_cache_usage_perc)"}};
}

absl::Status CheckPrometheusEndpoint(const BenchmarkConfig& config) {
  if (config.metrics.prometheus.endpoint.empty()) return absl::OkStatus();
  return ParseHttpEndpoint(config.metrics.prometheus.endpoint).status();
}

PrometheusCollection CollectPrometheus(const PrometheusConfig& config, absl::Time start,
                                       absl::Time end, absl::Duration timeout) {
  PrometheusCollection collection;
  std::vector<std::string> errors;
  Json out;
  out["endpoint"] = config.endpoint;
  out["start"] = Unix(start);
  out["end"] = Unix(end);
  const double step_s = std::max(0.001, absl::ToDoubleSeconds(config.step));
  out["step_s"] = step_s;
  Json queries = Json::array();
  absl::StatusOr<Endpoint> endpoint = ParseHttpEndpoint(config.endpoint);
  for (const PrometheusQuery& query : PrometheusQueries(config)) {
    Json item{{"name", query.name}, {"query", query.query}};
    absl::StatusOr<Json> data = absl::UnavailableError("no endpoint");
    if (!endpoint.ok()) {
      data = endpoint.status();
    } else {
      absl::StatusOr<std::string> body =
          HttpGet(*endpoint,
                  absl::StrFormat("/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=%.3f",
                                  UrlEncode(query.query), Unix(start), Unix(end), step_s),
                  timeout);
      data = body.ok() ? ApiData(*body) : absl::StatusOr<Json>(body.status());
    }
    if (!data.ok()) {
      item["status"] = "error";
      item["error"] = std::string(data.status().message());
      errors.push_back(absl::StrCat(query.name, ": ", data.status().message()));
    } else {
      item["status"] = "ok";
      Json series = Json::array();
      const Json results = data->contains("result") ? (*data)["result"] : Json::array();
      for (const Json& result : results) {
        Json values = Json::array();
        const Json samples = result.contains("values") ? result["values"] : Json::array();
        for (const Json& pair : samples) {
          const std::optional<double> value = SampleValue(pair);
          if (!value.has_value() || !pair[0].is_number()) continue;
          values.push_back(Json::array({pair[0].get<double>(), *value}));
        }
        series.push_back(
            Json{{"metric", result.contains("metric") ? result["metric"] : Json::object()},
                 {"values", std::move(values)}});
      }
      item["series"] = std::move(series);
    }
    queries.push_back(std::move(item));
  }
  out["queries"] = std::move(queries);

  // The prefix cache hit ratio from vLLM's counters over the window.
  Json cache;
  const int64_t range_s =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(end - start))));
  std::optional<double> counters[2];
  const char* names[2] = {"vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"};
  for (int i = 0; i < 2 && endpoint.ok(); ++i) {
    const std::string promql = absl::StrCat("sum(increase(", names[i], "[", range_s, "s]))");
    absl::StatusOr<std::string> body = HttpGet(
        *endpoint,
        absl::StrFormat("/api/v1/query?query=%s&time=%.3f", UrlEncode(promql), Unix(end)), timeout);
    absl::StatusOr<Json> data = body.ok() ? ApiData(*body) : absl::StatusOr<Json>(body.status());
    if (!data.ok()) {
      errors.push_back(absl::StrCat(names[i], ": ", data.status().message()));
      continue;
    }
    const Json result = data->contains("result") ? (*data)["result"] : Json::array();
    if (!result.empty() && result[0].contains("value"))
      counters[i] = SampleValue(result[0]["value"]);
  }
  cache["prefix_cache_hits"] = counters[0].has_value() ? Json(*counters[0]) : Json(nullptr);
  cache["prefix_cache_queries"] = counters[1].has_value() ? Json(*counters[1]) : Json(nullptr);
  if (counters[0].has_value() && counters[1].has_value() && *counters[1] > 0) {
    collection.cache_hit_ratio = *counters[0] / *counters[1];
  }
  cache["hit_ratio"] =
      collection.cache_hit_ratio.has_value() ? Json(*collection.cache_hit_ratio) : Json(nullptr);
  out["cache"] = std::move(cache);
  collection.error = absl::StrJoin(errors, "; ");
  out["error"] = collection.error.empty() ? Json(nullptr) : Json(collection.error);
  collection.json = out.dump(2);
  collection.series = PrometheusSeriesOf(collection.json);
  return collection;
}

std::vector<PrometheusSeries> PrometheusSeriesOf(const std::string& prometheus_json) {
  std::vector<PrometheusSeries> lines;
  const Json json = Json::parse(prometheus_json, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("queries") || !json["queries"].is_array()) return lines;
  const double start =
      json.contains("start") && json["start"].is_number() ? json["start"].get<double>() : 0.0;
  for (const Json& query : json["queries"]) {
    if (!query.is_object() || !query.contains("series") || !query["series"].is_array()) continue;
    // Names are checked as the config checks them: this file may come from elsewhere.
    const std::string name =
        query.contains("name") && query["name"].is_string() ? query["name"].get<std::string>() : "";
    if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0])) ||
        !std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      continue;
    }
    for (const Json& series : query["series"]) {
      PrometheusSeries line;
      line.query_name = name;
      std::vector<std::string> labels;
      if (series.contains("metric") && series["metric"].is_object()) {
        for (const auto& [key, value] : series["metric"].items()) {
          labels.push_back(
              absl::StrCat(key, "=", value.is_string() ? value.get<std::string>() : value.dump()));
        }
      }
      line.label = labels.empty() ? name : absl::StrJoin(labels, ",");
      if (series.contains("values") && series["values"].is_array()) {
        for (const Json& pair : series["values"]) {
          if (pair.is_array() && pair.size() == 2 && pair[0].is_number() && pair[1].is_number()) {
            line.points.emplace_back(pair[0].get<double>() - start, pair[1].get<double>());
          }
        }
      }
      lines.push_back(std::move(line));
    }
  }
  return lines;
}

}  // namespace bench::controller
