// The in-process workers of `bench-controller run`: the same WorkerAgent that bench-worker runs,
// dialing the run's own coordinator over an in-process gRPC channel. This file pair is the only
// place in controller/ that sees worker/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "grpcpp/channel.h"

namespace bench::controller {

class LocalWorkers {
 public:
  // Starts `count` workers with `threads_each` engine threads on `channel`.
  LocalWorkers(std::shared_ptr<grpc::Channel> channel, int count, int threads_each);
  ~LocalWorkers();  // Stops them (in-flight requests cancelled).
  LocalWorkers(const LocalWorkers&) = delete;
  LocalWorkers& operator=(const LocalWorkers&) = delete;

 private:
  struct Agents;
  std::unique_ptr<Agents> agents_;
};

// The files a config names that workers read (prompts.dataset, target.tls.caFile), read as a
// worker reads them: a line per file, or the first error naming the field (for `validate`).
absl::StatusOr<std::vector<std::string>> CheckWorkerFiles(const BenchmarkConfig& config);

}  // namespace bench::controller
