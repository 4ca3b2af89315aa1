// The benchmark config's fields as data (SPEC section 2): one row per key with its type, bounds,
// default, documentation and example. The YAML reader takes its keys, types, bounds, enum names
// and did-you-mean candidates from here and stores the plain fields through their slots; the
// rules between fields (which load type reads which key, shorthands, cross-section checks) stay
// code in config_yaml.cc. The reference docs (docs/config.md) and the JSON Schema are generated
// from the same rows, so the three cannot drift apart.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "common/config.h"

namespace bench {

enum class FieldType {
  kSection,         // A map with fixed keys; its fields are the rows below it.
  kString,          // Any scalar, kept as written; ${env:NAME} references allowed.
  kNumber,          // A finite number.
  kInteger,         // A whole number.
  kSeed,            // A whole number in [0, 2^64), or "random".
  kBool,            // true or false.
  kDuration,        // Seconds as a number, or "250ms", "1m30s".
  kByteSize,        // Bytes as a number, or "16MiB", "1GB".
  kEnum,            // One of `values`, case-insensitive.
  kEnumList,        // A list of distinct `values`.
  kNumberList,      // A list of distinct numbers within `bounds`.
  kSectionList,     // A list of maps; their fields are the rows "<path>[].<key>".
  kHeaderMap,       // HTTP header names to string values.
  kJsonObject,      // Any map, sent as JSON.
  kPercentileMap,   // Percentile keys (p50, p99.9) to durations.
  kRateOrPercent,   // Requests/s, or a percentage "5%".
  kCountOrLengths,  // A whole number, or a length distribution {mean, stddev, min, max}.
};

// Bounds of a number, with the wording of their messages.
struct FieldBounds {
  std::optional<double> min;
  bool min_exclusive = false;
  std::optional<double> max;
  bool max_exclusive = false;
  std::string_view hint;  // Appended in parentheses, e.g. "0 = no limit".
  bool range = false;     // Word a violation as "must be between min and max".

  static FieldBounds None() { return {}; }
  static FieldBounds Positive() { return {0.0, true, std::nullopt, false, {}, false}; }
  static FieldBounds NonNegative() { return {0.0, false, std::nullopt, false, {}, false}; }
  static FieldBounds AtLeast(double min) { return {min, false, std::nullopt, false, {}, false}; }
  static FieldBounds Between(double min, double max) { return {min, false, max, false, {}, true}; }
  static FieldBounds OpenInterval(double min, double max) {
    return {min, true, max, true, {}, true};
  }
  FieldBounds& AtMost(double limit) {
    max = limit;
    return *this;
  }
  FieldBounds& Hint(std::string_view text) {
    hint = text;
    return *this;
  }
};

// Where the walker stores a plain field of the config; monostate for the fields that rules read.
using FieldSlot =
    std::variant<std::monostate, std::string*, double*, int64_t*, bool*, absl::Duration*>;

struct ConfigField {
  // Dotted key path; a list's items are "[]": "load.stages[].rate".
  std::string path = {};
  FieldType type = FieldType::kString;
  std::string doc = {};  // One or two sentences for docs/config.md and the schema's description.
  // The value used when the key is absent, as docs/config.md shows it; empty when there is none.
  std::string default_text = {};
  // A YAML value for the docs (sections: a flow map).
  std::string example = {};
  FieldBounds bounds = {};                    // kNumber, kInteger, kByteSize, kNumberList.
  std::vector<std::string_view> values = {};  // kEnum and kEnumList, in their C++ enum's order.
  bool required = false;                      // Always required within its map.
  // What a "is required" message adds in parentheses ("requests per second"); empty: the example.
  std::string_view required_hint = {};
  // load.* keys that only some load types read ("constant poisson gamma"); empty = all.
  std::string_view load_types = {};
  // Read by those load types and required by them.
  bool required_by_load_types = false;
  // A duration that must be > 0 (otherwise >= 0).
  bool positive_duration = false;
  std::function<FieldSlot(BenchmarkConfig&)> slot = {};  // Plain fields the walker stores itself.
};

// Every field, sections before their keys, in the order the docs list them.
const std::vector<ConfigField>& ConfigFields();

// The row for `path`; list indices are ignored ("load.stages[2].rate" finds
// "load.stages[].rate"). nullptr for an unknown path.
const ConfigField* FindConfigField(std::string_view path);

// The keys of the map at `parent` ("" for the top level, "load.stages[]" for a stage), in
// table order.
std::vector<std::string_view> ConfigFieldKeys(std::string_view parent);

// True when load type `type_name` (as written, e.g. "poisson") reads `field`.
bool LoadTypeReads(const ConfigField& field, std::string_view type_name);

// "constant, poisson or gamma": the load types that read `field`, for messages.
std::string LoadTypesText(const ConfigField& field);

}  // namespace bench
