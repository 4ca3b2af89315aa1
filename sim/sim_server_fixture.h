// Test support: a gtest fixture running bench-sim's server in this process on 127.0.0.1 port 0,
// for tests that reach into its shared state (schedulers, cache) as well as its sockets.
#pragma once

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "sim/server.h"
#include "sim/sim_config.h"
#include "sim/sim_test_client.h"

namespace bench::sim::testing {

class SimServerTest : public ::testing::Test {
 protected:
  // Validates `config` and (re)starts the server with it; port_ is its port.
  void StartServer(const SimConfig& config) {
    ASSERT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
    if (server_ != nullptr) server_->Stop();
    auto server = SimServer::Create(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    server_->Start();
    ASSERT_EQ(server_->addresses().size(), 1u);
    port_ = server_->addresses()[0].port;
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }
  // GET /metrics over a fresh HTTP/1.1 connection.
  std::string MetricsText() {
    SimClient client(port_, Transport::kHttp1);
    Exchange* metrics = client.Send("GET", "/metrics", "");
    EXPECT_TRUE(client.WaitAll());
    return metrics->body;
  }

  std::unique_ptr<SimServer> server_;
  int port_ = 0;
};

}  // namespace bench::sim::testing
