// Reading and writing benchmark configs as YAML (SPEC section 2). The parser applies `--set`
// overrides to the document, converts it to a BenchmarkConfig and validates it, collecting every
// error as `<source>:<line>: <key.path> <problem>`. This header is yaml-cpp free; the library
// itself is used only in config_yaml.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace bench {

// Documents above these limits are rejected before yaml-cpp sees them: a benchmark config is a
// few kilobytes, and deep nesting would cost stack in a recursive parser.
inline constexpr size_t kMaxConfigBytes = 1 << 20;
inline constexpr int kMaxConfigDepth = 64;

// One `--set key.path=value` (or `--endpoint`, `--model`): replaces or adds the value at `path`
// in the YAML document before typed conversion, so the same rules check it.
struct ConfigOverride {
  std::string path;      // Dotted: "load.rate", "slo.ttft.p99.9" (a numeric segment after pNN
                         // belongs to it), "target.headers.X-Api-Key".
  std::string value;     // YAML text ("5", "[{rate: 5, duration: 10}]") unless `literal`.
  bool literal = false;  // `value` is a plain string, never YAML (URLs, model names).
  std::string label;     // How errors name it: "--set load.rate=-3"; secrets redacted.
};

// Splits the argument of `--set` ("key.path=value"). InvalidArgument when there is no '=' or the
// path is empty.
absl::StatusOr<ConfigOverride> ParseSetFlag(std::string_view text);

// A literal override, for flags such as --endpoint and --model.
ConfigOverride LiteralOverride(std::string path, std::string value, std::string label);

// How the notes on defaults applied begin (the table leaves them to summary.json).
inline constexpr std::string_view kDefaultsNotePrefix = "defaults applied: ";

struct ParsedConfig {
  BenchmarkConfig config;
  // Human-readable lines on defaults and shorthands applied, for `validate` to show.
  std::vector<std::string> notes;
};

// Parses, overrides and validates a config. `source_name` names the document in messages (the
// file path). On failure: InvalidArgument whose message has one error per line, sorted by line
// (errors from overrides follow, in flag order), e.g.
//   cfg.yaml:14: load.rate must be > 0, got -3
//   cfg.yaml:3: unknown key load.rat (did you mean load.rate?)
//   --set load.rate=-3: load.rate must be > 0, got -3
// ${env:NAME} references are checked for form and kept verbatim. A config without a target
// endpoint or model is accepted with a note (see CheckRunnable).
absl::StatusOr<ParsedConfig> ParseConfig(std::string_view yaml_text, std::string_view source_name,
                                         const std::vector<ConfigOverride>& overrides = {});

// ParseConfig with overrides given as `--set` arguments ("key.path=value").
absl::StatusOr<ParsedConfig> ParseConfigWithSets(std::string_view yaml_text,
                                                 std::string_view source_name,
                                                 const std::vector<std::string>& set_flags);

// The complete resolved config (every default written out) as YAML that ParseConfig reads back
// to RedactSecrets(config). Secret header values are printed as kRedacted (RedactSecrets), so
// the text may be printed, logged, or written as results/config.yaml.
std::string ConfigToYaml(const BenchmarkConfig& config);
// The same with header values as they are: only for the workers that send the requests, never
// for a log or a file.
std::string ConfigToYamlWithSecrets(const BenchmarkConfig& config);

// Numbers and byte sizes in the forms the config is written in, which read back exactly: the
// shortest decimal text of `value` (an exponent only when its magnitude needs one); bytes as
// "16MiB" when a whole number of KiB, MiB or GiB, else the count.
std::string FormatConfigNumber(double value);
std::string FormatByteSize(int64_t bytes);

// The candidate closest to `word` when it is close enough to be a typo of it (the config's
// did-you-mean, also used for command-line flags).
std::optional<std::string> SuggestNearest(std::string_view word,
                                          const std::vector<std::string_view>& candidates);

}  // namespace bench
