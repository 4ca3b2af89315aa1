// bench-sim's settings: one struct filled from defaults, then a YAML --config file, then flags
// (each later source wins). Flags and YAML keys share one name list and one setter, so both are
// checked by the same rules. yaml-cpp stays in sim_config_yaml.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench::sim {

struct ListenAddress {
  std::string host;  // IP literal (IPv6 without brackets) or a name; "" means 0.0.0.0
  int port = 0;      // 0: the OS picks a free port
};

enum class OutputMode { kRandom, kEcho };

struct SimConfig {
  std::vector<ListenAddress> listen = {{"0.0.0.0", 8000}};
  std::string model = "sim-model";

  // Latency model (sim/README.md). TTFT = queue wait + (ttft if set, else prefill_overhead +
  // uncached prompt tokens x prefill_per_token). Token i >= 1 is due ITL after token i - 1, where
  // ITL = itl x (1 + itl_slowdown x (running sequences - 1)) + uniform jitter in +-itl_jitter.
  std::optional<absl::Duration> ttft;
  absl::Duration itl = absl::ZeroDuration();
  absl::Duration itl_jitter = absl::ZeroDuration();
  double itl_slowdown = 0;
  absl::Duration prefill_overhead = absl::ZeroDuration();
  absl::Duration prefill_per_token = absl::ZeroDuration();

  // Capacity model: continuous batching of max_num_seqs sequences, a waiting queue of max_queue
  // (429 beyond), prompt + output within max_model_len tokens.
  int64_t max_num_seqs = 256;
  int64_t max_queue = 1024;
  int64_t max_model_len = 8192;

  // Prefix cache of kv_cache_blocks blocks of block_size tokens, LRU; 0 blocks: off.
  int64_t kv_cache_blocks = 0;
  int64_t block_size = 16;

  // Disaggregated prefill/decode (sim/README.md): a request is prefilled on its own capacity
  // (prefill_max_num_seqs slots, default max_num_seqs; the max_queue queue), its KV cache moves
  // in kv_transfer_latency + prompt tokens x kv_transfer_per_token, then it decodes on
  // max_num_seqs slots. prefill_max_num_seqs needs disaggregated; the kv_transfer settings also
  // time, in either mode, a request whose prefill was remote (kv_transfer_params).
  bool disaggregated = false;

  // The emitter's clock: tokens due within one tick go out together at its end (0: each at its
  // own due time, one wake-up and one write each).
  absl::Duration tick = absl::Microseconds(250);
  std::optional<absl::Duration> kv_transfer_latency;
  std::optional<absl::Duration> kv_transfer_per_token;
  std::optional<int64_t> prefill_max_num_seqs;

  // Failure injection (sim/failure.h): a share of requests fails on purpose with one of the
  // kinds (all kinds when empty); a stall holds a stream's bytes back for failure_stall.
  double failure_rate = 0;
  std::vector<std::string> failure_kinds;
  absl::Duration failure_stall = absl::Seconds(10);

  uint64_t seed = 0;
  OutputMode mode = OutputMode::kRandom;

  std::string tls_cert;
  std::string tls_key;
  int threads = 1;
  size_t max_body_bytes = size_t{8} << 20;
  // Abuse limits: a request (TLS handshake included) must arrive whole within header_timeout of
  // its first byte; a connection with nothing in flight is closed after idle_timeout without a
  // byte; connections beyond max_connections (all threads) are closed as they are accepted; a
  // connection whose read takes the bytes of requests not yet whole (all threads) over
  // max_buffered_bytes is closed.
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(120);
  int64_t max_connections = 20'000;
  int64_t max_buffered_bytes = int64_t{256} << 20;
};

// Sets one setting from its text form. `key` is a flag or YAML name; case, '-' and '_' do not
// matter ("max-num-seqs", "max_num_seqs" and "maxNumSeqs" are one key). "listen" and
// "failure-kinds" (comma-separated) append to their lists.
// InvalidArgument naming the key and the value's problem; unknown keys say so.
absl::Status ApplySetting(SimConfig& config, std::string_view key, std::string_view value);

// Cross-field and range checks; Unimplemented for the settings of features not built yet.
absl::Status ValidateConfig(const SimConfig& config);

// Parses "HOST:PORT", "[IPv6]:PORT" or ":PORT".
absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text);

struct CommandLine {
  SimConfig config;
  bool help = false;
};

// Reads argv: --help, --config FILE (YAML, applied first), then every other --key VALUE or
// --key=VALUE in order. A list setting (listen, failure-kinds) given by flags replaces the file's
// list, and the file's replaces the default. The result
// is validated. NotFound when the --config file cannot be read.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// The YAML file's settings as (key, value text) pairs in document order; a list value becomes
// one pair per element. InvalidArgument for malformed YAML or nested maps. In sim_config_yaml.cc.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseSimYaml(
    std::string_view yaml_text);

}  // namespace bench::sim
