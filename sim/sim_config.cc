#include "sim/sim_config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/duration.h"
#include "common/status_macros.h"
#include "sim/failure.h"

namespace bench::sim {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// "max-num-seqs", "max_num_seqs" and "maxNumSeqs" all become "maxnumseqs".
std::string NormalizeKey(std::string_view key) {
  std::string normalized;
  normalized.reserve(key.size());
  for (char c : key) {
    if (c == '-' || c == '_') continue;
    normalized.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
  }
  return normalized;
}

absl::Status Bad(std::string_view key, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(AbslView(key), ": ", AbslView(problem)));
}

absl::StatusOr<int64_t> ParseInt(std::string_view key, std::string_view value, int64_t min,
                                 int64_t max) {
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(AbslView(value), &parsed)) {
    return Bad(key, absl::StrCat("not an integer: '", AbslView(value), "'"));
  }
  if (parsed < min || parsed > max) {
    return Bad(key, absl::StrCat("must be in [", min, ", ", max, "], got ", parsed));
  }
  return parsed;
}

absl::StatusOr<double> ParseDouble(std::string_view key, std::string_view value, double min,
                                   double max) {
  double parsed = 0;
  if (!absl::SimpleAtod(AbslView(value), &parsed) || !std::isfinite(parsed)) {
    return Bad(key, absl::StrCat("not a number: '", AbslView(value), "'"));
  }
  if (parsed < min || parsed > max) {
    return Bad(key, absl::StrCat("must be in [", min, ", ", max, "], got ", parsed));
  }
  return parsed;
}

absl::StatusOr<absl::Duration> ParseDurationSetting(std::string_view key, std::string_view value) {
  auto parsed = ParseDuration(value);
  if (!parsed.ok()) {
    return Bad(key, absl::StrCat("not a duration ('", AbslView(value),
                                 "'; e.g. 50ms, 1.5s, 200us): ", parsed.status().message()));
  }
  return *parsed;
}

absl::Status ReadFile(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--config: cannot read ", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  text = buffer.str();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress address;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Bad("listen", absl::StrCat("expected [IPv6]:PORT, got '", AbslView(text), "'"));
    }
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Bad("listen", absl::StrCat("expected HOST:PORT, got '", AbslView(text), "'"));
    }
    address.host = std::string(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos) {
      return Bad("listen", absl::StrCat("IPv6 addresses need brackets: '", AbslView(text), "'"));
    }
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty()) address.host = "0.0.0.0";
  BENCH_ASSIGN_OR_RETURN(const int64_t port, ParseInt("listen port", port_text, 0, 65535));
  address.port = static_cast<int>(port);
  return address;
}

