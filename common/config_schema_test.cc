// The config table against the code it describes: enum names in the C++ enums' order, slots of
// the row's type, and every documented default equal to what the parser applies.
#include "common/config_schema.h"

#include <set>
#include <string>
#include <variant>

#include "common/config.h"
#include "common/config_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

template <typename Enum, typename NameOf>
std::vector<std::string_view> Names(int count, NameOf name_of) {
  std::vector<std::string_view> names;
  for (int i = 0; i < count; ++i) names.push_back(name_of(static_cast<Enum>(i)));
  return names;
}

TEST(ConfigTableTest, EnumNamesAreInTheEnumsOrder) {
  EXPECT_THAT(FindConfigField("target.protocol")->values,
              ElementsAreArray(Names<Protocol>(4, [](Protocol p) { return ProtocolName(p); })));
  std::vector<std::string_view> load_types =
      Names<LoadType>(8, [](LoadType t) { return LoadTypeName(t); });
  load_types.insert(load_types.end(), {"sweep", "capacity", "shareGPT"});
  EXPECT_THAT(FindConfigField("load.type")->values, ElementsAreArray(load_types));
  EXPECT_EQ(SeriesKindName(SeriesKind::kSweep), "sweep");
  EXPECT_THAT(
      FindConfigField("prompts.type")->values,
      ElementsAreArray(Names<PromptsType>(4, [](PromptsType t) { return PromptsTypeName(t); })));
  EXPECT_THAT(FindConfigField("cluster.onWorkerLoss")->values,
              ElementsAreArray(Names<WorkerLossPolicy>(
                  2, [](WorkerLossPolicy p) { return WorkerLossPolicyName(p); })));
  EXPECT_THAT(
      FindConfigField("output.formats")->values,
      ElementsAreArray(Names<OutputFormat>(7, [](OutputFormat f) { return OutputFormatName(f); })));
  std::vector<std::string_view> metrics(KnownMetricNames().begin(), KnownMetricNames().end());
  EXPECT_THAT(FindConfigField("metrics.collect")->values, ElementsAreArray(metrics));
}

TEST(ConfigTableTest, SlotsHoldTheRowsType) {
  BenchmarkConfig config;
  int slots = 0;
  for (const ConfigField& field : ConfigFields()) {
    if (!field.slot) continue;
    ++slots;
    const FieldSlot slot = field.slot(config);
    switch (field.type) {
      case FieldType::kString:
        EXPECT_TRUE(std::holds_alternative<std::string*>(slot)) << field.path;
        break;
      case FieldType::kNumber:
        EXPECT_TRUE(std::holds_alternative<double*>(slot)) << field.path;
        break;
      case FieldType::kInteger:
      case FieldType::kByteSize:
        EXPECT_TRUE(std::holds_alternative<int64_t*>(slot)) << field.path;
        break;
      case FieldType::kBool:
        EXPECT_TRUE(std::holds_alternative<bool*>(slot)) << field.path;
        break;
      case FieldType::kDuration:
        EXPECT_TRUE(std::holds_alternative<absl::Duration*>(slot)) << field.path;
        break;
      default:
        ADD_FAILURE() << field.path << " has a slot but is not a plain field";
    }
  }
  EXPECT_GT(slots, 30);
}

TEST(ConfigTableTest, EveryKeyHasARowAndEveryRowADoc) {
  std::set<std::string> paths;
  for (const ConfigField& field : ConfigFields()) {
    EXPECT_TRUE(paths.insert(field.path).second) << field.path << " is listed twice";
    EXPECT_FALSE(field.doc.empty()) << field.path;
    EXPECT_FALSE(field.example.empty()) << field.path;
    const size_t dot = field.path.rfind('.');
    if (dot != std::string::npos) {
      const std::string parent = field.path.substr(0, dot);
      EXPECT_TRUE(paths.count(parent) == 1 || paths.count(parent.substr(0, parent.size() - 2)))
          << field.path << " comes before its section " << parent;
    }
  }
  EXPECT_EQ(FindConfigField("load.stages[3].rate"), FindConfigField("load.stages[].rate"));
  EXPECT_EQ(FindConfigField("load.nope"), nullptr);
  EXPECT_THAT(ConfigFieldKeys(""),
              ElementsAreArray<std::string_view>({"benchmark", "target", "load", "prompts",
                                                  "metrics", "slo", "cluster", "output"}));
  EXPECT_THAT(ConfigFieldKeys("load.stages[4]"),
              ElementsAreArray<std::string_view>({"rate", "duration"}));
}

// The context a key needs to be read: a load type that reads it, or prompts.type conversation.
std::string ConfigWith(const std::string& path) {
  std::string load = "load: {type: poisson, rate: 5}\n";
  std::string prompts;
  std::string slo;
  if (path.starts_with("load.sweep") || path == "load.arrival") {
    load = "load: {type: sweep}\n";
  } else if (path.starts_with("load.capacity")) {
    load = "load: {type: capacity}\n";
    slo = "slo: {ttft: {p99: 1s}}\n";
  } else if (path == "load.burstiness") {
    load = "load: {type: gamma, rate: 5}\n";
  } else if (path.starts_with("prompts.conversation")) {
    load = "load: {type: concurrency}\n";
    prompts = "prompts: {type: conversation}\n";
  }
  return "benchmark: {name: t}\ntarget: {endpoint: http://h:1/v1/chat/completions, model: m}\n" +
         load + prompts + slo;
}

// Each documented default is what the parser applies: setting a key to its default changes
// nothing.
TEST(ConfigTableTest, DocumentedDefaultsAreTheDefaults) {
  int checked = 0;
  for (const ConfigField& field : ConfigFields()) {
    if (field.default_text.empty() || field.type == FieldType::kSection ||
        field.load_types == "shareGPT") {
      continue;
    }
    // Defaults that depend on other keys are described in words, not values.
    if (field.default_text.find(" ") != std::string::npos && field.default_text.front() != '[' &&
        field.default_text.front() != '{') {
      continue;
    }
    if (field.path.find("[]") != std::string::npos) continue;
    const std::string base = ConfigWith(field.path);
    absl::StatusOr<ParsedConfig> without = ParseConfig(base, "cfg.yaml");
    ASSERT_TRUE(without.ok()) << field.path << ": " << without.status();
    absl::StatusOr<ParsedConfig> with =
        ParseConfigWithSets(base, "cfg.yaml", {field.path + "=" + field.default_text});
    ASSERT_TRUE(with.ok()) << field.path << "=" << field.default_text << ": " << with.status();
    EXPECT_EQ(with->config, without->config) << field.path << "=" << field.default_text;
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(ConfigTableTest, LoadTypesText) {
  EXPECT_EQ(LoadTypesText(*FindConfigField("load.rate")), "constant, poisson or gamma");
  EXPECT_EQ(LoadTypesText(*FindConfigField("load.arrival")), "sweep or capacity");
  EXPECT_TRUE(LoadTypeReads(*FindConfigField("load.concurrency"), "stages"));
  EXPECT_FALSE(LoadTypeReads(*FindConfigField("load.rate"), "stages"));
  EXPECT_THAT(FindConfigField("load.type")->doc, HasSubstr("shareGPT"));
}

}  // namespace
}  // namespace bench
