#include "controller/plots.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/histogram.h"
#include "common/run_stats.h"
#include "controller/subprocess.h"

namespace bench::controller {
namespace {

double Ms(int64_t us) { return static_cast<double>(us) / 1000.0; }

// "latency in ms, share of requests at or below it (%)", one line per non-empty bucket.
std::string CdfData(const Histogram& histogram) {
  std::string out;
  const double total = static_cast<double>(histogram.TotalCount());
  int64_t seen = 0;
  histogram.ForEachNonZeroBucket([&](const Histogram::Bucket& bucket) {
    seen += bucket.count;
    absl::StrAppendFormat(&out, "%.3f %.4f\n", Ms(bucket.highest_value),
                          100.0 * static_cast<double>(seen) / total);
  });
  return out;
}

// Text for inside a gnuplot '...' literal. Names and labels come from results files that may not
// be ours (`report --input` on a directory someone sent): control characters (a newline would
// end the command) are dropped and a quote is doubled, gnuplot's escape, so nothing can leave
// the literal and become a command.
std::string Quoted(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) continue;
    if (c == '\'') out += '\'';
    out += c;
  }
  return out;
}

// A name for a file gnuplot writes or reads: letters, digits and '_' only.
std::string FileSafe(std::string_view text) {
  std::string out;
  for (const char c : text) out += absl::ascii_isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

// The commands of one chart: the common look, then its own settings and plot line.
std::string Chart(ChartFormat format, const std::string& name, const std::string& title,
                  const std::string& body) {
  const bool png = format == ChartFormat::kPng;
  return absl::StrCat(
      "reset\nset terminal ",
      png ? "pngcairo size 1000,560 enhanced font 'sans,10'"
          : "svg size 1000,560 dynamic enhanced font 'sans,11' background '#ffffff'",
      "\nset output '", name, png ? ".png" : ".svg", "'\nset title '", Quoted(title),
      "'\nset grid\nset key outside right top\n", body, "\n");
}

// A chart of one latency metric's distribution: its file name, title and axis label.
struct MetricChart {
  LatencyMetric metric;
  const char* name;
  const char* title;
  const char* axis;
};

// One gnuplot script of several charts and the data files it reads, in `directory`.
class ChartScript {
 public:
  ChartScript(std::string directory, ChartFormat format)
      : directory_(std::move(directory)), format_(format) {}

  void Data(const std::string& name, const std::string& text) { data_.emplace_back(name, text); }
  void Add(const std::string& name, const std::string& title, const std::string& body) {
    absl::StrAppend(&script_, Chart(format_, name, title, body));
    drawn_.push_back({absl::StrCat(name, format_ == ChartFormat::kPng ? ".png" : ".svg"), title});
  }

  // Runs gnuplot in the directory (the script names plain file names); the data files and the
  // script are removed afterwards.
  absl::StatusOr<std::vector<DrawnChart>> Draw() {
    const std::optional<std::string> gnuplot = FindOnPath("gnuplot");
    if (!gnuplot.has_value()) return absl::FailedPreconditionError("gnuplot is not installed");
    if (script_.empty()) return drawn_;
    std::error_code error;
    std::filesystem::create_directories(directory_, error);
    if (error) {
      return absl::InternalError(absl::StrCat("cannot create ", directory_, ": ", error.message()));
    }
    data_.emplace_back("plots.gp", script_);
    for (const auto& [name, text] : data_) std::ofstream(directory_ + "/" + name) << text;
    const absl::Status ran =
        RunProgram({*gnuplot, "plots.gp"}, directory_, "gnuplot.log", absl::Minutes(2));
    for (const auto& entry : data_) ::unlink((directory_ + "/" + entry.first).c_str());
    if (!ran.ok()) return ran;
    return drawn_;
  }

 private:
  const std::string directory_;
  const ChartFormat format_;
  std::string script_;
  std::vector<std::pair<std::string, std::string>> data_;  // file name, contents
  std::vector<DrawnChart> drawn_;
};

}  // namespace

absl::Status CheckPlotsPossible(const BenchmarkConfig& config) {
  const bool wants_charts = config.output.Wants(OutputFormat::kPng) ||
                            config.output.Wants(OutputFormat::kHtml) ||
                            config.output.Wants(OutputFormat::kPdf);
  if (!wants_charts || FindOnPath("gnuplot").has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "output.formats: png, html and pdf need gnuplot for their charts, which is not installed "
      "(Debian: apt-get install gnuplot-nox); install it or keep json, md, csv and llmd only");
}

