// The command-line flags that set config fields, shared by `run`, `validate` and `submit`: ours
// (--config, --set, --endpoint, --model, --rate, ...) and, as aliases of our keys, the flags
// users of vLLM's `bench serve`, GuideLLM and AIPerf type every day (docs/cli.md has the table).
// Every flag becomes --set overrides, so the config parser checks its value like any other.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/config_yaml.h"

namespace bench::controller {

// The help text of these flags, for the commands' usage.
inline constexpr char kConfigFlagsHelp[] =
    "config:\n"
    "  --config FILE         the YAML benchmark config (deploy/examples/ has several)\n"
    "  --set key.path=value  override one config field (YAML value); repeatable\n"
    "  --endpoint URL        .../v1/chat/completions or .../v1/completions, or the server's\n"
    "                        base URL (http://host:8000 or .../v1) with --api\n"
    "  --api chat|completions  the API under a base URL (default chat)\n"
    "  --model NAME          model name sent in every request\n"
    "  --rate R              requests/s (open loop, constant without a config); inf: every\n"
    "                        request at once, bounded by --concurrency or --num-prompts\n"
    "  --concurrency C       closed loop with C in flight, or the cap of an open loop\n"
    "  --num-prompts N       stop after N requests (benchmark.maxRequests)\n"
    "  --duration D          measurement window, e.g. 60, 30s, 5m\n"
    "  --warmup D            load before the window, left out of the results\n"
    "  --seed N              seed of prompts and arrivals\n"
    "  --output DIR          results parent directory (output.dir)\n"
    "  --find-capacity       load.type capacity: the highest rate within the config's SLOs\n"
    "  vLLM bench serve, GuideLLM and AIPerf flags work too (--request-rate,\n"
    "  --max-concurrency, --base-url, --dataset-name, --random-input-len, --rate-type, ...):\n"
    "  docs/cli.md has the table.\n";

class ConfigFlags {
 public:
  // True when args[*i] is one of these flags (advancing *i past its value); a bad value or a
  // flag this command does not take sets *error.
  bool Match(const std::vector<std::string>& args, size_t* i, std::string* error);

  // After the last flag: the overrides in flag order, with what some flags combine into (a
  // base URL with --api, --rate inf with the concurrency cap, --num-prompts with the rate).
  // `have_config`: a --config file was given; without one the flags must say the load.
  // InvalidArgument naming the flags when they cannot make a config.
  absl::Status Finish(bool have_config);

  const std::optional<std::string>& config_path() const { return config_path_; }
  const std::vector<ConfigOverride>& overrides() const { return overrides_; }
  // A config for when no --config is given: the flags supply the rest.
  static std::string QuickConfig() { return "benchmark:\n  name: quick\n"; }

  // Every flag name (ours and the aliases), for did-you-mean.
  static std::vector<std::string_view> Names();

 private:
  void Set(const std::string& path, const std::string& yaml, const std::string& label);
  void SetLiteral(const std::string& path, const std::string& value, const std::string& label);
  absl::Status ResolveEndpoint();
  absl::Status ResolveLoad(bool have_config);

  std::optional<std::string> config_path_;
  std::vector<ConfigOverride> overrides_;
  // Flags resolved together in Finish, each with the flag that gave it (for messages).
  struct Given {
    std::string value;
    std::string flag;
  };
  std::optional<Given> endpoint_, base_url_, host_, port_, api_;
  std::optional<Given> rate_, concurrency_, num_prompts_, duration_, rate_type_, burstiness_;
  bool poisson_ = false;               // --request-rate: vLLM and AIPerf send Poisson arrivals
  bool find_capacity_ = false;         // --find-capacity
  std::optional<double> range_ratio_;  // vLLM's --random-range-ratio
};

// "unknown flag --request-rat (did you mean --request-rate?)" among `known`.
std::string UnknownFlag(std::string_view arg, const std::vector<std::string_view>& known);

}  // namespace bench::controller