absl::Status ApplySetting(SimConfig& config, std::string_view key, std::string_view value) {
  const std::string name = NormalizeKey(key);
  if (name == "listen") {
    BENCH_ASSIGN_OR_RETURN(ListenAddress address, ParseListenAddress(value));
    config.listen.push_back(std::move(address));
  } else if (name == "model") {
    if (value.empty()) return Bad(key, "must not be empty");
    for (char c : value) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
        return Bad(key, "must not contain quotes, backslashes or control characters");
      }
    }
    config.model = std::string(value);
  } else if (name == "ttft") {
    BENCH_ASSIGN_OR_RETURN(config.ttft, ParseDurationSetting(key, value));
  } else if (name == "itl") {
    BENCH_ASSIGN_OR_RETURN(config.itl, ParseDurationSetting(key, value));
  } else if (name == "itljitter") {
    BENCH_ASSIGN_OR_RETURN(config.itl_jitter, ParseDurationSetting(key, value));
  } else if (name == "itlslowdown") {
    BENCH_ASSIGN_OR_RETURN(config.itl_slowdown, ParseDouble(key, value, 0, 1000));
  } else if (name == "prefilloverhead") {
    BENCH_ASSIGN_OR_RETURN(config.prefill_overhead, ParseDurationSetting(key, value));
  } else if (name == "prefillpertoken") {
    BENCH_ASSIGN_OR_RETURN(config.prefill_per_token, ParseDurationSetting(key, value));
  } else if (name == "maxnumseqs") {
    BENCH_ASSIGN_OR_RETURN(config.max_num_seqs, ParseInt(key, value, 1, 1'000'000));
  } else if (name == "maxqueue") {
    BENCH_ASSIGN_OR_RETURN(config.max_queue, ParseInt(key, value, 0, 10'000'000));
  } else if (name == "maxmodellen") {
    BENCH_ASSIGN_OR_RETURN(config.max_model_len, ParseInt(key, value, 1, 100'000'000));
  } else if (name == "kvcacheblocks") {
    BENCH_ASSIGN_OR_RETURN(config.kv_cache_blocks, ParseInt(key, value, 0, 1'000'000'000));
  } else if (name == "blocksize") {
    BENCH_ASSIGN_OR_RETURN(config.block_size, ParseInt(key, value, 1, 1024));
  } else if (name == "disagg") {
    bool disaggregated = false;
    if (!absl::SimpleAtob(AbslView(value), &disaggregated)) {
      return Bad(key, absl::StrCat("must be true or false, got '", AbslView(value), "'"));
    }
    config.disaggregated = disaggregated;
  } else if (name == "kvtransferlatency") {
    BENCH_ASSIGN_OR_RETURN(config.kv_transfer_latency, ParseDurationSetting(key, value));
  } else if (name == "kvtransferpertoken") {
    BENCH_ASSIGN_OR_RETURN(config.kv_transfer_per_token, ParseDurationSetting(key, value));
  } else if (name == "prefillmaxnumseqs") {
    BENCH_ASSIGN_OR_RETURN(config.prefill_max_num_seqs, ParseInt(key, value, 1, 1'000'000));
  } else if (name == "failurerate") {
    BENCH_ASSIGN_OR_RETURN(config.failure_rate, ParseDouble(key, value, 0, 1));
  } else if (name == "failurekinds") {
    for (absl::string_view kind : absl::StrSplit(AbslView(value), ',', absl::SkipWhitespace())) {
      config.failure_kinds.emplace_back(absl::StripAsciiWhitespace(kind));
    }
  } else if (name == "failurestall") {
    BENCH_ASSIGN_OR_RETURN(config.failure_stall, ParseDurationSetting(key, value));
  } else if (name == "seed") {
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(AbslView(value), &seed)) {
      return Bad(key, absl::StrCat("not an unsigned integer: '", AbslView(value), "'"));
    }
    config.seed = seed;
  } else if (name == "mode") {
    if (value == "random") {
      config.mode = OutputMode::kRandom;
    } else if (value == "echo") {
      config.mode = OutputMode::kEcho;
    } else {
      return Bad(key, absl::StrCat("must be random or echo, got '", AbslView(value), "'"));
    }
  } else if (name == "tlscert") {
    config.tls_cert = std::string(value);
  } else if (name == "tlskey") {
    config.tls_key = std::string(value);
  } else if (name == "threads") {
    BENCH_ASSIGN_OR_RETURN(const int64_t threads, ParseInt(key, value, 1, 256));
    config.threads = static_cast<int>(threads);
  } else if (name == "tick") {
    BENCH_ASSIGN_OR_RETURN(config.tick, ParseDurationSetting(key, value));
    if (config.tick < absl::ZeroDuration() || config.tick > absl::Milliseconds(1)) {
      return Bad(key, "must be between 0 and 1ms");
    }
  } else if (name == "headertimeout") {
    BENCH_ASSIGN_OR_RETURN(config.header_timeout, ParseDurationSetting(key, value));
    if (config.header_timeout <= absl::ZeroDuration()) return Bad(key, "must be > 0");
  } else if (name == "idletimeout") {
    BENCH_ASSIGN_OR_RETURN(config.idle_timeout, ParseDurationSetting(key, value));
    if (config.idle_timeout <= absl::ZeroDuration()) return Bad(key, "must be > 0");
  } else if (name == "maxconnections") {
    BENCH_ASSIGN_OR_RETURN(config.max_connections, ParseInt(key, value, 1, 1'000'000));
  } else if (name == "maxbufferedbytes") {
    BENCH_ASSIGN_OR_RETURN(config.max_buffered_bytes, ParseInt(key, value, 1024, int64_t{1} << 40));
  } else if (name == "maxbodybytes") {
    BENCH_ASSIGN_OR_RETURN(const int64_t bytes, ParseInt(key, value, 1024, int64_t{1} << 30));
    config.max_body_bytes = static_cast<size_t>(bytes);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown setting '", AbslView(key), "'"));
  }
  return absl::OkStatus();
}

