#include "common/logging.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "common/mutex.h"

namespace bench {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}
namespace {

LogSeverity InitialSeverity() {
  const char* env = std::getenv("BENCH_LOG_LEVEL");
  if (env == nullptr) return LogSeverity::kInfo;
  std::string level = absl::AsciiStrToLower(env);
  if (level == "debug") return LogSeverity::kDebug;
  if (level == "warning") return LogSeverity::kWarning;
  if (level == "error") return LogSeverity::kError;
  return LogSeverity::kInfo;
}

std::atomic<int> min_severity{static_cast<int>(InitialSeverity())};
Mutex sink_mu;
LogSink* sink ABSL_GUARDED_BY(sink_mu) = nullptr;

char SeverityLetter(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kDebug:
      return 'D';
    case LogSeverity::kInfo:
      return 'I';
    case LogSeverity::kWarning:
      return 'W';
    case LogSeverity::kError:
      return 'E';
    case LogSeverity::kFatal:
      return 'F';
  }
  return '?';
}

const char* BaseName(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash == nullptr ? path : slash + 1;
}

}  // namespace

void SetMinLogSeverity(LogSeverity level) {
  min_severity.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogSeverity MinLogSeverity() {
  return static_cast<LogSeverity>(min_severity.load(std::memory_order_relaxed));
}

void SetLogSink(LogSink* new_sink) {
  MutexLock lock(sink_mu);
  sink = new_sink;
}

namespace internal {

LogMessage::LogMessage(const char* file, int line, LogSeverity severity) : severity_(severity) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  stream_ << absl::StrFormat("%c%02d%02d %02d:%02d:%02d.%06d %s:%d] ", SeverityLetter(severity),
                             utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                             static_cast<int>(now.tv_nsec / 1000), BaseName(file), line);
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  const std::string line = stream_.str();
  {
    MutexLock lock(sink_mu);
    if (sink != nullptr) {
      sink->Write(severity_, line);
    } else {
      // One write per line: lines from concurrent threads never interleave.
      ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
      (void)ignored;
    }
  }
  if (severity_ == LogSeverity::kFatal) std::abort();
}

}  // namespace internal
}  // namespace bench
