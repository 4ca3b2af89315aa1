#include "common/file_chunks.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace bench {

absl::Status ReadFileChunks(const std::string& path, std::string_view what,
                            const std::function<absl::Status(std::string_view)>& consume,
                            size_t chunk_bytes) {
  const std::string role(what);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(role, ": file not found: ", path));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(role, ": cannot open ", path, ": ", std::strerror(error)));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(file, &std::fclose);
  std::string buffer(chunk_bytes, '\0');
  for (;;) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), file);
    if (n > 0) BENCH_RETURN_IF_ERROR(consume(std::string_view(buffer.data(), n)));
    if (n < buffer.size()) {
      if (std::ferror(file)) {
        return absl::InvalidArgumentError(
            absl::StrCat(role, ": cannot read ", path, ": ", std::strerror(errno)));
      }
      return absl::OkStatus();
    }
  }
}

}  // namespace bench
