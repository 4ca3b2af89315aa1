// Real peer processes for tests (nghttpd, nginx, our own binaries) on 127.0.0.1: started with
// posix_spawn, ended by their PID when the test ends.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench::testing {

class Subprocess {
 public:
  // Starts argv[0] (searched in PATH) with the given arguments; output goes to `log_path` (or is
  // inherited when empty).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& log_path = "");
  // Sends SIGTERM and waits; SIGKILL after two seconds.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Still running (not reaped).
  bool Running();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int PickFreePort();

// Polls until something accepts TCP connections on 127.0.0.1:`port` or `timeout` passes.
bool WaitForPort(int port, absl::Duration timeout);

// Whether `program` is in PATH. scripts/setup.sh installs every peer, so tests treat a missing
// one as a failure, not a skip.
bool ProgramExists(const std::string& program);

}  // namespace bench::testing
