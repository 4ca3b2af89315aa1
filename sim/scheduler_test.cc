#include "sim/scheduler.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sim/metrics_exporter.h"

namespace bench::sim {
namespace {

// Records the order in which queued requests are admitted.
class Recorder : public AdmissionListener {
 public:
  Recorder(std::vector<int>* order, int id) : order_(order), id_(id) {}
  void OnAdmitted(int64_t start_ns) override {
    order_->push_back(id_);
    last_start_ns = start_ns;
  }
  int64_t last_start_ns = 0;

 private:
  std::vector<int>* order_;
  int id_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = engine::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(loop).value();
  }
  void TearDown() override {
    tickets_.clear();
    EXPECT_TRUE(loop_->Close().ok());
  }
  std::shared_ptr<AdmissionTicket> Ticket(AdmissionListener* listener) {
    auto ticket = std::make_shared<AdmissionTicket>(loop_.get());
    ticket->listener = listener;
    tickets_.push_back(ticket);
    return ticket;
  }
  // Runs the posted starts.
  void RunPosted() {
    for (int i = 0; i < 4; ++i) loop_->RunOnce();
  }
  std::unique_ptr<engine::EventLoop> loop_;
  std::vector<std::shared_ptr<AdmissionTicket>> tickets_;
};

TEST_F(SchedulerTest, RunsThenQueuesThenRejects) {
  SimMetrics metrics("m");
  Scheduler scheduler(2, 1, &metrics);
  std::vector<int> order;
  Recorder a(&order, 1), b(&order, 2), c(&order, 3), d(&order, 4);
  EXPECT_EQ(scheduler.Admit(Ticket(&a)), Scheduler::Admission::kRunning);
  EXPECT_EQ(scheduler.Admit(Ticket(&b)), Scheduler::Admission::kRunning);
  EXPECT_EQ(scheduler.Admit(Ticket(&c)), Scheduler::Admission::kQueued);
  EXPECT_EQ(scheduler.Admit(Ticket(&d)), Scheduler::Admission::kRejected);
  EXPECT_EQ(scheduler.running(), 2);
  EXPECT_EQ(scheduler.waiting(), 1);
  const std::string text = metrics.Serialize();
  EXPECT_NE(text.find("vllm:num_requests_running{model_name=\"m\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("vllm:num_requests_waiting{model_name=\"m\"} 1"), std::string::npos) << text;
}

TEST_F(SchedulerTest, FinishPromotesTheOldestOnItsLoop) {
  Scheduler scheduler(1, 10, nullptr);
  std::vector<int> order;
  Recorder running(&order, 0), first(&order, 1), second(&order, 2), third(&order, 3);
  ASSERT_EQ(scheduler.Admit(Ticket(&running)), Scheduler::Admission::kRunning);
  ASSERT_EQ(scheduler.Admit(Ticket(&first)), Scheduler::Admission::kQueued);
  ASSERT_EQ(scheduler.Admit(Ticket(&second)), Scheduler::Admission::kQueued);
  ASSERT_EQ(scheduler.Admit(Ticket(&third)), Scheduler::Admission::kQueued);
  scheduler.Finish();
  EXPECT_TRUE(order.empty());  // The start is posted to the ticket's loop.
  RunPosted();
  EXPECT_EQ(order, std::vector<int>{1});
  EXPECT_GT(first.last_start_ns, 0);
  EXPECT_EQ(scheduler.running(), 1);  // The slot passed on.
  EXPECT_EQ(scheduler.waiting(), 2);
  scheduler.Finish();
  scheduler.Finish();
  RunPosted();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  scheduler.Finish();
  EXPECT_EQ(scheduler.running(), 0);
}

TEST_F(SchedulerTest, NewcomersDoNotOvertakeTheQueue) {
  Scheduler scheduler(1, 10, nullptr);
  std::vector<int> order;
  Recorder a(&order, 1), b(&order, 2), c(&order, 3);
  ASSERT_EQ(scheduler.Admit(Ticket(&a)), Scheduler::Admission::kRunning);
  ASSERT_EQ(scheduler.Admit(Ticket(&b)), Scheduler::Admission::kQueued);
  scheduler.Finish();  // b is promoted but its start has not run yet.
  EXPECT_EQ(scheduler.Admit(Ticket(&c)), Scheduler::Admission::kQueued);
  RunPosted();
  EXPECT_EQ(order, std::vector<int>{2});
}

TEST_F(SchedulerTest, CancelWaitingRemovesFromTheQueue) {
  Scheduler scheduler(1, 1, nullptr);
  std::vector<int> order;
  Recorder a(&order, 1), b(&order, 2), c(&order, 3);
  ASSERT_EQ(scheduler.Admit(Ticket(&a)), Scheduler::Admission::kRunning);
  auto ticket_b = Ticket(&b);
  ASSERT_EQ(scheduler.Admit(ticket_b), Scheduler::Admission::kQueued);
  EXPECT_TRUE(scheduler.CancelWaiting(*ticket_b));
  EXPECT_FALSE(scheduler.CancelWaiting(*ticket_b));
  EXPECT_EQ(scheduler.waiting(), 0);
  EXPECT_EQ(scheduler.Admit(Ticket(&c)), Scheduler::Admission::kQueued);  // Room again.
  scheduler.Finish();
  RunPosted();
  EXPECT_EQ(order, std::vector<int>{3});
}

TEST_F(SchedulerTest, PromotedTicketWithoutListenerPassesTheSlotOn) {
  Scheduler scheduler(1, 5, nullptr);
  std::vector<int> order;
  Recorder a(&order, 1), b(&order, 2), c(&order, 3);
  ASSERT_EQ(scheduler.Admit(Ticket(&a)), Scheduler::Admission::kRunning);
  auto ticket_b = Ticket(&b);
  ASSERT_EQ(scheduler.Admit(ticket_b), Scheduler::Admission::kQueued);
  ASSERT_EQ(scheduler.Admit(Ticket(&c)), Scheduler::Admission::kQueued);
  scheduler.Finish();  // b promoted, start posted.
  EXPECT_FALSE(scheduler.CancelWaiting(*ticket_b));
  ticket_b->listener = nullptr;  // b's request went away.
  RunPosted();
  EXPECT_EQ(order, std::vector<int>{3});
  EXPECT_EQ(scheduler.running(), 1);
  EXPECT_EQ(scheduler.waiting(), 0);
}

// Disaggregated mode: a prefill and a decode scheduler, each with its own slots and queue, and
// the vLLM gauges showing their sums.
TEST_F(SchedulerTest, TwoSchedulersReportSummedGauges) {
  SimMetrics metrics("m");
  LoadGauges gauges(&metrics);
  Scheduler prefill(1, 2, &gauges, 0);
  Scheduler decode(2, 100, &gauges, 1);
  std::vector<int> order;
  Recorder p1(&order, 1), p2(&order, 2), p3(&order, 3), p4(&order, 4);
  Recorder d1(&order, 11), d2(&order, 12), d3(&order, 13);
  EXPECT_EQ(prefill.Admit(Ticket(&p1)), Scheduler::Admission::kRunning);
  EXPECT_EQ(prefill.Admit(Ticket(&p2)), Scheduler::Admission::kQueued);
  EXPECT_EQ(prefill.Admit(Ticket(&p3)), Scheduler::Admission::kQueued);
  EXPECT_EQ(prefill.Admit(Ticket(&p4)), Scheduler::Admission::kRejected);
  // The decode side has its own capacity: a full prefill side does not hold it back.
  EXPECT_EQ(decode.Admit(Ticket(&d1)), Scheduler::Admission::kRunning);
  EXPECT_EQ(decode.Admit(Ticket(&d2)), Scheduler::Admission::kRunning);
  EXPECT_EQ(decode.Admit(Ticket(&d3)), Scheduler::Admission::kQueued);
  EXPECT_EQ(prefill.running(), 1);
  EXPECT_EQ(decode.running(), 2);
  EXPECT_EQ(gauges.running(), 3);
  EXPECT_EQ(gauges.waiting(), 3);
  std::string text = metrics.Serialize();
  EXPECT_NE(text.find("vllm:num_requests_running{model_name=\"m\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("vllm:num_requests_waiting{model_name=\"m\"} 3"), std::string::npos) << text;

  // A prefill ends: its slot goes to the next prefill, not to the decode queue.
  prefill.Finish();
  RunPosted();
  EXPECT_EQ(order, std::vector<int>{2});
  decode.Finish();
  RunPosted();
  EXPECT_EQ(order, (std::vector<int>{2, 13}));
  EXPECT_EQ(gauges.running(), 3);
  EXPECT_EQ(gauges.waiting(), 1);
  prefill.Finish();
  prefill.Finish();
  decode.Finish();
  decode.Finish();
  RunPosted();
  EXPECT_EQ(gauges.running(), 0);
  EXPECT_EQ(gauges.waiting(), 0);
  text = metrics.Serialize();
  EXPECT_NE(text.find("vllm:num_requests_running{model_name=\"m\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("vllm:num_requests_waiting{model_name=\"m\"} 0"), std::string::npos) << text;
}

}  // namespace
}  // namespace bench::sim
