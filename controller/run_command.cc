// `bench-controller run`: a whole benchmark in this process - engine threads, live progress,
// the summary table and the results directory. No cluster, no gRPC.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"
#include "common/config_yaml.h"
#include "common/plan.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/local_engine.h"
#include "controller/results.h"
#include "controller/summary.h"

namespace bench::controller {
namespace {

constexpr char kUsage[] =
    "usage: bench-controller run --config FILE [--set key.path=value ...] [options]\n"
    "       bench-controller run --endpoint URL --model NAME [--rate R] [--concurrency C]\n"
    "                            [--duration D] [options]\n"
    "\n"
    "Runs a whole benchmark in this process and writes the results directory.\n"
    "  --config FILE         the YAML benchmark config (deploy/examples/ has several)\n"
    "  --set key.path=value  override one config field (YAML value); repeatable\n"
    "  --endpoint URL        target endpoint (.../v1/chat/completions or .../v1/completions)\n"
    "  --model NAME          model name sent in every request\n"
    "  --rate R              open loop at R requests/s (constant); with --concurrency as a cap\n"
    "  --concurrency C       closed loop with C requests in flight (or the cap with --rate)\n"
    "  --duration D          measurement window, e.g. 60, 30s, 5m\n"
    "  --threads N           engine threads (default: one per core)\n"
    "  --output DIR          results parent directory (output.dir)\n"
    "  --quiet               no progress display\n"
    "  --json                print summary.json to stdout (the table goes to stderr)\n"
    "\n"
    "Ctrl-C stops sending, lets requests in flight finish briefly, writes partial results and\n"
    "exits 5. Exit codes: 0 ok, 1 run failed, 2 invalid usage or config, 3 SLO failed, 5 "
    "cancelled.\n";

std::atomic<int> interrupts{0};

void OnSignal(int) { interrupts.fetch_add(1); }

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller run: %s\n\n%s", reason.c_str(), kUsage);
  return kExitUsage;
}

std::string FormatMs(double ms) { return ms < 0 ? "-" : absl::StrFormat("%.1fms", ms); }

std::string ProgressLine(const Progress& p) {
  const char* phase = p.draining ? "draining" : p.warming_up ? "warmup" : "running";
  std::string rate = p.requested_rate > 0
                         ? absl::StrFormat("%.1f/%.1f req/s", p.achieved_rate, p.requested_rate)
                         : absl::StrFormat("%.1f req/s", p.achieved_rate);
  return absl::StrFormat(
      "[%s %5.1fs/%.0fs] %s | in flight %u | queued %u | ok %u | errors %u | ttft p50 %s p99 %s",
      phase, std::max(0.0, p.elapsed_s), p.total_s, rate, p.in_flight, p.client_queue, p.succeeded,
      p.failed, FormatMs(p.ttft_p50_ms), FormatMs(p.ttft_p99_ms));
}

struct Options {
  std::optional<std::string> config_path;
  std::vector<ConfigOverride> overrides;
  bool quick_rate = false;
  bool quick_concurrency = false;
  int threads = 0;
  bool quiet = false;
  bool json = false;
};

// Parses the flags; returns an exit code when the command must stop here.
std::optional<int> ParseFlags(const std::vector<std::string>& args, Options* options) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::optional<std::string> value;
    auto need = [&](const char* what) -> bool {
      if (value.has_value() && !value->empty()) return true;
      UsageError(absl::StrCat(arg, " needs ", what));
      return false;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (arg == "--quiet") {
      options->quiet = true;
    } else if (arg == "--json") {
      options->json = true;
    } else if (MatchFlag(args, &i, "--config", &value)) {
      if (!need("a file path")) return kExitUsage;
      options->config_path = *value;
    } else if (MatchFlag(args, &i, "--set", &value)) {
      if (!need("key.path=value")) return kExitUsage;
      auto parsed = ParseSetFlag(*value);
      if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
      options->overrides.push_back(*std::move(parsed));
    } else if (MatchFlag(args, &i, "--endpoint", &value)) {
      if (!need("a URL")) return kExitUsage;
      options->overrides.push_back(LiteralOverride("target.endpoint", *value, "--endpoint"));
    } else if (MatchFlag(args, &i, "--model", &value)) {
      if (!need("a model name")) return kExitUsage;
      options->overrides.push_back(LiteralOverride("target.model", *value, "--model"));
    } else if (MatchFlag(args, &i, "--rate", &value)) {
      if (!need("requests/s")) return kExitUsage;
      options->quick_rate = true;
      options->overrides.push_back({"load.rate", *value, false, "--rate " + *value});
    } else if (MatchFlag(args, &i, "--concurrency", &value)) {
      if (!need("a count")) return kExitUsage;
      options->quick_concurrency = true;
      options->overrides.push_back({"load.concurrency", *value, false, "--concurrency " + *value});
    } else if (MatchFlag(args, &i, "--duration", &value)) {
      if (!need("a duration")) return kExitUsage;
      options->overrides.push_back({"benchmark.duration", *value, false, "--duration " + *value});
    } else if (MatchFlag(args, &i, "--output", &value)) {
      if (!need("a directory")) return kExitUsage;
      options->overrides.push_back(LiteralOverride("output.dir", *value, "--output"));
    } else if (MatchFlag(args, &i, "--threads", &value)) {
      if (!need("a count")) return kExitUsage;
      if (!absl::SimpleAtoi(*value, &options->threads) || options->threads < 1 ||
          options->threads > 1024) {
        return UsageError("--threads must be 1..1024, got " + *value);
      }
    } else {
      return UsageError(arg.empty() || arg[0] != '-' ? "unexpected argument " + arg
                                                     : "unknown flag " + arg);
    }
  }
  return std::nullopt;
}

}  // namespace

