#include "common/arrival.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

// Built with -ffp-contract=off (see CMakeLists.txt): a fused multiply-add would round differently
// on machines that have one, and the random schedules must match bit for bit everywhere.

namespace bench {
namespace internal {
namespace {

inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// fdlibm's split of ln 2: kLn2Hi ends in 32 zero bits, so n * kLn2Hi is exact for |n| < 2^20.
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;

}  // namespace

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Xoshiro256StarStar::Xoshiro256StarStar(uint64_t seed) {
  SplitMix64 seeder(seed);
  for (uint64_t& word : s_) word = seeder.Next();  // never all zero: splitmix64 is a bijection
}

uint64_t Xoshiro256StarStar::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Log(double x) {
  if (std::isnan(x) || x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return x;
  int exponent = 0;
  double m = std::frexp(x, &exponent);  // x = m * 2^exponent, m in [0.5, 1); exact
  if (m < 0.70710678118654752440) {
    m *= 2;
    --exponent;
  }
  // m in [sqrt(1/2), sqrt(2)): log(m) = 2 atanh(s) with |s| < 0.172, a fast series in s^2.
  const double f = m - 1;  // exact
  const double s = f / (2 + f);
  const double z = s * s;
  double series = 1.0 / 25;  // 1 + z/3 + z^2/5 + ... + z^12/25; the rest is < 2^-60
  for (int k = 11; k >= 0; --k) series = 1.0 / (2 * k + 1) + z * series;
  const double n = exponent;
  return n * kLn2Hi + (2 * s * series + n * kLn2Lo);
}

double Exp(double x) {
  if (std::isnan(x)) return x;
  if (x > 709.782712893384) return std::numeric_limits<double>::infinity();
  if (x < -745.2) return 0;
  // x = n ln2 + r, |r| <= ln2 / 2; exp(r) by Taylor to r^15 / 15!, whose tail is < 2^-60.
  const double n = std::floor(x * kInvLn2 + 0.5);
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;
  double p = 1;
  for (int k = 15; k >= 1; --k) p = 1 + r / k * p;
  return std::ldexp(p, static_cast<int>(n));  // exact, or one IEEE rounding when subnormal
}

}  // namespace internal

namespace {

using internal::Exp;
using internal::Log;
using internal::Xoshiro256StarStar;
using Type = ArrivalSpec::Type;

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr double kNsPerS = 1e9;
// One arrival per nanosecond; beyond that "rate" means nothing for an HTTP client.
constexpr double kMaxRatePerS = 1e9;
// Arrival indices stay exact in a double.
constexpr double kMaxArrivals = 9007199254740992.0;  // 2^53
// Integer weights of one split: the dealing cycle's length.
constexpr int64_t kMaxSplitUnits = int64_t{1} << 16;
// Offsets held by all parts of a (nested) split together.
constexpr int64_t kMaxSliceEntries = int64_t{1} << 22;
// Keeps the arrival streams apart from other users of the run seed (e.g. prompt sampling).
constexpr uint64_t kArrivalStreamTag = 0x6172726976616c73ULL;  // "arrivals"

bool IsRandom(Type type) { return type == Type::kPoisson || type == Type::kGamma; }

std::string FormatNs(int64_t ns) { return absl::FormatDuration(absl::Nanoseconds(ns)); }

absl::Status Invalid(absl::string_view field, absl::string_view requirement,
                     absl::string_view got) {
  return absl::InvalidArgumentError(absl::StrCat(field, " must be ", requirement, ", got ", got));
}

absl::Status CheckRate(absl::string_view field, double rate, bool allow_zero) {
  const bool ok =
      std::isfinite(rate) && (allow_zero ? rate >= 0 : rate > 0) && rate <= kMaxRatePerS;
  if (ok) return absl::OkStatus();
  return Invalid(field, allow_zero ? "in [0, 1e9] per second" : "in (0, 1e9] per second",
                 absl::StrCat(rate));
}

absl::Status CheckCount(double expected) {
  if (expected <= kMaxArrivals) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("load would produce about ", expected, " arrivals, more than 2^53"));
}

// kNever when out of range, so that an absurd index simply lies beyond every window.
int64_t RoundNs(double ns) {
  if (!(ns < 9.0e18)) return kNever;
  return std::llround(ns);
}

// The undivided deterministic sequence: arrival i at the first time the integrated rate
// exceeds i, by formula, so any index can be computed on its own (a split part skips freely).
// Reads spec.trace_offsets_ns in place: the spec must outlive this.
class DeterministicTimes {
 public:
  explicit DeterministicTimes(const ArrivalSpec& spec) : spec_(spec) {
    switch (spec.type) {
      case Type::kConstant:
        period_ns_ = kNsPerS / spec.rate_per_s;
        end_ns_ = spec.duration_ns;
        break;
      case Type::kRamp:
        if (spec.ramp_from_per_s == spec.ramp_to_per_s) {
          period_ns_ = kNsPerS / spec.ramp_from_per_s;  // the same numbers as kConstant
        } else {
          ramp_ = true;
          from_per_ns_ = spec.ramp_from_per_s / kNsPerS;
          slope_per_ns2_ = (spec.ramp_to_per_s - spec.ramp_from_per_s) / kNsPerS /
                           static_cast<double>(spec.duration_ns);
        }
        end_ns_ = spec.duration_ns;
        break;
      case Type::kBurst:
        end_ns_ = spec.duration_ns;
        break;
      case Type::kStages: {
        int64_t start_ns = 0;
        double integrated = 0;
        for (const ArrivalStage& stage : spec.stages) {
          stage_start_ns_.push_back(start_ns);
          stage_lambda_start_.push_back(integrated);
          stage_ns_per_arrival_.push_back(stage.rate_per_s > 0 ? kNsPerS / stage.rate_per_s : 0);
          integrated += stage.rate_per_s * static_cast<double>(stage.duration_ns) / kNsPerS;
          stage_lambda_end_.push_back(integrated);
          start_ns += stage.duration_ns;
        }
        end_ns_ = spec.duration_ns > 0 ? std::min(spec.duration_ns, start_ns) : start_ns;
        break;
      }
      case Type::kTrace:
        end_ns_ = spec.duration_ns > 0 ? spec.duration_ns : kNever;
        break;
      case Type::kPoisson:
      case Type::kGamma:
        break;
    }
  }
  DeterministicTimes(const DeterministicTimes&) = delete;
  DeterministicTimes& operator=(const DeterministicTimes&) = delete;

