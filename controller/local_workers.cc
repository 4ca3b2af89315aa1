#include "controller/local_workers.h"

#include "absl/strings/str_cat.h"
#include "worker/rpc_agent.h"

namespace bench::controller {

struct LocalWorkers::Agents {
  std::vector<std::unique_ptr<worker::WorkerAgent>> agents;
};

LocalWorkers::LocalWorkers(std::shared_ptr<grpc::Channel> channel, int count, int threads_each)
    : agents_(std::make_unique<Agents>()) {
  for (int i = 0; i < count; ++i) {
    worker::AgentOptions options;
    options.name = count == 1 ? "local" : absl::StrCat("local-", i + 1);
    options.worker_id = absl::StrCat("local-", i + 1);
    options.threads = threads_each;
    options.backoff_initial = absl::Milliseconds(10);
    auto agent = std::make_unique<worker::WorkerAgent>(channel, options);
    agent->Start();
    agents_->agents.push_back(std::move(agent));
  }
}

LocalWorkers::~LocalWorkers() {
  for (auto& agent : agents_->agents) agent->Shutdown();
}

absl::StatusOr<std::vector<std::string>> CheckWorkerFiles(const BenchmarkConfig& config) {
  return worker::CheckRunFiles(config);
}

}  // namespace bench::controller
