#include "controller/config_reference.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/config.h"
#include "common/config_schema.h"
#include "controller/commands.h"

namespace bench::controller {
namespace {

using Json = nlohmann::ordered_json;

// absl::StrCat takes absl::string_view, which Debian's Abseil does not alias to std::string_view.
template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

template <typename... Parts>
void Append(std::string* out, const Parts&... parts) {
  (out->append(std::string_view(parts)), ...);
}

// ParseDuration's forms: seconds as a number, or <number><unit> parts.
constexpr char kDurationPattern[] =
    "^ *(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)"
    "(ns|us|\xC2\xB5s|ms|s|m|h))+) *$";
constexpr char kByteSizePattern[] = "^[0-9]+(\\.[0-9]+)? ?(B|KiB|MiB|GiB|KB|MB|GB)?$";
constexpr char kHeaderNamePattern[] = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
constexpr char kPercentileKeyPattern[] = "^p[0-9]+(\\.[0-9]+)?$";

void AddBounds(const FieldBounds& bounds, Json& schema) {
  if (bounds.min.has_value()) {
    schema[bounds.min_exclusive ? "exclusiveMinimum" : "minimum"] = *bounds.min;
  }
  if (bounds.max.has_value()) {
    schema[bounds.max_exclusive ? "exclusiveMaximum" : "maximum"] = *bounds.max;
  }
}

Json Bounded(std::string_view type, const FieldBounds& bounds) {
  Json schema = {{"type", type}};
  AddBounds(bounds, schema);
  return schema;
}

Json DurationSchema(bool positive) {
  Json seconds = {{"type", "number"}};
  seconds[positive ? "exclusiveMinimum" : "minimum"] = 0;
  return {{"anyOf", Json::array({seconds, {{"type", "string"}, {"pattern", kDurationPattern}}})}};
}

Json MapSchema(const std::string& path);

void AllowNull(Json& schema) {
  if (schema.contains("enum")) schema["enum"].push_back(nullptr);
  if (schema.contains("anyOf")) {
    schema["anyOf"].push_back({{"type", "null"}});
  } else if (schema.contains("type")) {
    Json& type = schema["type"];
    if (type.is_string())
      type = Json::array({type, "null"});
    else if (type.is_array())
      type.push_back("null");
  }
}

Json FieldSchema(const ConfigField& field) {
  Json schema;
  switch (field.type) {
    case FieldType::kSection:
      schema = MapSchema(field.path);
      break;
    case FieldType::kString:
      // Any scalar is read as its text.
      schema = {{"type", {"string", "number", "boolean"}}};
      if (field.path == "benchmark.name") schema["pattern"] = "^[A-Za-z0-9._-]+$";
      break;
    case FieldType::kNumber:
      schema = Bounded("number", field.bounds);
      break;
    case FieldType::kInteger:
      schema = Bounded("integer", field.bounds);
      break;
    case FieldType::kSeed:
      schema = {{"anyOf", Json::array({{{"type", "integer"}, {"minimum", 0}},
                                       {{"type", "string"}, {"enum", {"random"}}}})}};
      break;
    case FieldType::kBool:
      schema = {{"type", "boolean"}};
      break;
    case FieldType::kDuration:
      schema = DurationSchema(field.positive_duration);
      break;
    case FieldType::kByteSize:
      schema = {{"anyOf", Json::array({Bounded("integer", field.bounds),
                                       {{"type", "string"}, {"pattern", kByteSizePattern}}})}};
      break;
    case FieldType::kEnum:
      schema = {{"type", "string"}, {"enum", field.values}};
      break;
    case FieldType::kEnumList:
      schema = {{"type", "array"},
                {"items", {{"type", "string"}, {"enum", field.values}}},
                {"uniqueItems", true}};
      // The summary needs a metric; the results always have json.
      if (field.path == "metrics.collect") schema["minItems"] = 1;
      break;
    case FieldType::kNumberList:
      schema = {{"type", "array"},
                {"items", Bounded("number", field.bounds)},
                {"uniqueItems", true},
                {"minItems", 1}};
      break;
    case FieldType::kSectionList:
      schema = {{"type", "array"}, {"items", MapSchema(field.path + "[]")}};
      if (field.path == "load.stages") schema["minItems"] = 1;
      break;
    case FieldType::kHeaderMap:
      schema = {{"type", "object"},
                {"propertyNames", {{"pattern", kHeaderNamePattern}}},
                {"additionalProperties", {{"type", {"string", "number", "boolean", "null"}}}}};
      break;
    case FieldType::kJsonObject:
      schema = {{"type", "object"}};
      break;
    case FieldType::kPercentileMap:
      schema = {{"type", "object"},
                {"propertyNames", {{"pattern", kPercentileKeyPattern}}},
                {"additionalProperties", DurationSchema(true)}};
      break;
    case FieldType::kRateOrPercent:
      schema = {
          {"anyOf", Json::array({Bounded("number", field.bounds),
                                 {{"type", "string"}, {"pattern", "^[0-9]+(\\.[0-9]+)?%$"}}})}};
      break;
    case FieldType::kCountOrLengths:
      schema = {{"anyOf", Json::array({Bounded("integer", field.bounds), MapSchema(field.path)})}};
      break;
  }
  // A key set to null takes its default (a required one has none).
  if (!field.required) AllowNull(schema);
  Json described = {{"description", field.doc}};
  if (!field.default_text.empty()) described["x-default"] = field.default_text;
  described.update(schema);
  return described;
}

// What load.type `type` requires and refuses: the table's load_types as if/then.
Json LoadTypeRules() {
  Json rules = Json::array();
  for (std::string_view type : FindConfigField("load.type")->values) {
    Json required = Json::array();
    Json refused = Json::object();  // And required: true.
    for (std::string_view key : ConfigFieldKeys("load")) {
      const ConfigField& field = *FindConfigField(Cat("load.", key));
      if (field.load_types.empty()) continue;
      // The shorthand is an open loop at load.rate or a closed loop; it takes its own keys too.
      const bool reads =
          LoadTypeReads(field, type) || (type == "shareGPT" && LoadTypeReads(field, "constant"));
      if (!reads) {
        refused[std::string(key)] = false;
      } else if (field.required_by_load_types && type != "shareGPT") {
        required.push_back(key);
        refused[std::string(key)] = true;  // Named here too, as strict validators want.
      }
    }
    Json then = {{"properties", refused}};
    if (!required.empty()) then["required"] = required;
    rules.push_back(
        {{"if", {{"properties", {{"type", {{"const", type}}}}}, {"required", {"type"}}}},
         {"then", then}});
  }
  return rules;
}

Json MapSchema(const std::string& path) {
  Json properties = Json::object();
  Json required = Json::array();
  for (std::string_view key : ConfigFieldKeys(path)) {
    const ConfigField& field =
        *FindConfigField(path.empty() ? std::string(key) : Cat(path, ".", key));
    properties[std::string(key)] = FieldSchema(field);
    if (field.required) required.push_back(key);
  }
  Json schema = {{"type", "object"}, {"additionalProperties", false}, {"properties", properties}};
  if (!required.empty()) schema["required"] = required;
  if (path == "load") schema["allOf"] = LoadTypeRules();
  return schema;
}

// ---- markdown ----

std::string FormatBound(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

std::string BoundsText(const FieldBounds& bounds) {
  std::vector<std::string> parts;
  if (bounds.min.has_value()) {
    parts.push_back(Cat(bounds.min_exclusive ? "> " : ">= ", FormatBound(*bounds.min)));
  }
  if (bounds.max.has_value()) {
    parts.push_back(Cat(bounds.max_exclusive ? "< " : "<= ", FormatBound(*bounds.max)));
  }
  std::string text = absl::StrJoin(parts, ", ");
  if (!bounds.hint.empty()) Append(&text, text.empty() ? "" : "; ", bounds.hint);
  return text;
}

std::string Quoted(const std::vector<std::string_view>& values) {
  std::vector<std::string> quoted;
  for (std::string_view value : values) quoted.push_back(Cat("`", value, "`"));
  return absl::StrJoin(quoted, ", ");
}

std::string TypeText(const ConfigField& field) {
  const auto with_bounds = [&](std::string_view type) {
    const std::string bounds = BoundsText(field.bounds);
    return bounds.empty() ? std::string(type) : Cat(type, " (", bounds, ")");
  };
  switch (field.type) {
    case FieldType::kSection:
      return "map";
    case FieldType::kString:
      return "string";
    case FieldType::kNumber:
      return with_bounds("number");
    case FieldType::kInteger:
      return with_bounds("integer");
    case FieldType::kSeed:
      return "integer (0 to 2^64-1) or `random`";
    case FieldType::kBool:
      return "boolean";
    case FieldType::kDuration:
      return field.positive_duration ? "duration (> 0)" : "duration";
    case FieldType::kByteSize:
      return with_bounds("size");
    case FieldType::kEnum:
      return Cat("one of ", Quoted(field.values));
    case FieldType::kEnumList:
      return Cat("list of ", Quoted(field.values));
    case FieldType::kNumberList:
      return with_bounds("list of numbers");
    case FieldType::kSectionList:
      return "list of maps";
    case FieldType::kHeaderMap:
      return "map of header names to strings";
    case FieldType::kJsonObject:
      return "map (JSON)";
    case FieldType::kPercentileMap:
      return "map of percentiles (`p50`, `p99.9`) to durations";
    case FieldType::kRateOrPercent:
      return with_bounds("number or percentage");
    case FieldType::kCountOrLengths:
      return with_bounds("integer or map");
  }
  return "";
}

std::string Cell(std::string_view text) {
  return absl::StrReplaceAll(std::string(text), {{"|", "\\|"}, {"\n", " "}});
}

constexpr char kIntro[] =
    R"(# Config reference

<!-- Generated from the config table (common/config_schema.cc) by
     `bench-controller schema --format markdown`; a test fails when it is stale. -->

A benchmark config is a YAML map of the sections below. Only `benchmark.name` is required;
everything else has a default, which `bench-controller validate` lists as "defaults applied".
Unknown keys are errors with a did-you-mean, and every error names the file, the line and the
key path.

- **Durations** are seconds as a number (`300`, `0.5`) or numbers with units `ns`, `us`, `ms`,
  `s`, `m`, `h` (`250ms`, `1m30s`).
- **Sizes** are bytes as a number or with a unit: `B`, `KiB`, `MiB`, `GiB` (powers of 1024),
  `KB`, `MB`, `GB` (powers of 1000).
- **Enum names** are case-insensitive; numbers may be quoted.
- A key set to `null` (or left empty) takes its default.
- Any key can be set from the command line: `--set load.rate=20`,
  `--set 'load.stages=[{rate: 5, duration: 10}]'`; docs/cli.md lists the flags that are
  shorthands for keys.
- `${env:NAME}` in a string is replaced by the environment variable when requests are sent;
  secret header values never reach logs or results.

`bench-controller schema` prints the same table as a JSON Schema (draft-07) for editors and
validators; for example, with the YAML language server put
`# yaml-language-server: $schema=config.schema.json` at the top of a config. The schema checks
keys, types, bounds and, when `load.type` is written, which keys that type needs and refuses.
It takes the canonical forms only (enum names as spelled here, numbers unquoted), and
`validate` remains the whole check: the rules between keys, an inferred load type, and the
files named.
)";

void AppendSection(const ConfigField& section, std::string& out) {
  Append(&out, "\n## ", section.path, "\n\n", section.doc, "\n");
  if (!section.default_text.empty()) {
    Append(&out, "When absent: ", section.default_text, ".\n");
  }
  Append(&out, "\n```yaml\n", section.path, ": ", section.example, "\n```\n\n");
  Append(&out, "| Key | Type | Default | Description |\n|---|---|---|---|\n");
  const std::string prefix = section.path + ".";
  for (const ConfigField& field : ConfigFields()) {
    if (!field.path.starts_with(prefix)) continue;
    std::string type = TypeText(field);
    if (field.required) Append(&type, ", required");
    std::string doc = field.doc;
    if (!field.load_types.empty()) {
      Append(&doc, " Read by load.type ", LoadTypesText(field),
             field.required_by_load_types ? ", which require it." : ".");
    }
    if (field.type != FieldType::kSection && !field.example.empty()) {
      Append(&doc, " Example: `", field.example, "`.");
    }
    // A default that depends on other keys is described in words, not as a value.
    const bool words = field.default_text.find(' ') != std::string::npos &&
                       field.default_text.front() != '[' && field.default_text.front() != '{';
    const std::string default_cell = field.default_text.empty() ? "-"
                                     : words                    ? field.default_text
                                                                : Cat("`", field.default_text, "`");
    Append(&out, "| `", field.path, "` | ", Cell(type), " | ", Cell(default_cell), " | ", Cell(doc),
           " |\n");
  }
}

}  // namespace

Json ConfigJsonSchema() {
  Json schema = {{"$schema", "http://json-schema.org/draft-07/schema#"},
                 {"title", "llm-d-bench benchmark config"},
                 {"description",
                  "Generated from the config table by `bench-controller schema`; docs/config.md "
                  "explains each key."}};
  schema.update(MapSchema(""));
  return schema;
}

std::string ConfigMarkdown() {
  std::string out = kIntro;
  for (std::string_view key : ConfigFieldKeys("")) AppendSection(*FindConfigField(key), out);
  return out;
}

int RunSchemaCommand(const std::vector<std::string>& args) {
  static constexpr char kUsage[] =
      "usage: bench-controller schema [--format json|markdown] [--output FILE]\n"
      "\n"
      "Prints the benchmark config's JSON Schema (draft-07, the default) or its reference\n"
      "(docs/config.md), both generated from the same table as the config parser.\n";
  std::string format = "json";
  std::string output;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    const bool takes_value = arg == "--format" || arg == "--output";
    if (!takes_value) {
      std::fprintf(stderr, "bench-controller schema: unknown argument '%s'\n\n%s", arg.c_str(),
                   kUsage);
      return kExitUsage;
    }
    if (i + 1 >= args.size()) {
      std::fprintf(stderr, "bench-controller schema: %s needs a value\n\n%s", arg.c_str(), kUsage);
      return kExitUsage;
    }
    (arg == "--format" ? format : output) = args[++i];
  }
  std::string text;
  if (format == "json") {
    text = ConfigJsonSchema().dump(2) + "\n";
  } else if (format == "markdown" || format == "md") {
    text = ConfigMarkdown();
  } else {
    std::fprintf(stderr, "bench-controller schema: --format must be json or markdown, got '%s'\n",
                 format.c_str());
    return kExitUsage;
  }
  if (output.empty()) {
    std::fputs(text.c_str(), stdout);
    return kExitOk;
  }
  std::ofstream file(output, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    std::fprintf(stderr, "bench-controller schema: cannot write %s\n", output.c_str());
    return kExitRunFailed;
  }
  return kExitOk;
}

}  // namespace bench::controller
