#include "controller/results.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/check.h"
#include "common/config_yaml.h"
#include "common/histogram_codec.h"
#include "common/run_stats.h"
#include "common/status_macros.h"
#include "controller/llmd_report.h"
#include "nlohmann/json.hpp"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

constexpr double kNsPerSecond = 1e9;
// Enough for many runs started in the same second; beyond it something is wrong.
constexpr int kMaxDirectorySuffix = 1000;

double Seconds(int64_t ns) { return static_cast<double>(ns) / kNsPerSecond; }

absl::Status PathError(int error, const char* what, const std::string& path) {
  return absl::ErrnoToStatus(error,
                             absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(error)));
}

// A file written through `path`.tmp and renamed into place on Commit(), so a reader never sees
// half a file; dropped (the temporary removed) when not committed. Appends are buffered, so a
// long document can be written in pieces without ever being whole in memory.
class ResultFileWriter {
 public:
  explicit ResultFileWriter(std::string path)
      : path_(std::move(path)), temporary_(path_ + ".tmp") {}
  ResultFileWriter(const ResultFileWriter&) = delete;
  ResultFileWriter& operator=(const ResultFileWriter&) = delete;
  ~ResultFileWriter() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(temporary_.c_str());
    }
  }

  absl::Status Open() {
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return PathError(errno, "create", temporary_);
    return absl::OkStatus();
  }
  // Buffers `text`; the first error is kept and returned by Commit().
  void Append(std::string_view text) {
    if (!status_.ok()) return;
    if (buffer_.size() + text.size() > kBufferBytes) {
      WriteOut(buffer_);
      buffer_.clear();
    }
    if (text.size() > kBufferBytes) {
      WriteOut(text);
    } else {
      buffer_.append(text);
    }
  }
  absl::Status Commit() {
    WriteOut(buffer_);
    buffer_.clear();
    BENCH_RETURN_IF_ERROR(status_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      const int error = errno;
      ::unlink(temporary_.c_str());
      return PathError(error, "write", temporary_);
    }
    if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
      const int error = errno;
      ::unlink(temporary_.c_str());
      return PathError(error, "rename to", path_);
    }
    return absl::OkStatus();
  }

 private:
  static constexpr size_t kBufferBytes = 64 << 10;

  void WriteOut(std::string_view text) {
    size_t written = 0;
    while (status_.ok() && written < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + written, text.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status_ = PathError(errno, "write", temporary_);
        return;
      }
      written += static_cast<size_t>(n);
    }
  }

  const std::string path_;
  const std::string temporary_;
  int fd_ = -1;
  std::string buffer_;
  absl::Status status_;
};

absl::Status WriteFile(const std::string& path, std::string_view text) {
  ResultFileWriter file(path);
  BENCH_RETURN_IF_ERROR(file.Open());
  file.Append(text);
  return file.Commit();
}

// Creates a fresh directory `base`, or `base`-2, -3, ... if it exists; returns the one made.
absl::StatusOr<std::string> MakeFreshDirectory(const std::string& base) {
  for (int suffix = 1; suffix <= kMaxDirectorySuffix; ++suffix) {
    const std::string path = suffix == 1 ? base : absl::StrCat(base, "-", suffix);
    if (::mkdir(path.c_str(), 0755) == 0) return path;
    if (errno != EEXIST) return PathError(errno, "create directory", path);
  }
  return absl::AlreadyExistsError(absl::StrCat("cannot create directory ", base, ": it and ",
                                               kMaxDirectorySuffix - 1,
                                               " suffixed variants exist"));
}

Json HistogramJson(const Histogram& histogram) {
  return Json{{"unit", "us"},
              {"count", histogram.TotalCount()},
              {"clamped", histogram.clamped_count()},
              {"hdr_v2_compressed_base64", EncodeCompressedBase64(histogram)}};
}

Json ShardHistogramsJson(const StatsShard& shard) {
  Json json = Json::object();
  for (int i = 0; i < kLatencyMetricCount; ++i) {
    const auto metric = static_cast<LatencyMetric>(i);
    json[std::string(LatencyMetricName(metric))] = HistogramJson(shard.histogram(metric));
  }
  return json;
}

}  // namespace