namespace {

// --prefill-max-num-seqs sizes the prefill instance that only --disagg has: without it a profile
// would silently measure the aggregated model. The KV transfer settings stand alone: they also
// time the requests whose prefill was remote (kv_transfer_params.do_remote_prefill), which a
// decode pod behind llm-d's P/D sidecar gets in the aggregated mode.
absl::Status ValidateDisaggregation(const SimConfig& config) {
  if (!config.disaggregated && config.prefill_max_num_seqs.has_value()) {
    return Bad("prefill-max-num-seqs", "needs --disagg true");
  }
  // An hour of transfer, or of transfer per token, is a typo, not a model.
  if (config.kv_transfer_latency.value_or(absl::ZeroDuration()) > absl::Hours(1)) {
    return Bad("kv-transfer-latency", "must be at most 1h");
  }
  if (config.kv_transfer_per_token.value_or(absl::ZeroDuration()) > absl::Seconds(1)) {
    return Bad("kv-transfer-per-token", "must be at most 1s");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateConfig(const SimConfig& config) {
  if (config.listen.empty()) return Bad("listen", "at least one address is needed");
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return Bad("tls-cert", "--tls-cert and --tls-key go together");
  }
  if (config.itl_jitter > config.itl) {
    return Bad("itl-jitter", "must not exceed --itl (a token gap is never negative)");
  }
  BENCH_RETURN_IF_ERROR(ValidateDisaggregation(config));
  for (const std::string& kind : config.failure_kinds) {
    const std::optional<FailureKind> parsed = ParseFailureKind(kind);
    if (!parsed.has_value() || *parsed == FailureKind::kNone) {
      return Bad("failure-kinds",
                 absl::StrCat("unknown kind '", kind,
                              "' (429, 500, 503, reset, truncate, rst_stream, goaway, stall)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine result;
  // (key, value) pairs from the flags, applied after the config file.
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_path;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      return result;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", AbslView(arg), "' (flags are --name VALUE)"));
    }
    arg.remove_prefix(2);
    std::string key;
    std::string value;
    const size_t equals = arg.find('=');
    if (equals != std::string_view::npos) {
      key = std::string(arg.substr(0, equals));
      value = std::string(arg.substr(equals + 1));
    } else {
      key = std::string(arg);
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", key, " needs a value"));
      }
      value = args[++i];
    }
    if (key == "config") {
      config_path = value;
    } else {
      flags.emplace_back(std::move(key), std::move(value));
    }
  }

  SimConfig& config = result.config;
  // List settings (listen, failure-kinds) append; the first one from a source replaces the
  // list that source inherited (the default, or the file's).
  auto clear_list = [&config](const std::string& name) {
    if (name == "listen") config.listen.clear();
    if (name == "failurekinds") config.failure_kinds.clear();
  };
  std::vector<std::string> cleared;
  auto maybe_clear = [&](const std::string& key) {
    const std::string name = NormalizeKey(key);
    if (name != "listen" && name != "failurekinds") return;
    for (const std::string& done : cleared) {
      if (done == name) return;
    }
    cleared.push_back(name);
    clear_list(name);
  };
  if (!config_path.empty()) {
    std::string text;
    BENCH_RETURN_IF_ERROR(ReadFile(config_path, text));
    auto settings = ParseSimYaml(text);
    if (!settings.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path, ": ", settings.status().message()));
    }
    for (const auto& [key, value] : *settings) {
      maybe_clear(key);
      const absl::Status status = ApplySetting(config, key, value);
      if (!status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", status.message()));
      }
    }
  }
  cleared.clear();
  for (const auto& [key, value] : flags) {
    maybe_clear(key);
    const absl::Status status = ApplySetting(config, key, value);
    if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("--", status.message()));
  }
  BENCH_RETURN_IF_ERROR(ValidateConfig(config));
  return result;
}

}  // namespace bench::sim
