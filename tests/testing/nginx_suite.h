// Test support: a gtest fixture base for suites that share one nginx (peers.h). The derived
// suite starts it from SetUpTestSuite() and stops it from TearDownTestSuite(); each test then
// checks it in SetUp(), because a failure inside SetUpTestSuite() reads as "skipped" to ctest.
#pragma once

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/peers.h"

namespace bench::testing {

// `Suite` is the derived fixture: each suite gets its own nginx.
template <typename Suite>
class NginxSuite : public ::testing::Test {
 protected:
  static void StartNginx(const std::string& locations) {
    auto peer = NginxPeer::Start(locations);
    if (peer.ok()) {
      nginx_ = std::move(peer).value().release();
    } else {
      start_error_ = new std::string(peer.status().ToString());
    }
  }
  static void StopNginx() {
    delete nginx_;
    nginx_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(nginx_, nullptr) << (start_error_ != nullptr ? *start_error_ : "no nginx");
  }

  static inline NginxPeer* nginx_ = nullptr;
  static inline std::string* start_error_ = nullptr;  // Why nginx_ is null.
};

}  // namespace bench::testing
