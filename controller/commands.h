// The bench-controller subcommands. Each takes the arguments after its name and returns the
// process exit code of SPEC section 7 (0 ok, 2 invalid usage or config, ...).
#pragma once

#include <string>
#include <vector>

namespace bench::controller {

// Exit codes, SPEC section 7.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitSloFailed = 3;
inline constexpr int kExitAborted = 4;
inline constexpr int kExitCancelled = 5;
inline constexpr int kExitDenied = 6;

// `validate --config F [--set key.path=value ...] [--endpoint URL] [--model M]`: parses and
// validates the config, prints the resolved config and plan (stdout) or the errors (stderr).
int RunValidateCommand(const std::vector<std::string>& args);

// `run --config F | --endpoint URL --model M ...`: the whole benchmark in this process
// (controller/run_command.cc).
int RunRunCommand(const std::vector<std::string>& args);

// `serve`: the controller daemon (controller/serve_command.cc).
int RunServeCommand(const std::vector<std::string>& args);

// `submit --controller HOST:PORT --config F`: queue a run on a daemon, follow it, fetch results.
int RunSubmitCommand(const std::vector<std::string>& args);

// `report --input DIR [--format html|pdf|md|csv|json] [--output F]`: a report rebuilt from a
// results directory (controller/report_command.cc).
int RunReportCommand(const std::vector<std::string>& args);

// `compare BASELINE CANDIDATE... [--fail-on-regression PCT] [--output F.html]`: runs side by side,
// regressions judged from histograms and series (controller/compare_command.cc); exit 3 on a
// regression beyond the bound.
int RunCompareCommand(const std::vector<std::string>& args);

// `schema [--format json|markdown] [--output F]`: the config's JSON Schema or docs/config.md,
// generated from the config table (controller/config_reference.cc).
int RunSchemaCommand(const std::vector<std::string>& args);

// `status RUN`, `list`, `cancel RUN`, `fetch RUN` against a daemon.
int RunClientCommand(const std::string& command, const std::vector<std::string>& args);

}  // namespace bench::controller
