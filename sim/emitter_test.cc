#include "sim/emitter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "sim/metrics_exporter.h"
#include "sim/sim_test_client.h"

namespace bench::sim {
namespace {

// Records when it ran; optionally reschedules itself `repeats` times, `gap_ns` apart on its own
// schedule.
class Probe : public TimedTask {
 public:
  Probe(Emitter* emitter, std::vector<int>* order, int id)
      : emitter_(emitter), order_(order), id_(id) {}
  void OnDue(int64_t now_ns) override {
    order_->push_back(id_);
    if (cancel_on_due != nullptr) emitter_->Cancel(cancel_on_due);
    EXPECT_GE(now_ns, due_ns()) << "ran early";
    fired_ns.push_back(now_ns);
    due_times.push_back(due_ns());
    if (repeats > 0) {
      --repeats;
      emitter_->Schedule(this, due_ns() + gap_ns);
    }
  }
  // A repeating probe is hinted again before each later firing.
  void Prefetch(PrefetchStage stage) const override { hints.push_back(stage); }
  int repeats = 0;
  int64_t gap_ns = 0;
  TimedTask* cancel_on_due = nullptr;
  mutable std::vector<PrefetchStage> hints;
  std::vector<int64_t> fired_ns;
  std::vector<int64_t> due_times;

 private:
  Emitter* emitter_;
  std::vector<int>* order_;
  int id_;
};

class EmitterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = engine::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
    emitter_ = std::make_unique<Emitter>(*loop_, [this] { ++batches_; });
  }
  void TearDown() override {
    emitter_.reset();
    EXPECT_TRUE(loop_->Close().ok());
  }
  void RunUntilEmpty() {
    ASSERT_TRUE(loop_->RunUntil([this] { return emitter_->size() == 0; }));
  }
  void ExpectRandomScheduleRunsInOrder(uint64_t seed, int n, int64_t base, int64_t spread_us,
                                       int cancel_one_in);
  std::unique_ptr<engine::EventLoop> loop_;
  std::unique_ptr<Emitter> emitter_;
  int batches_ = 0;
};

TEST_F(EmitterTest, RunsInDueOrderWithTiesInSchedulingOrder) {
  std::vector<int> order;
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < 6; ++i) probes.push_back(std::make_unique<Probe>(emitter_.get(), &order, i));
  const int64_t base = MonotonicNowNs() + 2'000'000;
  emitter_->Schedule(probes[0].get(), base + 3'000'000);
  emitter_->Schedule(probes[1].get(), base + 1'000'000);
  emitter_->Schedule(probes[2].get(), base + 2'000'000);
  emitter_->Schedule(probes[3].get(), base + 1'000'000);
  emitter_->Schedule(probes[4].get(), base);
  emitter_->Schedule(probes[5].get(), base + 2'000'000);
  RunUntilEmpty();
  EXPECT_EQ(order, (std::vector<int>{4, 1, 3, 2, 5, 0}));
}

TEST_F(EmitterTest, CancelAndReschedule) {
  std::vector<int> order;
  Probe a(emitter_.get(), &order, 1), b(emitter_.get(), &order, 2), c(emitter_.get(), &order, 3);
  const int64_t base = MonotonicNowNs() + 1'000'000;
  emitter_->Schedule(&a, base);
  emitter_->Schedule(&b, base + 1'000'000);
  emitter_->Schedule(&c, base + 2'000'000);
  emitter_->Cancel(&b);
  emitter_->Cancel(&b);  // Idempotent.
  EXPECT_FALSE(b.scheduled());
  emitter_->Schedule(&a, base + 3'000'000);  // Moved after c.
  EXPECT_EQ(emitter_->size(), 2u);
  RunUntilEmpty();
  EXPECT_EQ(order, (std::vector<int>{3, 1}));
}

// Due times come from the schedule, so the n-th firing is due at start + n x gap however late
// earlier firings were; lateness never accumulates.
TEST_F(EmitterTest, RepeatedTaskKeepsItsSchedule) {
  std::vector<int> order;
  Probe probe(emitter_.get(), &order, 1);
  probe.repeats = 29;
  probe.gap_ns = 2'000'000;
  const int64_t start = MonotonicNowNs() + 1'000'000;
  emitter_->Schedule(&probe, start);
  RunUntilEmpty();
  ASSERT_EQ(probe.fired_ns.size(), 30u);
  for (size_t i = 0; i < probe.due_times.size(); ++i) {
    EXPECT_EQ(probe.due_times[i], start + static_cast<int64_t>(i) * 2'000'000);
  }
  // Generous bound for loaded CI machines; the perf test measures the real lateness.
  EXPECT_LT(probe.fired_ns.back() - probe.due_times.back(), 20'000'000);
  EXPECT_EQ(emitter_->stats().fired, 30u);
}

