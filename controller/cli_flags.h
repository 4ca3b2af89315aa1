// Small pieces shared by the bench-controller subcommands: flag matching and config loading.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace bench::controller {

// "--name value" or "--name=value". Returns true when `args[*i]` is the flag, with its value in
// `value` (nullopt when the value is missing); advances *i past a separate value.
bool MatchFlag(const std::vector<std::string>& args, size_t* i, std::string_view name,
               std::optional<std::string>* value);

// Reads a config file, at most a little over the parser's size limit (so /dev/zero cannot hang
// us). Errors name the path and the errno text: NotFound, InvalidArgument (a directory),
// Internal (a read error).
absl::StatusOr<std::string> ReadConfigFile(const std::string& path);

}  // namespace bench::controller
