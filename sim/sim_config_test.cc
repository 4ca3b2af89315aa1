#include "sim/sim_config.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bench::sim {
namespace {

absl::StatusOr<CommandLine> Parse(std::vector<std::string> args) { return ParseCommandLine(args); }

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/sim_config_test_XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(SimConfigTest, DefaultsAreValid) {
  auto parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const SimConfig& config = parsed->config;
  EXPECT_FALSE(parsed->help);
  ASSERT_EQ(config.listen.size(), 1u);
  EXPECT_EQ(config.listen[0].port, 8000);
  EXPECT_EQ(config.model, "sim-model");
  EXPECT_EQ(config.max_num_seqs, 256);
  EXPECT_EQ(config.max_queue, 1024);
  EXPECT_EQ(config.max_model_len, 8192);
  EXPECT_EQ(config.threads, 1);
  EXPECT_FALSE(config.ttft.has_value());
}

TEST(SimConfigTest, FlagsInBothSpellings) {
  auto parsed = Parse({"--listen",
                       "127.0.0.1:0",
                       "--listen=[::1]:9000",
                       "--ttft=50ms",
                       "--itl",
                       "10ms",
                       "--itl-jitter",
                       "1ms",
                       "--itl_slowdown",
                       "0.05",
                       "--maxNumSeqs",
                       "8",
                       "--max-queue",
                       "4",
                       "--mode",
                       "echo",
                       "--seed",
                       "42",
                       "--threads",
                       "2",
                       "--model",
                       "m1",
                       "--prefill-per-token",
                       "20us",
                       "--tick",
                       "250us"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const SimConfig& config = parsed->config;
  ASSERT_EQ(config.listen.size(), 2u);  // The flags replaced the default.
  EXPECT_EQ(config.listen[0].host, "127.0.0.1");
  EXPECT_EQ(config.listen[0].port, 0);
  EXPECT_EQ(config.listen[1].host, "::1");
  EXPECT_EQ(config.listen[1].port, 9000);
  EXPECT_EQ(config.ttft, absl::Milliseconds(50));
  EXPECT_EQ(config.itl, absl::Milliseconds(10));
  EXPECT_EQ(config.itl_jitter, absl::Milliseconds(1));
  EXPECT_DOUBLE_EQ(config.itl_slowdown, 0.05);
  EXPECT_EQ(config.max_num_seqs, 8);
  EXPECT_EQ(config.max_queue, 4);
  EXPECT_EQ(config.mode, OutputMode::kEcho);
  EXPECT_EQ(config.seed, 42u);
  EXPECT_EQ(config.threads, 2);
  EXPECT_EQ(config.model, "m1");
  EXPECT_EQ(config.prefill_per_token, absl::Microseconds(20));
  EXPECT_EQ(config.tick, absl::Microseconds(250));
}

TEST(SimConfigTest, FailureSettings) {
  auto parsed = Parse({"--failure-rate", "0.2", "--failure-kinds", "503, goaway",
                       "--failure-kinds=stall", "--failure-stall", "3s"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_DOUBLE_EQ(parsed->config.failure_rate, 0.2);
  EXPECT_EQ(parsed->config.failure_kinds, (std::vector<std::string>{"503", "goaway", "stall"}));
  EXPECT_EQ(parsed->config.failure_stall, absl::Seconds(3));
}

TEST(SimConfigTest, HelpWins) {
  auto parsed = Parse({"--bogus", "--help"});
  ASSERT_FALSE(parsed.ok());  // Arguments are read in order: the bad one comes first.
  parsed = Parse({"--help", "--bogus"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help);
}

TEST(SimConfigTest, ErrorsNameTheSetting) {
  struct Case {
    std::vector<std::string> args;
    absl::StatusCode code;
    std::string mention;
  };
  const std::vector<Case> cases = {
      {{"--bogus", "1"}, absl::StatusCode::kInvalidArgument, "bogus"},
      {{"--itl", "fast"}, absl::StatusCode::kInvalidArgument, "itl"},
      {{"--itl"}, absl::StatusCode::kInvalidArgument, "needs a value"},
      {{"--max-num-seqs", "0"}, absl::StatusCode::kInvalidArgument, "max-num-seqs"},
      {{"--max-num-seqs", "x"}, absl::StatusCode::kInvalidArgument, "max-num-seqs"},
      {{"--listen", "8000"}, absl::StatusCode::kInvalidArgument, "HOST:PORT"},
      {{"--listen", "::1:8000"}, absl::StatusCode::kInvalidArgument, "brackets"},
      {{"--listen", "a:70000"}, absl::StatusCode::kInvalidArgument, "port"},
      {{"--itl", "1ms", "--itl-jitter", "2ms"}, absl::StatusCode::kInvalidArgument, "jitter"},
      {{"--tls-cert", "a.pem"}, absl::StatusCode::kInvalidArgument, "tls-key"},
      {{"--mode", "chaos"}, absl::StatusCode::kInvalidArgument, "random or echo"},
      {{"--failure-rate", "1.5"}, absl::StatusCode::kInvalidArgument, "failure-rate"},
      {{"--failure-kinds", "none"}, absl::StatusCode::kInvalidArgument, "none"},
      {{"--failure-stall", "soon"}, absl::StatusCode::kInvalidArgument, "failure-stall"},
      {{"--failure-kinds", "429,boom"}, absl::StatusCode::kInvalidArgument, "boom"},
      {{"--block-size", "0"}, absl::StatusCode::kInvalidArgument, "block-size"},
      {{"--tick", "2ms"}, absl::StatusCode::kInvalidArgument, "tick: must be between 0 and 1ms"},
      {{"--tick", "-1us"}, absl::StatusCode::kInvalidArgument, "tick"},
      {{"stray"}, absl::StatusCode::kInvalidArgument, "stray"},
      {{"--config", "/nonexistent/sim.yaml"}, absl::StatusCode::kNotFound, "sim.yaml"},
  };
  for (const Case& c : cases) {
    auto parsed = Parse(c.args);
    ASSERT_FALSE(parsed.ok()) << c.args[0];
    EXPECT_EQ(parsed.status().code(), c.code) << parsed.status();
    EXPECT_NE(std::string(parsed.status().message()).find(c.mention), std::string::npos)
        << parsed.status();
  }
}

TEST(SimConfigTest, YamlFileThenFlags) {
  const std::string path = WriteTemp(
      "listen: [127.0.0.1:0, '[::1]:0']\n"
      "model: yaml-model\n"
      "ttft: 40ms\n"
      "maxNumSeqs: 16\n"
      "max_queue: 3\n"
      "itl: 5ms\n");
  auto parsed = Parse({"--config", path, "--itl", "7ms"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const SimConfig& config = parsed->config;
  ASSERT_EQ(config.listen.size(), 2u);
  EXPECT_EQ(config.listen[1].host, "::1");
  EXPECT_EQ(config.model, "yaml-model");
  EXPECT_EQ(config.ttft, absl::Milliseconds(40));
  EXPECT_EQ(config.max_num_seqs, 16);
  EXPECT_EQ(config.max_queue, 3);
  EXPECT_EQ(config.itl, absl::Milliseconds(7));  // The flag wins.
  // Flags' --listen replaces the file's list.
  parsed = Parse({"--listen", "127.0.0.1:1234", "--config", path});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->config.listen.size(), 1u);
  EXPECT_EQ(parsed->config.listen[0].port, 1234);
  std::remove(path.c_str());
}

TEST(SimConfigTest, YamlErrors) {
  for (const std::string& text :
       {std::string("itl: [1, {a: b}]\n"), std::string("itl:\n"), std::string("nested:\n  a: 1\n"),
        std::string("- a\n- b\n"), std::string("a: [unclosed\n"), std::string("itl: fast\n"),
        std::string("unknown-key: 1\n")}) {
    const std::string path = WriteTemp(text);
    auto parsed = Parse({"--config", path});
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(std::string(parsed.status().message()).find(path), std::string::npos)
        << parsed.status();
    std::remove(path.c_str());
  }
}

TEST(SimConfigTest, EmptyYamlIsDefaults) {
  const std::string path = WriteTemp("");
  auto parsed = Parse({"--config", path});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.listen[0].port, 8000);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace bench::sim
