// `bench-controller run`: a whole benchmark in this process - live progress, the summary table
// and the results directory. It runs through the same path as a cluster: a Coordinator splits
// the run among in-process workers (the bench-worker code) that report delta shards over an
// in-process gRPC channel, and the summary is made from the merged shards.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/allocator.h"
#include "common/config.h"
#include "common/config_yaml.h"
#include "common/failure_text.h"
#include "common/logging.h"
#include "common/plan.h"
#include "common/rpc_credentials.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/config_flags.h"
#include "controller/coordinator.h"
#include "controller/local_workers.h"
#include "controller/rpc_services.h"
#include "controller/series.h"
#include "controller/served_models.h"
#include "grpcpp/grpcpp.h"

namespace bench::controller {
namespace {

constexpr char kUsage[] =
    "usage: bench-controller run --config FILE [--set key.path=value ...] [options]\n"
    "       bench-controller run --endpoint URL [--model NAME] --rate R|--concurrency C [options]\n"
    "\n"
    "Runs a whole benchmark in this process and writes the results directory. Without a model\n"
    "(--model or target.model), the one model the server's /v1/models lists is used.\n"
    "  --threads N           engine threads in all (default: one per core), shared by the\n"
    "                        in-process workers (cluster.workers, default 1)\n"
    "  --quiet               no progress display\n"
    "  --json                print summary.json to stdout (the table goes to stderr)\n"
    "  --verbose             also print the notes on defaults applied (summary.json has them)\n"
    "  --no-preflight        skip the test request sent before the run (a run whose target\n"
    "                        answers it with an error stops there, exit 1, with its text)\n"
    "\n"
    "Ctrl-C stops sending, lets requests in flight finish briefly, writes partial results and\n"
    "exits 5. Exit codes: 0 ok, 1 run failed, 2 invalid usage or config, 3 SLO failed, 4 "
    "aborted by slo.abortOnFail, 5 cancelled.\n\n";

std::atomic<int> interrupts{0};

void OnSignal(int) { interrupts.fetch_add(1); }

// Follows a submitted run to its end: the progress line, and Ctrl-C (the first stops sending and
// drains briefly, the second stops now).
RunInfo FollowRun(Coordinator& coordinator, const std::string& run_id, bool quiet) {
  const bool terminal = isatty(STDERR_FILENO) != 0;
  const absl::Duration progress_every = terminal ? absl::Seconds(1) : absl::Seconds(10);
  absl::Time next_progress = absl::Now() + progress_every;
  int handled_interrupts = 0;
  uint64_t seen = 0;
  RunInfo info;
  while (true) {
    absl::StatusOr<RunInfo> changed =
        coordinator.WaitForChange(run_id, seen, absl::Milliseconds(100));
    if (!changed.ok()) break;
    info = *std::move(changed);
    seen = info.version;
    if (IsTerminal(info.phase)) break;
    const int interrupts_seen = interrupts.load();
    if (interrupts_seen > handled_interrupts) {
      (void)coordinator.Cancel(run_id, "local",
                               interrupts_seen == 1 ? absl::Seconds(5) : absl::ZeroDuration());
      if (!quiet) {
        std::fprintf(stderr, "%sinterrupted: %s\n", terminal ? "\n" : "",
                     interrupts_seen == 1
                         ? "stopping, draining up to 5 s (Ctrl-C again to stop now)"
                         : "stopping now");
      }
      handled_interrupts = interrupts_seen;
    }
    if (!quiet && absl::Now() >= next_progress) {
      const std::string line = RenderProgressLine(info.progress, info.error, ProgressWidth());
      std::fprintf(stderr, terminal ? "\r%s\033[K" : "%s\n", line.c_str());
      next_progress += progress_every;
    }
  }
  if (!quiet && terminal) std::fputs("\n", stderr);
  return info;
}

// A series' probes, each a run of the in-process controller.
class LocalProbeExecutor : public ProbeExecutor {
 public:
  LocalProbeExecutor(Coordinator& coordinator, std::vector<std::string> notes, bool quiet)
      : coordinator_(coordinator), notes_(std::move(notes)), quiet_(quiet) {}

  ProbeRun Execute(const ProbeSpec& probe) override {
    ProbeRun run;
    if (interrupts.load() > 0) {  // Ctrl-C between two probes
      run.exit_code = kExitCancelled;
      run.error = "interrupted";
      return run;
    }
    absl::StatusOr<std::string> run_id = coordinator_.Submit(probe.config, notes_, "local");
    if (!run_id.ok()) {
      run.exit_code =
          run_id.status().code() == absl::StatusCode::kPermissionDenied ? kExitDenied : kExitUsage;
      run.error = absl::StrCat(run_id.status().message(), "; nothing was sent");
      return run;
    }
    const RunInfo info = FollowRun(coordinator_, *run_id, quiet_);
    run.exit_code = info.exit_code >= 0 ? info.exit_code : kExitRunFailed;
    run.summary_json = info.summary_json;
    run.results_path = info.results_path;
    run.error = info.error;
    return run;
  }

 private:
  Coordinator& coordinator_;
  const std::vector<std::string> notes_;
  const bool quiet_;
};

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller run: %s\n\n%s%s", reason.c_str(), kUsage,
               kConfigFlagsHelp);
  return kExitUsage;
}

struct Options {
  ConfigFlags config;
  int threads = 0;
  bool quiet = false;
  bool json = false;
  bool preflight = true;
  bool verbose = false;
};