// With a tick, wake-ups fall on its multiples: tasks due anywhere in one tick run in one
// wake-up, at or after the tick's end (never before their due time), in due order.
TEST_F(EmitterTest, TasksDueInOneTickRunInOneWakeUp) {
  constexpr int64_t kTick = 5'000'000;
  auto emitter = std::make_unique<Emitter>(
      *loop_, [this] { ++batches_; }, nullptr, kTick);
  std::vector<int> order;
  std::vector<std::unique_ptr<Probe>> probes;
  // Two ticks from now, on the grid; five tasks spread over the tick after it.
  const int64_t tick_start = (MonotonicNowNs() / kTick + 2) * kTick;
  const std::vector<int64_t> offsets = {4'900'000, 1, 2'500'000, 1'000'000, kTick};
  for (size_t i = 0; i < offsets.size(); ++i) {
    probes.push_back(std::make_unique<Probe>(emitter.get(), &order, static_cast<int>(i)));
    emitter->Schedule(probes.back().get(), tick_start + offsets[i]);
  }
  ASSERT_TRUE(loop_->RunUntil([&] { return emitter->size() == 0; }));
  EXPECT_EQ(batches_, 1);
  EXPECT_EQ(order, (std::vector<int>{1, 3, 2, 0, 4}));
  for (const auto& probe : probes) {
    ASSERT_EQ(probe->fired_ns.size(), 1u);
    EXPECT_GE(probe->fired_ns[0], tick_start + kTick);  // the tick's end: never early
  }
  emitter.reset();
}

// In a batch, each task gets its two hints in order before it runs (the first few: those the
// batch still had room to give), and a task cancelled by one that ran before it gets nothing.
TEST_F(EmitterTest, TasksInABatchAreHintedAheadOfRunning) {
  std::vector<int> order;
  std::vector<std::unique_ptr<Probe>> probes;
  const int64_t now = MonotonicNowNs();
  for (int i = 0; i < 30; ++i) {
    probes.push_back(std::make_unique<Probe>(emitter_.get(), &order, i));
    emitter_->Schedule(probes.back().get(), now);
  }
  probes[0]->cancel_on_due = probes[20].get();
  RunUntilEmpty();
  ASSERT_EQ(order.size(), 29u);
  using Stage = TimedTask::PrefetchStage;
  for (int i = 0; i < 30; ++i) {
    const std::vector<Stage>& hints = probes[i]->hints;
    if (i == 20) {
      EXPECT_TRUE(hints.empty()) << "the cancelled task was hinted";
      EXPECT_TRUE(probes[i]->fired_ns.empty());
    } else if (i >= static_cast<int>(Emitter::kPrefetchSelfAhead)) {
      EXPECT_EQ(hints, (std::vector<Stage>{Stage::kSelf, Stage::kReferenced})) << i;
    } else if (i >= static_cast<int>(Emitter::kPrefetchReferencedAhead)) {
      EXPECT_EQ(hints, (std::vector<Stage>{Stage::kReferenced})) << i;
    } else {
      EXPECT_TRUE(hints.empty()) << i;
    }
  }
}

TEST_F(EmitterTest, ManyDueTasksAreSplitIntoBatches) {
  std::vector<int> order;
  std::vector<std::unique_ptr<Probe>> probes;
  const int n = Emitter::kMaxTasksPerWake + 100;
  const int64_t now = MonotonicNowNs();
  for (int i = 0; i < n; ++i) {
    probes.push_back(std::make_unique<Probe>(emitter_.get(), &order, i));
    emitter_->Schedule(probes.back().get(), now);
  }
  RunUntilEmpty();
  EXPECT_EQ(order.size(), static_cast<size_t>(n));
  EXPECT_GE(batches_, 2);
  for (int i = 0; i < n; ++i) ASSERT_EQ(order[i], i);
}

