#include "controller/prometheus_collect.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

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

// A chunked body (RFC 9112 section 7.1) made whole.
absl::StatusOr<std::string> Dechunk(absl::string_view body) {
  std::string out;
  while (true) {
    const size_t line_end = body.find("\r\n");
    if (line_end == absl::string_view::npos) return absl::DataLossError("cut chunked body");
    absl::string_view size_text = body.substr(0, line_end);
    if (const size_t semi = size_text.find(';'); semi != absl::string_view::npos) {
      size_text = size_text.substr(0, semi);
    }
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
      return absl::DataLossError("bad chunk size");
    }
    body.remove_prefix(line_end + 2);
    if (size == 0) return out;
    if (body.size() < size + 2) return absl::DataLossError("cut chunk");
    out.append(body.data(), size);
    body.remove_prefix(size + 2);
  }
}

// GET `path` with Connection: close; the body of a 200 answer.
absl::StatusOr<std::string> HttpGet(const Endpoint& endpoint, const std::string& path,
                                    absl::Duration timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (const int rc = getaddrinfo(endpoint.host.c_str(), endpoint.port.c_str(), &hints, &addresses);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", endpoint.host, ": ", gai_strerror(rc)));
  }
  int fd = -1;
  std::string connect_error = "no address";
  const timeval limit = absl::ToTimeval(timeout);
  for (addrinfo* a = addresses; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // On Linux the send timeout also bounds connect().
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      connect_error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(addresses);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", endpoint.host, ":", endpoint.port, ": ", connect_error));
  }
  const std::string request =
      absl::StrCat("GET ", endpoint.prefix, path, " HTTP/1.1\r\nHost: ", endpoint.host,
                   "\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return absl::UnavailableError("cannot send to Prometheus: " + why);
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[16384];
  constexpr size_t kMaxResponseBytes = 64 << 20;
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return absl::DeadlineExceededError("reading from Prometheus: " + why);
    }
    if (n == 0) break;
    response.append(buffer, static_cast<size_t>(n));
    if (response.size() > kMaxResponseBytes) {
      ::close(fd);
      return absl::ResourceExhaustedError("Prometheus answer over 64 MiB");
    }
  }
  ::close(fd);
  const size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos || !absl::StartsWith(response, "HTTP/1.")) {
    return absl::DataLossError("not an HTTP answer");
  }
  const std::string head = absl::AsciiStrToLower(response.substr(0, head_end));
  std::string body = response.substr(head_end + 4);
  int status = 0;
  const size_t space = head.find(' ');
  if (space == std::string::npos || !absl::SimpleAtoi(head.substr(space + 1, 3), &status)) {
    return absl::DataLossError("no status code");
  }
  if (absl::StrContains(head, "transfer-encoding: chunked")) {
    absl::StatusOr<std::string> whole = Dechunk(body);
    if (!whole.ok()) return whole.status();
    body = *std::move(whole);
  }
  if (status != 200) {
    return absl::UnavailableError(
        absl::StrCat("HTTP ", status, ": ", body.substr(0, std::min<size_t>(body.size(), 300))));
  }
  return body;
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