std::string HistogramsToHlog(const RunResult& result, const RunSummary& summary) {
  std::string out =
      "#[llm-d-bench latency histograms: values in microseconds; Interval_Max in ms; one "
      "interval per stage of the measurement window]\n";
  absl::Time start;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, result.started_at_utc, &start, &error)) {
    absl::StrAppendFormat(&out, "#[StartTime: %.3f (seconds since epoch), %s]\n",
                          absl::ToDoubleSeconds(start - absl::UnixEpoch()), result.started_at_utc);
  }
  out +=
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  const double warmup_s = Seconds(result.warmup_ns);
  for (size_t i = 0; i < result.stages.size(); ++i) {
    // Timestamps are seconds since the run's start (StartTime).
    double begin_s = warmup_s;
    double length_s = Seconds(result.measured_window_ns);
    if (result.stages.size() > 1 && i < summary.stages.size()) {
      begin_s += summary.stages[i].begin_s;
      length_s = summary.stages[i].window_s;
    }
    for (int m = 0; m < kLatencyMetricCount; ++m) {
      const auto metric = static_cast<LatencyMetric>(m);
      const Histogram& histogram = result.stages[i].histogram(metric);
      if (histogram.TotalCount() == 0) continue;
      absl::StrAppendFormat(&out, "Tag=%s,%.3f,%.3f,%.3f,%s\n", LatencyMetricName(metric), begin_s,
                            length_s, static_cast<double>(histogram.Max()) / 1000.0,
                            EncodeCompressedBase64(histogram));
    }
  }
  return out;
}

namespace {

// metrics.json's text, handed to `append` in pieces.
void AppendMetricsJson(const RunResult& result, absl::FunctionRef<void(std::string_view)> append) {
  Json json;
  json["schema_version"] = 1;
  const double interval_s = Seconds(result.interval_ns);
  json["interval_s"] = interval_s;
  json["warmup_s"] = Seconds(result.warmup_ns);
  json["window_s"] = Seconds(result.window_ns);
  json["measured_window_s"] = Seconds(result.measured_window_ns);

  const int64_t window_begin_ns = result.warmup_ns;
  const int64_t window_end_ns = result.warmup_ns + result.measured_window_ns;
  auto per_s = [interval_s](uint64_t count) -> Json {
    if (interval_s <= 0) return nullptr;
    return std::round(static_cast<double>(count) / interval_s * 1000) / 1000;
  };
  // The series grows with the run and is written row by row (see the end): a partial flush of a
  // long run then builds no document the size of the series, whose growing copies would
  // fragment the heap of a long-running controller.
  json["series"] = Json::array();

  StatsShard merged;
  for (const StatsShard& stage : result.stages) {
    // Only an int64 count overflow fails; the merged histograms would then be partial, which
    // summary.json's warnings already say.
    (void)merged.Merge(stage);
  }
  Json histograms;
  histograms["unit"] = "us";
  histograms["encoding"] = "HdrHistogram V2 compressed, base64";
  histograms["overall"] = ShardHistogramsJson(merged);
  Json stages = Json::array();
  if (result.stages.size() > 1) {
    for (size_t i = 0; i < result.stages.size(); ++i) {
      stages.push_back(Json{{"stage", i + 1}, {"metrics", ShardHistogramsJson(result.stages[i])}});
    }
  }
  histograms["stages"] = std::move(stages);
  json["histograms"] = std::move(histograms);
  Json connections = ConnectionsToJson(result.connections);
  connections["connect_time"] = HistogramJson(result.connections.connect_time);
  json["connections"] = std::move(connections);
  const std::string document = json.dump(2, ' ', false, Json::error_handler_t::replace);
  // Top-level keys are the only ones indented by exactly two spaces.
  constexpr std::string_view kEmptySeries = "\n  \"series\": []";
  const size_t at = document.find(kEmptySeries);
  BENCH_CHECK(at != std::string::npos) << "metrics.json lost its series key";
  const size_t rows_at = at + kEmptySeries.size() - 1;  // just after the '['
  append(std::string_view(document).substr(0, rows_at));
  std::string row_text;
  for (size_t i = 0; i < result.series.size(); ++i) {
    const IntervalPoint& point = result.series[i];
    Json row;
    row["time_s"] = Seconds(point.start_ns);
    row["in_window"] = point.start_ns >= window_begin_ns && point.start_ns < window_end_ns;
    row["started"] = point.started;
    row["completed"] = point.completed;
    row["succeeded"] = point.succeeded;
    row["failed"] = point.failed;
    row["output_tokens"] = point.output_tokens;
    row["input_tokens"] = point.input_tokens;
    row["output_chunks"] = point.output_chunks;
    row["in_flight"] = point.in_flight;
    row["client_queue"] = point.client_queue;
    row["started_per_s"] = per_s(point.started);
    row["completed_per_s"] = per_s(point.completed);
    row["succeeded_per_s"] = per_s(point.succeeded);
    row["failed_per_s"] = per_s(point.failed);
    row["output_tokens_per_s"] = per_s(point.output_tokens);
    row["output_chunks_per_s"] = per_s(point.output_chunks);
    row["schedule_lag_mean_ms"] = point.started > 0
                                      ? Json(std::round(static_cast<double>(point.schedule_lag_us) /
                                                        static_cast<double>(point.started)) /
                                             1000)
                                      : Json(nullptr);
    row_text = i == 0 ? "\n    " : ",\n    ";
    row_text += row.dump(-1, ' ', false, Json::error_handler_t::replace);
    append(row_text);
  }
  append(result.series.empty() ? std::string_view() : std::string_view("\n  "));
  append(std::string_view(document).substr(rows_at));
}

}  // namespace

