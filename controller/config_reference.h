// The config reference generated from the config table (common/config_schema.h): a JSON Schema
// for editors and validators, and docs/config.md. `bench-controller schema` prints either; a
// test fails when the committed docs/config.md differs from what the table gives.
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace bench::controller {

// A JSON Schema (draft-07) of a benchmark config as YAML reads it into JSON. It accepts the
// canonical forms (enum names as the docs spell them, numbers unquoted) and states which keys
// each load.type requires and refuses; `validate` remains the full check (cross-field rules,
// files).
nlohmann::ordered_json ConfigJsonSchema();

// docs/config.md: one table per section, every key with its type, bounds, default and meaning.
std::string ConfigMarkdown();

// `schema [--format json|markdown] [--output FILE]`.
int RunSchemaCommand(const std::vector<std::string>& args);

}  // namespace bench::controller
