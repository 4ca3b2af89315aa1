// Histogram figures: record cost per value (goal <= 5 ns), merge time of 1,000 decoded
// one-second shards (what the controller does per metric each second of a 1,000-worker run),
// the same with decoding, and the encoded size of a one-second TTFT shard (goal <= 2 KB).
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/check.h"
#include "common/histogram.h"
#include "common/histogram_codec.h"

namespace bench {
namespace {

constexpr uint64_t kSeed = 42;
constexpr int kShards = 1000;
constexpr int kSamplesPerShard = 1000;  // One second at 1,000 requests/s.

// Realistic latencies in microseconds: TTFT-like lognormal around 200 ms plus ITL-like values
// around 20 ms and a slow tail.
std::vector<int64_t> Latencies(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> ttft(std::log(200'000.0), 0.6);
  std::lognormal_distribution<double> itl(std::log(20'000.0), 0.4);
  std::lognormal_distribution<double> tail(std::log(5'000'000.0), 1.0);
  std::uniform_int_distribution<int> pick(0, 99);
  std::vector<int64_t> values(n);
  for (int64_t& v : values) {
    const int p = pick(rng);
    v = static_cast<int64_t>(p < 60 ? itl(rng) : p < 99 ? ttft(rng) : tail(rng));
  }
  return values;
}

// One second of TTFT: 1,000 samples, lognormal with median 200 ms.
Histogram TtftShard(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> ttft(std::log(200'000.0), 0.5);
  Histogram h;
  for (int i = 0; i < kSamplesPerShard; ++i) h.Record(static_cast<int64_t>(ttft(rng)));
  return h;
}

void BM_Record(benchmark::State& state) {
  constexpr int kValues = 1 << 20;  // Pre-generated: the RNG is not measured.
  const std::vector<int64_t> values = Latencies(kValues, kSeed);
  Histogram h;
  for (auto _ : state) {
    for (int64_t v : values) h.Record(v);
    benchmark::DoNotOptimize(h.TotalCount());
  }
  const double recorded = static_cast<double>(state.iterations()) * kValues;
  state.counters["ns_per_value"] = benchmark::Counter(
      recorded * 1e-9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(static_cast<int64_t>(recorded));
}
BENCHMARK(BM_Record);

void BM_MergeDecodedShards(benchmark::State& state) {
  std::vector<Histogram> decoded;
  decoded.reserve(kShards);
  for (int i = 0; i < kShards; ++i) {
    absl::StatusOr<Histogram> shard = DecodeCompressed(EncodeCompressed(TtftShard(kSeed + i)));
    BENCH_CHECK_OK(shard.status());
    decoded.push_back(*std::move(shard));
  }
  Histogram merged;
  for (auto _ : state) {
    merged.Reset();
    for (const Histogram& shard : decoded) BENCH_CHECK_OK(merged.Add(shard));
    benchmark::DoNotOptimize(merged.TotalCount());
  }
  BENCH_CHECK_EQ(merged.TotalCount(), int64_t{kShards} * kSamplesPerShard);
  state.counters["shards"] = kShards;
}
BENCHMARK(BM_MergeDecodedShards)->Unit(benchmark::kMillisecond);

void BM_DecodeAndMergeShards(benchmark::State& state) {
  std::vector<std::string> encoded;
  encoded.reserve(kShards);
  for (int i = 0; i < kShards; ++i) encoded.push_back(EncodeCompressed(TtftShard(kSeed + i)));
  Histogram merged;
  for (auto _ : state) {
    merged.Reset();
    for (const std::string& bytes : encoded) {
      absl::StatusOr<Histogram> shard = DecodeCompressed(bytes);
      BENCH_CHECK_OK(shard.status());
      BENCH_CHECK_OK(merged.Add(*shard));
    }
    benchmark::DoNotOptimize(merged.TotalCount());
  }
  BENCH_CHECK_EQ(merged.TotalCount(), int64_t{kShards} * kSamplesPerShard);
  state.counters["shards"] = kShards;
}
BENCHMARK(BM_DecodeAndMergeShards)->Unit(benchmark::kMillisecond);

void BM_EncodeTtftShard(benchmark::State& state) {
  const Histogram shard = TtftShard(kSeed);
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string encoded = EncodeCompressed(shard);
    bytes = encoded.size();
    benchmark::DoNotOptimize(encoded.data());
  }
  state.counters["encoded_bytes"] = static_cast<double>(bytes);
  state.counters["samples"] = kSamplesPerShard;
}
BENCHMARK(BM_EncodeTtftShard)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bench

BENCHMARK_MAIN();
