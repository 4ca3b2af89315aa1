// Intended-send-time schedules for open-loop load (constant, Poisson, gamma, ramp, burst, stages,
// trace) and their split across workers (SPEC sections 2 and 5). Times are integer nanoseconds
// from the run start. A spec and seed give the same schedule bit for bit on every compiler and C
// library: the random streams use our own engine, distributions, log and exp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bench {

struct ArrivalStage {
  double rate_per_s = 0;  // 0 is a pause
  int64_t duration_ns = 0;

  bool operator==(const ArrivalStage&) const = default;
};

// The part of the undivided sequence a deterministic spec yields: arrival i (0-based) belongs to
// this spec iff (i % cycle) is one of `offsets`. SplitArrival sets it; the default is everything.
struct ArrivalSlice {
  int64_t cycle = 1;
  std::vector<int64_t> offsets = {0};  // strictly increasing, each in [0, cycle); may be empty

  bool operator==(const ArrivalSlice&) const = default;
};

// What to generate. Plain data; fields that the type does not use are ignored.
//
// Deterministic types place arrival i (i = 0, 1, ...) at the first time at which the integrated
// rate exceeds i, so the first arrival is at 0 and constant spacing is exact (no accumulated
// float drift). Poisson and gamma are renewal processes whose first arrival is one gap after 0.
// Every type yields only arrivals at times < the window end.
struct ArrivalSpec {
  enum class Type { kConstant, kPoisson, kGamma, kRamp, kBurst, kStages, kTrace };
  Type type = Type::kConstant;
  double rate_per_s = 0;       // kConstant, kPoisson, kGamma
  double burstiness = 1;       // kGamma: shape k; gaps have CV 1/sqrt(k), k = 1 is Poisson
  double ramp_from_per_s = 0;  // kRamp: linear from -> to over duration_ns
  double ramp_to_per_s = 0;
  int64_t burst_size = 0;  // kBurst: burst_size arrivals at 0, every, 2*every, ...
  int64_t burst_every_ns = 0;
  std::vector<ArrivalStage> stages;       // kStages: back to back from 0; no extension
  std::vector<int64_t> trace_offsets_ns;  // kTrace: nondecreasing, >= 0
  // The window end (warmup included by the caller). Must be > 0, except for kStages (0 = end of
  // the last stage, otherwise the earlier of the two) and kTrace (0 = no cut).
  int64_t duration_ns = 0;
  uint64_t seed = 0;   // kPoisson, kGamma
  ArrivalSlice slice;  // deterministic types only

  bool operator==(const ArrivalSpec&) const = default;
};

const char* ArrivalTypeName(ArrivalSpec::Type type);

struct Arrival {
  int64_t intended_send_time_ns = 0;
  // Position in the undivided sequence for deterministic types (for kTrace: the trace record), so
  // a split run can pick the same prompt or record as a single-process run. For Poisson and gamma
  // the position within this stream.
  int64_t sequence_index = 0;
  int32_t stage = 0;  // index into spec.stages for kStages, else 0
};

// One stream of intended send times, nondecreasing. Owned and called by one thread (the engine
// thread that sends the requests); allocation-free and O(1) per arrival (O(log stages) for
// kStages).
class ArrivalSchedule {
 public:
  virtual ~ArrivalSchedule() = default;
  // The next arrival, or nullopt once the window is exhausted (and on every later call).
  virtual std::optional<Arrival> Next() = 0;
};

// kInvalidArgument naming the field (as in the YAML config, e.g. "load.rate") for bad specs.
absl::Status ValidateArrivalSpec(const ArrivalSpec& spec);

// Takes the spec by value: move a large trace in.
absl::StatusOr<std::unique_ptr<ArrivalSchedule>> MakeArrivalSchedule(ArrivalSpec spec);

// How many arrivals `spec` yields: exact for deterministic types (slice included), the mean
// rate * window for Poisson and gamma (for gamma, whose stream restarts at 0, the true mean
// differs from this by about (1/k - 1) / 2 over a long window).
absl::StatusOr<double> ExpectedArrivalCount(const ArrivalSpec& spec);

// Splits `total` into one spec per weight (worker capacity, e.g. engine threads); may be applied
// again to a part (controller -> workers -> engine threads).
//
// Deterministic types: arrivals are dealt out by index. Weights become small integers q_j (as
// given when they are integers summing to at most 65536, otherwise apportioned out of 65536 by
// largest remainder, then divided by their gcd); a cycle of Q = sum(q_j) consecutive indices is
// dealt in order of the keys (2k + 1) / (2 q_j), k < q_j (ties to the lower j), which spreads
// each part evenly through the cycle. The parts are disjoint and their union is exactly the
// undivided sequence - same times, same indices - so a merged constant stream stays evenly
// spaced and a burst's size is divided among workers (to within one per burst, exactly over
// time).
// Poisson and gamma: rate shares proportional to the weights, rounded down to multiples of the
// total's ulp with the remainder to the last part, so they add up exactly (==) in any order; seeds
// DeriveArrivalSeed(total.seed, j), pairwise distinct. A single weight returns `total` unchanged.
absl::StatusOr<std::vector<ArrivalSpec>> SplitArrival(const ArrivalSpec& total,
                                                      const std::vector<double>& weights);

// splitmix64 finalizer of seed ^ index: a bijection, so distinct indices give distinct seeds.
uint64_t DeriveArrivalSeed(uint64_t seed, uint64_t index);

namespace internal {

// splitmix64 (Steele, Lea, Flood 2014): seeds the main engine.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t Next();

 private:
  uint64_t state_;
};

// xoshiro256** 1.0 (Blackman, Vigna 2018).
class Xoshiro256StarStar {
 public:
  explicit Xoshiro256StarStar(uint64_t seed);  // state from SplitMix64(seed)
  Xoshiro256StarStar(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3) : s_{s0, s1, s2, s3} {}
  uint64_t Next();

 private:
  uint64_t s_[4];
};

// Natural log and exp from IEEE basic operations only (within a few ulp), so that random
// schedules do not depend on the C library's libm. Log takes x > 0 (0 gives -inf).
double Log(double x);
double Exp(double x);

}  // namespace internal
}  // namespace bench
