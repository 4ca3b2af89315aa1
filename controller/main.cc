// bench-controller: the llm-d-bench CLI. Dispatches to one subcommand (controller/commands.h).
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "common/version.h"
#include "controller/commands.h"

namespace {

constexpr char kUsage[] =
    "usage: bench-controller <command> [options]\n"
    "\n"
    "Benchmarks OpenAI-compatible LLM inference endpoints (vLLM, SGLang, llm-d gateways).\n"
    "\n"
    "commands:\n"
    "  run --config F [--set key.path=value ...] | --endpoint URL --model M --rate R ...\n"
    "             run a whole benchmark in this process; prints the summary, writes results/\n"
    "  validate --config F [--set key.path=value ...] [--endpoint URL] [--model M]\n"
    "             check a config and print the resolved plan without sending traffic\n"
    "  serve [--listen HOST:PORT] [--tls-cert F --tls-key F] [--token-file F] ...\n"
    "             the controller daemon that bench-worker processes dial\n"
    "  submit --controller HOST:PORT --config F [--detach]\n"
    "             queue a run on a daemon, follow it, print the summary, fetch the results\n"
    "  status [RUN] | list | cancel RUN | fetch RUN (with --controller HOST:PORT)\n"
    "             inspect and control runs on a daemon\n"
    "  report --input DIR [--format html|pdf|md|csv|json] [--output F]\n"
    "             rebuild a results directory's report (also from partial results)\n"
    "  schema [--format json|markdown] [--output F]\n"
    "             the config's JSON Schema (for editors and validators) or its reference docs\n"
    "  --version  the tool's version and the commit it was built from\n"
    "  compare BASELINE CANDIDATE... [--fail-on-regression PCT] [--output F.html]\n"
    "             runs side by side; regressions judged from histograms, beyond noise\n"
    "\n"
    "exit codes: 0 ok, 1 run failed, 2 invalid usage or config, 3 SLO failed, 4 aborted,\n"
    "            5 cancelled, 6 denied.\n";

}  // namespace

int main(int argc, char** argv) {
  using bench::controller::kExitUsage;
  // A peer that closes while the controller writes (OpenSSL writes with write(2)) must be an
  // EPIPE error, not the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string_view command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return bench::controller::kExitOk;
  }
  if (command == "--version" || command == "version") {
    std::printf("%s %s (commit %s)\n", bench::kToolName, bench::kToolVersion, bench::kToolCommit);
    return bench::controller::kExitOk;
  }
  if (command == "validate") return bench::controller::RunValidateCommand(args);
  if (command == "run") return bench::controller::RunRunCommand(args);
  if (command == "compare") return bench::controller::RunCompareCommand(args);
  if (command == "report") return bench::controller::RunReportCommand(args);
  if (command == "schema") return bench::controller::RunSchemaCommand(args);
  if (command == "serve") return bench::controller::RunServeCommand(args);
  if (command == "submit") return bench::controller::RunSubmitCommand(args);
  if (command == "status" || command == "list" || command == "cancel" || command == "fetch") {
    return bench::controller::RunClientCommand(std::string(command), args);
  }
  std::fprintf(stderr, "bench-controller: unknown command '%.*s'\n\n%s",
               static_cast<int>(command.size()), command.data(), kUsage);
  return kExitUsage;
}
