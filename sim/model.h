// bench-sim's model of a generation: how many tokens it produces and why it stops, what each
// token's text is (seeded random words or an echo of the prompt), and when each token is due
// (prefill time, inter-token gaps with jitter and slowdown). Pure functions of the settings, the
// request and a seed: no clock, no I/O, so tests check them exactly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/sim_config.h"

namespace bench::sim {

// Stateless, stable randomness: splitmix64's finalizer. Same input, same output, everywhere.
uint64_t Mix64(uint64_t x);
// FNV-1a over `bytes`, mixed with `seed`: a request's key, stable across runs and machines.
uint64_t HashBytes(std::string_view bytes, uint64_t seed);
// A uniform double in [0, 1) from 64 random bits.
double UnitInterval(uint64_t bits);

struct OutputPlanInput {
  int64_t prompt_tokens = 0;
  std::optional<int64_t> max_tokens;
  int64_t min_tokens = 0;
  bool ignore_eos = false;
  // Echo mode with no max_tokens: the echo stops after this many tokens ("stop"). -1: not echo.
  int64_t echo_tokens = -1;
  uint64_t request_key = 0;
};

struct OutputPlan {
  int64_t completion_tokens = 0;
  bool stopped_by_length = false;  // finish_reason "length"; otherwise "stop"
};

// The output length (sim/README.md):
// - the cap is max_tokens, or max_model_len - prompt_tokens when max_tokens is absent;
// - ignore_eos: exactly the cap ("length");
// - echo without max_tokens: the echoed tokens, within the cap;
// - otherwise a seeded draw: uniform in [max(min_tokens, 1), max_tokens] with max_tokens, or
//   round(Normal(40, 20)) clamped to [max(min_tokens, 1), cap] without it. "length" when the
//   draw reached the cap, else "stop".
OutputPlan PlanOutput(const SimConfig& config, const OutputPlanInput& input);

// When tokens are due. Thread-safe (immutable).
class LatencyModel {
 public:
  explicit LatencyModel(const SimConfig& config);
  // From the moment a sequence starts running to its first token: the fixed --ttft, or
  // prefill_overhead + uncached_prompt_tokens x prefill_per_token. Disaggregated: the time the
  // sequence holds its prefill slot.
  int64_t PrefillNs(int64_t uncached_prompt_tokens) const;
  // The gap between token index - 1 and token `index` (>= 1) with `running` sequences slowing
  // decode (DecodeLoad): itl x (1 + itl_slowdown x (running - 1)) + a seeded uniform jitter in
  // [-itl_jitter, +itl_jitter]; never negative.
  int64_t TokenGapNs(uint64_t request_key, int64_t index, int64_t running) const;

  // Disaggregated prefill/decode (--disagg): prefill and decode have their own capacity and a
  // prompt's KV cache moves from one to the other before its first token.
  bool disaggregated() const { return disaggregated_; }
  // The KV transfer of a prompt of `prompt_tokens` tokens (all of them: the decode side needs
  // the whole KV cache, cached blocks included): kv_transfer_latency + prompt_tokens x
  // kv_transfer_per_token (unset settings count 0). Used by --disagg between its two instances
  // and, in either mode, instead of PrefillNs for a request whose prefill was remote
  // (kv_transfer_params.do_remote_prefill).
  int64_t KvTransferNs(int64_t prompt_tokens) const;
  // The `running` of TokenGapNs, from the scheduler counts. Aggregated: every sequence holding a
  // slot, in prefill or decode, since a prefill shares the batch with the decodes (`running`).
  // Disaggregated: the decode instance's sequences only (`decode_running`); prefills run
  // elsewhere.
  int64_t DecodeLoad(int64_t running, int64_t decode_running) const {
    return disaggregated_ ? decode_running : running;
  }

 private:
  bool disaggregated_;
  int64_t kv_transfer_latency_ns_;
  int64_t kv_transfer_per_token_ns_;
  bool fixed_ttft_;
  int64_t ttft_ns_;
  int64_t prefill_overhead_ns_;
  int64_t prefill_per_token_ns_;
  int64_t itl_ns_;
  int64_t itl_jitter_ns_;
  double itl_slowdown_;
};

// The text of each output token of one request. Token 0 has no leading space; later tokens have
// one, so the concatenated deltas read as words.
class OutputText {
 public:
  // Seeded words from the engine's synthetic vocabulary (each a single real-tokenizer token).
  static OutputText Random(uint64_t request_key);
  // The tokens of `source` (tokenizer.h), repeated cyclically; Random when `source` has none.
  static OutputText Echo(std::string_view source, uint64_t request_key);

  // Token `index`'s text without its leading space.
  std::string_view Token(int64_t index) const;
  // Appends the delta of token `index` (with its leading space when index > 0).
  void AppendDelta(int64_t index, std::string& out) const;
  // Tokens of the echo source; 0 in random mode.
  int64_t echo_token_count() const { return static_cast<int64_t>(echo_spans_.size()); }

 private:
  OutputText() = default;
  uint64_t key_ = 0;
  std::string echo_source_;
  std::vector<std::pair<uint32_t, uint32_t>> echo_spans_;  // (offset, length) in echo_source_
};

}  // namespace bench::sim
