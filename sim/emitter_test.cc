#include "sim/emitter.h"

#include <memory>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"

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
    EXPECT_GE(now_ns, due_ns()) << "ran early";
    fired_ns.push_back(now_ns);
    due_times.push_back(due_ns());
    if (repeats > 0) {
      --repeats;
      emitter_->Schedule(this, due_ns() + gap_ns);
    }
  }
  int repeats = 0;
  int64_t gap_ns = 0;
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

}  // namespace
}  // namespace bench::sim
