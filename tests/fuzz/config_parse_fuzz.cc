// Fuzz target for the config parser: arbitrary bytes (plus one override derived from them) must
// never crash ParseConfig, and every config it accepts must print (ConfigToYaml) to text that
// parses back to the same config, secrets redacted. The plan is rendered too.
//
// Input layout: byte 0 picks the override path (or none); the rest is the document, and if it
// contains "\n=", the text after the last one is the override's value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/check.h"
#include "common/config.h"
#include "common/config_yaml.h"
#include "common/plan.h"

namespace {

constexpr const char* kOverridePaths[] = {
    "load.rate",        "load.stages",         "load",         "target.headers.Authorization",
    "slo.ttft.p99.9",   "benchmark",           "load.type",    "metrics.collect",
    "target.extraBody", "prompts.dataset",     "a.b.c",        "benchmark.name.x",
    "target.endpoint",  "metrics.percentiles", "load.ramp.to", "output"};
constexpr size_t kPathCount = sizeof(kOverridePaths) / sizeof(kOverridePaths[0]);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t selector = data[0] % (kPathCount + 1);
  std::string_view document(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<bench::ConfigOverride> overrides;
  const size_t marker = document.rfind("\n=");
  if (selector < kPathCount && marker != std::string_view::npos) {
    const std::string text =
        std::string(kOverridePaths[selector]) + "=" + std::string(document.substr(marker + 2));
    document = document.substr(0, marker);
    absl::StatusOr<bench::ConfigOverride> override_ = bench::ParseSetFlag(text);
    if (override_.ok()) overrides.push_back(*std::move(override_));
  }

  absl::StatusOr<bench::ParsedConfig> parsed = bench::ParseConfig(document, "fuzz.yaml", overrides);
  if (!parsed.ok()) {
    BENCH_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument) << parsed.status();
    BENCH_CHECK(!parsed.status().message().empty());
    return 0;
  }
  const std::string yaml = bench::ConfigToYaml(parsed->config);
  absl::StatusOr<bench::ParsedConfig> back = bench::ParseConfig(yaml, "resolved.yaml");
  BENCH_CHECK(back.ok()) << back.status() << "\n--- printed:\n" << yaml;
  BENCH_CHECK(back->config == bench::RedactSecrets(parsed->config))
      << "round trip changed the config\n--- printed:\n"
      << yaml << "\n--- reprinted:\n"
      << bench::ConfigToYaml(back->config);
  BENCH_CHECK(bench::ConfigToYaml(back->config) == yaml);

  bench::PlanOptions options;
  options.read_trace_file = false;  // Paths in fuzz inputs may name /dev/zero.
  const std::string plan = bench::RenderPlan(bench::MakePlan(parsed->config, options));
  BENCH_CHECK(!plan.empty());
  return 0;
}
