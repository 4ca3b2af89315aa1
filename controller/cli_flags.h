// Small pieces shared by the bench-controller subcommands: flag matching and config loading.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/coordinator.h"

namespace bench::controller {

// "--name value" or "--name=value". Returns true when `args[*i]` is the flag, with its value in
// `value` (nullopt when the value is missing); advances *i past a separate value.
bool MatchFlag(const std::vector<std::string>& args, size_t* i, std::string_view name,
               std::optional<std::string>* value);

// Reads a config file, at most a little over the parser's size limit (so /dev/zero cannot hang
// us). Errors name the path and the errno text: NotFound, InvalidArgument (a directory),
// Internal (a read error).
absl::StatusOr<std::string> ReadConfigFile(const std::string& path);

// One line of live progress (under 100 columns), e.g.
// "[running  12.0s/60s] 20.0/20.0 req/s | in flight 3 | ... | ttft p50 50.1ms p99 52.0ms".
// `message` is shown while no worker has started (e.g. "waiting for 3 workers").
std::string RenderProgressLine(const Progress& progress, const std::string& message);

}  // namespace bench::controller
