#include "controller/cli_flags.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config_yaml.h"

namespace bench::controller {

bool MatchFlag(const std::vector<std::string>& args, size_t* i, std::string_view name,
               std::optional<std::string>* value) {
  const std::string& arg = args[*i];
  if (arg == name) {
    if (*i + 1 < args.size()) {
      *value = args[++*i];
    } else {
      *value = std::nullopt;
    }
    return true;
  }
  if (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 &&
      arg[name.size()] == '=') {
    *value = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError("cannot read " + path + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError("cannot read " + path + ": " + std::strerror(EISDIR));
  }
  // A regular file says its size: report the real one (the reader below stops past the limit).
  if (S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) > kMaxConfigBytes) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": the config is ", info.st_size,
                                                   " bytes; the limit is ", kMaxConfigBytes));
  }
  std::string text;
  char buffer[1 << 16];
  while (text.size() <= kMaxConfigBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return absl::InternalError("cannot read " + path + ": " + std::strerror(error));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

namespace {
std::string FormatMs(double ms) { return ms < 0 ? "-" : absl::StrFormat("%.1fms", ms); }
}  // namespace

std::string RenderProgressLine(const Progress& p, const std::string& message) {
  if (p.workers == 0) return message.empty() ? "[starting]" : "[starting] " + message;
  std::string rate = p.requested_rate > 0
                         ? absl::StrFormat("%.1f/%.1f req/s", p.achieved_rate, p.requested_rate)
                         : absl::StrFormat("%.1f req/s", p.achieved_rate);
  return absl::StrFormat(
      "[%s %5.1fs/%.0fs] %s | in flight %u | queued %u | ok %u | errors %u | ttft p50 %s p99 %s",
      p.draining     ? "draining"
      : p.warming_up ? "warmup"
                     : "running",
      std::max(0.0, p.elapsed_s), p.total_s, rate, p.in_flight, p.client_queue, p.succeeded,
      p.failed, FormatMs(p.ttft_p50_ms), FormatMs(p.ttft_p99_ms));
}

}  // namespace bench::controller