  int64_t end_ns() const { return end_ns_; }

  // Nondecreasing in `index`; kNever when there is no such arrival at all.
  int64_t TimeAt(int64_t index, int32_t* stage) const {
    *stage = 0;
    const double y = static_cast<double>(index);
    switch (spec_.type) {
      case Type::kConstant:
        return RoundNs(y * period_ns_);
      case Type::kRamp: {
        if (!ramp_) return RoundNs(y * period_ns_);
        if (index == 0) return 0;
        // Root of from*t + slope*t^2/2 = y in the form that is stable for any sign of slope
        // and for from = 0.
        const double discriminant = from_per_ns_ * from_per_ns_ + 2 * slope_per_ns2_ * y;
        if (discriminant < 0) return kNever;  // a ramp down never integrates that far
        const double denominator = from_per_ns_ + std::sqrt(discriminant);
        if (!(denominator > 0)) return kNever;
        return RoundNs(2 * y / denominator);
      }
      case Type::kBurst: {
        const int64_t burst = index / spec_.burst_size;
        if (burst > kNever / spec_.burst_every_ns) return kNever;
        return burst * spec_.burst_every_ns;
      }
      case Type::kStages: {
        // The first stage whose integrated range reaches past y; it has a positive rate.
        const auto it = std::upper_bound(stage_lambda_end_.begin(), stage_lambda_end_.end(), y);
        if (it == stage_lambda_end_.end()) return kNever;
        const size_t s = static_cast<size_t>(it - stage_lambda_end_.begin());
        *stage = static_cast<int32_t>(s);
        return stage_start_ns_[s] +
               RoundNs((y - stage_lambda_start_[s]) * stage_ns_per_arrival_[s]);
      }
      case Type::kTrace:
        return index < static_cast<int64_t>(spec_.trace_offsets_ns.size())
                   ? spec_.trace_offsets_ns[static_cast<size_t>(index)]
                   : kNever;
      case Type::kPoisson:
      case Type::kGamma:
        break;
    }
    return kNever;
  }