ChartData ChartDataOf(const RunResult& result, const RunSummary& summary) {
  ChartData data;
  for (const StatsShard& stage : result.stages) (void)data.overall.Merge(stage);
  if (summary.stages.size() > 1) {
    for (size_t i = 0; i < summary.stages.size() && i < result.stages.size(); ++i) {
      data.stages.push_back(result.stages[i]);
      data.stage_rates.push_back(summary.stages[i].stage_rate);
    }
  }
  data.series = result.series;
  data.interval_ns = result.interval_ns;
  data.warmup_ns = result.warmup_ns;
  data.measured_window_ns = result.measured_window_ns;
  data.prometheus = result.prometheus_series;
  return data;
}

absl::StatusOr<std::vector<DrawnChart>> DrawCharts(const std::string& directory,
                                                   const ChartData& data, ChartFormat format) {
  ChartScript charts(directory, format);
  auto write_data = [&charts](const std::string& name, const std::string& text) {
    charts.Data(name, text);
  };
  auto add_chart = [&charts](const std::string& name, const std::string& title,
                             const std::string& body) { charts.Add(name, title, body); };
  // The measurement window, shaded on the charts over time.
  const double window_begin = static_cast<double>(data.warmup_ns) / 1e9;
  const double window_end = window_begin + static_cast<double>(data.measured_window_ns) / 1e9;
  const std::string window = absl::StrFormat(
      "set object 1 rect from %.3f, graph 0 to %.3f, graph 1 behind fc rgb '#eef3fb' fs solid "
      "noborder\n",
      window_begin, window_end);

  for (const MetricChart& d :
       {MetricChart{LatencyMetric::kTtft, "ttft_distribution", "Time to first token", "TTFT (ms)"},
        MetricChart{LatencyMetric::kItl, "itl_distribution",
                    "Inter-token latency (every gap between chunks)", "ITL (ms)"},
        MetricChart{LatencyMetric::kScheduleLag, "schedule_lag_distribution",
                    "Schedule lag: sent - intended send time", "schedule lag (ms)"}}) {
    const Histogram& histogram = data.overall.histogram(d.metric);
    if (histogram.TotalCount() == 0) continue;
    const std::string file = std::string(LatencyMetricName(d.metric)) + ".dat";
    write_data(file, CdfData(histogram));
    add_chart(d.name,
              absl::StrFormat("%s: distribution of %d samples", d.title, histogram.TotalCount()),
              absl::StrCat("set xlabel '", d.axis,
                           "'\nset ylabel 'samples at or below (%)'\nset yrange [0:100]\n"
                           "set logscale x\nplot '",
                           file, "' using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'CDF'"));
  }

  // p50 / p90 / p99 of each latency metric, log scale: TTFT and E2E differ by orders.
  std::string bars;
  for (const LatencyMetric metric :
       {LatencyMetric::kTtft, LatencyMetric::kItl, LatencyMetric::kTpot, LatencyMetric::kNtpot,
        LatencyMetric::kE2eLatency, LatencyMetric::kE2eFromIntended}) {
    const Histogram& histogram = data.overall.histogram(metric);
    if (histogram.TotalCount() == 0) continue;
    absl::StrAppendFormat(&bars, "%s %.3f %.3f %.3f\n", LatencyMetricName(metric),
                          Ms(histogram.ValueAtPercentile(50)), Ms(histogram.ValueAtPercentile(90)),
                          Ms(histogram.ValueAtPercentile(99)));
  }
  if (!bars.empty()) {
    write_data("percentiles.dat", bars);
    add_chart("latency_percentiles", "Latency percentiles",
              "set ylabel 'latency (ms)'\nset logscale y\nset style data histograms\n"
              "set style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
              "set boxwidth 0.9\nset xtics noenhanced\n"
              "plot 'percentiles.dat' using 2:xtic(1) title 'p50' lc rgb '#9ecae1', '' using 3 "
              "title 'p90' lc rgb '#4292c6', '' using 4 title 'p99' lc rgb '#08519c'");
  }

  // The series: per-second rates over the whole run, the window shaded.
  if (!data.series.empty() && data.interval_ns > 0) {
    const double interval_s = static_cast<double>(data.interval_ns) / 1e9;
    std::string series;
    for (const IntervalPoint& p : data.series) {
      absl::StrAppendFormat(
          &series, "%.3f %.4f %.4f %.4f %.4f %.4f %u %u\n",
          static_cast<double>(p.start_ns) / 1e9 + interval_s / 2,
          static_cast<double>(p.started) / interval_s,
          static_cast<double>(p.succeeded) / interval_s, static_cast<double>(p.failed) / interval_s,
          static_cast<double>(p.output_tokens) / interval_s,
          static_cast<double>(p.input_tokens) / interval_s, p.in_flight, p.client_queue);
    }
    write_data("series.dat", series);
    const std::string time_axis =
        "set xlabel 'time since the run started (s); shaded: the window'\n";
    add_chart("throughput_over_time", "Requests per second",
              absl::StrCat(window, time_axis,
                           "set ylabel 'requests/s'\nset y2label 'requests in flight'\n"
                           "set y2tics\nset ytics nomirror\n"
                           "plot 'series.dat' using 1:2 with lines lw 2 title 'sent', '' using "
                           "1:3 with lines lw 2 title 'completed (success)', '' using 1:7 axes "
                           "x1y2 with lines dt 2 title 'in flight (right)'"));
    add_chart("tokens_per_second_over_time", "Tokens per second (requests that ended)",
              absl::StrCat(window, time_axis,
                           "set ylabel 'tokens/s'\nplot 'series.dat' using 1:5 with lines lw 2 "
                           "title 'output tokens/s', '' using 1:6 with lines lw 2 title 'input "
                           "tokens/s'"));
    add_chart("errors_over_time", "Failed requests per second",
              absl::StrCat(window, time_axis,
                           "set ylabel 'failed requests/s'\nset yrange [0:*]\n"
                           "plot 'series.dat' using 1:4 with impulses lw 3 lc rgb '#d62728' "
                           "title 'failed', '' using 1:8 with lines lw 1 title 'client queue'"));
  }

  // Stages: latency against the offered rate, the capacity curve.
  std::string stages;
  for (size_t i = 0; i < data.stages.size() && i < data.stage_rates.size(); ++i) {
    const StatsShard& shard = data.stages[i];
    if (!data.stage_rates[i].has_value() ||
        shard.histogram(LatencyMetric::kTtft).TotalCount() == 0) {
      continue;
    }
    absl::StrAppendFormat(&stages, "%.4f %.3f %.3f %.3f\n", *data.stage_rates[i],
                          Ms(shard.histogram(LatencyMetric::kTtft).ValueAtPercentile(50)),
                          Ms(shard.histogram(LatencyMetric::kTtft).ValueAtPercentile(99)),
                          Ms(shard.histogram(LatencyMetric::kE2eLatency).ValueAtPercentile(99)));
  }
  if (!stages.empty()) {
    write_data("stages.dat", stages);
    add_chart("latency_vs_rate", "Latency against the offered rate (one point per stage)",
              "set xlabel 'offered rate (requests/s)'\nset ylabel 'latency (ms)'\n"
              "set logscale y\nplot 'stages.dat' using 1:2 with linespoints lw 2 title 'TTFT "
              "p50', '' using 1:3 with linespoints lw 2 title 'TTFT p99', '' using 1:4 with "
              "linespoints lw 2 title 'E2E p99'");
  }
  // metrics.prometheus: one chart per query, its series over the window (at most ten).
  std::vector<std::string> queries;
  for (const PrometheusSeries& series : data.prometheus) {
    if (std::find(queries.begin(), queries.end(), series.query_name) == queries.end()) {
      queries.push_back(series.query_name);
    }
  }
  for (size_t q = 0; q < queries.size(); ++q) {
    const std::string& query = queries[q];
    const std::string file = absl::StrCat("prometheus_", q, ".dat");
    std::string points, plot;
    int index = 0;
    for (const PrometheusSeries& series : data.prometheus) {
      if (series.query_name != query || series.points.empty() || index >= 10) continue;
      for (const auto& [t, value] : series.points)
        absl::StrAppendFormat(&points, "%.3f %.6g\n", t, value);
      points += "\n\n";  // the next gnuplot index
      absl::StrAppend(&plot, index == 0 ? "plot " : ", ", "'", file, "' index ", index,
                      " using 1:2 with lines lw 2 noenhanced title '", Quoted(series.label), "'");
      ++index;
    }
    if (index == 0) continue;
    write_data(file, points);
    add_chart(absl::StrCat("prometheus_", FileSafe(query)), absl::StrCat("Prometheus: ", query),
              absl::StrCat("set xlabel 'time since the window started (s)'\nset ylabel '",
                           Quoted(query), "'\nset title noenhanced\n", plot));
  }
  return charts.Draw();
}

