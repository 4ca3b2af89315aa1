// Our half of the hdr-histogram-js interop test (driven by hdr_interop.js).
//   hdr_interop_tool generate SEED  prints a JSON array describing seeded histograms we record,
//                                   each with its compressed V2 encoding in base64;
//   hdr_interop_tool describe       reads "NAME BASE64" lines (encoded by hdr-histogram-js) and
//                                   prints the same JSON for what we decode.
// The node script compares every bucket, percentile and statistic with hdr-histogram-js's.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/histogram.h"
#include "common/histogram_codec.h"

namespace bench {
namespace {

constexpr double kPercentiles[] = {0,     1,      25,  50,   75,   90,    99,    99.9,
                                   99.99, 99.999, 100, 33.3, 66.6, 12.34, 99.95, 0.001};

// Doubles printed so that JSON.parse gives back the same bits.
std::string Double(double value) { return absl::StrFormat("%.17g", value); }

std::string Describe(const std::string& name, const Histogram& h) {
  std::string json = absl::StrCat(
      "{\"name\":\"", name, "\",\"base64\":\"", EncodeCompressedBase64(h),
      "\",\"total_count\":", h.TotalCount(), ",\"min\":", h.Min(), ",\"max\":", h.Max(),
      ",\"mean\":", Double(h.Mean()), ",\"stddev\":", Double(h.StdDev()),
      ",\"layout\":{\"lowest\":", h.lowest_discernible_value(),
      ",\"highest\":", h.highest_trackable_value(), ",\"digits\":", h.significant_digits(),
      ",\"bucket_count\":", h.bucket_count(), ",\"sub_bucket_count\":", h.sub_bucket_count(),
      ",\"counts_length\":", h.counts_length(), "},\"percentiles\":[");
  const char* sep = "";
  for (double p : kPercentiles) {
    absl::StrAppend(&json, sep, "[", Double(p), ",", h.ValueAtPercentile(p), "]");
    sep = ",";
  }
  absl::StrAppend(&json, "],\"buckets\":[");
  sep = "";
  h.ForEachNonZeroBucket([&](const Histogram::Bucket& bucket) {
    absl::StrAppend(&json, sep, "[", bucket.index, ",", bucket.lowest_value, ",", bucket.count,
                    "]");
    sep = ",";
  });
  absl::StrAppend(&json, "]}");
  return json;
}

std::vector<std::pair<std::string, Histogram>> Generate(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::pair<std::string, Histogram>> out;
  auto add = [&](const std::string& name, int n, auto&& draw) {
    Histogram h;
    for (int i = 0; i < n; ++i) {
      h.Record(static_cast<int64_t>(std::clamp(static_cast<double>(draw()), 0.0, 9e18)));
    }
    out.emplace_back(name, std::move(h));
  };
  add("empty", 0, [] { return 0; });
  add("single_zero", 1, [] { return 0; });
  add("single_value", 1, [] { return 123'456; });
  std::uniform_int_distribution<int64_t> uniform(0, 10'000'000);
  add("uniform", 10'000, [&] { return uniform(rng); });
  std::exponential_distribution<double> exponential(1.0 / 150'000);
  add("exponential", 50'000, [&] { return exponential(rng); });
  std::lognormal_distribution<double> lognormal(std::log(200'000.0), 0.8);
  add("lognormal_ttft", 100'000, [&] { return lognormal(rng); });
  std::normal_distribution<double> fast(3'000, 500);
  std::normal_distribution<double> slow(2'000'000, 300'000);
  std::bernoulli_distribution coin(0.3);
  add("bimodal", 20'000, [&] { return coin(rng) ? slow(rng) : fast(rng); });
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  // Alpha 0.6: part of the tail is above one hour and clamped.
  add("pareto_clamped", 200'000, [&] { return 500.0 / std::pow(1.0 - unit(rng), 1.0 / 0.6); });
  add("small_integers", 1'000, [&] { return static_cast<int64_t>(rng() % 50); });

  Histogram boundaries;  // Values at and around bucket edges, and big counts.
  for (int64_t edge = 1024; edge <= 3'600'000'000 / 2; edge *= 2) {
    for (int64_t v : {edge - 1, edge, edge + 1, 2 * edge - 1}) {
      boundaries.RecordN(v, static_cast<int64_t>(rng() % 1000) + 1);
    }
  }
  boundaries.RecordN(3'600'000'000, int64_t{1} << 40);
  out.emplace_back("boundaries_big_counts", std::move(boundaries));
  return out;
}

int Main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "generate" && argc == 3) {
    std::string json = "[";
    const char* sep = "";
    for (const auto& [name, h] : Generate(std::strtoull(argv[2], nullptr, 10))) {
      absl::StrAppend(&json, sep, "\n", Describe(name, h));
      sep = ",";
    }
    std::cout << json << "\n]\n";
    return 0;
  }
  if (command == "describe" && argc == 2) {
    std::string json = "[";
    const char* sep = "";
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      const size_t space = line.find(' ');
      const std::string name = line.substr(0, space);
      const std::string base64 = space == std::string::npos ? "" : line.substr(space + 1);
      absl::StatusOr<Histogram> h = DecodeCompressedBase64(base64);
      if (!h.ok()) {
        std::cerr << "hdr_interop_tool: cannot decode " << name << ": " << h.status() << "\n";
        return 1;
      }
      absl::StrAppend(&json, sep, "\n", Describe(name, *h));
      sep = ",";
    }
    std::cout << json << "\n]\n";
    return 0;
  }
  std::cerr << "usage: hdr_interop_tool generate SEED | describe < lines\n";
  return 2;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) { return bench::Main(argc, argv); }