// Parses the flags; returns an exit code when the command must stop here.
std::optional<int> ParseFlags(const std::vector<std::string>& args, Options* options) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::optional<std::string> value;
    std::string error;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(kConfigFlagsHelp, stdout);
      return kExitOk;
    } else if (arg == "--quiet") {
      options->quiet = true;
    } else if (arg == "--json") {
      options->json = true;
    } else if (arg == "--no-preflight") {
      options->preflight = false;
    } else if (arg == "--verbose" || arg == "-v") {
      options->verbose = true;
    } else if (options->config.Match(args, &i, &error)) {
      if (!error.empty()) return UsageError(error);
    } else if (MatchFlag(args, &i, "--threads", &value)) {
      if (!value.has_value() || value->empty()) return UsageError("--threads needs a count");
      if (!absl::SimpleAtoi(*value, &options->threads) || options->threads < 1 ||
          options->threads > 1024) {
        return UsageError("--threads must be 1..1024, got " + *value);
      }
    } else if (arg.empty() || arg[0] != '-') {
      return UsageError("unexpected argument " + arg);
    } else {
      std::vector<std::string_view> known = ConfigFlags::Names();
      known.insert(known.end(),
                   {"--quiet", "--json", "--threads", "--no-preflight", "--verbose", "--help"});
      return UsageError(UnknownFlag(arg, known));
    }
  }
  if (absl::Status finished = options->config.Finish(options->config.config_path().has_value());
      !finished.ok()) {
    return UsageError(std::string(finished.message()));
  }
  return std::nullopt;
}

}  // namespace

int RunRunCommand(const std::vector<std::string>& args) {
  Options options;
  if (std::optional<int> exit = ParseFlags(args, &options)) return *exit;
  // A run lasts minutes to hours with its workers in this process: the daemons' allocator
  // settings keep its memory as flat (a leak still shows as a climb).
  KeepFreedMemoryForReuse();

  // Without --config, the quick form: a config made of the flags.
  std::string text = ConfigFlags::QuickConfig();
  std::string source = "the command-line flags";
  if (const std::optional<std::string>& path = options.config.config_path()) {
    auto read = ReadConfigFile(*path);
    if (!read.ok()) return UsageError(std::string(read.status().message()));
    text = *std::move(read);
    source = *path;
  }
  auto parsed = ParseConfig(text, source, options.config.overrides());
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\nbench-controller run: invalid config; nothing was sent\n",
                 std::string(parsed.status().message()).c_str());
    return kExitUsage;
  }
  BenchmarkConfig& config = parsed->config;
  // Without a model, the one the server lists.
  absl::StatusOr<std::optional<std::string>> model_note = TakeOnlyServedModel(config.target);
  if (!model_note.ok()) {
    std::fprintf(stderr, "bench-controller run: %s; nothing else was sent\n",
                 std::string(model_note.status().message()).c_str());
    return model_note.status().code() == absl::StatusCode::kFailedPrecondition ? kExitUsage
                                                                               : kExitRunFailed;
  }
  if (model_note->has_value()) {
    if (!options.quiet) std::fprintf(stderr, "%s\n", PrintableExcerpt(**model_note, 400).c_str());
    parsed->notes.push_back(**model_note);
  }
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
  const bool series = config.load.series.kind != SeriesKind::kNone;
  if (!options.quiet) {
    std::fprintf(stderr, "llm-d-bench run %s: %s (%s), model %s\n", config.benchmark.name.c_str(),
                 config.target.endpoint.c_str(),
                 std::string(ProtocolName(config.target.protocol)).c_str(),
                 config.target.model.c_str());
    std::fprintf(stderr, "%s\nengine threads: %d (%d in-process %s)\n",
                 series ? DescribeSeries(config).c_str() : RenderPlan(plan).c_str(),
                 threads_each * worker_count, worker_count,
                 worker_count == 1 ? "worker" : "workers");
  }
  if (options.verbose) {
    for (const std::string& note : parsed->notes) std::fprintf(stderr, "note: %s\n", note.c_str());
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

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const auto stop = [&](int code) {
    workers.reset();
    server->Shutdown(std::chrono::system_clock::now());
    return code;
  };
  if (options.preflight) {
    // What the controller would refuse is refused before the preflight sends anything.
    for (const BenchmarkConfig& run : RunsToCheck(config)) {
      if (absl::Status admitted = coordinator.Check(run, "local"); !admitted.ok()) {
        std::fprintf(stderr, "bench-controller run: %s; nothing was sent\n",
                     std::string(admitted.message()).c_str());
        return stop(admitted.code() == absl::StatusCode::kPermissionDenied ? kExitDenied
                                                                           : kExitUsage);
      }
    }
    // Its results go to a scratch directory: only its verdict matters.
    char scratch[] = "/tmp/llm-d-bench-preflight-XXXXXX";
    if (::mkdtemp(scratch) == nullptr) {
      std::fprintf(stderr, "bench-controller run: cannot create a scratch directory: %s\n",
                   std::strerror(errno));
      return stop(kExitRunFailed);
    }
    LocalProbeExecutor executor(coordinator, parsed->notes, /*quiet=*/true);
    const std::optional<int> failed = RunPreflight(config, executor, scratch, options.quiet);
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
    if (failed.has_value()) return stop(*failed);
  }
  if (series) {
    LocalProbeExecutor executor(coordinator, parsed->notes, options.quiet);
    const int code = RunSeries(config, executor, {options.quiet, options.json});
    workers.reset();
    server->Shutdown(std::chrono::system_clock::now());
    return code;
  }
  absl::StatusOr<std::string> run_id = coordinator.Submit(config, parsed->notes, "local");
  if (!run_id.ok()) {
    std::fprintf(stderr, "bench-controller run: %s; nothing was sent\n",
                 std::string(run_id.status().message()).c_str());
    return run_id.status().code() == absl::StatusCode::kPermissionDenied ? kExitDenied : kExitUsage;
  }

  const RunInfo info = FollowRun(coordinator, *run_id, options.quiet);
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
