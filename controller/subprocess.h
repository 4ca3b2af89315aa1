// The external programs the controller draws and prints with (gnuplot, Chromium): found on
// PATH, run to completion with a deadline, their stderr kept for the error message.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace bench::controller {

// The first executable `program` on PATH (or /usr/bin:/bin when PATH is unset).
std::optional<std::string> FindOnPath(const std::string& program);

// Runs `argv` (argv[0] a path) in `directory`, with an environment of PATH, the locale, TZ,
// TMPDIR and HOME=`directory` only, stdin and stdout on /dev/null and stderr in
// `directory`/`log_name`, which is removed afterwards. kDeadlineExceeded (the process killed)
// after `timeout`; kInternal naming the program and the tail of its stderr when it fails.
absl::Status RunProgram(const std::vector<std::string>& argv, const std::string& directory,
                        const std::string& log_name, absl::Duration timeout);

}  // namespace bench::controller