  // How many arrivals fall before end_ns(). Validation bounds it by 2^53, so the search ends.
  int64_t Count() const {
    int32_t stage = 0;
    auto before_end = [&](int64_t index) { return TimeAt(index, &stage) < end_ns_; };
    if (!before_end(0)) return 0;
    int64_t lo = 0;  // before_end(lo)
    int64_t hi = 1;
    while (before_end(hi)) {
      lo = hi;
      hi *= 2;
    }
    while (hi - lo > 1) {  // before_end(lo) && !before_end(hi)
      const int64_t mid = lo + (hi - lo) / 2;
      (before_end(mid) ? lo : hi) = mid;
    }
    return hi;
  }

 private:
  const ArrivalSpec& spec_;
  int64_t end_ns_ = 0;
  double period_ns_ = 0;
  bool ramp_ = false;
  double from_per_ns_ = 0;
  double slope_per_ns2_ = 0;
  std::vector<int64_t> stage_start_ns_;
  std::vector<double> stage_lambda_start_;  // integrated rate at each stage's start and end
  std::vector<double> stage_lambda_end_;
  std::vector<double> stage_ns_per_arrival_;
};

// How many of the first `n` indices the slice holds.
int64_t SliceCount(int64_t n, const ArrivalSlice& slice) {
  const int64_t full_cycles = n / slice.cycle;
  const int64_t rest = n % slice.cycle;
  const auto partial =
      std::lower_bound(slice.offsets.begin(), slice.offsets.end(), rest) - slice.offsets.begin();
  return full_cycles * static_cast<int64_t>(slice.offsets.size()) + partial;
}

class DeterministicSchedule final : public ArrivalSchedule {
 public:
  explicit DeterministicSchedule(ArrivalSpec spec)
      : spec_(std::move(spec)),
        times_(spec_),
        remaining_(SliceCount(times_.Count(), spec_.slice)) {}

  std::optional<Arrival> Next() override {
    if (remaining_ == 0) return std::nullopt;
    --remaining_;
    Arrival arrival;
    arrival.sequence_index = cycle_start_ + spec_.slice.offsets[position_];
    if (++position_ == spec_.slice.offsets.size()) {
      position_ = 0;
      cycle_start_ += spec_.slice.cycle;
    }
    // The max only guards the order against a last-bit wobble of the float formulas.
    last_ns_ = std::max(last_ns_, times_.TimeAt(arrival.sequence_index, &arrival.stage));
    arrival.intended_send_time_ns = last_ns_;
    return arrival;
  }

 private:
  const ArrivalSpec spec_;
  const DeterministicTimes times_;  // reads spec_
  int64_t remaining_;
  int64_t cycle_start_ = 0;
  size_t position_ = 0;
  int64_t last_ns_ = 0;
};

// Poisson (exponential gaps) or gamma gaps, accumulated in double nanoseconds: the drift of a
// random stream's sum is far below its own noise.
class RenewalSchedule final : public ArrivalSchedule {
 public:
  explicit RenewalSchedule(const ArrivalSpec& spec)
      : rng_(spec.seed ^ kArrivalStreamTag),
        end_ns_(static_cast<double>(spec.duration_ns)),
        gamma_(spec.type == Type::kGamma) {
    if (!gamma_) {
      scale_ns_ = kNsPerS / spec.rate_per_s;
      return;
    }
    // Gamma(k) with mean k, scaled to mean 1/rate. Marsaglia-Tsang needs k >= 1; for k < 1
    // draw Gamma(k + 1) and multiply by u^(1/k).
    const double shape = spec.burstiness;
    boost_ = shape < 1;
    inv_shape_ = 1 / shape;
    d_ = (boost_ ? shape + 1 : shape) - 1.0 / 3;
    c_ = 1 / std::sqrt(9 * d_);
    scale_ns_ = kNsPerS / (spec.rate_per_s * shape);
  }