std::string MetricsToJson(const RunResult& result) {
  std::string out;
  AppendMetricsJson(result, [&out](std::string_view text) { out.append(text); });
  return out;
}

absl::StatusOr<std::string> CreateResultsDirectory(const BenchmarkConfig& config,
                                                   absl::Time started_at) {
  const std::string& name = config.benchmark.name;
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("benchmark.name '", name, "' cannot name a results directory"));
  }
  const std::string parent = config.output.dir.empty() ? "." : config.output.dir;
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) return PathError(error.value(), "create directory", parent);
  const std::string stamp = absl::FormatTime("%Y%m%d-%H%M%S", started_at, absl::UTCTimeZone());
  return MakeFreshDirectory(absl::StrCat(parent, "/", name, "-", stamp));
}

absl::Status WriteResultsInto(const std::string& directory, const BenchmarkConfig& config,
                              const RunResult& result, const RunSummary& summary) {
  BENCH_RETURN_IF_ERROR(WriteFile(directory + "/config.yaml", ConfigToYaml(RedactSecrets(config))));
  BENCH_RETURN_IF_ERROR(WriteFile(directory + "/summary.json", SummaryToJson(summary) + "\n"));
  {
    ResultFileWriter metrics(directory + "/metrics.json");
    BENCH_RETURN_IF_ERROR(metrics.Open());
    AppendMetricsJson(result, [&metrics](std::string_view text) { metrics.Append(text); });
    metrics.Append("\n");
    BENCH_RETURN_IF_ERROR(metrics.Commit());
  }
  BENCH_RETURN_IF_ERROR(
      WriteFile(directory + "/histograms.hlog", HistogramsToHlog(result, summary)));
  if (!result.prometheus_json.empty()) {
    BENCH_RETURN_IF_ERROR(WriteFile(directory + "/prometheus.json", result.prometheus_json + "\n"));
  }
  if (config.output.Wants(OutputFormat::kLlmd)) {
    BENCH_RETURN_IF_ERROR(
        WriteFile(directory + "/benchmark_report.yaml", LlmdReportYaml(config, result, summary)));
  }
  return absl::OkStatus();
}

absl::Status CheckResultsWritable(const BenchmarkConfig& config) {
  const std::string parent = config.output.dir.empty() ? "." : config.output.dir;
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  std::string problem;
  if (error) {
    problem = error.message();
  } else {
    const std::string probe = absl::StrCat(parent, "/.llm-d-bench-probe-", ::getpid());
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::write(fd, "ok\n", 3) != 3) problem = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(probe.c_str());
  }
  if (problem.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("output.dir: cannot write results under ", parent, ": ", problem));
}

absl::Status WriteResultFile(const std::string& path, const std::string& content) {
  return WriteFile(path, content);
}

absl::StatusOr<std::string> WriteResults(const BenchmarkConfig& config, const RunResult& result,
                                         const RunSummary& summary, absl::Time started_at) {
  BENCH_ASSIGN_OR_RETURN(const std::string directory, CreateResultsDirectory(config, started_at));
  BENCH_RETURN_IF_ERROR(WriteResultsInto(directory, config, result, summary));
  return directory;
}

}  // namespace bench::controller
