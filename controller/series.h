// Series of runs (`load.type: sweep` and `capacity`): runs whose next one depends on what the
// last ones measured. SeriesDriver decides the probes from their summaries and knows nothing of
// how they run; RunSeries runs them through a ProbeExecutor (`run` in process, `submit` on a
// daemon), each probe an ordinary run with its own results directory under the series'.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace bench::controller {

// One probe to run.
struct ProbeSpec {
  int index = 0;            // 1-based, in the order run
  std::string role;         // "synchronous", "throughput" or "rate"
  double rate = 0;          // requested requests/s; 0 for the closed loops
  int64_t concurrency = 0;  // closed loop: in flight; open loop: the cap (0 = none)
  BenchmarkConfig config;   // a plain run (no series); benchmark.name "NN-role[-rate]"
};

// What a probe measured, from its summary.json. Latencies in ms; negative when absent.
struct ProbeResult {
  int index = 0;
  std::string role;
  double rate = 0;
  int64_t concurrency = 0;
  int exit_code = -1;
  std::string error;          // why the probe did not run through
  std::string results_path;   // its results directory
  double duration_s = 0;      // its measurement window
  double achieved_rate = 0;   // requests sent per second in the window
  double completed_rate = 0;  // completions per second in the window
  double output_tokens_per_s = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  double error_rate = 0;
  double ttft_p50_ms = -1, ttft_p99_ms = -1;
  double itl_p50_ms = -1, itl_p99_ms = -1;
  double e2e_p50_ms = -1, e2e_p99_ms = -1;
  std::optional<bool> slo_passed;  // unset without SLOs
  std::string slo_failures;        // "ttft p99 812.1 ms > 500 ms", joined by "; "
  bool generator_limited = false;
};

// Fills `result`'s figures from a probe's summary.json text.
absl::Status ReadProbeSummary(const std::string& summary_json, ProbeResult* result);

class SeriesDriver {
 public:
  // `config` has a series (load.series.kind != kNone).
  explicit SeriesDriver(BenchmarkConfig config);

  // The next probe, or nullopt when the series is over. Probes write under `probes_dir`.
  std::optional<ProbeSpec> Next(const std::string& probes_dir);
  // The outcome of the probe Next() gave last.
  void Record(ProbeResult result);

  const BenchmarkConfig& config() const { return config_; }
  const std::vector<ProbeResult>& probes() const { return probes_; }
  // A probe did not run through (failed or cancelled): the series stopped there.
  bool stopped_early() const { return !stop_reason_.empty(); }
  const std::string& stop_reason() const { return stop_reason_; }

  // capacity: the highest rate whose probe met every SLO (the probe's index), and whether the
  // bracket closed to the resolution.
  std::optional<int> answer_probe() const { return answer_; }
  bool resolution_reached() const { return resolution_reached_; }
  // The bracket at the end: highest passing and lowest failing rate (0 when none).
  double passing_rate() const { return passing_rate_; }
  double failing_rate() const { return failing_rate_; }

  // One or two sentences: the answer and how it was found.
  std::string Verdict() const;
  // The lowest-rate probe that ran through (met its SLOs or missed them); null when none did.
  const ProbeResult* LowestMeasured() const;

 private:
  ProbeSpec MakeProbe(const std::string& probes_dir, const std::string& role, double rate,
                      int64_t concurrency) const;
  void DecideCapacity(const ProbeResult& result);
  void DecideSweep();

  BenchmarkConfig config_;
  std::vector<ProbeResult> probes_;
  std::vector<double> planned_rates_;  // sweep: the rates between, once measured
  std::optional<double> next_rate_;    // capacity: the next probe's rate
  bool done_ = false;
  std::string stop_reason_;
  std::string note_;  // why the search ended where it did, when not by its resolution
  // capacity
  std::optional<int> answer_;
  bool resolution_reached_ = false;
  double passing_rate_ = 0;
  double failing_rate_ = 0;
  int halvings_ = 0;
};

// How a probe runs: `run` runs it in process, `submit` on a daemon (fetching its results).
struct ProbeRun {
  int exit_code = -1;
  std::string summary_json;  // empty when the run produced none
  std::string results_path;  // its local results directory
  std::string error;
};
class ProbeExecutor {
 public:
  virtual ~ProbeExecutor() = default;
  virtual ProbeRun Execute(const ProbeSpec& probe) = 0;
};

struct SeriesOptions {
  bool quiet = false;  // no per-probe lines
  bool json = false;   // series.json to stdout; the table to stderr
};

// The series' console table: one row per probe.
std::string SeriesTable(const SeriesDriver& driver);
// series.json's text.
std::string SeriesJson(const SeriesDriver& driver, const std::string& directory);

// Runs the whole series: creates the series directory (<output.dir>/<name>-<stamp>/), runs each
// probe into its probes/ directory, prints a line per probe, then writes series.json,
// series.md, plots/latency_vs_rate.png and series.html (as output.formats asks) and prints the
// table and the verdict. Returns the exit code: 0; 3 capacity: no rate probed met the SLOs;
// 5 cancelled; else the code of the probe that could not run (1 failed, 2 the controller
// refused it, 6 denied), 1 when a series file cannot be written, 2 the directory.
int RunSeries(const BenchmarkConfig& config, ProbeExecutor& executor, const SeriesOptions& options);

// The preflight: one request as the run would send it (its target, headers, prompts), alone,
// before anything else, written under `output_dir`. When it fails, prints the reason (the
// error category and the server's own text, secrets masked) and returns the exit code to stop
// with (1; 2 or 6 when the controller refused the config); nullopt when it succeeded.
std::optional<int> RunPreflight(const BenchmarkConfig& config, ProbeExecutor& executor,
                                const std::string& output_dir, bool quiet);

// The runs to check with the controller before the preflight sends anything: `config` itself,
// or a series' first probes, one of each shape (a sweep's synchronous, throughput and first
// rate run; a capacity search's first three rates), written under output.dir.
std::vector<BenchmarkConfig> RunsToCheck(const BenchmarkConfig& config);

// The series in words, for validate and the start of a run.
std::string DescribeSeries(const BenchmarkConfig& config);

}  // namespace bench::controller