  std::optional<Arrival> Next() override {
    if (done_) return std::nullopt;
    time_ns_ += scale_ns_ * (gamma_ ? StandardGamma() : -Log(UniformOpenClosed()));
    if (!(time_ns_ < end_ns_)) {
      done_ = true;
      return std::nullopt;
    }
    Arrival arrival;
    arrival.intended_send_time_ns = static_cast<int64_t>(time_ns_);  // floor: stays < end
    arrival.sequence_index = count_++;
    return arrival;
  }

 private:
  // (0, 1]: its log is finite.
  double UniformOpenClosed() { return static_cast<double>((rng_.Next() >> 11) + 1) * 0x1.0p-53; }
  // [-1, 1)
  double UniformSigned() { return static_cast<double>(rng_.Next() >> 11) * 0x1.0p-52 - 1; }

  // Marsaglia's polar method; the second variate is kept for the next call.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = 0;
    double v = 0;
    double s = 0;
    do {
      u = UniformSigned();
      v = UniformSigned();
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    const double factor = std::sqrt(-2 * Log(s) / s);
    spare_ = v * factor;
    has_spare_ = true;
    return u * factor;
  }

  // Marsaglia and Tsang (2000), "A simple method for generating gamma variables".
  double StandardGamma() {
    double sample = 0;
    for (;;) {
      double x = 0;
      double v = 0;
      do {
        x = Normal();
        v = 1 + c_ * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = UniformOpenClosed();
      const double x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2 || Log(u) < 0.5 * x2 + d_ * (1 - v + Log(v))) {
        sample = d_ * v;
        break;
      }
    }
    if (boost_) sample *= Exp(Log(UniformOpenClosed()) * inv_shape_);
    return sample;
  }