// `n` probes, 3n random schedules (at base + a random multiple of 1 us below `spread_us`), moves
// and cancels (one in `cancel_one_in`): the survivors must run in (due time, last scheduling)
// order, none early (Probe::OnDue checks).
void EmitterTest::ExpectRandomScheduleRunsInOrder(uint64_t seed, int n, int64_t base,
                                                  int64_t spread_us, int cancel_one_in) {
  Emitter& emitter = *emitter_;
  std::mt19937_64 random(seed);
  std::vector<int> order;
  std::vector<std::unique_ptr<Probe>> probes;
  for (int i = 0; i < n; ++i) probes.push_back(std::make_unique<Probe>(&emitter, &order, i));
  std::vector<std::pair<int64_t, uint64_t>> key(n);  // (due, scheduling sequence) per probe
  std::vector<bool> live(n, false);
  uint64_t sequence = 0;
  for (int step = 0; step < 3 * n; ++step) {
    const int i = static_cast<int>(random() % n);
    if (random() % cancel_one_in == 0) {
      emitter.Cancel(probes[i].get());
      live[i] = false;
    } else {
      const int64_t due = base + static_cast<int64_t>(random() % spread_us) * 1000;
      emitter.Schedule(probes[i].get(), due);
      key[i] = {due, sequence++};
      live[i] = true;
    }
  }
  std::vector<int> expected;
  for (int i = 0; i < n; ++i) {
    if (live[i]) expected.push_back(i);
  }
  std::sort(expected.begin(), expected.end(), [&](int a, int b) { return key[a] < key[b]; });
  EXPECT_EQ(emitter.size(), expected.size());
  RunUntilEmpty();
  EXPECT_EQ(order, expected);
}

