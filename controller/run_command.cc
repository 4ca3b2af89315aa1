// `bench-controller run`: a whole benchmark in this process - live progress, the summary table
// and the results directory. It runs through the same path as a cluster: a Coordinator splits
// the run among in-process workers (the bench-worker code) that report delta shards over an
// in-process gRPC channel, and the summary is made from the merged shards.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"
#include "common/config_yaml.h"
#include "common/logging.h"
#include "common/plan.h"
#include "common/rpc_credentials.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/coordinator.h"
#include "controller/local_workers.h"
#include "controller/rpc_services.h"
#include "grpcpp/grpcpp.h"

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
    "  --threads N           engine threads in all (default: one per core), shared by the\n"
    "                        in-process workers (cluster.workers, default 1)\n"
    "  --output DIR          results parent directory (output.dir)\n"
    "  --quiet               no progress display\n"
    "  --json                print summary.json to stdout (the table goes to stderr)\n"
    "\n"
    "Ctrl-C stops sending, lets requests in flight finish briefly, writes partial results and\n"
    "exits 5. Exit codes: 0 ok, 1 run failed, 2 invalid usage or config, 3 SLO failed, 4 "
    "aborted by slo.abortOnFail, 5 cancelled.\n";

std::atomic<int> interrupts{0};

void OnSignal(int) { interrupts.fetch_add(1); }

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller run: %s\n\n%s", reason.c_str(), kUsage);
  return kExitUsage;
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

  // The in-process controller and workers log as a daemon would; here the progress line and the
  // summary say it all, unless BENCH_LOG_LEVEL asks for more.
  if (std::getenv("BENCH_LOG_LEVEL") == nullptr) SetMinLogSeverity(LogSeverity::kWarning);
  const Plan plan = MakePlan(config);
  const int total_threads =
      options.threads > 0 ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  constexpr int64_t kMaxLocalWorkers = 64;
  if (config.cluster.workers > kMaxLocalWorkers) {
    return UsageError(absl::StrCat("cluster.workers: run hosts at most ", kMaxLocalWorkers,
                                   " in-process workers, got ", config.cluster.workers,
                                   "; use serve and bench-worker processes"));
  }
  const int worker_count = static_cast<int>(std::max<int64_t>(1, config.cluster.workers));
  const int threads_each = std::max(1, total_threads / worker_count);
  if (!options.quiet) {
    std::fprintf(stderr, "llm-d-bench run %s: %s (%s), model %s\n", config.benchmark.name.c_str(),
                 config.target.endpoint.c_str(),
                 std::string(ProtocolName(config.target.protocol)).c_str(),
                 config.target.model.c_str());
    std::fprintf(stderr, "%s\nengine threads: %d (%d in-process %s)\n", RenderPlan(plan).c_str(),
                 threads_each * worker_count, worker_count,
                 worker_count == 1 ? "worker" : "workers");
  }

  // The controller and its workers, in this process.
  CoordinatorOptions coordinator_options;
  coordinator_options.controller_id = "run";
  coordinator_options.start_delay = absl::Milliseconds(300);
  coordinator_options.ping_interval = absl::Milliseconds(200);
  Coordinator coordinator(coordinator_options);
  coordinator.Start();
  const TokenCheck no_token("");
  std::unique_ptr<grpc::Service> link = MakeWorkerLinkService(coordinator, no_token);
  grpc::ServerBuilder builder;
  builder.RegisterService(link.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::fprintf(stderr, "bench-controller run: cannot start the in-process controller\n");
    return kExitRunFailed;
  }
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  channel_args.SetMaxSendMessageSize(kMaxMessageBytes);
  auto workers = std::make_unique<LocalWorkers>(server->InProcessChannel(channel_args),
                                                worker_count, threads_each);
  absl::StatusOr<std::string> run_id = coordinator.Submit(config, parsed->notes, "local");
  if (!run_id.ok()) {
    std::fprintf(stderr, "bench-controller run: %s; nothing was sent\n",
                 std::string(run_id.status().message()).c_str());
    return run_id.status().code() == absl::StatusCode::kPermissionDenied ? kExitDenied : kExitUsage;
  }

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const bool terminal = isatty(STDERR_FILENO) != 0;
  const absl::Duration progress_every = terminal ? absl::Seconds(1) : absl::Seconds(10);
  absl::Time next_progress = absl::Now() + progress_every;
  int handled_interrupts = 0;
  uint64_t seen = 0;
  RunInfo info;
  while (true) {
    absl::StatusOr<RunInfo> changed =
        coordinator.WaitForChange(*run_id, seen, absl::Milliseconds(100));
    if (!changed.ok()) break;
    info = *std::move(changed);
    seen = info.version;
    if (IsTerminal(info.phase)) break;
    const int interrupts_seen = interrupts.load();
    if (interrupts_seen > handled_interrupts) {
      // First Ctrl-C: stop sending, give requests in flight a moment. Second: stop now.
      (void)coordinator.Cancel(*run_id, "local",
                               interrupts_seen == 1 ? absl::Seconds(5) : absl::ZeroDuration());
      if (!options.quiet) {
        std::fprintf(stderr, "%sinterrupted: %s\n", terminal ? "\n" : "",
                     interrupts_seen == 1
                         ? "stopping, draining up to 5 s (Ctrl-C again to stop now)"
                         : "stopping now");
      }
      handled_interrupts = interrupts_seen;
    }
    if (!options.quiet && absl::Now() >= next_progress) {
      const std::string line = RenderProgressLine(info.progress, info.error);
      std::fprintf(stderr, terminal ? "\r%s\033[K" : "%s\n", line.c_str());
      next_progress += progress_every;
    }
  }
  if (!options.quiet && terminal) std::fputs("\n", stderr);
  workers.reset();
  server->Shutdown(std::chrono::system_clock::now());

  if (info.results_path.empty() && info.phase != RunPhase::kDone) {
    std::fprintf(
        stderr, "bench-controller run: %s%s\n", info.error.c_str(),
        info.summary_json.empty() || info.progress.started == 0 ? "; nothing was sent" : "");
    return info.exit_code >= 0 ? info.exit_code : kExitRunFailed;
  }
  if (options.json) {
    std::fputs(info.summary_json.c_str(), stdout);
    std::fputs("\n", stdout);
    if (!options.quiet) std::fputs(info.summary_table.c_str(), stderr);
  } else {
    std::fputs(info.summary_table.c_str(), stdout);
  }
  if (!info.error.empty() && info.phase == RunPhase::kFailed) {
    std::fprintf(stderr, "bench-controller run: %s\n", info.error.c_str());
  }
  if (!info.results_path.empty()) {
    std::fprintf(options.json ? stderr : stdout, "results: %s\n", info.results_path.c_str());
  }
  return info.exit_code;
}

}  // namespace bench::controller