  Xoshiro256StarStar rng_;
  const double end_ns_;
  const bool gamma_;
  double scale_ns_ = 0;
  bool boost_ = false;
  double inv_shape_ = 1;
  double d_ = 0;
  double c_ = 0;
  bool has_spare_ = false;
  double spare_ = 0;
  double time_ns_ = 0;
  int64_t count_ = 0;
  bool done_ = false;
};

absl::Status ValidateSlice(const ArrivalSlice& slice) {
  if (slice.cycle < 1 || slice.cycle > (int64_t{1} << 62)) {
    return Invalid("slice.cycle", "in [1, 2^62]", absl::StrCat(slice.cycle));
  }
  for (size_t i = 0; i < slice.offsets.size(); ++i) {
    const int64_t offset = slice.offsets[i];
    if (offset < 0 || offset >= slice.cycle || (i > 0 && offset <= slice.offsets[i - 1])) {
      return Invalid(absl::StrCat("slice.offsets[", i, "]"),
                     absl::StrCat("increasing and in [0, ", slice.cycle, ")"),
                     absl::StrCat(offset));
    }
  }
  return absl::OkStatus();
}

// Integer weights for dealing, reduced by their gcd (see SplitArrival).
std::vector<int64_t> IntegerWeights(const std::vector<double>& weights) {
  std::vector<int64_t> units(weights.size(), 0);
  double sum = 0;
  bool integral = true;
  for (double w : weights) {
    sum += w;
    integral = integral && w == std::floor(w);
  }
  if (integral && sum <= static_cast<double>(kMaxSplitUnits)) {
    for (size_t j = 0; j < weights.size(); ++j) units[j] = static_cast<int64_t>(weights[j]);
  } else {
    // Largest remainder out of kMaxSplitUnits; ties go to the lower index.
    std::vector<double> remainders(weights.size());
    int64_t assigned = 0;
    for (size_t j = 0; j < weights.size(); ++j) {
      const double exact = weights[j] / sum * static_cast<double>(kMaxSplitUnits);
      units[j] = static_cast<int64_t>(std::floor(exact));
      remainders[j] = exact - static_cast<double>(units[j]);
      assigned += units[j];
    }
    std::vector<size_t> order(weights.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return remainders[a] > remainders[b]; });
    for (size_t r = 0; assigned < kMaxSplitUnits && r < order.size(); ++r, ++assigned) {
      ++units[order[r]];
    }
  }
  int64_t divisor = 0;
  for (int64_t u : units) divisor = std::gcd(divisor, u);
  if (divisor > 1) {
    for (int64_t& u : units) u /= divisor;
  }
  return units;
}

// owner[p] for p in [0, sum(units)): part j takes the positions whose keys (2k + 1) / (2 q_j),
// k < q_j, come in that order, which spreads each part evenly over the cycle.
std::vector<int32_t> DealingOrder(const std::vector<int64_t>& units) {
  struct Key {
    int64_t numerator;    // 2k + 1
    int64_t denominator;  // q_j (the common factor 2 dropped)
    int32_t part;
  };
  std::vector<Key> keys;
  for (size_t j = 0; j < units.size(); ++j) {
    for (int64_t k = 0; k < units[j]; ++k) {
      keys.push_back({2 * k + 1, units[j], static_cast<int32_t>(j)});
    }
  }
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
    const int64_t lhs = a.numerator * b.denominator;  // < 2^34: exact
    const int64_t rhs = b.numerator * a.denominator;
    return lhs != rhs ? lhs < rhs : a.part < b.part;
  });
  std::vector<int32_t> owner;
  owner.reserve(keys.size());
  for (const Key& key : keys) owner.push_back(key.part);
  return owner;
}

absl::StatusOr<std::vector<ArrivalSpec>> SplitDeterministic(const ArrivalSpec& total,
                                                            const std::vector<double>& weights) {
  const std::vector<int32_t> owner = DealingOrder(IntegerWeights(weights));
  std::vector<ArrivalSpec> parts(weights.size(), total);
  const ArrivalSlice& parent = total.slice;
  const int64_t held = static_cast<int64_t>(parent.offsets.size());
  if (held == 0) return parts;  // nothing to deal
  // Deal the parent's own sequence (its k-th arrival is global index
  // (k / held) * cycle + offsets[k % held]) over a period of lcm(held, dealing cycle).
  const int64_t dealing_cycle = static_cast<int64_t>(owner.size());
  const int64_t multiple = dealing_cycle / std::gcd(held, dealing_cycle);
  if (multiple > kMaxSliceEntries / held || multiple > (int64_t{1} << 62) / parent.cycle) {
    return absl::InvalidArgumentError(absl::StrCat(
        "split too fine: ", weights.size(), " parts of a slice of ", held, " per ", parent.cycle));
  }
  const int64_t period = held * multiple;
  for (ArrivalSpec& part : parts) {
    part.slice.cycle = parent.cycle * multiple;
    part.slice.offsets.clear();
  }
  for (int64_t k = 0; k < period; ++k) {
    const int64_t global =
        (k / held) * parent.cycle + parent.offsets[static_cast<size_t>(k % held)];
    parts[static_cast<size_t>(owner[static_cast<size_t>(k % dealing_cycle)])]
        .slice.offsets.push_back(global);
  }
  return parts;
}

