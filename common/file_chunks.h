// Reads a file in chunks, for parsers that take their input piece by piece (trace files,
// prompt datasets): memory stays bounded whatever the file's size.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace bench {

// Calls `consume` with successive chunks of at most `chunk_bytes` until the end of the file or
// the first error `consume` returns (returned as is). `what` names the file's role in errors:
// NotFound "<what>: file not found: PATH", InvalidArgument "<what>: cannot open PATH: reason"
// or "<what>: cannot read PATH: reason".
absl::Status ReadFileChunks(const std::string& path, std::string_view what,
                            const std::function<absl::Status(std::string_view)>& consume,
                            size_t chunk_bytes = size_t{1} << 20);

}  // namespace bench
