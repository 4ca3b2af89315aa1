// A small leveled, thread-safe logger: BENCH_LOG(INFO) << "listening on " << port;
// Each statement becomes one line written with a single write, so lines from threads never mix.
// Secrets must never be passed here (SPEC section 8): log field names, not header values.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace bench {

enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Lines below `level` are dropped. Thread-safe. Default: kInfo, or BENCH_LOG_LEVEL from the
// environment (debug|info|warning|error).
void SetMinLogSeverity(LogSeverity level);
LogSeverity MinLogSeverity();
// Where lines go (default stderr). `sink` must outlive all logging; nullptr restores stderr.
// Used by tests to capture output.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(LogSeverity severity, std::string_view line) = 0;
};
void SetLogSink(LogSink* sink);

// This machine's host name ("unknown" when it cannot be read): workers' default names and the
// host a summary names.
std::string HostName();

namespace internal {

// One log statement. The destructor emits the line; for kFatal it then aborts.
class LogMessage {
 public:
  LogMessage(const char* file, int line, LogSeverity severity);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

// Swallows the stream expression when the level is off (keeps `<<` operands unevaluated).
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace internal
}  // namespace bench

#define BENCH_LOG_SEVERITY_DEBUG ::bench::LogSeverity::kDebug
#define BENCH_LOG_SEVERITY_INFO ::bench::LogSeverity::kInfo
#define BENCH_LOG_SEVERITY_WARNING ::bench::LogSeverity::kWarning
#define BENCH_LOG_SEVERITY_ERROR ::bench::LogSeverity::kError
#define BENCH_LOG_SEVERITY_FATAL ::bench::LogSeverity::kFatal

#define BENCH_LOG(level)                                   \
  (BENCH_LOG_SEVERITY_##level < ::bench::MinLogSeverity()) \
      ? (void)0                                            \
      : ::bench::internal::LogVoidify() &                  \
            ::bench::internal::LogMessage(__FILE__, __LINE__, BENCH_LOG_SEVERITY_##level).stream()