absl::StatusOr<std::vector<ArrivalSpec>> SplitRandom(const ArrivalSpec& total,
                                                     const std::vector<double>& weights) {
  // Every share is a multiple of the total's ulp and no larger than the total, so all partial
  // sums are exact and the shares add up to the total in any order.
  int exponent = 0;
  std::frexp(total.rate_per_s, &exponent);
  const double quantum = std::ldexp(1.0, exponent - 53);
  double weight_sum = 0;
  for (double w : weights) weight_sum += w;
  std::vector<ArrivalSpec> parts(weights.size(), total);
  double assigned = 0;
  for (size_t j = 0; j < parts.size(); ++j) {
    double share = 0;
    if (j + 1 < parts.size()) {
      share = std::floor(total.rate_per_s * (weights[j] / weight_sum) / quantum) * quantum;
      assigned += share;
    } else {
      share = total.rate_per_s - assigned;
    }
    if (!(share > 0)) {
      return Invalid(absl::StrCat("weights[", j, "]"), "large enough for a positive rate share",
                     absl::StrCat(weights[j]));
    }
    parts[j].rate_per_s = share;
    parts[j].seed = DeriveArrivalSeed(total.seed, j);
  }
  return parts;
}

}  // namespace

const char* ArrivalTypeName(ArrivalSpec::Type type) {
  switch (type) {
    case Type::kConstant:
      return "constant";
    case Type::kPoisson:
      return "poisson";
    case Type::kGamma:
      return "gamma";
    case Type::kRamp:
      return "ramp";
    case Type::kBurst:
      return "burst";
    case Type::kStages:
      return "stages";
    case Type::kTrace:
      return "trace";
  }
  return "unknown";
}