absl::StatusOr<std::vector<DrawnChart>> DrawSeriesCharts(const std::string& directory,
                                                         const std::vector<SeriesPoint>& points,
                                                         ChartFormat format) {
  ChartScript charts(directory, format);
  // gnuplot reads "NaN" as a missing point.
  const auto ms = [](double value) {
    return value < 0 ? std::string("NaN") : absl::StrFormat("%.3f", value);
  };
  std::string data;
  for (const SeriesPoint& p : points) {
    absl::StrAppend(&data, absl::StrFormat("%.4f", p.rate), " ", ms(p.ttft_p50_ms), " ",
                    ms(p.ttft_p99_ms), " ", ms(p.itl_p99_ms), " ", ms(p.e2e_p99_ms), " ",
                    absl::StrFormat("%.1f", p.output_tokens_per_s), "\n");
  }
  charts.Data("series.dat", data);
  charts.Add("latency_vs_rate", "Latency against the completion rate (one point per run)",
             "set xlabel 'completed requests/s'\nset ylabel 'latency (ms)'\nset logscale y\n"
             "plot 'series.dat' using 1:2 with linespoints lw 2 title 'TTFT p50', '' using 1:3 "
             "with linespoints lw 2 title 'TTFT p99', '' using 1:4 with linespoints lw 2 title "
             "'ITL p99', '' using 1:5 with linespoints lw 2 title 'E2E p99'");
  charts.Add("tokens_vs_rate", "Output tokens per second against the completion rate",
             "set xlabel 'completed requests/s'\nset ylabel 'output tokens/s'\n"
             "plot 'series.dat' using 1:6 with linespoints lw 2 title 'output tokens/s'");
  return charts.Draw();
}

