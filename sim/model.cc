#include "sim/model.h"

#include <algorithm>
#include <cmath>

#include "sim/tokenizer.h"
#include "worker/engine/prompts.h"

namespace bench::sim {
namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
// Separate streams so the length draw, the jitter and the words never share bits.
constexpr uint64_t kLengthStream = 1;
constexpr uint64_t kJitterStream = 2;
constexpr uint64_t kWordStream = 3;

uint64_t StreamBits(uint64_t key, uint64_t stream, uint64_t index) {
  return Mix64(Mix64(key ^ (stream * kGolden)) + index * kGolden);
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  x += kGolden;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t HashBytes(std::string_view bytes, uint64_t seed) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return Mix64(hash ^ Mix64(seed));
}

double UnitInterval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

OutputPlan PlanOutput(const SimConfig& config, const OutputPlanInput& input) {
  const int64_t room = std::max<int64_t>(0, config.max_model_len - input.prompt_tokens);
  const int64_t cap = input.max_tokens.has_value() ? std::min(*input.max_tokens, room) : room;
  const int64_t floor = std::min(cap, std::max<int64_t>(input.min_tokens, 1));
  OutputPlan plan;
  int64_t length = cap;
  if (input.ignore_eos) {
    length = cap;
  } else if (input.echo_tokens >= 0 && !input.max_tokens.has_value()) {
    length = std::clamp<int64_t>(input.echo_tokens, floor, cap);
  } else if (input.max_tokens.has_value()) {
    const double u = UnitInterval(StreamBits(input.request_key, kLengthStream, 0));
    length = floor + static_cast<int64_t>(u * static_cast<double>(cap - floor + 1));
  } else {
    // Box-Muller from two seeded uniforms: Normal(40, 20), as llm-d's simulator does without
    // max_tokens.
    const double u1 = UnitInterval(StreamBits(input.request_key, kLengthStream, 1));
    const double u2 = UnitInterval(StreamBits(input.request_key, kLengthStream, 2));
    const double normal =
        std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
    length = static_cast<int64_t>(std::llround(40.0 + 20.0 * normal));
  }
  plan.completion_tokens = std::clamp<int64_t>(length, floor, cap);
  plan.stopped_by_length = plan.completion_tokens >= cap;
  return plan;
}

LatencyModel::LatencyModel(const SimConfig& config)
    : disaggregated_(config.disaggregated),
      kv_transfer_latency_ns_(
          absl::ToInt64Nanoseconds(config.kv_transfer_latency.value_or(absl::ZeroDuration()))),
      kv_transfer_per_token_ns_(
          absl::ToInt64Nanoseconds(config.kv_transfer_per_token.value_or(absl::ZeroDuration()))),
      fixed_ttft_(config.ttft.has_value()),
      ttft_ns_(config.ttft.has_value() ? absl::ToInt64Nanoseconds(*config.ttft) : 0),
      prefill_overhead_ns_(absl::ToInt64Nanoseconds(config.prefill_overhead)),
      prefill_per_token_ns_(absl::ToInt64Nanoseconds(config.prefill_per_token)),
      itl_ns_(absl::ToInt64Nanoseconds(config.itl)),
      itl_jitter_ns_(absl::ToInt64Nanoseconds(config.itl_jitter)),
      itl_slowdown_(config.itl_slowdown) {}

int64_t LatencyModel::PrefillNs(int64_t uncached_prompt_tokens) const {
  if (fixed_ttft_) return ttft_ns_;
  return prefill_overhead_ns_ +
         std::max<int64_t>(0, uncached_prompt_tokens) * prefill_per_token_ns_;
}

int64_t LatencyModel::KvTransferNs(int64_t prompt_tokens) const {
  return kv_transfer_latency_ns_ + std::max<int64_t>(0, prompt_tokens) * kv_transfer_per_token_ns_;
}

int64_t LatencyModel::TokenGapNs(uint64_t request_key, int64_t index, int64_t running) const {
  double gap = static_cast<double>(itl_ns_);
  if (itl_slowdown_ > 0 && running > 1) {
    gap *= 1.0 + itl_slowdown_ * static_cast<double>(running - 1);
  }
  if (itl_jitter_ns_ > 0) {
    const double u =
        UnitInterval(StreamBits(request_key, kJitterStream, static_cast<uint64_t>(index)));
    gap += (2.0 * u - 1.0) * static_cast<double>(itl_jitter_ns_);
  }
  return std::max<int64_t>(0, static_cast<int64_t>(std::llround(gap)));
}

OutputText OutputText::Random(uint64_t request_key) {
  OutputText text;
  text.key_ = request_key;
  return text;
}

OutputText OutputText::Echo(std::string_view source, uint64_t request_key) {
  OutputText text;
  text.key_ = request_key;
  text.echo_source_ = std::string(source);
  const char* base = text.echo_source_.data();
  ForEachToken(text.echo_source_, [&](std::string_view token) {
    text.echo_spans_.emplace_back(static_cast<uint32_t>(token.data() - base),
                                  static_cast<uint32_t>(token.size()));
  });
  return text;
}

std::string_view OutputText::Token(int64_t index) const {
  if (!echo_spans_.empty()) {
    const auto& [offset, length] = echo_spans_[static_cast<size_t>(index) % echo_spans_.size()];
    return std::string_view(echo_source_).substr(offset, length);
  }
  const std::vector<std::string_view>& vocabulary = engine::SyntheticVocabulary();
  return vocabulary[StreamBits(key_, kWordStream, static_cast<uint64_t>(index)) %
                    vocabulary.size()];
}

void OutputText::AppendDelta(int64_t index, std::string& out) const {
  if (index > 0) out.push_back(' ');
  out.append(Token(index));
}

}  // namespace bench::sim