// Due times in the past, with many ties (500 distinct), so everything is due at the first
// wake-up; 3000 is below kMaxTasksPerWake: all run in one.
TEST_F(EmitterTest, RandomScheduleAndCancelKeepOrder) {
  ExpectRandomScheduleRunsInOrder(20240611, 3000, MonotonicNowNs() - 1'000'000'000, 500, 4);
}

// Due times spread over 600 ms, beyond the wheel's reach (4096 buckets of 65.5 us without a
// tick): the far ones wait in the overflow heap and come into the wheel as it turns; moves and
// cancels reach every part.
TEST_F(EmitterTest, FarTasksWaitBeyondTheWheelAndRunInOrder) {
  ExpectRandomScheduleRunsInOrder(20261208, 2000, MonotonicNowNs() + 20'000'000, 600'000, 5);
}

// The value of the exposition line that starts with `series` followed by a space; -1 if absent.
double SeriesValue(const std::string& text, const std::string& series) {
  return testing::MetricValue(text, series).value_or(-1);
}

// The le boundaries are inclusive, as Prometheus reads them; nothing is lost off either end.
TEST(TokenLatenessRecorderTest, BucketsAreInclusiveAndOpenEnded) {
  TokenLatenessRecorder recorder;
  recorder.Record(-5);              // Clamped to 0: first bucket.
  recorder.Record(10'000);          // Exactly the first bound (10 us): first bucket.
  recorder.Record(10'001);          // Just over: second bucket.
  recorder.Record(2'000'000);       // Exactly 2 ms.
  recorder.Record(60'000'000'000);  // A minute: +Inf.
  const TokenLatenessRecorder::Snapshot snapshot = recorder.Read();
  EXPECT_EQ(snapshot.count, 5u);
  EXPECT_EQ(snapshot.counts[0], 2u);
  EXPECT_EQ(snapshot.counts[1], 1u);
  EXPECT_EQ(snapshot.counts.back(), 1u);
  EXPECT_EQ(snapshot.sum_ns, 10'000 + 10'001 + 2'000'000 + 60'000'000'000);
  size_t two_ms = 0;
  while (TokenLatenessRecorder::kBoundsNs[two_ms] != 2'000'000) ++two_ms;
  EXPECT_EQ(snapshot.counts[two_ms], 1u);
  EXPECT_EQ(snapshot.counts[two_ms + 1], 0u);
}

// Token metrics counted per loop and flushed give the same exposition as observing each token:
// same buckets (le inclusive, +Inf), count, sum and generation_tokens_total.
TEST(PendingTokenMetricsTest, FlushEqualsObservingEachToken) {
  SimMetrics direct("m");
  SimMetrics batched("m");
  PendingTokenMetrics pending;
  const std::vector<double> gaps = {0.0, 0.01, 0.0100001, 0.05, 0.3, 2.5, 80.0, 81.0, 0.004};
  for (size_t round = 0; round < 3; ++round) {
    for (const double gap : gaps) {
      direct.ObserveInterTokenLatency(gap);
      pending.ObserveInterTokenLatency(gap);
    }
    direct.AddGenerationTokens(static_cast<int64_t>(gaps.size()) + 1);
    pending.AddGenerationTokens(static_cast<int64_t>(gaps.size()) + 1);
    batched.Flush(pending);
  }
  batched.Flush(pending);  // nothing pending: changes nothing
  auto lines = [](const std::string& text) {
    std::vector<std::string> kept;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      // The sum is compared apart: added in another order, it may differ in the last bit.
      if ((absl::StartsWith(line, "vllm:inter_token_latency_seconds") &&
           !absl::StartsWith(line, "vllm:inter_token_latency_seconds_sum")) ||
          absl::StartsWith(line, "vllm:generation_tokens_total")) {
        kept.emplace_back(line);
      }
    }
    return kept;
  };
  const std::vector<std::string> expected = lines(direct.Serialize());
  ASSERT_GE(expected.size(), 22u);  // 20 buckets, the count, the counter
  EXPECT_EQ(lines(batched.Serialize()), expected);
  const std::string sum = "vllm:inter_token_latency_seconds_sum{model_name=\"m\"}";
  EXPECT_NEAR(SeriesValue(batched.Serialize(), sum), SeriesValue(direct.Serialize(), sum), 1e-9);
  EXPECT_GT(SeriesValue(batched.Serialize(), sum), 490);
  EXPECT_EQ(SeriesValue(batched.Serialize(), "vllm:generation_tokens_total{model_name=\"m\"}"), 30);
}

// Every firing is counted once, with its lateness measured after the batch's writes (so never
// less than what the task itself saw), and /metrics shows the recorders of all loops merged.
TEST_F(EmitterTest, LatenessMetricCountsEveryFiring) {
  SimMetrics metrics("lateness-model");
  TokenLatenessRecorder* recorder = metrics.AddTokenLatenessRecorder();
  auto emitter = std::make_unique<Emitter>(*loop_, nullptr, recorder);
  std::vector<int> order;
  std::vector<std::unique_ptr<Probe>> probes;
  const int64_t start = MonotonicNowNs() + 1'000'000;
  int64_t planned = 0;
  for (int i = 0; i < 20; ++i) {
    probes.push_back(std::make_unique<Probe>(emitter.get(), &order, i));
    probes.back()->repeats = 9 + i % 3;
    planned += 1 + probes.back()->repeats;
    probes.back()->gap_ns = 300'000 + 10'000 * i;
    emitter->Schedule(probes.back().get(), start + 50'000 * i);
  }
  ASSERT_TRUE(loop_->RunUntil([&] { return emitter->size() == 0; }));
  int64_t fired = 0;
  int64_t lateness_sum_ns = 0;
  for (const auto& probe : probes) {
    fired += static_cast<int64_t>(probe->fired_ns.size());
    for (size_t k = 0; k < probe->fired_ns.size(); ++k) {
      lateness_sum_ns += probe->fired_ns[k] - probe->due_times[k];
    }
  }
  EXPECT_EQ(fired, planned);
  const TokenLatenessRecorder::Snapshot snapshot = recorder->Read();
  EXPECT_EQ(snapshot.count, static_cast<uint64_t>(fired));
  EXPECT_EQ(snapshot.count, emitter->stats().fired);
  EXPECT_GE(snapshot.sum_ns, lateness_sum_ns);
  EXPECT_GE(lateness_sum_ns, 0);

  // A second loop's recorder is merged in.
  metrics.AddTokenLatenessRecorder()->Record(3'000'000);
  const std::string text = metrics.Serialize();
  const std::string series = "bench_sim:token_lateness_seconds";
  const std::string label = "model_name=\"lateness-model\"";
  EXPECT_EQ(SeriesValue(text, series + "_count{" + label + "}"), fired + 1) << text;
  EXPECT_NEAR(SeriesValue(text, series + "_sum{" + label + "}"),
              static_cast<double>(snapshot.sum_ns + 3'000'000) * 1e-9, 1e-9);
  EXPECT_EQ(SeriesValue(text, series + "_bucket{" + label + ",le=\"+Inf\"}"), fired + 1);
  // One line per bucket, cumulative counts never decrease, le ascending; the 3 ms value is
  // above the 2 ms bucket.
  const std::string bucket_prefix = series + "_bucket{" + label + ",le=\"";
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, bucket_prefix)) continue;
    line.remove_prefix(bucket_prefix.size());
    const size_t quote = line.find('"');
    ASSERT_NE(quote, absl::string_view::npos) << line;
    const absl::string_view le = line.substr(0, quote);
    EXPECT_LE(le.size(), 7u) << "a bound that prints long: " << le;
    double bound = std::numeric_limits<double>::infinity();
    if (le != "+Inf") {
      ASSERT_TRUE(absl::SimpleAtod(le, &bound)) << line;
    }
    double cumulative = 0;
    ASSERT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &cumulative)) << line;
    buckets.emplace_back(bound, cumulative);
  }
  ASSERT_EQ(buckets.size(), TokenLatenessRecorder::kBuckets) << text;
  for (size_t i = 1; i < buckets.size(); ++i) {
    EXPECT_GT(buckets[i].first, buckets[i - 1].first);
    EXPECT_GE(buckets[i].second, buckets[i - 1].second);
    if (std::abs(buckets[i].first - 0.002) < 1e-12) {
      EXPECT_LE(buckets[i].second, fired);
    }
  }
  EXPECT_EQ(buckets.back().second, fired + 1);
  emitter.reset();
}

}  // namespace
}  // namespace bench::sim