uint64_t DeriveArrivalSeed(uint64_t seed, uint64_t index) {
  // The splitmix64 finalizer alone: a bijection of seed ^ index.
  uint64_t z = seed ^ index;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

absl::Status ValidateArrivalSpec(const ArrivalSpec& spec) {
  const int64_t window = spec.duration_ns;
  const bool window_optional = spec.type == Type::kStages || spec.type == Type::kTrace;
  if (window < 0 || (window == 0 && !window_optional)) {
    return Invalid("duration (the load window)", window_optional ? ">= 0" : "> 0",
                   FormatNs(window));
  }
  if (IsRandom(spec.type)) {
    if (!(spec.slice == ArrivalSlice())) {
      return absl::InvalidArgumentError(absl::StrCat("slice applies to deterministic load types; ",
                                                     ArrivalTypeName(spec.type),
                                                     " streams are split by rate"));
    }
  } else {
    if (absl::Status status = ValidateSlice(spec.slice); !status.ok()) return status;
  }
  const double window_s = static_cast<double>(window) / kNsPerS;
  switch (spec.type) {
    case Type::kGamma:
      if (!std::isfinite(spec.burstiness) || spec.burstiness <= 0) {
        return Invalid("load.burstiness", "> 0 (the gamma shape k)", absl::StrCat(spec.burstiness));
      }
      [[fallthrough]];
    case Type::kPoisson:
    case Type::kConstant:
      if (absl::Status status = CheckRate("load.rate", spec.rate_per_s, false); !status.ok()) {
        return status;
      }
      return CheckCount(spec.rate_per_s * window_s);
    case Type::kRamp: {
      if (absl::Status status = CheckRate("load.ramp.from", spec.ramp_from_per_s, true);
          !status.ok()) {
        return status;
      }
      if (absl::Status status = CheckRate("load.ramp.to", spec.ramp_to_per_s, true); !status.ok()) {
        return status;
      }
      if (spec.ramp_from_per_s == 0 && spec.ramp_to_per_s == 0) {
        return Invalid("load.ramp.from or load.ramp.to", "> 0", "both 0");
      }
      return CheckCount((spec.ramp_from_per_s + spec.ramp_to_per_s) / 2 * window_s);
    }
    case Type::kBurst:
      if (spec.burst_size < 1) {
        return Invalid("load.burst.size", ">= 1", absl::StrCat(spec.burst_size));
      }
      if (spec.burst_every_ns <= 0) {
        return Invalid("load.burst.every", "> 0", FormatNs(spec.burst_every_ns));
      }
      return CheckCount(
          std::ceil(static_cast<double>(window) / static_cast<double>(spec.burst_every_ns)) *
          static_cast<double>(spec.burst_size));
    case Type::kStages: {
      if (spec.stages.empty()) {
        return Invalid("load.stages", "a non-empty list", "none");
      }
      int64_t total_ns = 0;
      double integrated = 0;
      for (size_t i = 0; i < spec.stages.size(); ++i) {
        const ArrivalStage& stage = spec.stages[i];
        const std::string prefix = absl::StrCat("load.stages[", i, "]");
        if (absl::Status status = CheckRate(absl::StrCat(prefix, ".rate"), stage.rate_per_s, true);
            !status.ok()) {
          return status;
        }
        if (stage.duration_ns <= 0 || stage.duration_ns > (int64_t{1} << 62) - total_ns) {
          return Invalid(absl::StrCat(prefix, ".duration"), "> 0 (and the sum < 2^62 ns)",
                         FormatNs(stage.duration_ns));
        }
        total_ns += stage.duration_ns;
        integrated += stage.rate_per_s * static_cast<double>(stage.duration_ns) / kNsPerS;
      }
      return CheckCount(integrated);
    }
    case Type::kTrace: {
      if (spec.trace_offsets_ns.empty()) {
        return Invalid("load.trace", "a non-empty list of offsets", "none");
      }
      for (size_t i = 0; i < spec.trace_offsets_ns.size(); ++i) {
        const int64_t offset = spec.trace_offsets_ns[i];
        if (offset < 0 || offset == kNever) {
          return Invalid(absl::StrCat("load.trace[", i, "]"), ">= 0", FormatNs(offset));
        }
        if (i > 0 && offset < spec.trace_offsets_ns[i - 1]) {
          return Invalid(
              absl::StrCat("load.trace[", i, "]"),
              absl::StrCat(">= the previous offset ", FormatNs(spec.trace_offsets_ns[i - 1])),
              FormatNs(offset));
        }
      }
      return CheckCount(static_cast<double>(spec.trace_offsets_ns.size()));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("load.type: unknown arrival type ", static_cast<int>(spec.type)));
}

absl::StatusOr<std::unique_ptr<ArrivalSchedule>> MakeArrivalSchedule(ArrivalSpec spec) {
  if (absl::Status status = ValidateArrivalSpec(spec); !status.ok()) return status;
  if (IsRandom(spec.type)) return std::make_unique<RenewalSchedule>(spec);
  return std::make_unique<DeterministicSchedule>(std::move(spec));
}

absl::StatusOr<double> ExpectedArrivalCount(const ArrivalSpec& spec) {
  if (absl::Status status = ValidateArrivalSpec(spec); !status.ok()) return status;
  if (IsRandom(spec.type)) {
    return spec.rate_per_s * static_cast<double>(spec.duration_ns) / kNsPerS;
  }
  const DeterministicTimes times(spec);
  return static_cast<double>(SliceCount(times.Count(), spec.slice));
}

absl::StatusOr<std::vector<ArrivalSpec>> SplitArrival(const ArrivalSpec& total,
                                                      const std::vector<double>& weights) {
  if (absl::Status status = ValidateArrivalSpec(total); !status.ok()) return status;
  if (weights.empty()) return Invalid("weights", "non-empty", "none");
  if (static_cast<int64_t>(weights.size()) > kMaxSplitUnits) {
    return Invalid("weights", "at most 65536 parts", absl::StrCat(weights.size()));
  }
  for (size_t j = 0; j < weights.size(); ++j) {
    if (!std::isfinite(weights[j]) || weights[j] <= 0) {
      return Invalid(absl::StrCat("weights[", j, "]"), "finite and > 0", absl::StrCat(weights[j]));
    }
  }
  if (weights.size() == 1) return std::vector<ArrivalSpec>{total};
  if (IsRandom(total.type)) return SplitRandom(total, weights);
  return SplitDeterministic(total, weights);
}

}  // namespace bench
