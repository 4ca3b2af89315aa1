// `bench-controller validate`: reads a config, applies --set/--endpoint/--model, and prints the
// resolved config, the plan and the defaults applied, or every error with its line.

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "common/config_yaml.h"
#include "common/plan.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/config_flags.h"
#include "controller/local_workers.h"
#include "controller/series.h"

namespace bench::controller {
namespace {

constexpr char kUsage[] =
    "usage: bench-controller validate --config FILE [--set key.path=value ...] [config flags]\n"
    "       bench-controller validate [config flags]   (the config `run` would make of them)\n"
    "\n"
    "Checks a benchmark config and prints the resolved config, the plan and the defaults\n"
    "applied, without sending any traffic. Exit code 0 when valid, 2 otherwise. The flags are\n"
    "the ones `run` takes; --set values are YAML (--set load.rate=20, --set\n"
    "'load.stages=[{rate: 5, duration: 10}]').\n\n";

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller validate: %s\n\n%s%s", reason.c_str(), kUsage,
               kConfigFlagsHelp);
  return kExitUsage;
}

void PrintCommented(const std::string& text) {
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line =
        text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::printf("#%s%s\n", line.empty() ? "" : "   ", line.c_str());
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

}  // namespace

int RunValidateCommand(const std::vector<std::string>& args) {
  ConfigFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string error;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(kConfigFlagsHelp, stdout);
      return kExitOk;
    }
    if (flags.Match(args, &i, &error)) {
      if (!error.empty()) return UsageError(error);
    } else if (!arg.empty() && arg[0] == '-') {
      std::vector<std::string_view> known = ConfigFlags::Names();
      known.push_back("--help");
      return UsageError(UnknownFlag(arg, known));
    } else {
      return UsageError("unexpected argument " + arg + " (the config file goes after --config)");
    }
  }
  const std::optional<std::string>& config_path = flags.config_path();
  if (absl::Status finished = flags.Finish(config_path.has_value()); !finished.ok()) {
    return UsageError(config_path.has_value() ? std::string(finished.message())
                                              : "missing --config FILE (or the flags of a quick "
                                                "run: " +
                                                    std::string(finished.message()) + ")");
  }
  const std::string source = config_path.value_or("the command-line flags");
  std::string text = ConfigFlags::QuickConfig();
  if (config_path.has_value()) {
    absl::StatusOr<std::string> read = ReadConfigFile(*config_path);
    if (!read.ok()) return UsageError(std::string(read.status().message()));
    text = *std::move(read);
  }

  absl::StatusOr<ParsedConfig> parsed = ParseConfig(text, source, flags.overrides());
  if (!parsed.ok()) {
    const std::string errors(parsed.status().message());
    size_t count = 0;
    for (size_t pos = 0; pos != std::string::npos; pos = errors.find('\n', pos + 1)) ++count;
    std::fprintf(stderr, "%s\nbench-controller validate: %zu error%s in %s; nothing was sent\n",
                 errors.c_str(), count, count == 1 ? "" : "s", source.c_str());
    return kExitUsage;
  }

  std::printf("# Resolved config from %s (defaults filled in, secrets redacted).\n",
              source.c_str());
  const Plan plan = MakePlan(parsed->config);
  if (!plan.trace_error.empty()) {
    // The config is fine but the trace it names would fail `run`: the same exit as a bad config.
    std::fprintf(stderr,
                 "%s\nbench-controller validate: load.trace %s is not a valid trace; "
                 "nothing was sent\n",
                 plan.trace_error.c_str(), parsed->config.load.trace.c_str());
    return kExitUsage;
  }
  // The files the workers would read, read here the same way.
  absl::StatusOr<std::vector<std::string>> files = CheckWorkerFiles(parsed->config);
  if (!files.ok()) {
    std::fprintf(stderr, "%s: %s\nbench-controller validate: 1 error in %s; nothing was sent\n",
                 source.c_str(), std::string(files.status().message()).c_str(), source.c_str());
    return kExitUsage;
  }
  std::fputs(ConfigToYaml(parsed->config).c_str(), stdout);
  std::printf("#\n# Plan\n");
  PrintCommented(parsed->config.load.series.kind != SeriesKind::kNone
                     ? DescribeSeries(parsed->config)
                     : RenderPlan(plan));
  if (!parsed->notes.empty()) {
    std::printf("#\n# Notes (defaults and shorthands applied)\n");
    for (const std::string& note : parsed->notes) std::printf("#   - %s\n", note.c_str());
  }
  std::printf("#\n# Checked\n");
  for (const std::string& file : *files) std::printf("#   - %s\n", file.c_str());
  if (plan.trace_requests.has_value()) {
    std::printf("#   - load.trace %s: %lld records\n", parsed->config.load.trace.c_str(),
                static_cast<long long>(*plan.trace_requests));
  }
  std::printf(
      "#   - not checked: the endpoint (validate sends nothing; run and submit send one "
      "test request first)\n");
  const absl::Status runnable = CheckRunnable(parsed->config);
  std::printf("#\n# Valid.%s%s\n", runnable.ok() ? "" : " Before `run`: ",
              runnable.ok() ? "" : std::string(runnable.message()).c_str());
  return kExitOk;
}

}  // namespace bench::controller
