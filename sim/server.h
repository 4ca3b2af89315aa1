// bench-sim's process-level server: binds every --listen address once per worker thread with
// SO_REUSEPORT (the kernel spreads connections over the threads; no acceptor thread, no fd
// hand-off), builds the shared state and starts and stops the workers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/sim_config.h"
#include "sim/sim_worker.h"

namespace bench::sim {

struct BoundAddress {
  std::string host;  // as bound (IPv6 without brackets)
  int port = 0;      // the real port, also when 0 was asked for
  bool tls = false;
  // "127.0.0.1:39123 (http/1.1, h2c)" or "[::1]:8443 (https: h2, http/1.1)"
  std::string Describe() const;
};

// Created and stopped on one (main) thread.
class SimServer {
 public:
  // Binds the sockets and loads TLS material: errors here are the user's (address in use,
  // unreadable certificate) and name the setting.
  static absl::StatusOr<std::unique_ptr<SimServer>> Create(const SimConfig& config);
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  const std::vector<BoundAddress>& addresses() const { return addresses_; }
  SimShared& shared() { return *shared_; }

  void Start();
  // Stops and joins every worker. Idempotent.
  void Stop();

 private:
  SimServer() = default;

  std::unique_ptr<SimShared> shared_;
  std::vector<std::unique_ptr<SimWorker>> workers_;
  std::vector<BoundAddress> addresses_;
};

}  // namespace bench::sim
