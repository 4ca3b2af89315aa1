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

// One line of live progress, e.g. "[stage 2/6 12.0s/60s] 20.0/20.0 req/s | ok 230 | errors 0 |
// ttft p50 50.1ms p99 52.0ms | in flight 3 | queued 0", fitted to `width` columns (0: no limit)
// by leaving out the least telling parts. `message` is shown while no worker has started
// (e.g. "waiting for 3 workers").
std::string RenderProgressLine(const Progress& progress, const std::string& message, size_t width);

// The width for the progress line: the columns of the terminal on stderr less one (79 when it
// does not say); 0 (no limit) when stderr is not a terminal.
size_t ProgressWidth();

}  // namespace bench::controller
