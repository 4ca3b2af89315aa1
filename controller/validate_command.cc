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

namespace bench::controller {
namespace {

constexpr char kUsage[] =
    "usage: bench-controller validate --config FILE [--set key.path=value ...]\n"
    "                                 [--endpoint URL] [--model NAME]\n"
    "\n"
    "Checks a benchmark config and prints the resolved config, the plan and the defaults\n"
    "applied, without sending any traffic. Exit code 0 when valid, 2 otherwise.\n"
    "  --config FILE        the YAML config\n"
    "  --set key.path=value override one field; the value is YAML (--set load.rate=20,\n"
    "                       --set 'load.stages=[{rate: 5, duration: 10}]'); repeatable\n"
    "  --endpoint URL       same as --set target.endpoint=URL\n"
    "  --model NAME         same as --set target.model=NAME\n";

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller validate: %s\n\n%s", reason.c_str(), kUsage);
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
  std::optional<std::string> config_path;
  std::vector<ConfigOverride> overrides;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::optional<std::string> value;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (MatchFlag(args, &i, "--config", &value)) {
      if (!value.has_value() || value->empty()) return UsageError("--config needs a file path");
      if (config_path.has_value()) return UsageError("--config given twice");
      config_path = *value;
    } else if (MatchFlag(args, &i, "--set", &value)) {
      if (!value.has_value()) return UsageError("--set needs key.path=value");
      absl::StatusOr<ConfigOverride> override_ = ParseSetFlag(*value);
      if (!override_.ok()) return UsageError(std::string(override_.status().message()));
      overrides.push_back(*std::move(override_));
    } else if (MatchFlag(args, &i, "--endpoint", &value)) {
      if (!value.has_value()) return UsageError("--endpoint needs a URL");
      overrides.push_back(LiteralOverride("target.endpoint", *value, "--endpoint " + *value));
    } else if (MatchFlag(args, &i, "--model", &value)) {
      if (!value.has_value()) return UsageError("--model needs a model name");
      overrides.push_back(LiteralOverride("target.model", *value, "--model " + *value));
    } else if (!arg.empty() && arg[0] == '-') {
      return UsageError("unknown flag " + arg);
    } else {
      return UsageError("unexpected argument " + arg + " (the config file goes after --config)");
    }
  }
  if (!config_path.has_value()) return UsageError("missing --config FILE");

  absl::StatusOr<std::string> text = ReadConfigFile(*config_path);
  if (!text.ok()) return UsageError(std::string(text.status().message()));

  absl::StatusOr<ParsedConfig> parsed = ParseConfig(*text, *config_path, overrides);
  if (!parsed.ok()) {
    const std::string errors(parsed.status().message());
    size_t count = 0;
    for (size_t pos = 0; pos != std::string::npos; pos = errors.find('\n', pos + 1)) ++count;
    std::fprintf(stderr, "%s\nbench-controller validate: %zu error%s in %s; nothing was sent\n",
                 errors.c_str(), count, count == 1 ? "" : "s", config_path->c_str());
    return kExitUsage;
  }

  std::printf("# Resolved config from %s (defaults filled in, secrets redacted).\n",
              config_path->c_str());
  const Plan plan = MakePlan(parsed->config);
  if (!plan.trace_error.empty()) {
    // The config is fine but the trace it names would fail `run`: the same exit as a bad config.
    std::fprintf(stderr,
                 "%s\nbench-controller validate: load.trace %s is not a valid trace; "
                 "nothing was sent\n",
                 plan.trace_error.c_str(), parsed->config.load.trace.c_str());
    return kExitUsage;
  }
  std::fputs(ConfigToYaml(parsed->config).c_str(), stdout);
  std::printf("#\n# Plan\n");
  PrintCommented(RenderPlan(plan));
  if (!parsed->notes.empty()) {
    std::printf("#\n# Notes (defaults and shorthands applied)\n");
    for (const std::string& note : parsed->notes) std::printf("#   - %s\n", note.c_str());
  }
  const absl::Status runnable = CheckRunnable(parsed->config);
  std::printf("#\n# Valid.%s%s\n", runnable.ok() ? "" : " Before `run`: ",
              runnable.ok() ? "" : std::string(runnable.message()).c_str());
  return kExitOk;
}

}  // namespace bench::controller