absl::StatusOr<std::vector<DrawnChart>> DrawComparisonCharts(const std::string& directory,
                                                             const std::vector<ChartRun>& runs,
                                                             ChartFormat format) {
  ChartScript charts(directory, format);
  for (const MetricChart& o :
       {MetricChart{LatencyMetric::kTtft, "compare_ttft", "Time to first token", "TTFT (ms)"},
        MetricChart{LatencyMetric::kItl, "compare_itl", "Inter-token latency", "ITL (ms)"},
        MetricChart{LatencyMetric::kE2eLatency, "compare_e2e_latency", "End-to-end latency",
                    "E2E latency (ms)"}}) {
    std::string plot;
    for (size_t i = 0; i < runs.size(); ++i) {
      const Histogram& histogram = runs[i].data->overall.histogram(o.metric);
      if (histogram.TotalCount() == 0) continue;
      const std::string file = absl::StrCat(o.name, "_", i, ".dat");
      charts.Data(file, CdfData(histogram));
      absl::StrAppend(&plot, plot.empty() ? "plot " : ", ", "'", file, "' using 1:2 with steps lw ",
                      i == 0 ? 3 : 2, " noenhanced title '", Quoted(runs[i].label), "'");
    }
    if (plot.empty()) continue;
    charts.Add(o.name, absl::StrCat(o.title, ": distribution of each run"),
               absl::StrCat("set xlabel '", o.axis,
                            "'\nset ylabel 'samples at or below (%)'\nset yrange [0:100]\n"
                            "set logscale x\n",
                            plot));
  }
  // The runs side by side: completion rate (left) and p99 latencies (right), one point each.
  std::string by_run;
  for (size_t i = 0; i < runs.size(); ++i) {
    const StatsShard& overall = runs[i].data->overall;
    // A data file's string column: its own quoting rules, so only safe characters.
    absl::StrAppendFormat(&by_run, "%d \"%s\" %s %.3f %.3f\n", i, FileSafe(runs[i].label),
                          runs[i].requests_per_s.has_value()
                              ? absl::StrFormat("%.4f", *runs[i].requests_per_s)
                              : std::string("NaN"),
                          Ms(overall.histogram(LatencyMetric::kTtft).ValueAtPercentile(99)),
                          Ms(overall.histogram(LatencyMetric::kItl).ValueAtPercentile(99)));
  }
  if (runs.size() > 1) {
    charts.Data("by_run.dat", by_run);
    charts.Add("compare_by_run", "Completion rate and p99 latencies of each run",
               "set xlabel 'run'\nset ylabel 'completion rate (requests/s)'\n"
               "set y2label 'p99 latency (ms)'\nset y2tics\nset ytics nomirror\n"
               "set yrange [0:*]\nset y2range [0:*]\nset xtics noenhanced\nset offsets 0.3, 0.3\n"
               "plot 'by_run.dat' using 1:3:xtic(2) with linespoints lw 2 pt 7 title "
               "'completion rate', '' using 1:4 axes x1y2 with linespoints lw 2 dt 2 pt 5 title "
               "'TTFT p99 (right)', '' using 1:5 axes x1y2 with linespoints lw 2 dt 3 pt 9 "
               "title 'ITL p99 (right)'");
  }
  return charts.Draw();
}

absl::Status WritePlots(const std::string& directory, const RunResult& result,
                        const RunSummary& summary) {
  return DrawCharts(directory + "/plots", ChartDataOf(result, summary), ChartFormat::kPng).status();
}

}  // namespace bench::controller
