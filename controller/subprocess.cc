#include "controller/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace bench::controller {
namespace {

// Enough of a failed program's stderr to say why, not a page of it.
constexpr size_t kMaxLogTail = 2000;

}  // namespace

std::optional<std::string> FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  for (const auto directory : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    if (directory.empty()) continue;
    const std::string candidate = absl::StrCat(directory, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

absl::Status RunProgram(const std::vector<std::string>& argv, const std::string& directory,
                        const std::string& log_name, absl::Duration timeout) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, directory.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_name.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // Its own process group, so that a deadline ends the program's children too (Chromium's).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  // A small environment: these programs need a PATH and a locale, not the API keys that
  // ${env:...} headers may have put in ours.
  std::vector<std::string> variables = {absl::StrCat("HOME=", directory)};
  for (const char* name : {"PATH", "LANG", "LC_ALL", "TZ", "TMPDIR"}) {
    if (const char* value = std::getenv(name)) variables.push_back(absl::StrCat(name, "=", value));
  }
  std::vector<char*> environment;
  for (std::string& variable : variables) environment.push_back(variable.data());
  environment.push_back(nullptr);
  std::vector<std::string> copies = argv;
  std::vector<char*> pointers;
  for (std::string& argument : copies) pointers.push_back(argument.data());
  pointers.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, copies[0].c_str(), &actions, &attributes, pointers.data(),
                                  environment.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  const std::string name = copies[0].substr(copies[0].rfind('/') + 1);
  if (spawned != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", name, ": ", std::strerror(spawned)));
  }
  // Polled: the programs run for seconds, and a SIGCHLD handler is not ours to install.
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  bool timed_out = false;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("cannot wait for ", copies[0], ": ", std::strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      timed_out = true;
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::string log_path = absl::StrCat(directory, "/", log_name);
  std::stringstream log;
  log << std::ifstream(log_path).rdbuf();
  ::unlink(log_path.c_str());
  std::string tail = log.str();
  if (tail.size() > kMaxLogTail) tail = "..." + tail.substr(tail.size() - kMaxLogTail);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(name, " did not finish within ", absl::FormatDuration(timeout), ": ", tail));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(name, " failed (",
                                            WIFEXITED(status)
                                                ? absl::StrCat("exit ", WEXITSTATUS(status))
                                                : absl::StrCat("signal ", WTERMSIG(status)),
                                            "): ", tail));
  }
  return absl::OkStatus();
}

}  // namespace bench::controller