int RunRunCommand(const std::vector<std::string>& args) {
  Options options;
  if (std::optional<int> exit = ParseFlags(args, &options)) return *exit;

  std::string text;
  std::string source = "--endpoint/--model flags";
  if (options.config_path.has_value()) {
    auto read = ReadConfigFile(*options.config_path);
    if (!read.ok()) return UsageError(std::string(read.status().message()));
    text = *std::move(read);
    source = *options.config_path;
  } else {
    // The quick form: a config made of flags. --rate alone is an open loop at that rate;
    // --concurrency alone a closed loop.
    text = "benchmark:\n  name: quick\n";
    if (!options.quick_rate)
      options.overrides.push_back({"load.type", "concurrency", false, "--concurrency"});
    if (!options.quick_rate && !options.quick_concurrency) {
      return UsageError("give --config FILE, or --endpoint, --model and --rate or --concurrency");
    }
  }
  auto parsed = ParseConfig(text, source, options.overrides);
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\nbench-controller run: invalid config; nothing was sent\n",
                 std::string(parsed.status().message()).c_str());
    return kExitUsage;
  }
  const BenchmarkConfig& config = parsed->config;
  if (absl::Status runnable = CheckRunnable(config); !runnable.ok()) {
    return UsageError(std::string(runnable.message()));
  }

  auto run = LocalRun::Create(config, options.threads);
  if (!run.ok()) {
    const absl::Status& status = run.status();
    std::fprintf(stderr, "bench-controller run: %s; nothing was sent\n",
                 std::string(status.message()).c_str());
    // An unreachable target is a run failure; everything else is the config's.
    return status.code() == absl::StatusCode::kNotFound &&
                   absl::StrContains(status.message(), "target.endpoint")
               ? kExitRunFailed
               : kExitUsage;
  }
  const Plan plan = MakePlan(config);
  if (!options.quiet) {
    std::fprintf(stderr, "llm-d-bench run %s: %s (%s), model %s\n", config.benchmark.name.c_str(),
                 config.target.endpoint.c_str(),
                 std::string(ProtocolName(config.target.protocol)).c_str(),
                 config.target.model.c_str());
    std::fprintf(stderr, "%s\nengine threads: %d\n", RenderPlan(plan).c_str(), (*run)->threads());
  }

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  if (absl::Status started = (*run)->Start(); !started.ok()) {
    std::fprintf(stderr, "bench-controller run: %s\n", std::string(started.message()).c_str());
    return kExitRunFailed;
  }
  const bool terminal = isatty(STDERR_FILENO) != 0;
  const absl::Duration progress_every = terminal ? absl::Seconds(1) : absl::Seconds(10);
  absl::Time next_progress = absl::Now() + progress_every;
  int handled_interrupts = 0;
  while (!(*run)->Wait(absl::Milliseconds(100))) {
    const int seen = interrupts.load();
    if (seen > handled_interrupts) {
      // First Ctrl-C: stop sending, give requests in flight a moment. Second: stop now.
      (*run)->Cancel(seen == 1 ? absl::Seconds(5) : absl::ZeroDuration());
      if (!options.quiet) {
        std::fprintf(
            stderr, "%sinterrupted: %s\n", terminal ? "\n" : "",
            seen == 1 ? "stopping, draining up to 5 s (Ctrl-C again to stop now)" : "stopping now");
      }
      handled_interrupts = seen;
    }
    if (!options.quiet && absl::Now() >= next_progress) {
      const std::string line = ProgressLine((*run)->GetProgress());
      std::fprintf(stderr, terminal ? "\r%s\033[K" : "%s\n", line.c_str());
      next_progress += progress_every;
    }
  }
  if (!options.quiet && terminal) std::fputs("\n", stderr);

  RunResult result = (*run)->Result();
  result.notes = parsed->notes;
  for (std::string& note : NotWrittenNotes(config)) result.notes.push_back(std::move(note));
  const RunSummary summary = Summarize(config, result);
  auto directory = WriteResults(config, result, summary, (*run)->started_at());
  const std::string table = RenderSummaryTable(summary);
  if (options.json) {
    std::fputs(SummaryToJson(summary).c_str(), stdout);
    std::fputs("\n", stdout);
    if (!options.quiet) std::fputs(table.c_str(), stderr);
  } else {
    std::fputs(table.c_str(), stdout);
  }
  if (directory.ok()) {
    std::fprintf(options.json ? stderr : stdout, "results: %s\n", directory->c_str());
  } else {
    std::fprintf(stderr, "bench-controller run: cannot write results: %s\n",
                 std::string(directory.status().message()).c_str());
    return kExitRunFailed;
  }
  return ExitCodeFor(summary);
}

}  // namespace bench::controller
