// The client commands of a controller daemon: submit (queue a run, follow it, fetch its results),
// status, list, cancel and fetch. Each RPC carries a deadline and the bearer token.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench.grpc.pb.h"
#include "common/config_yaml.h"
#include "common/rpc_credentials.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/config_flags.h"
#include "controller/coordinator.h"
#include "controller/series.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

namespace bench::controller {
namespace {

std::atomic<int> submit_interrupts{0};

constexpr char kConnectionFlags[] =
    "connection:\n"
    "  --controller HOST:PORT  the daemon (default 127.0.0.1:7070)\n"
    "  --token-file PATH       bearer token (or BENCH_TOKEN in the env)\n"
    "  --ca-file PATH          CA that signed the controller's certificate\n"
    "  --cert-file/--key-file  client certificate and key (mTLS)\n"
    "  --insecure              plaintext (a loopback development controller)\n";

struct Client {
  DialOptions dial;
  Client() { dial.address = "127.0.0.1:7070"; }
  std::unique_ptr<bench::v1::BenchmarkService::Stub> stub;
  std::string token;

  void Prepare(grpc::ClientContext* context, absl::Duration deadline) const {
    context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(deadline));
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  }
};

// Takes a connection flag at args[*i]; true when it was one.
bool MatchConnectionFlag(const std::vector<std::string>& args, size_t* i, Client* client,
                         std::string* error) {
  std::optional<std::string> value;
  std::string* target = nullptr;
  if (args[*i] == "--insecure") {
    client->dial.insecure = true;
    return true;
  }
  if (MatchFlag(args, i, "--controller", &value)) {
    target = &client->dial.address;
  } else if (MatchFlag(args, i, "--token-file", &value)) {
    target = &client->dial.token_file;
  } else if (MatchFlag(args, i, "--ca-file", &value)) {
    target = &client->dial.ca_file;
  } else if (MatchFlag(args, i, "--cert-file", &value)) {
    target = &client->dial.cert_file;
  } else if (MatchFlag(args, i, "--key-file", &value)) {
    target = &client->dial.key_file;
  } else {
    return false;
  }
  if (!value.has_value() || value->empty()) {
    *error = absl::StrCat(args[*i], " needs a value");
  } else {
    *target = *value;
  }
  return true;
}

absl::Status Connect(Client* client) {
  absl::StatusOr<Dial> dial = MakeDial(client->dial);
  if (!dial.ok()) return dial.status();
  client->token = dial->token;
  client->stub = bench::v1::BenchmarkService::NewStub(
      grpc::CreateCustomChannel(client->dial.address, dial->credentials, dial->arguments));
  return absl::OkStatus();
}

// SPEC section 7 for a failed RPC.
int ExitCodeForRpc(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return kExitUsage;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return kExitDenied;
    default:
      return kExitRunFailed;
  }
}

int RpcFailed(const char* command, const grpc::Status& status, const std::string& address) {
  std::fprintf(stderr, "bench-controller %s: %s (controller %s, code %d)\n", command,
               status.error_message().c_str(), address.c_str(),
               static_cast<int>(status.error_code()));
  return ExitCodeForRpc(status);
}

std::string StateName(bench::v1::RunState state) {
  std::string name = bench::v1::RunState_Name(state);
  if (name.rfind("RUN_STATE_", 0) == 0) name = name.substr(10);
  for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return name;
}

Progress FromProto(const bench::v1::Progress& p) {
  Progress progress;
  progress.elapsed_s = static_cast<double>(p.elapsed_ns()) / 1e9;
  progress.total_s = static_cast<double>(p.total_ns()) / 1e9;
  progress.warming_up = p.warming_up();
  progress.draining = p.draining();
  progress.requested_rate = p.requested_rate();
  progress.achieved_rate = p.achieved_rate();
  progress.started = p.started();
  progress.succeeded = p.succeeded();
  progress.failed = p.errors();
  progress.in_flight = p.in_flight();
  progress.client_queue = p.client_queue();
  progress.ttft_p50_ms = p.ttft_p50_ms();
  progress.ttft_p99_ms = p.ttft_p99_ms();
  progress.workers = p.workers();
  progress.stage = p.stage();
  progress.stages = p.stages();
  return progress;
}

