#include "common/arrival.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

using ::testing::HasSubstr;
using Type = ArrivalSpec::Type;

int64_t Seconds(double s) { return std::llround(s * 1e9); }

ArrivalSpec Constant(double rate_per_s, double seconds) {
  ArrivalSpec spec;
  spec.type = Type::kConstant;
  spec.rate_per_s = rate_per_s;
  spec.duration_ns = Seconds(seconds);
  return spec;
}

ArrivalSpec Poisson(double rate_per_s, double seconds, uint64_t seed) {
  ArrivalSpec spec = Constant(rate_per_s, seconds);
  spec.type = Type::kPoisson;
  spec.seed = seed;
  return spec;
}

ArrivalSpec Gamma(double rate_per_s, double shape, double seconds, uint64_t seed) {
  ArrivalSpec spec = Poisson(rate_per_s, seconds, seed);
  spec.type = Type::kGamma;
  spec.burstiness = shape;
  return spec;
}

ArrivalSpec Ramp(double from, double to, double seconds) {
  ArrivalSpec spec;
  spec.type = Type::kRamp;
  spec.ramp_from_per_s = from;
  spec.ramp_to_per_s = to;
  spec.duration_ns = Seconds(seconds);
  return spec;
}

ArrivalSpec Stages(const std::vector<std::pair<double, double>>& rate_and_seconds) {
  ArrivalSpec spec;
  spec.type = Type::kStages;
  for (const auto& [rate, seconds] : rate_and_seconds) {
    spec.stages.push_back({rate, Seconds(seconds)});
  }
  return spec;
}

ArrivalSpec Burst(int64_t size, double every_s, double seconds) {
  ArrivalSpec spec;
  spec.type = Type::kBurst;
  spec.burst_size = size;
  spec.burst_every_ns = Seconds(every_s);
  spec.duration_ns = Seconds(seconds);
  return spec;
}

ArrivalSpec Trace(std::vector<int64_t> offsets_ns, int64_t duration_ns) {
  ArrivalSpec spec;
  spec.type = Type::kTrace;
  spec.trace_offsets_ns = std::move(offsets_ns);
  spec.duration_ns = duration_ns;
  return spec;
}

// All arrivals of `spec`, checking the contract every schedule keeps: nondecreasing, inside the
// window, and nullopt for good once exhausted.
std::vector<Arrival> Drain(const ArrivalSpec& spec) {
  auto schedule = MakeArrivalSchedule(spec);
  EXPECT_TRUE(schedule.ok()) << schedule.status();
  if (!schedule.ok()) return {};
  std::vector<Arrival> arrivals;
  int64_t window_end =
      spec.duration_ns > 0 ? spec.duration_ns : std::numeric_limits<int64_t>::max();
  if (spec.type == Type::kStages) {
    int64_t stages_end = 0;
    for (const ArrivalStage& stage : spec.stages) stages_end += stage.duration_ns;
    window_end = std::min(window_end, stages_end);
  }
  bool in_order = true;
  bool in_window = true;
  while (std::optional<Arrival> arrival = (*schedule)->Next()) {
    if (!arrivals.empty() &&
        arrival->intended_send_time_ns < arrivals.back().intended_send_time_ns) {
      in_order = false;
    }
    if (arrival->intended_send_time_ns < 0 || arrival->intended_send_time_ns >= window_end) {
      in_window = false;
    }
    arrivals.push_back(*arrival);
  }
  EXPECT_TRUE(in_order);
  EXPECT_TRUE(in_window);
  EXPECT_FALSE((*schedule)->Next().has_value());
  EXPECT_FALSE((*schedule)->Next().has_value());
  return arrivals;
}

std::vector<int64_t> TimesOf(const std::vector<Arrival>& arrivals) {
  std::vector<int64_t> times;
  times.reserve(arrivals.size());
  for (const Arrival& a : arrivals) times.push_back(a.intended_send_time_ns);
  return times;
}

bool SameArrivals(const std::vector<Arrival>& a, const std::vector<Arrival>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].intended_send_time_ns != b[i].intended_send_time_ns ||
        a[i].sequence_index != b[i].sequence_index || a[i].stage != b[i].stage) {
      return false;
    }
  }
  return true;
}

// The parts' arrivals merged in sequence order; also checks the parts are disjoint.
std::vector<Arrival> MergeByIndex(const std::vector<std::vector<Arrival>>& parts) {
  std::vector<Arrival> merged;
  for (const auto& part : parts) merged.insert(merged.end(), part.begin(), part.end());
  std::sort(merged.begin(), merged.end(),
            [](const Arrival& a, const Arrival& b) { return a.sequence_index < b.sequence_index; });
  return merged;
}

