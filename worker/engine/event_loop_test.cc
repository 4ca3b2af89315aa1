#include "worker/engine/event_loop.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bench::engine {
namespace {

TEST(EventLoop, PostedTasksRunOnTheLoopThreadInOrder) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok()) << loop.status();
  std::vector<int> order;
  std::thread::id ran_on;
  std::thread runner([&] { (*loop)->Run(); });
  for (int i = 0; i < 100; ++i) {
    (*loop)->Post([&order, &ran_on, i] {
      order.push_back(i);
      ran_on = std::this_thread::get_id();
    });
  }
  (*loop)->Stop();
  const std::thread::id runner_id = runner.get_id();
  runner.join();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(ran_on, runner_id);
  EXPECT_TRUE((*loop)->Close().ok());
}

TEST(EventLoop, PostsFromManyThreadsAllArrive) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  constexpr int kThreads = 4;
  constexpr int kPostsPerThread = 5000;
  int count = 0;  // Touched only on the loop thread.
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < kPostsPerThread; ++i) (*loop)->Post([&count] { ++count; });
    });
  }
  for (auto& poster : posters) poster.join();
  // Everything is posted; one more task stops the loop after all of them ran.
  (*loop)->Stop();
  (*loop)->Run();
  EXPECT_EQ(count, kThreads * kPostsPerThread);
  EXPECT_TRUE((*loop)->Close().ok());
}

TEST(EventLoop, TimerFiresAndRepeats) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  int fired = 0;
  {
    Timer timer(**loop, [&] { ++fired; });
    timer.Start(1, 1);
    EXPECT_TRUE(timer.active());
    EXPECT_TRUE((*loop)->RunUntil([&] { return fired >= 3; }));
    timer.Stop();
    EXPECT_FALSE(timer.active());
  }
  EXPECT_TRUE((*loop)->Close().ok());
  EXPECT_EQ(fired, 3);
}

TEST(EventLoop, RunUntilReturnsFalseWhenNothingCanHappen) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  EXPECT_FALSE((*loop)->RunUntil([] { return false; }));
  EXPECT_TRUE((*loop)->Close().ok());
}

TEST(EventLoop, CloseReportsLeakedHandles) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  auto* leaked = new uv_timer_t;
  uv_timer_init((*loop)->loop(), leaked);
  const absl::Status status = (*loop)->Close();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("1 handle"), std::string::npos) << status;
  // Once the owner closes it, the loop closes for real.
  uv_close(reinterpret_cast<uv_handle_t*>(leaked),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  EXPECT_TRUE((*loop)->Close().ok());
}

TEST(EventLoop, PostAfterCloseIsDropped) {
  auto loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  ASSERT_TRUE((*loop)->Close().ok());
  bool ran = false;
  (*loop)->Post([&ran] { ran = true; });
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace bench::engine
