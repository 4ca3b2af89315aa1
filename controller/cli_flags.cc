#include "controller/cli_flags.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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

size_t ProgressWidth() {
  if (isatty(STDERR_FILENO) == 0) return 0;
  winsize size{};
  // One column less: a line that fills the last one wraps on some terminals.
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1) return size.ws_col - 1u;
  return 79;
}

std::string RenderProgressLine(const Progress& p, const std::string& message, size_t width) {
  std::string line;
  if (p.workers == 0) {
    line = message.empty() ? "[starting]" : "[starting] " + message;
  } else {
    const char* phase = p.draining ? "draining" : p.warming_up ? "warmup" : "running";
    const std::string where =
        p.stage > 0 && !p.draining ? absl::StrFormat("stage %u/%u", p.stage, p.stages) : phase;
    const std::string rate =
        p.requested_rate > 0 ? absl::StrFormat("%.1f/%.1f req/s", p.achieved_rate, p.requested_rate)
                             : absl::StrFormat("%.1f req/s", p.achieved_rate);
    // In the order they go when the line is too wide: the last first.
    const std::vector<std::string> parts = {
        absl::StrFormat("[%s %.1fs/%.0fs] %s", where, std::max(0.0, p.elapsed_s), p.total_s, rate),
        absl::StrFormat("ok %u", p.succeeded),
        absl::StrFormat("errors %u", p.failed),
        absl::StrFormat("ttft p50 %s p99 %s", FormatMs(p.ttft_p50_ms), FormatMs(p.ttft_p99_ms)),
        absl::StrFormat("in flight %u", p.in_flight),
        absl::StrFormat("queued %u", p.client_queue),
    };
    size_t keep = parts.size();
    const auto joined = [&](size_t n) {
      return absl::StrJoin(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(n), " | ");
    };
    while (keep > 1 && width > 0 && joined(keep).size() > width) --keep;
    line = joined(keep);
  }
  if (width > 0 && line.size() > width) line.resize(width);
  return line;
}

}  // namespace bench::controller
