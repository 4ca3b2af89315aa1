#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/allocator.h"
#include "common/check.h"
#include "common/clock.h"
#include "common/file_chunks.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "common/status_macros.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

absl::Status FailIfNegative(int value) {
  if (value < 0) return absl::InvalidArgumentError("negative");
  return absl::OkStatus();
}

absl::Status ReturnIfErrorUser(int value, int* calls) {
  ++*calls;
  BENCH_RETURN_IF_ERROR(FailIfNegative(value));
  ++*calls;
  return absl::OkStatus();
}

absl::StatusOr<int> Doubled(int value) {
  if (value > 100) return absl::OutOfRangeError("too big");
  return value * 2;
}

absl::StatusOr<int> AssignOrReturnUser(int value) {
  BENCH_ASSIGN_OR_RETURN(int doubled, Doubled(value));
  BENCH_ASSIGN_OR_RETURN(doubled, Doubled(doubled));  // assigns to an existing variable
  return doubled + 1;
}

// First in this file, so that no other test's threads have made arenas before the settings.
// With them, threads allocating at once share at most two arenas (malloc_info lists one <heap>
// per arena); without them glibc gives each thread its own (up to 8 per core).
TEST(Allocator, SettingsLimitTheArenas) {
  if (!AllocatorSettingsApply()) GTEST_SKIP() << "not glibc's own malloc";
  KeepFreedMemoryForReuse();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([] {
      std::vector<std::vector<char>> blocks;
      for (int i = 0; i < 2000; ++i) blocks.emplace_back(static_cast<size_t>(64 + i % 4096), 'x');
    });
  }
  for (std::thread& thread : threads) thread.join();
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(malloc_info(0, out), 0);
  std::fclose(out);
  const std::string info(text, size);
  std::free(text);
  size_t heaps = 0;
  for (size_t at = info.find("<heap nr="); at != std::string::npos;
       at = info.find("<heap nr=", at + 1)) {
    ++heaps;
  }
  EXPECT_GE(heaps, 1u) << info.substr(0, 400);
  EXPECT_LE(heaps, 2u) << info.substr(0, 400);
}

TEST(StatusMacros, ReturnIfErrorStopsAtTheFirstError) {
  int calls = 0;
  EXPECT_EQ(ReturnIfErrorUser(-1, &calls).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_TRUE(ReturnIfErrorUser(1, &calls).ok());
  EXPECT_EQ(calls, 2);
}

TEST(StatusMacros, AssignOrReturnPropagatesValueAndError) {
  EXPECT_EQ(*AssignOrReturnUser(5), 21);
  EXPECT_EQ(AssignOrReturnUser(60).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(AssignOrReturnUser(500).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(Check, PassingChecksDoNothing) {
  BENCH_CHECK(1 + 1 == 2) << "never printed";
  BENCH_CHECK_EQ(3, 3);
  BENCH_CHECK_LT(1, 2);
  BENCH_CHECK_OK(absl::OkStatus());
}

TEST(CheckDeathTest, FailingCheckAbortsWithTheConditionAndOperands) {
  const int answer = 41;
  EXPECT_DEATH(BENCH_CHECK_EQ(answer, 42) << "context",
               "Check failed: .*answer.*41 vs 42.*context");
  EXPECT_DEATH(BENCH_CHECK_OK(absl::NotFoundError("gone")), "NOT_FOUND: gone");
}

class CapturingSink : public LogSink {
 public:
  void Write(LogSeverity, std::string_view line) override {
    MutexLock lock(mu_);
    lines_.emplace_back(line);
  }
  std::vector<std::string> lines() {
    MutexLock lock(mu_);
    return lines_;
  }

 private:
  Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

TEST(Logging, FiltersBySeverityAndKeepsLinesWhole) {
  CapturingSink sink;
  SetLogSink(&sink);
  SetMinLogSeverity(LogSeverity::kWarning);
  int evaluated = 0;
  BENCH_LOG(INFO) << "dropped " << ++evaluated;
  EXPECT_EQ(evaluated, 0) << "operands of a filtered statement must not be evaluated";
  SetMinLogSeverity(LogSeverity::kInfo);

  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLinesPerThread; ++i) BENCH_LOG(INFO) << "thread " << t << " line " << i;
    });
  }
  for (auto& thread : threads) thread.join();
  SetLogSink(nullptr);

  const std::vector<std::string> lines = sink.lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesPerThread));
  for (const std::string& line : lines) {
    EXPECT_EQ(line[0], 'I');
    EXPECT_NE(line.find("base_test.cc:"), std::string::npos) << line;
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(std::vector<std::string>(absl::StrSplit(line, '\n')).size(), 2u) << line;
  }
}

TEST(Clock, MonotonicNeverGoesBack) {
  int64_t previous = MonotonicClock::Get().NowNs();
  for (int i = 0; i < 10000; ++i) {
    const int64_t now = MonotonicNowNs();
    ASSERT_GE(now, previous);
    previous = now;
  }
}

TEST(Clock, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.NowNs(), 1000);
  clock.AdvanceNs(250);
  EXPECT_EQ(clock.NowNs(), 1250);
  clock.SetNs(5);
  EXPECT_EQ(clock.NowNs(), 5);
}

TEST(ReadFileChunks, DeliversTheWholeFileInBoundedChunks) {
  const std::string path = ::testing::TempDir() + "/chunks.txt";
  std::string content;
  for (int i = 0; i < 100; ++i) content += "line " + std::to_string(i) + "\n";
  std::ofstream(path) << content;
  std::string seen;
  size_t largest = 0;
  ASSERT_TRUE(ReadFileChunks(
                  path, "test.file",
                  [&](std::string_view chunk) {
                    largest = std::max(largest, chunk.size());
                    seen.append(chunk);
                    return absl::OkStatus();
                  },
                  7)
                  .ok());
  EXPECT_EQ(seen, content);
  EXPECT_EQ(largest, 7u);
  // The consumer's error stops the read and comes back as is.
  int calls = 0;
  const absl::Status stopped = ReadFileChunks(
      path, "test.file",
      [&](std::string_view) {
        return ++calls == 3 ? absl::DataLossError("third") : absl::OkStatus();
      },
      7);
  EXPECT_EQ(stopped, absl::DataLossError("third"));
  EXPECT_EQ(calls, 3);
  const absl::Status missing = ReadFileChunks("/nonexistent/x", "test.file",
                                              [](std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(missing, absl::NotFoundError("test.file: file not found: /nonexistent/x"));
  const absl::Status directory = ReadFileChunks(::testing::TempDir(), "test.file",
                                                [](std::string_view) { return absl::OkStatus(); });
  EXPECT_EQ(directory.code(), absl::StatusCode::kInvalidArgument) << directory;
}

}  // namespace
}  // namespace bench
