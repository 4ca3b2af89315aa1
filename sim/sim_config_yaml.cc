// The one file of bench-sim that sees yaml-cpp: it turns a --config document into the same
// (key, value text) pairs the flags give, so one setter checks both.
#include <yaml-cpp/yaml.h>

#include "absl/strings/str_cat.h"
#include "sim/sim_config.h"

namespace bench::sim {
namespace {

constexpr size_t kMaxYamlBytes = 1 << 20;

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SettingsFromYaml(
    const YAML::Node& root) {
  std::vector<std::pair<std::string, std::string>> settings;
  if (root.IsNull()) return settings;  // An empty file.
  if (!root.IsMap()) {
    return absl::InvalidArgumentError("the document must be a map of settings");
  }
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) return absl::InvalidArgumentError("setting names must be text");
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    const int line = entry.first.Mark().line + 1;
    if (value.IsScalar()) {
      settings.emplace_back(key, value.Scalar());
    } else if (value.IsSequence()) {
      // A list gives one setting per element: several listen addresses or failure kinds.
      for (const auto& element : value) {
        if (!element.IsScalar()) {
          return absl::InvalidArgumentError(
              absl::StrCat("line ", line, ": ", key, ": list elements must be plain values"));
        }
        settings.emplace_back(key, element.Scalar());
      }
    } else if (value.IsNull()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", key, " has no value"));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line, ": ", key, " must be a value or a list, not a map"));
    }
  }
  return settings;
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseSimYaml(
    std::string_view yaml_text) {
  if (yaml_text.size() > kMaxYamlBytes) {
    return absl::InvalidArgumentError("the config file is over 1 MiB");
  }
  try {
    return SettingsFromYaml(YAML::Load(std::string(yaml_text)));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("YAML: ", e.what()));
  }
}

}  // namespace bench::sim
