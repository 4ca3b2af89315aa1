#include "common/share.h"

#include <algorithm>
#include <set>

#include "common/config_yaml.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

WorkShare WholeShareOf(const std::string& load_yaml, const std::string& benchmark_extra = "") {
  auto parsed =
      ParseConfig("benchmark: {name: t, duration: 10, warmup: 2, seed: 7" + benchmark_extra +
                      "}\n"
                      "target: {endpoint: 'http://127.0.0.1:1/v1/completions', model: m}\n" +
                      load_yaml,
                  "test.yaml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  const Plan plan = MakePlan(parsed->config);
  auto share = MakeWholeShare(parsed->config, plan, nullptr);
  EXPECT_TRUE(share.ok()) << share.status();
  return *share;
}

// Every intended time (and index) of a share's phases.
std::vector<std::pair<int64_t, int64_t>> Arrivals(const WorkShare& share) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const SharePhase& phase : share.phases) {
    auto schedule = MakeArrivalSchedule(phase.spec);
    EXPECT_TRUE(schedule.ok());
    while (auto arrival = (*schedule)->Next()) {
      out.emplace_back(phase.start_ns + arrival->intended_send_time_ns,
                       static_cast<int64_t>(phase.sequence_base) + arrival->sequence_index);
    }
  }
  return out;
}

TEST(SplitCount, SumsExactlyInProportion) {
  EXPECT_EQ(SplitCount(10, {1, 1, 1}), (std::vector<uint64_t>{4, 3, 3}));
  EXPECT_EQ(SplitCount(7, {4, 2, 1}), (std::vector<uint64_t>{4, 2, 1}));
  EXPECT_EQ(SplitCount(2, {1, 1, 1}), (std::vector<uint64_t>{1, 1, 0}));
  EXPECT_EQ(SplitCount(0, {1, 2}), (std::vector<uint64_t>{0, 0}));
  for (uint64_t total : {1u, 99u, 1000u, 12345u}) {
    const std::vector<uint64_t> parts = SplitCount(total, {0.3, 1.7, 2.2, 5, 0.01});
    uint64_t sum = 0;
    for (uint64_t part : parts) sum += part;
    EXPECT_EQ(sum, total);
  }
}

TEST(SplitShare, ConstantPartsAreDisjointAndTheirUnionIsTheWhole) {
  WorkShare whole = WholeShareOf("load: {type: constant, rate: 30, concurrency: 50}\n");
  whole.min_connections = 10;
  auto parts = SplitShare(whole, {2, 1, 1});
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ((*parts)[0].min_connections, 5u);
  EXPECT_EQ((*parts)[1].min_connections + (*parts)[2].min_connections, 5u);
  std::vector<std::pair<int64_t, int64_t>> merged;
  uint32_t concurrency = 0;
  for (const WorkShare& part : *parts) {
    EXPECT_TRUE(part.active);
    concurrency += part.concurrency;
    for (auto& a : Arrivals(part)) merged.push_back(a);
  }
  std::sort(merged.begin(), merged.end());
  EXPECT_EQ(merged, Arrivals(whole));
  EXPECT_EQ(merged.size(), 360u);  // 30/s over 2 s warmup + 10 s.
  EXPECT_EQ(concurrency, 50u);
  EXPECT_EQ((*parts)[0].concurrency, 25u);
}

TEST(SplitShare, PoissonRatesSumExactlyWithIndependentSeeds) {
  const WorkShare whole = WholeShareOf("load: {type: poisson, rate: 100}\n");
  auto parts = SplitShare(whole, {1, 1, 1});
  ASSERT_TRUE(parts.ok());
  double rate = 0;
  std::set<uint64_t> seeds;
  for (const WorkShare& part : *parts) {
    rate += part.phases.at(0).spec.rate_per_s;
    seeds.insert(part.phases.at(0).spec.seed);
  }
  EXPECT_EQ(rate, 100.0);
  EXPECT_EQ(seeds.size(), 3u);
}

TEST(SplitShare, ACapSmallerThanTheWorkersLeavesSomeIdleNotUncapped) {
  const WorkShare whole = WholeShareOf("load: {type: constant, rate: 10, concurrency: 2}\n");
  auto parts = SplitShare(whole, {1, 1, 1});
  ASSERT_TRUE(parts.ok());
  int active = 0;
  size_t arrivals = 0;
  for (const WorkShare& part : *parts) {
    if (!part.active) {
      EXPECT_TRUE(part.phases.empty());
      continue;
    }
    ++active;
    EXPECT_EQ(part.concurrency, 1u);
    arrivals += Arrivals(part).size();
  }
  EXPECT_EQ(active, 2);
  EXPECT_EQ(arrivals, Arrivals(whole).size());
}

TEST(SplitShare, ClosedLoopUsersAndRequestCapsSumExactly) {
  const WorkShare whole =
      WholeShareOf("load: {type: concurrency, concurrency: 7}\n", ", maxRequests: 101");
  auto parts = SplitShare(whole, {1, 2, 4});
  ASSERT_TRUE(parts.ok());
  uint64_t users = 0, requests = 0;
  for (const WorkShare& part : *parts) {
    users += part.concurrency;
    requests += part.max_requests;
    EXPECT_TRUE(part.closed_loop);
  }
  EXPECT_EQ(users, 7u);
  EXPECT_EQ(requests, 101u);
}

TEST(SplitShare, PromptStridesOfNestedSplitsStayDisjoint) {
  const WorkShare whole = WholeShareOf("load: {type: poisson, rate: 10}\n");
  auto workers = SplitShare(whole, {1, 1, 1});
  ASSERT_TRUE(workers.ok());
  std::set<uint64_t> seen;
  for (const WorkShare& worker : *workers) {
    auto threads = SplitShare(worker, {1, 1});
    ASSERT_TRUE(threads.ok());
    for (const WorkShare& thread : *threads) {
      EXPECT_EQ(thread.prompt_stride, 6u);
      for (uint64_t k = 0; k < 10; ++k) {
        EXPECT_TRUE(seen.insert(k * thread.prompt_stride + thread.prompt_offset).second);
      }
    }
  }
  EXPECT_EQ(seen.size(), 60u);
  EXPECT_EQ(*seen.rbegin(), 59u);  // Dense: every index 0..59 used once.
}

TEST(SplitShare, RefusesBadWeights) {
  const WorkShare whole = WholeShareOf("load: {type: constant, rate: 10}\n");
  EXPECT_EQ(SplitShare(whole, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitShare(whole, {1, 0}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bench
