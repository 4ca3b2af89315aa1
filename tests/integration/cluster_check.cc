// Checks a distributed run from the outside, for tests/integration/cluster_test.sh:
//   cluster_check merge METRICS_JSON SHARDS...   the merged histograms in metrics.json equal,
//                                                bucket for bucket, the sum of every shard the
//                                                workers recorded (bench-worker --record-shards)
//   cluster_check scheduled CONFIG WORKERS THREADS
//                                                prints how many arrivals the run's schedule
//                                                places in warmup + window when split among
//                                                WORKERS workers of THREADS engine threads
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "bench.pb.h"
#include "common/config_yaml.h"
#include "common/histogram_codec.h"
#include "common/plan.h"
#include "common/rpc_share.h"
#include "common/run_stats.h"
#include "common/share.h"
#include "nlohmann/json.hpp"

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

int Merge(int argc, char** argv) {
  const nlohmann::json metrics = nlohmann::json::parse(ReadAll(argv[2]));
  bench::StatsShard sum;
  int shards = 0;
  std::map<std::string, uint64_t> last_sequence;
  for (int i = 3; i < argc; ++i) {
    const std::string bytes = ReadAll(argv[i]);
    size_t at = 0;
    while (at + 4 <= bytes.size()) {
      const uint32_t size = static_cast<uint8_t>(bytes[at]) |
                            static_cast<uint8_t>(bytes[at + 1]) << 8 |
                            static_cast<uint8_t>(bytes[at + 2]) << 16 |
                            static_cast<uint32_t>(static_cast<uint8_t>(bytes[at + 3])) << 24;
      at += 4;
      bench::v1::ReportShard shard;
      if (at + size > bytes.size() || !shard.ParseFromArray(bytes.data() + at, size)) {
        std::fprintf(stderr, "cluster_check: %s: truncated shard at byte %zu\n", argv[i], at);
        return 1;
      }
      at += size;
      uint64_t& last = last_sequence[shard.worker_id()];
      if (shard.sequence() != last + 1) {
        std::fprintf(stderr, "cluster_check: worker %s: shard %llu after %llu\n",
                     shard.worker_id().c_str(), static_cast<unsigned long long>(shard.sequence()),
                     static_cast<unsigned long long>(last));
        return 1;
      }
      last = shard.sequence();
      ++shards;
      for (const bench::v1::StageStats& stage : shard.stages()) {
        absl::StatusOr<bench::StatsShard> stats = bench::FromProto(stage);
        if (!stats.ok() || !sum.Merge(*stats).ok()) {
          std::fprintf(stderr, "cluster_check: a shard does not decode\n");
          return 1;
        }
      }
    }
  }
  int failures = 0;
  for (int m = 0; m < bench::kLatencyMetricCount; ++m) {
    const auto metric = static_cast<bench::LatencyMetric>(m);
    const std::string name(bench::LatencyMetricName(metric));
    const auto& entry = metrics["histograms"]["overall"][name];
    absl::StatusOr<bench::Histogram> merged =
        bench::DecodeCompressedBase64(entry["hdr_v2_compressed_base64"].get<std::string>());
    if (!merged.ok()) {
      std::fprintf(stderr, "cluster_check: metrics.json %s does not decode\n", name.c_str());
      return 1;
    }
    const bool equal = *merged == sum.histogram(metric);
    std::printf("%-18s merged %8lld samples, shards %8lld: %s\n", name.c_str(),
                static_cast<long long>(merged->TotalCount()),
                static_cast<long long>(sum.histogram(metric).TotalCount()),
                equal ? "equal bucket for bucket" : "DIFFERENT");
    failures += equal ? 0 : 1;
  }
  std::printf("%d shards from %zu workers; requests sent %llu, succeeded %llu\n", shards,
              last_sequence.size(), static_cast<unsigned long long>(sum.requests_sent),
              static_cast<unsigned long long>(sum.succeeded));
  return failures == 0 ? 0 : 1;
}

int Scheduled(char** argv) {
  absl::StatusOr<bench::ParsedConfig> parsed = bench::ParseConfig(ReadAll(argv[2]), argv[2]);
  int workers = 0, threads = 0;
  if (!parsed.ok() || !absl::SimpleAtoi(argv[3], &workers) ||
      !absl::SimpleAtoi(argv[4], &threads)) {
    std::fprintf(stderr, "cluster_check: bad config or counts\n");
    return 2;
  }
  const bench::Plan plan = bench::MakePlan(parsed->config);
  absl::StatusOr<bench::WorkShare> whole =
      bench::MakeWholeShare(parsed->config, plan, plan.trace.get());
  if (!whole.ok()) return 2;
  absl::StatusOr<std::vector<bench::WorkShare>> parts =
      bench::SplitShare(*whole, std::vector<double>(workers, threads));
  if (!parts.ok()) return 2;
  uint64_t count = 0;
  for (const bench::WorkShare& part : *parts) {
    absl::StatusOr<std::vector<bench::WorkShare>> per_thread =
        bench::SplitShare(part, std::vector<double>(threads, 1.0));
    if (!per_thread.ok()) return 2;
    for (const bench::WorkShare& thread : *per_thread) {
      for (const bench::SharePhase& phase : thread.phases) {
        auto schedule = bench::MakeArrivalSchedule(phase.spec);
        if (!schedule.ok()) return 2;
        while ((*schedule)->Next().has_value()) ++count;
      }
    }
  }
  std::printf("%llu\n", static_cast<unsigned long long>(count));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "merge" && argc >= 4) return Merge(argc, argv);
  if (command == "scheduled" && argc == 5) return Scheduled(argv);
  std::fprintf(stderr,
               "usage: cluster_check merge METRICS_JSON SHARDS... | scheduled CONFIG WORKERS "
               "THREADS\n");
  return 2;
}