std::vector<std::vector<Arrival>> DrainAll(const std::vector<ArrivalSpec>& specs) {
  std::vector<std::vector<Arrival>> parts;
  parts.reserve(specs.size());
  for (const ArrivalSpec& spec : specs) parts.push_back(Drain(spec));
  return parts;
}

double Expected(const ArrivalSpec& spec) {
  absl::StatusOr<double> expected = ExpectedArrivalCount(spec);
  EXPECT_TRUE(expected.ok()) << expected.status();
  return expected.ok() ? *expected : -1;
}

struct GapStats {
  double mean_ns = 0;
  double cv = 0;
  double share_below_mean = 0;  // of the gaps, below the true mean 1/rate
  double share_above_mean = 0;
};

GapStats Gaps(const std::vector<Arrival>& arrivals, double rate_per_s) {
  GapStats stats;
  const double true_mean_ns = 1e9 / rate_per_s;
  double sum = 0;
  double sum_sq = 0;
  int64_t below = 0;
  int64_t above = 0;
  int64_t previous = 0;  // the stream starts at 0: the first gap counts
  for (const Arrival& a : arrivals) {
    const double gap = static_cast<double>(a.intended_send_time_ns - previous);
    previous = a.intended_send_time_ns;
    sum += gap;
    sum_sq += gap * gap;
    below += gap < true_mean_ns;
    above += gap > true_mean_ns;
  }
  const double n = static_cast<double>(arrivals.size());
  stats.mean_ns = sum / n;
  stats.cv = std::sqrt(sum_sq / n - stats.mean_ns * stats.mean_ns) / stats.mean_ns;
  stats.share_below_mean = static_cast<double>(below) / n;
  stats.share_above_mean = static_cast<double>(above) / n;
  return stats;
}

// ---------------------------------------------------------------------------------------------
// Building blocks.

TEST(ArrivalRngTest, MatchesPublishedReferenceOutputs) {
  internal::SplitMix64 splitmix(0);
  EXPECT_EQ(splitmix.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix.Next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(splitmix.Next(), 0x06c45d188009454fULL);

  internal::Xoshiro256StarStar xoshiro(1, 2, 3, 4);
  EXPECT_EQ(xoshiro.Next(), 11520u);
  EXPECT_EQ(xoshiro.Next(), 0u);
  EXPECT_EQ(xoshiro.Next(), 1509978240u);
  EXPECT_EQ(xoshiro.Next(), 1215971899390074240u);
}

TEST(ArrivalMathTest, LogAndExpAgreeWithLibmToAFewUlp) {
  constexpr double kTolerance = 4 * std::numeric_limits<double>::epsilon();
  double worst_log = 0;
  for (int e = -1070; e <= 1020; e += 7) {
    for (double mantissa : {1.0, 1.1, 1.25, 1.41, 1.42, 1.5, 1.75, 1.999}) {
      const double x = std::ldexp(mantissa, e);
      const double want = std::log(x);
      if (want == 0) continue;
      worst_log = std::max(worst_log, std::abs(internal::Log(x) - want) / std::abs(want));
    }
  }
  for (double x : {1 + 1e-12, 1 - 1e-12, 0.999, 1.001, 0.7, 0.71, 1.41, 1.42}) {
    worst_log =
        std::max(worst_log, std::abs(internal::Log(x) - std::log(x)) / std::abs(std::log(x)));
  }
  EXPECT_LE(worst_log, kTolerance);
  EXPECT_EQ(internal::Log(1), 0);
  EXPECT_EQ(internal::Log(0), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(internal::Log(-1)));

  double worst_exp = 0;
  for (double x = -708; x <= 709; x += 0.37) {
    worst_exp = std::max(worst_exp, std::abs(internal::Exp(x) - std::exp(x)) / std::exp(x));
  }
  for (double x : {-1e-9, 1e-9, -0.3465, 0.3466, -1.0, 1.0}) {
    worst_exp = std::max(worst_exp, std::abs(internal::Exp(x) - std::exp(x)) / std::exp(x));
  }
  EXPECT_LE(worst_exp, kTolerance);
  EXPECT_EQ(internal::Exp(0), 1);
  EXPECT_EQ(internal::Exp(-800), 0);
  EXPECT_EQ(internal::Exp(800), std::numeric_limits<double>::infinity());
}

TEST(ArrivalSeedTest, DerivedSeedsAreDistinct) {
  std::set<uint64_t> seeds;
  for (uint64_t index = 0; index < 1000; ++index) seeds.insert(DeriveArrivalSeed(42, index));
  EXPECT_EQ(seeds.size(), 1000u);
  EXPECT_NE(DeriveArrivalSeed(1, 0), DeriveArrivalSeed(2, 0));
}

// ---------------------------------------------------------------------------------------------
// Constant.

TEST(ArrivalConstantTest, EvenlySpacedWithoutDrift) {
  // 7000/s: the period 142857.142857... ns is not an integer; over 140000 arrivals an
  // accumulated sum would drift, i * period computed directly stays within half a ns.
  const std::vector<Arrival> arrivals = Drain(Constant(7000, 20));
  ASSERT_EQ(arrivals.size(), 140000u);
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const int64_t error_x7000 =
        arrivals[i].intended_send_time_ns * 7000 - static_cast<int64_t>(i) * 1000000000;
    ASSERT_LE(std::abs(error_x7000), 3500) << "arrival " << i;  // |error| <= 0.5 ns
    ASSERT_EQ(arrivals[i].sequence_index, static_cast<int64_t>(i));
    ASSERT_EQ(arrivals[i].stage, 0);
  }
}