// Streams a run's results directory into `parent`/<run id>/; returns the directory.
absl::StatusOr<std::string> FetchInto(const Client& client, const std::string& run_id,
                                      const std::string& parent) {
  namespace fs = std::filesystem;
  grpc::ClientContext context;
  client.Prepare(&context, absl::Minutes(10));
  bench::v1::FetchResultsRequest request;
  request.set_run_id(run_id);
  auto reader = client.stub->FetchResults(&context, request);
  const fs::path root = fs::path(parent) / run_id;
  std::error_code error;
  fs::create_directories(root, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", root.string(), ": ", error.message()));
  }
  bench::v1::ResultFile piece;
  std::map<std::string, std::ofstream> open;
  while (reader->Read(&piece)) {
    const fs::path relative(piece.path());
    if (relative.is_absolute() || piece.path().find("..") != std::string::npos) {
      return absl::DataLossError(absl::StrCat("the controller sent a bad path: ", piece.path()));
    }
    const fs::path path = root / relative;
    auto it = open.find(piece.path());
    if (it == open.end()) {
      fs::create_directories(path.parent_path(), error);
      it =
          open.emplace(piece.path(), std::ofstream(path, std::ios::binary | std::ios::trunc)).first;
    }
    it->second.write(piece.data().data(), static_cast<std::streamsize>(piece.data().size()));
    if (piece.last_chunk()) it->second.close();
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  return root.string();
}

absl::StatusOr<bench::v1::Run> GetRun(const Client& client, const std::string& run_id,
                                      grpc::Status* rpc_status) {
  grpc::ClientContext context;
  client.Prepare(&context, absl::Seconds(30));
  bench::v1::GetRunRequest request;
  request.set_run_id(run_id);
  bench::v1::Run run;
  *rpc_status = client.stub->GetRun(&context, request, &run);
  if (!rpc_status->ok()) return absl::UnavailableError(rpc_status->error_message());
  return run;
}

// Queueing and waiting for workers may take long; the run itself is bounded.
absl::Duration RunLimit(const BenchmarkConfig& config) {
  return config.benchmark.warmup + config.benchmark.duration + config.target.timeout +
         absl::Hours(24);
}

// Follows a submitted run to its end, printing its progress. Ctrl-C: the first cancels the run
// on the controller (its requests in flight get a few seconds; the summary and results still
// come), the second stops following it. Returns an exit code when following stopped early.
std::optional<int> FollowRun(Client& client, const std::string& run_id, absl::Duration limit,
                             bool quiet) {
  const bool terminal = isatty(STDERR_FILENO) != 0;
  grpc::ClientContext context;
  client.Prepare(&context, limit);
  bench::v1::WatchRequest watch;
  watch.set_run_id(run_id);
  auto reader = client.stub->Watch(&context, watch);
  struct sigaction action {};
  action.sa_handler = [](int) { submit_interrupts.fetch_add(1); };
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::atomic<bool> watching{true};
  std::thread interrupter([&] {
    int handled = 0;
    while (watching.load()) {
      const int seen = submit_interrupts.load();
      if (seen > handled) {
        handled = seen;
        if (seen == 1) {
          std::fprintf(stderr,
                       "%sinterrupted: cancelling run %s (Ctrl-C again to stop "
                       "following it)\n",
                       terminal ? "\n" : "", run_id.c_str());
          grpc::ClientContext cancel_context;
          client.Prepare(&cancel_context, absl::Seconds(30));
          bench::v1::CancelRequest cancel;
          cancel.set_run_id(run_id);
          bench::v1::CancelResponse cancelled;
          (void)client.stub->Cancel(&cancel_context, cancel, &cancelled);
        } else {
          context.TryCancel();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  bench::v1::Progress progress;
  absl::Time next_line = absl::Now();
  while (reader->Read(&progress)) {
    if (quiet || absl::Now() < next_line) continue;
    next_line = absl::Now() + (terminal ? absl::Seconds(1) : absl::Seconds(10));
    const std::string line =
        RenderProgressLine(FromProto(progress), progress.message(), ProgressWidth());
    std::fprintf(stderr, terminal ? "\r%s\033[K" : "%s\n", line.c_str());
  }
  if (!quiet && terminal) std::fputs("\n", stderr);
  const grpc::Status status = reader->Finish();
  watching.store(false);
  interrupter.join();
  if (submit_interrupts.load() > 1) {
    std::fprintf(stderr,
                 "bench-controller submit: stopped following run %s; `status %s` and "
                 "`fetch %s` show it later\n",
                 run_id.c_str(), run_id.c_str(), run_id.c_str());
    return kExitCancelled;
  }
  if (!status.ok()) return RpcFailed("submit (watch)", status, client.dial.address);
  return std::nullopt;
}

// A series' probes, each submitted to the daemon as a run of its own and fetched into the
// series directory's probes/.
class RemoteProbeExecutor : public ProbeExecutor {
 public:
  RemoteProbeExecutor(Client& client, bool quiet, bool fetch)
      : client_(client), quiet_(quiet), fetch_(fetch) {}

  ProbeRun Execute(const ProbeSpec& probe) override {
    ProbeRun run;
    if (submit_interrupts.load() > 0) {  // Ctrl-C between two probes
      run.exit_code = kExitCancelled;
      run.error = "interrupted";
      return run;
    }
    bench::v1::SubmitRequest request;
    request.set_config_yaml(ConfigToYamlWithSecrets(probe.config));
    request.set_preflight(probe.role == "preflight");
    bench::v1::SubmitResponse response;
    grpc::ClientContext context;
    client_.Prepare(&context, absl::Seconds(30));
    if (const grpc::Status status = client_.stub->Submit(&context, request, &response);
        !status.ok()) {
      run.exit_code = ExitCodeForRpc(status);
      run.error = absl::StrCat("the controller refused the probe: ", status.error_message());
      return run;
    }
    const std::string& run_id = response.run_id();
    if (const std::optional<int> stopped =
            FollowRun(client_, run_id, RunLimit(probe.config), quiet_)) {
      run.exit_code = *stopped;
      run.error = absl::StrCat("stopped following run ", run_id);
      return run;
    }
    grpc::Status rpc_status;
    absl::StatusOr<bench::v1::Run> result = GetRun(client_, run_id, &rpc_status);
    if (!result.ok()) {
      run.exit_code = ExitCodeForRpc(rpc_status);
      run.error = absl::StrCat("cannot read run ", run_id, ": ", rpc_status.error_message());
      return run;
    }
    run.exit_code = result->exit_code() >= 0 ? result->exit_code() : kExitRunFailed;
    run.summary_json = result->summary_json();
    run.error = result->error();
    if (fetch_ && !run.summary_json.empty()) {
      absl::StatusOr<std::string> directory = FetchInto(client_, run_id, probe.config.output.dir);
      if (directory.ok()) {
        run.results_path = *directory;
      } else {
        run.exit_code = kExitRunFailed;
        run.error =
            absl::StrCat("cannot fetch run ", run_id, "'s results: ", directory.status().message());
      }
    }
    return run;
  }

 private:
  Client& client_;
  const bool quiet_;
  const bool fetch_;
};

constexpr char kSubmitUsage[] =
    "usage: bench-controller submit --controller HOST:PORT --config FILE [options]\n"
    "\n"
    "Queues a run on a controller daemon, follows its progress, prints the summary and fetches\n"
    "the results directory into --output (default: the config's output.dir). A sweep or a\n"
    "capacity search is driven from here, one probe at a time.\n"
    "  --detach              print the run id and return at once\n"
    "  --no-fetch            do not fetch the results directory\n"
    "  --verbose             also print the notes on defaults applied (summary.json has them)\n"
    "  --no-preflight        skip the test request run first (a target that answers it with\n"
    "                        an error stops the submit there, exit 1, with its text)\n"
    "  --quiet               no progress display\n"
    "  --json                print summary.json to stdout (the table goes to stderr)\n";

}  // namespace

int RunSubmitCommand(const std::vector<std::string>& args) {
  Client client;
  ConfigFlags flags;
  bool detach = false, quiet = false, json = false, fetch = true, preflight = true, verbose = false;
  auto usage = [&](const std::string& reason) {
    std::fprintf(stderr, "bench-controller submit: %s\n\n%s%s%s", reason.c_str(), kSubmitUsage,
                 kConnectionFlags, kConfigFlagsHelp);
    return kExitUsage;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string error;
    std::optional<std::string> value;
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf("%s%s%s", kSubmitUsage, kConnectionFlags, kConfigFlagsHelp);
      return kExitOk;
    } else if (MatchConnectionFlag(args, &i, &client, &error)) {
      if (!error.empty()) return usage(error);
    } else if (args[i] == "--detach") {
      detach = true;
    } else if (args[i] == "--quiet") {
      quiet = true;
    } else if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--no-fetch") {
      fetch = false;
    } else if (args[i] == "--no-preflight") {
      preflight = false;
    } else if (args[i] == "--verbose" || args[i] == "-v") {
      verbose = true;
    } else if (flags.Match(args, &i, &error)) {
      if (!error.empty()) return usage(error);
    } else {
      std::vector<std::string_view> known = ConfigFlags::Names();
      known.insert(known.end(), {"--controller", "--token-file", "--ca-file", "--cert-file",
                                 "--key-file", "--insecure", "--detach", "--quiet", "--json",
                                 "--no-fetch", "--no-preflight", "--verbose", "--help"});
      return usage(UnknownFlag(args[i], known));
    }
  }
  if (!flags.config_path().has_value()) return usage("--config FILE is required");
  if (absl::Status finished = flags.Finish(true); !finished.ok()) {
    return usage(std::string(finished.message()));
  }
  const std::string& config_path = *flags.config_path();
  absl::StatusOr<std::string> text = ReadConfigFile(config_path);
  if (!text.ok()) return usage(std::string(text.status().message()));
  // Checked here, so a typo is reported before any connection is made; the daemon gets the
  // resolved config (the daemon checks it again).
  absl::StatusOr<ParsedConfig> parsed = ParseConfig(*text, config_path, flags.overrides());
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\nbench-controller submit: invalid config; nothing was sent\n",
                 std::string(parsed.status().message()).c_str());
    return kExitUsage;
  }
  const std::string output = parsed->config.output.dir;
  const bool series = parsed->config.load.series.kind != SeriesKind::kNone;
  if (series && detach) {
    return usage(absl::StrCat("--detach: load.type ",
                              std::string(LoadTypeName(parsed->config.load)),
                              " is driven by this command, one probe after another; it cannot "
                              "detach"));
  }
  if (absl::Status connected = Connect(&client); !connected.ok()) {
    return usage(std::string(connected.message()));
  }
  if (verbose) {
    for (const std::string& note : parsed->notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  }
  if (preflight && !detach) {
    // What the daemon would refuse is refused before the preflight sends anything.
    for (const BenchmarkConfig& run : RunsToCheck(parsed->config)) {
      bench::v1::SubmitRequest check;
      check.set_config_yaml(ConfigToYamlWithSecrets(run));
      check.set_check_only(true);
      bench::v1::SubmitResponse checked;
      grpc::ClientContext context;
      client.Prepare(&context, absl::Seconds(30));
      if (const grpc::Status status = client.stub->Submit(&context, check, &checked);
          !status.ok()) {
        return RpcFailed("submit", status, client.dial.address);
      }
    }
    // A run of its own on the daemon, before the real one; its results stay there.
    RemoteProbeExecutor executor(client, /*quiet=*/true, /*fetch=*/false);
    if (const std::optional<int> failed =
            RunPreflight(parsed->config, executor, parsed->config.output.dir, quiet)) {
      return *failed;
    }
  }
  if (series) {
    // The series directory and each probe's fetched results go under --output (output.dir).
    RemoteProbeExecutor executor(client, quiet, fetch);
    return RunSeries(parsed->config, executor, {quiet, json});
  }

  bench::v1::SubmitRequest request;
  request.set_config_yaml(ConfigToYamlWithSecrets(parsed->config));
  bench::v1::SubmitResponse response;
  {
    grpc::ClientContext context;
    client.Prepare(&context, absl::Seconds(30));
    const grpc::Status status = client.stub->Submit(&context, request, &response);
    if (!status.ok()) return RpcFailed("submit", status, client.dial.address);
  }
  if (detach) {
    std::printf("%s\n", response.run_id().c_str());
    return kExitOk;
  }
  const std::string& run_id = response.run_id();
  if (!quiet)
    std::fprintf(stderr, "run %s queued on %s\n", run_id.c_str(), client.dial.address.c_str());
  if (const std::optional<int> stopped =
          FollowRun(client, run_id, RunLimit(parsed->config), quiet)) {
    return *stopped;
  }
  grpc::Status rpc_status;
  absl::StatusOr<bench::v1::Run> run = GetRun(client, run_id, &rpc_status);
  if (!run.ok()) return RpcFailed("submit (result)", rpc_status, client.dial.address);
  if (json) {
    std::fputs(run->summary_json().c_str(), stdout);
    std::fputs("\n", stdout);
    if (!quiet) std::fputs(run->summary_table().c_str(), stderr);
  } else {
    std::fputs(run->summary_table().c_str(), stdout);
  }
  if (!run->error().empty()) {
    std::fprintf(stderr, "bench-controller submit: run %s %s: %s\n", run_id.c_str(),
                 StateName(run->state()).c_str(), run->error().c_str());
  }
  if (fetch && !run->summary_json().empty()) {
    absl::StatusOr<std::string> directory = FetchInto(client, run_id, output);
    if (directory.ok()) {
      std::fprintf(json ? stderr : stdout, "results: %s\n", directory->c_str());
    } else {
      std::fprintf(stderr, "bench-controller submit: cannot fetch the results: %s\n",
                   std::string(directory.status().message()).c_str());
      return kExitRunFailed;
    }
  }
  return run->exit_code() >= 0 ? run->exit_code() : kExitRunFailed;
}

// `status` without a run: the daemon, its workers and its allow-list. Exit 1 when it is not
// accepting runs (stopping).
int ShowController(Client& client, bool json) {
  grpc::ClientContext context;
  client.Prepare(&context, absl::Seconds(30));
  bench::v1::GetControllerRequest request;
  bench::v1::ControllerStatus status;
  const grpc::Status rpc = client.stub->GetController(&context, request, &status);
  if (!rpc.ok()) return RpcFailed("status", rpc, client.dial.address);
  if (json) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(status, &text, options);
    std::printf("%s\n", text.c_str());
    return status.ready() ? kExitOk : kExitRunFailed;
  }
  uint32_t threads = 0, busy = 0;
  for (const bench::v1::ConnectedWorker& worker : status.workers()) {
    threads += worker.threads();
    busy += worker.run_id().empty() ? 0 : 1;
  }
  std::printf("controller %s: %s\n", client.dial.address.c_str(),
              status.ready() ? "ready" : "not accepting runs");
  std::printf("  workers: %d connected, %u engine threads, %u busy\n", status.workers_size(),
              threads, busy);
  if (status.workers_size() > 0) {
    std::printf("    %-32s %-7s %-44s %s\n", "NAME", "THREADS", "RUN", "ADDRESS");
    for (const bench::v1::ConnectedWorker& worker : status.workers()) {
      std::printf("    %-32s %-7u %-44s %s\n", worker.name().c_str(), worker.threads(),
                  worker.run_id().empty() ? "-" : worker.run_id().c_str(),
                  worker.address().c_str());
    }
  }
  std::printf("  runs: %u queued, active %s\n", status.runs_queued(),
              status.active_run_id().empty() ? "none" : status.active_run_id().c_str());
  if (status.allowed_targets().empty()) {
    std::printf("  allow-list: empty (every run is denied)\n");
  } else {
    std::printf("  allow-list: %s\n", absl::StrJoin(status.allowed_targets(), ", ").c_str());
  }
  return status.ready() ? kExitOk : kExitRunFailed;
}

// status [RUN] | list | cancel RUN | fetch RUN: one RPC each.
int RunClientCommand(const std::string& command, const std::vector<std::string>& args) {
  Client client;
  std::string run_id, output = "results";
  bool json = false;
  // `status` without a run shows the daemon itself.
  const bool needs_run = command != "list" && command != "status";
  auto usage = [&](const std::string& reason) {
    std::fprintf(stderr,
                 "bench-controller %s: %s\n\nusage: bench-controller %s%s [--json (status)] "
                 "[--output DIR (fetch)] [connection flags]\n%s",
                 command.c_str(), reason.c_str(), command.c_str(),
                 command == "status" ? " [RUN]"
                 : needs_run         ? " RUN"
                                     : "",
                 kConnectionFlags);
    return kExitUsage;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string error;
    std::optional<std::string> value;
    if (MatchConnectionFlag(args, &i, &client, &error)) {
      if (!error.empty()) return usage(error);
    } else if (args[i] == "--json") {
      // Each flag only where it does something: never accepted and ignored.
      if (command != "status") return usage("--json is for status only");
      json = true;
    } else if (MatchFlag(args, &i, "--output", &value)) {
      if (command != "fetch") return usage("--output is for fetch only");
      if (!value || value->empty()) return usage("--output needs a directory");
      output = *value;
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::printf("usage: bench-controller %s%s%s [connection]\n%s", command.c_str(),
                  command == "status" ? " [RUN]"
                  : needs_run         ? " RUN"
                                      : "",
                  command == "status"  ? " [--json]"
                  : command == "fetch" ? " [--output DIR]"
                                       : "",
                  kConnectionFlags);
      return kExitOk;
    } else if (!args[i].empty() && args[i][0] != '-' && command != "list" && run_id.empty()) {
      run_id = args[i];
    } else {
      return usage("unexpected argument " + args[i]);
    }
  }
  if (needs_run && run_id.empty()) return usage("which run? give its id");
  if (absl::Status connected = Connect(&client); !connected.ok()) {
    return usage(std::string(connected.message()));
  }
  if (command == "list") {
    grpc::ClientContext context;
    client.Prepare(&context, absl::Seconds(30));
    bench::v1::ListRunsRequest request;
    bench::v1::ListRunsResponse response;
    const grpc::Status status = client.stub->ListRuns(&context, request, &response);
    if (!status.ok()) return RpcFailed("list", status, client.dial.address);
    std::printf("%-44s %-20s %-5s %-7s %s\n", "RUN", "STATE", "EXIT", "WORKERS", "TARGET");
    for (const bench::v1::Run& run : response.runs()) {
      // Workers that took part (0 before the start, and for runs recovered from disk).
      const uint32_t workers = run.progress().workers();
      std::printf("%-44s %-20s %-5s %-7s %s\n", run.run_id().c_str(),
                  StateName(run.state()).c_str(),
                  run.exit_code() >= 0 ? absl::StrCat(run.exit_code()).c_str() : "-",
                  workers > 0 ? absl::StrCat(workers).c_str() : "-", run.target().c_str());
    }
    return kExitOk;
  }
  if (command == "cancel") {
    grpc::ClientContext context;
    client.Prepare(&context, absl::Seconds(30));
    bench::v1::CancelRequest request;
    request.set_run_id(run_id);
    bench::v1::CancelResponse response;
    const grpc::Status status = client.stub->Cancel(&context, request, &response);
    if (!status.ok()) return RpcFailed("cancel", status, client.dial.address);
    std::printf("%s %s\n", run_id.c_str(), StateName(response.state()).c_str());
    return kExitOk;
  }
  if (command == "fetch") {
    absl::StatusOr<std::string> directory = FetchInto(client, run_id, output);
    if (!directory.ok()) {
      std::fprintf(stderr, "bench-controller fetch: %s\n",
                   std::string(directory.status().message()).c_str());
      return directory.status().code() == absl::StatusCode::kUnauthenticated ? kExitDenied
                                                                             : kExitRunFailed;
    }
    std::printf("results: %s\n", directory->c_str());
    return kExitOk;
  }
  if (run_id.empty()) return ShowController(client, json);
  grpc::Status rpc_status;  // status
  absl::StatusOr<bench::v1::Run> run = GetRun(client, run_id, &rpc_status);
  if (!run.ok()) return RpcFailed("status", rpc_status, client.dial.address);
  if (json) {
    std::fputs(run->summary_json().c_str(), stdout);
    std::fputs("\n", stdout);
    return kExitOk;
  }
  std::printf("run %s (%s): %s\n", run->run_id().c_str(), run->name().c_str(),
              StateName(run->state()).c_str());
  if (!run->error().empty()) std::printf("  %s\n", run->error().c_str());
  std::printf("  %s\n", RenderProgressLine(FromProto(run->progress()), "", 0).c_str());
  if (run->exit_code() >= 0) std::printf("  exit code %d\n", run->exit_code());
  return kExitOk;
}

}  // namespace bench::controller