TEST(ArrivalConstantTest, CountIsRateTimesWindowRoundedUp) {
  EXPECT_EQ(Drain(Constant(10, 1.05)).size(), 11u);  // 0, 0.1, ..., 1.0
  EXPECT_EQ(Drain(Constant(10, 1.0)).size(), 10u);   // 1.0 is outside [0, 1)
  EXPECT_EQ(Drain(Constant(3, 86400)).size(), 259200u);
  EXPECT_EQ(Expected(Constant(3, 86400)), 259200);
  EXPECT_EQ(Expected(Constant(10, 1.05)), 11);
}

// ---------------------------------------------------------------------------------------------
// Random streams: rate, coefficient of variation, shape.

struct RandomCase {
  Type type;
  double shape;        // gamma k (1 for Poisson)
  double share_below;  // P(gap < mean) for Gamma(k): regularized P(k, k)
};

class ArrivalRandomTest : public ::testing::TestWithParam<RandomCase> {};

TEST_P(ArrivalRandomTest, MeanRateCvAndShape) {
  const RandomCase c = GetParam();
  constexpr double kRate = 2000;
  constexpr double kSeconds = 200;  // about 400000 arrivals
  const ArrivalSpec spec =
      c.type == Type::kPoisson ? Poisson(kRate, kSeconds, 7) : Gamma(kRate, c.shape, kSeconds, 7);
  const std::vector<Arrival> arrivals = Drain(spec);
  const double expected = kRate * kSeconds;
  EXPECT_EQ(Expected(spec), expected);
  EXPECT_NEAR(static_cast<double>(arrivals.size()) / expected, 1.0, 0.01);

  const GapStats gaps = Gaps(arrivals, kRate);
  EXPECT_NEAR(gaps.mean_ns / (1e9 / kRate), 1.0, 0.01);
  const double want_cv = 1 / std::sqrt(c.shape);
  EXPECT_NEAR(gaps.cv / want_cv, 1.0, 0.05) << "cv " << gaps.cv;
  // Standard error of the share is below 0.001 here.
  EXPECT_NEAR(gaps.share_below_mean, c.share_below, 0.005);
  for (size_t i = 0; i < arrivals.size(); ++i) {
    ASSERT_EQ(arrivals[i].sequence_index, static_cast<int64_t>(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Streams, ArrivalRandomTest,
                         ::testing::Values(RandomCase{Type::kPoisson, 1, 1 - std::exp(-1.0)},
                                           RandomCase{Type::kGamma, 1, 1 - std::exp(-1.0)},
                                           RandomCase{Type::kGamma, 0.5, std::erf(std::sqrt(0.5))},
                                           RandomCase{Type::kGamma, 2, 1 - 3 * std::exp(-2.0)},
                                           RandomCase{Type::kGamma, 4,
                                                      1 - std::exp(-4.0) * (1 + 4 + 8 + 32.0 / 3)}),
                         [](const ::testing::TestParamInfo<RandomCase>& info) {
                           const RandomCase& c = info.param;
                           if (c.type == Type::kPoisson) return std::string("Poisson");
                           return c.shape == 0.5
                                      ? std::string("GammaHalf")
                                      : "Gamma" + std::to_string(static_cast<int>(c.shape));
                         });

TEST(ArrivalPoissonTest, ExponentialGapsAndPoissonCounts) {
  constexpr double kRate = 2000;
  const std::vector<Arrival> arrivals = Drain(Poisson(kRate, 200, 11));
  const GapStats gaps = Gaps(arrivals, kRate);
  EXPECT_NEAR(gaps.share_above_mean, std::exp(-1.0), 0.005);
  // Counts in 10 ms windows (mean 20): variance equals mean for a Poisson process.
  std::vector<double> counts(20000, 0);
  for (const Arrival& a : arrivals)
    counts[static_cast<size_t>(a.intended_send_time_ns / 10000000)]++;
  double sum = 0;
  double sum_sq = 0;
  for (double n : counts) {
    sum += n;
    sum_sq += n * n;
  }
  const double mean = sum / counts.size();
  const double variance = sum_sq / counts.size() - mean * mean;
  EXPECT_NEAR(variance / mean, 1.0, 0.05);
}

TEST(ArrivalDeterminismTest, SameSeedSameStreamOtherSeedOtherStream) {
  for (const ArrivalSpec& spec :
       {Poisson(500, 20, 1), Gamma(500, 0.3, 20, 1), Gamma(500, 3, 20, 1)}) {
    SCOPED_TRACE(ArrivalTypeName(spec.type));
    const std::vector<int64_t> first = TimesOf(Drain(spec));
    const std::vector<int64_t> again = TimesOf(Drain(spec));
    EXPECT_EQ(first, again);
    ArrivalSpec other = spec;
    other.seed = 2;
    const std::vector<int64_t> different = TimesOf(Drain(other));
    ASSERT_GT(first.size(), 100u);
    ASSERT_GT(different.size(), 100u);
    EXPECT_NE(std::vector<int64_t>(first.begin(), first.begin() + 100),
              std::vector<int64_t>(different.begin(), different.begin() + 100));
  }
}

// ---------------------------------------------------------------------------------------------
// Split.

std::vector<std::vector<double>> WeightSets(int n) {
  std::vector<double> equal(n, 1.0);
  std::vector<double> rising;
  std::vector<double> fractional;
  for (int j = 0; j < n; ++j) {
    rising.push_back(j + 1);
    fractional.push_back(0.3 + 0.37 * j);
  }
  return {equal, rising, fractional};
}

TEST(ArrivalSplitTest, ConstantPartsMergeIntoTheSingleStream) {
  const ArrivalSpec total = Constant(997.3, 10);
  const std::vector<Arrival> single = Drain(total);
  ASSERT_EQ(single.size(), 9973u);
  const double period_ns = 1e9 / total.rate_per_s;
  for (int n : {1, 2, 3, 7, 16}) {
    for (const std::vector<double>& weights : WeightSets(n)) {
      SCOPED_TRACE(::testing::Message() << n << " parts, weights[last] " << weights.back());
      absl::StatusOr<std::vector<ArrivalSpec>> parts = SplitArrival(total, weights);
      ASSERT_TRUE(parts.ok()) << parts.status();
      ASSERT_EQ(parts->size(), static_cast<size_t>(n));
      const std::vector<std::vector<Arrival>> streams = DrainAll(*parts);
      EXPECT_TRUE(SameArrivals(MergeByIndex(streams), single));

      std::vector<int64_t> merged_times;
      for (const auto& stream : streams) {
        const std::vector<int64_t> times = TimesOf(stream);
        merged_times.insert(merged_times.end(), times.begin(), times.end());
      }
      std::sort(merged_times.begin(), merged_times.end());
      for (size_t i = 1; i < merged_times.size(); ++i) {
        ASSERT_LE(std::abs(static_cast<double>(merged_times[i] - merged_times[i - 1]) - period_ns),
                  1.0)
            << "gap " << i;
      }

      double weight_sum = 0;
      for (double w : weights) weight_sum += w;
      for (int j = 0; j < n; ++j) {
        const double count = static_cast<double>(streams[j].size());
        EXPECT_EQ(Expected((*parts)[j]), count);
        EXPECT_NEAR(count, single.size() * weights[j] / weight_sum, 2 + 0.002 * single.size());
      }
      if (weights.front() == weights.back()) {
        // Equal parts take every n-th arrival: each is itself evenly spaced at n periods.
        for (const auto& stream : streams) {
          for (size_t i = 1; i < stream.size(); ++i) {
            ASSERT_LE(std::abs(static_cast<double>(stream[i].intended_send_time_ns -
                                                   stream[i - 1].intended_send_time_ns) -
                               n * period_ns),
                      1.0);
          }
        }
      }
    }
  }
}

TEST(ArrivalSplitTest, RandomSharesSumExactlyWithDistinctSeeds) {
  const std::vector<double> weights = {1, 2, 3, 5, 8, 13, 0.5};
  double weight_sum = 0;
  for (double w : weights) weight_sum += w;
  for (const ArrivalSpec& total :
       {Poisson(1000.7, 100, 3), Gamma(1000.7, 0.5, 100, 3), Gamma(1000.7, 4, 100, 3)}) {
    SCOPED_TRACE(::testing::Message() << ArrivalTypeName(total.type) << " k " << total.burstiness);
    absl::StatusOr<std::vector<ArrivalSpec>> parts = SplitArrival(total, weights);
    ASSERT_TRUE(parts.ok()) << parts.status();
    ASSERT_EQ(parts->size(), weights.size());
    double forward = 0;
    for (const ArrivalSpec& part : *parts) forward += part.rate_per_s;
    double backward = 0;
    for (auto it = parts->rbegin(); it != parts->rend(); ++it) backward += it->rate_per_s;
    EXPECT_EQ(forward, total.rate_per_s);
    EXPECT_EQ(backward, total.rate_per_s);

    std::set<uint64_t> seeds;
    for (const ArrivalSpec& part : *parts) seeds.insert(part.seed);
    EXPECT_EQ(seeds.size(), weights.size());

    // Counts of a renewal stream have variance about CV^2 * mean; allow five sigma.
    const double cv2 = total.type == Type::kGamma ? 1 / total.burstiness : 1;
    const double seconds = total.duration_ns / 1e9;
    double merged = 0;
    for (size_t j = 0; j < parts->size(); ++j) {
      const ArrivalSpec& part = (*parts)[j];
      EXPECT_EQ(part.type, total.type);
      EXPECT_EQ(part.burstiness, total.burstiness);
      EXPECT_NEAR(part.rate_per_s / total.rate_per_s, weights[j] / weight_sum, 1e-12);
      const double count = static_cast<double>(Drain(part).size());
      const double want = part.rate_per_s * seconds;
      EXPECT_NEAR(count, want, 5 * std::sqrt(cv2 * want) + 1) << "part " << j;
      merged += count;
    }
    const double want = total.rate_per_s * seconds;
    EXPECT_NEAR(merged, want, 5 * std::sqrt(cv2 * want));
  }
}

TEST(ArrivalSplitTest, NestedSplitsStillCoverTheSingleStream) {
  for (const ArrivalSpec& total :
       {Constant(333.3, 9), Ramp(5, 200, 8), Stages({{50, 3}, {0, 1}, {123.4, 2.5}}),
        Burst(7, 0.25, 5), Trace({0, 0, 1, 5, 5, 5, 9, 100, 1000, 1000, 20000}, 0)}) {
    SCOPED_TRACE(ArrivalTypeName(total.type));
    const std::vector<Arrival> single = Drain(total);
    ASSERT_FALSE(single.empty());
    absl::StatusOr<std::vector<ArrivalSpec>> workers = SplitArrival(total, {2, 1, 3});
    ASSERT_TRUE(workers.ok()) << workers.status();
    std::vector<ArrivalSpec> leaves = {(*workers)[0]};
    absl::StatusOr<std::vector<ArrivalSpec>> threads1 = SplitArrival((*workers)[1], {1, 1});
    absl::StatusOr<std::vector<ArrivalSpec>> threads2 = SplitArrival((*workers)[2], {0.5, 1.7, 1});
    ASSERT_TRUE(threads1.ok()) << threads1.status();
    ASSERT_TRUE(threads2.ok()) << threads2.status();
    leaves.insert(leaves.end(), threads1->begin(), threads1->end());
    leaves.insert(leaves.end(), threads2->begin(), threads2->end());
    double expected_sum = 0;
    for (const ArrivalSpec& leaf : leaves) expected_sum += Expected(leaf);
    EXPECT_EQ(expected_sum, static_cast<double>(single.size()));
    EXPECT_TRUE(SameArrivals(MergeByIndex(DrainAll(leaves)), single));
  }
}

TEST(ArrivalSplitTest, NestedRandomSplitKeepsSeedsApartAndSumsExact) {
  const ArrivalSpec total = Poisson(777.7, 10, 5);
  absl::StatusOr<std::vector<ArrivalSpec>> workers = SplitArrival(total, {1, 1, 1});
  ASSERT_TRUE(workers.ok());
  std::set<uint64_t> seeds;
  double rate_sum = 0;
  for (const ArrivalSpec& worker : *workers) {
    absl::StatusOr<std::vector<ArrivalSpec>> threads = SplitArrival(worker, {1, 2, 3, 4});
    ASSERT_TRUE(threads.ok());
    double worker_sum = 0;
    for (const ArrivalSpec& thread : *threads) {
      seeds.insert(thread.seed);
      worker_sum += thread.rate_per_s;
    }
    EXPECT_EQ(worker_sum, worker.rate_per_s);
    rate_sum += worker_sum;
  }
  EXPECT_EQ(seeds.size(), 12u);
  EXPECT_NEAR(rate_sum, total.rate_per_s, 1e-12 * total.rate_per_s);
}

TEST(ArrivalSplitTest, SingleWeightReturnsTheTotal) {
  for (const ArrivalSpec& total : {Poisson(10, 1, 9), Constant(10, 1)}) {
    absl::StatusOr<std::vector<ArrivalSpec>> parts = SplitArrival(total, {4});
    ASSERT_TRUE(parts.ok());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_TRUE((*parts)[0] == total);
  }
}

TEST(ArrivalSplitTest, RejectsBadWeights) {
  const ArrivalSpec total = Constant(10, 1);
  const std::vector<std::pair<std::vector<double>, std::string>> cases = {
      {{}, "weights"},
      {{1, 0}, "weights[1]"},
      {{-1, 1}, "weights[0]"},
      {{1, std::nan("")}, "weights[1]"},
      {{1, std::numeric_limits<double>::infinity()}, "weights[1]"},
  };
  for (const auto& [weights, field] : cases) {
    absl::StatusOr<std::vector<ArrivalSpec>> parts = SplitArrival(total, weights);
    EXPECT_EQ(parts.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(std::string(parts.status().message()), HasSubstr(field));
  }
  ArrivalSpec bad = Constant(-1, 1);
  EXPECT_EQ(SplitArrival(bad, {1, 1}).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Ramp.

int64_t CountIn(const std::vector<Arrival>& arrivals, double from_s, double to_s) {
  return std::count_if(arrivals.begin(), arrivals.end(), [&](const Arrival& a) {
    return a.intended_send_time_ns >= Seconds(from_s) && a.intended_send_time_ns < Seconds(to_s);
  });
}

TEST(ArrivalRampTest, CountAndLocalRateFollowTheLine) {
  // rate(t) = 10 + 0.9 t over 100 s; its integral over [a, b) is the expected count there.
  const std::vector<Arrival> arrivals = Drain(Ramp(10, 100, 100));
  auto integral = [](double t) { return 10 * t + 0.45 * t * t; };
  EXPECT_NEAR(static_cast<double>(arrivals.size()), 5500, 1);
  EXPECT_EQ(Expected(Ramp(10, 100, 100)), static_cast<double>(arrivals.size()));
  EXPECT_NEAR(CountIn(arrivals, 0, 10), integral(10), 1);
  EXPECT_NEAR(CountIn(arrivals, 90, 100), integral(100) - integral(90), 1);
  EXPECT_NEAR(CountIn(arrivals, 40, 60), integral(60) - integral(40), 1);
  ASSERT_GT(arrivals.size(), 2u);
  EXPECT_EQ(arrivals[0].intended_send_time_ns, 0);
  // Gaps are the inverse of the local rate: about 1/10 s at the start, 1/100 s at the end.
  EXPECT_NEAR(arrivals[1].intended_send_time_ns / 1e9, 0.1, 0.001);
  const double last_gap = (arrivals[arrivals.size() - 1].intended_send_time_ns -
                           arrivals[arrivals.size() - 2].intended_send_time_ns) /
                          1e9;
  EXPECT_NEAR(last_gap, 0.01, 0.0002);
}

TEST(ArrivalRampTest, FlatRampIsTheConstantStream) {
  EXPECT_EQ(TimesOf(Drain(Ramp(37.5, 37.5, 30))), TimesOf(Drain(Constant(37.5, 30))));
}

TEST(ArrivalRampTest, FromZeroAndDownToZero) {
  const std::vector<Arrival> up = Drain(Ramp(0, 50, 20));  // rate 2.5 t
  EXPECT_NEAR(static_cast<double>(up.size()), 500, 1);
  EXPECT_NEAR(CountIn(up, 0, 10), 1.25 * 100, 1);
  const std::vector<Arrival> down = Drain(Ramp(100, 0, 10));  // rate 100 - 10 t
  EXPECT_NEAR(static_cast<double>(down.size()), 500, 1);
  EXPECT_NEAR(CountIn(down, 9, 10), 5, 1);
  EXPECT_NEAR(CountIn(down, 0, 1), 95, 1);
  EXPECT_EQ(Expected(Ramp(100, 0, 10)), static_cast<double>(down.size()));
}

// ---------------------------------------------------------------------------------------------
// Stages.

TEST(ArrivalStagesTest, PerStageCountsIndicesAndSpacing) {
  const ArrivalSpec spec = Stages({{10, 60}, {20, 30}, {0, 10}, {5, 20}});
  const std::vector<Arrival> arrivals = Drain(spec);
  EXPECT_EQ(arrivals.size(), 1300u);
  EXPECT_EQ(Expected(spec), 1300);
  const std::vector<double> starts = {0, 60, 90, 100, 120};
  const std::vector<double> rates = {10, 20, 0, 5};
  std::vector<int64_t> per_stage(4, 0);
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const Arrival& a = arrivals[i];
    ASSERT_GE(a.stage, 0);
    ASSERT_LT(a.stage, 4);
    ++per_stage[static_cast<size_t>(a.stage)];
    EXPECT_GE(a.intended_send_time_ns, Seconds(starts[a.stage]));
    EXPECT_LT(a.intended_send_time_ns, Seconds(starts[a.stage + 1]));
    if (i > 0 && arrivals[i - 1].stage == a.stage) {
      EXPECT_NEAR(a.intended_send_time_ns - arrivals[i - 1].intended_send_time_ns,
                  1e9 / rates[a.stage], 1);
    }
  }
  EXPECT_EQ(per_stage, (std::vector<int64_t>{600, 600, 0, 100}));
}

TEST(ArrivalStagesTest, FractionalBoundaryNeitherLosesNorAddsAnArrival) {
  // 3/s for 1.5 s integrates to 4.5, then 2/s for 1 s to 6.5: arrivals 0..6, where arrival i
  // is where the integral reaches i.
  const std::vector<Arrival> arrivals = Drain(Stages({{3, 1.5}, {2, 1}}));
  ASSERT_EQ(arrivals.size(), 7u);
  const std::vector<double> want_s = {0, 1 / 3.0, 2 / 3.0, 1, 4 / 3.0, 1.75, 2.25};
  const std::vector<int32_t> want_stage = {0, 0, 0, 0, 0, 1, 1};
  for (size_t i = 0; i < arrivals.size(); ++i) {
    EXPECT_NEAR(arrivals[i].intended_send_time_ns, want_s[i] * 1e9, 1) << i;
    EXPECT_EQ(arrivals[i].stage, want_stage[i]) << i;
  }
}

TEST(ArrivalStagesTest, LeadingPauseAndWindowCut) {
  const std::vector<Arrival> paused = Drain(Stages({{0, 5}, {1, 3}}));
  EXPECT_EQ(TimesOf(paused), (std::vector<int64_t>{Seconds(5), Seconds(6), Seconds(7)}));
  for (const Arrival& a : paused) EXPECT_EQ(a.stage, 1);

  ArrivalSpec cut = Stages({{3, 1.5}, {2, 1}});
  cut.duration_ns = Seconds(2);
  EXPECT_EQ(Drain(cut).size(), 6u);
  EXPECT_EQ(Expected(cut), 6);
  cut.duration_ns = Seconds(100);  // longer than the stages: they do not extend
  EXPECT_EQ(Drain(cut).size(), 7u);
}

// ---------------------------------------------------------------------------------------------
// Burst.

TEST(ArrivalBurstTest, CountAndGrouping) {
  const std::vector<Arrival> arrivals = Drain(Burst(5, 1, 10));
  ASSERT_EQ(arrivals.size(), 50u);
  for (size_t i = 0; i < arrivals.size(); ++i) {
    EXPECT_EQ(arrivals[i].intended_send_time_ns,
              static_cast<int64_t>(i / 5) * Seconds(1));  // burst i / 5
  }
  EXPECT_EQ(Drain(Burst(5, 1, 10.5)).size(), 55u);
  EXPECT_EQ(Drain(Burst(5, 1, 9.999999999)).size(), 50u);
  EXPECT_EQ(Expected(Burst(5, 1, 10.5)), 55);
}

TEST(ArrivalBurstTest, SplitDividesEachBurst) {
  const ArrivalSpec total = Burst(50, 1, 10);
  absl::StatusOr<std::vector<ArrivalSpec>> parts = SplitArrival(total, {1, 1, 1});
  ASSERT_TRUE(parts.ok());
  const std::vector<std::vector<Arrival>> streams = DrainAll(*parts);
  EXPECT_TRUE(SameArrivals(MergeByIndex(streams), Drain(total)));
  for (const auto& stream : streams) {
    std::vector<int64_t> per_burst(10, 0);
    for (const Arrival& a : stream)
      ++per_burst[static_cast<size_t>(a.intended_send_time_ns / Seconds(1))];
    for (int64_t n : per_burst) {
      EXPECT_GE(n, 16);  // 50 / 3, to within one
      EXPECT_LE(n, 17);
    }
    EXPECT_NEAR(static_cast<double>(stream.size()), 500 / 3.0, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Trace.

TEST(ArrivalTraceTest, ExactPassthroughAndWindowCut) {
  const std::vector<int64_t> offsets = {0, 5, 5, 100, Seconds(1), Seconds(3)};
  const std::vector<Arrival> arrivals = Drain(Trace(offsets, 0));
  EXPECT_EQ(TimesOf(arrivals), offsets);
  for (size_t i = 0; i < arrivals.size(); ++i) {
    EXPECT_EQ(arrivals[i].sequence_index, static_cast<int64_t>(i));
  }
  EXPECT_EQ(TimesOf(Drain(Trace(offsets, Seconds(1)))), (std::vector<int64_t>{0, 5, 5, 100}));
  EXPECT_EQ(Expected(Trace(offsets, Seconds(1))), 4);
}

// ---------------------------------------------------------------------------------------------
// Validation.

struct InvalidCase {
  std::string name;
  ArrivalSpec spec;
  std::string field;
};

std::vector<InvalidCase> InvalidCases() {
  std::vector<InvalidCase> cases;
  auto with = [](ArrivalSpec spec, const std::function<void(ArrivalSpec&)>& change) {
    change(spec);
    return spec;
  };
  cases.push_back({"zero rate", Constant(0, 1), "load.rate"});
  cases.push_back({"negative rate", Poisson(-3, 1, 1), "load.rate"});
  cases.push_back({"nan rate", Gamma(std::nan(""), 2, 1, 1), "load.rate"});
  cases.push_back({"huge rate", Constant(2e9, 1), "load.rate"});
  cases.push_back({"zero burstiness", Gamma(10, 0, 1, 1), "load.burstiness"});
  cases.push_back({"negative burstiness", Gamma(10, -1, 1, 1), "load.burstiness"});
  cases.push_back({"infinite burstiness", Gamma(10, std::numeric_limits<double>::infinity(), 1, 1),
                   "load.burstiness"});
  cases.push_back({"zero window", Constant(10, 0), "duration"});
  cases.push_back({"negative window",
                   with(Stages({{1, 1}}), [](ArrivalSpec& s) { s.duration_ns = -5; }), "duration"});
  cases.push_back({"negative ramp from", Ramp(-1, 10, 1), "load.ramp.from"});
  cases.push_back({"nan ramp to", Ramp(1, std::nan(""), 1), "load.ramp.to"});
  cases.push_back({"flat zero ramp", Ramp(0, 0, 1), "load.ramp"});
  cases.push_back({"zero burst size", Burst(0, 1, 10), "load.burst.size"});
  cases.push_back({"zero burst interval", Burst(5, 0, 10), "load.burst.every"});
  cases.push_back({"no stages", Stages({}), "load.stages"});
  cases.push_back({"negative stage rate", Stages({{1, 1}, {-1, 1}}), "load.stages[1].rate"});
  cases.push_back({"zero stage duration", Stages({{1, 0}}), "load.stages[0].duration"});
  cases.push_back(
      {"negative stage duration", Stages({{1, 1}, {1, -2}}), "load.stages[1].duration"});
  cases.push_back({"empty trace", Trace({}, 0), "load.trace"});
  cases.push_back({"unordered trace", Trace({0, 10, 5}, 0), "load.trace[2]"});
  cases.push_back({"negative trace offset", Trace({-1, 10}, 0), "load.trace[0]"});
  cases.push_back({"slice on poisson",
                   with(Poisson(10, 1, 1),
                        [](ArrivalSpec& s) {
                          s.slice = {2, {1}};
                        }),
                   "slice"});
  cases.push_back({"slice offset outside the cycle",
                   with(Constant(10, 1),
                        [](ArrivalSpec& s) {
                          s.slice = {3, {0, 3}};
                        }),
                   "slice.offsets[1]"});
  cases.push_back({"zero slice cycle",
                   with(Constant(10, 1),
                        [](ArrivalSpec& s) {
                          s.slice = {0, {}};
                        }),
                   "slice.cycle"});
  cases.push_back({"more than 2^53 arrivals",
                   with(Constant(1e9, 1), [](ArrivalSpec& s) { s.duration_ns = int64_t{1} << 62; }),
                   "2^53"});
  return cases;
}

TEST(ArrivalValidationTest, RejectsBadSpecsNamingTheField) {
  for (const InvalidCase& c : InvalidCases()) {
    SCOPED_TRACE(c.name);
    const absl::Status status = ValidateArrivalSpec(c.spec);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.field));
    EXPECT_EQ(MakeArrivalSchedule(c.spec).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ExpectedArrivalCount(c.spec).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ArrivalValidationTest, MessageCarriesTheValue) {
  const absl::Status status = ValidateArrivalSpec(Constant(-3, 1));
  EXPECT_THAT(std::string(status.message()), HasSubstr("got -3"));
}

TEST(ArrivalValidationTest, AcceptsEdgeValues) {
  EXPECT_TRUE(ValidateArrivalSpec(Gamma(1e9, 1e-3, 1e-6, 1)).ok());
  EXPECT_TRUE(ValidateArrivalSpec(Ramp(0, 1, 1)).ok());
  EXPECT_TRUE(ValidateArrivalSpec(Stages({{0, 1}, {1, 1}})).ok());
  EXPECT_TRUE(ValidateArrivalSpec(Trace({7, 7, 7}, 0)).ok());
  ArrivalSpec empty_slice = Constant(10, 1);
  empty_slice.slice = {4, {}};
  EXPECT_TRUE(ValidateArrivalSpec(empty_slice).ok());
  EXPECT_TRUE(Drain(empty_slice).empty());
  EXPECT_EQ(Expected(empty_slice), 0);
}

}  // namespace
}  // namespace bench
