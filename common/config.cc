#include "common/config.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bench {
namespace {

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         absl::EqualsIgnoreCase(Absl(text.substr(0, prefix.size())), Absl(prefix));
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

bool IsEnvName(std::string_view name) {
  if (name.empty() || !IsNameStart(name.front())) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// Bounds what an error message repeats of the user's text.
std::string Excerpt(std::string_view text, size_t max_chars = 40) {
  if (text.size() <= max_chars) return std::string(text);
  return std::string(text.substr(0, max_chars)) + "...";
}

}  // namespace

const std::vector<std::string>& KnownMetricNames() {
  static const auto* const kNames = new std::vector<std::string>{"ttft",
                                                                 "itl",
                                                                 "tpot",
                                                                 "ntpot",
                                                                 "e2e_latency",
                                                                 "schedule_lag",
                                                                 "e2e_from_intended",
                                                                 "throughput",
                                                                 "tokens_per_second",
                                                                 "goodput",
                                                                 "errors",
                                                                 "error_rate",
                                                                 "queue_depth",
                                                                 "cache_hit_ratio"};
  return *kNames;
}

const std::vector<std::string>& SloMetricNames() {
  static const auto* const kNames =
      new std::vector<std::string>{"ttft", "itl", "tpot", "ntpot", "e2e_latency"};
  return *kNames;
}

std::string_view ProtocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kAuto:
      return "auto";
    case Protocol::kHttp1:
      return "http1";
    case Protocol::kH2c:
      return "h2c";
    case Protocol::kH2:
      return "h2";
  }
  return "?";
}

std::string_view LoadTypeName(LoadType type) {
  switch (type) {
    case LoadType::kConstant:
      return "constant";
    case LoadType::kPoisson:
      return "poisson";
    case LoadType::kGamma:
      return "gamma";
    case LoadType::kRamp:
      return "ramp";
    case LoadType::kBurst:
      return "burst";
    case LoadType::kConcurrency:
      return "concurrency";
    case LoadType::kStages:
      return "stages";
    case LoadType::kTrace:
      return "trace";
  }
  return "?";
}

int TurnShardCount(const PromptsConfig& prompts) {
  if (prompts.type != PromptsType::kConversation) return 0;
  return static_cast<int>(std::clamp<int64_t>(prompts.conversation.turns.max, 1, kMaxTurnShards));
}

std::string_view PromptsTypeName(PromptsType type) {
  switch (type) {
    case PromptsType::kSynthetic:
      return "synthetic";
    case PromptsType::kFile:
      return "file";
    case PromptsType::kShareGpt:
      return "shareGPT";
    case PromptsType::kConversation:
      return "conversation";
  }
  return "?";
}

std::string_view WorkerLossPolicyName(WorkerLossPolicy policy) {
  switch (policy) {
    case WorkerLossPolicy::kRebalance:
      return "rebalance";
    case WorkerLossPolicy::kFail:
      return "fail";
  }
  return "?";
}

std::string_view OutputFormatName(OutputFormat format) {
  switch (format) {
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kHtml:
      return "html";
    case OutputFormat::kPng:
      return "png";
    case OutputFormat::kPdf:
      return "pdf";
    case OutputFormat::kLlmd:
      return "llmd";
    case OutputFormat::kCsv:
      return "csv";
    case OutputFormat::kMd:
      return "md";
  }
  return "?";
}

std::string_view ApiName(Api api) {
  return api == Api::kChatCompletions ? "chat completions" : "completions";
}

std::string_view SeriesKindName(SeriesKind kind) {
  switch (kind) {
    case SeriesKind::kNone:
      return "";
    case SeriesKind::kSweep:
      return "sweep";
    case SeriesKind::kCapacity:
      return "capacity";
  }
  return "";
}

std::string_view LoadTypeName(const LoadConfig& load) {
  return load.series.kind == SeriesKind::kNone ? LoadTypeName(load.type)
                                               : SeriesKindName(load.series.kind);
}

bool IsOpenLoop(LoadType type) { return type != LoadType::kConcurrency; }

absl::StatusOr<EndpointUrl> ParseEndpoint(std::string_view endpoint) {
  EndpointUrl url;
  std::string_view rest;
  if (StartsWithNoCase(endpoint, "http://")) {
    rest = endpoint.substr(7);
  } else if (StartsWithNoCase(endpoint, "https://")) {
    url.tls = true;
    rest = endpoint.substr(8);
  } else {
    return absl::InvalidArgumentError("must start with http:// or https://");
  }
  for (char c : endpoint) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') {
      return absl::InvalidArgumentError("must not contain spaces or control characters");
    }
  }
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "must not contain credentials (user:password@); send them with target.headers");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("has an unterminated IPv6 address (missing ])");
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError("has text after the IPv6 address; expected :port");
      }
      port_text = after.substr(1);
      if (port_text.empty()) return absl::InvalidArgumentError("has an empty port after ':'");
    }
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return absl::InvalidArgumentError("has an empty port after ':'");
    }
  }
  if (url.host.empty()) return absl::InvalidArgumentError("has no host");
  url.port = url.tls ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    if (port_text.size() > 5 || !absl::SimpleAtoi(Absl(port_text), &port) || port < 1 ||
        port > 65535 || !absl::ascii_isdigit(port_text.front())) {
      return absl::InvalidArgumentError("has an invalid port \"" + Excerpt(port_text) +
                                        "\" (expected 1-65535)");
    }
    url.port = port;
  }
  if (path.find('#') != std::string_view::npos) {
    return absl::InvalidArgumentError("must not contain a #fragment");
  }
  const std::string_view path_only = path.substr(0, path.find('?'));
  if (EndsWith(path_only, "/chat/completions")) {
    url.api = Api::kChatCompletions;
  } else if (EndsWith(path_only, "/completions")) {
    url.api = Api::kCompletions;
  } else {
    return absl::InvalidArgumentError(
        std::string(path_only.empty() ? "has no path; it" : "path") +
        " must end in /chat/completions (chat completions API) or /completions (completions "
        "API)");
  }
  url.path = std::string(path);
  return url;
}

absl::StatusOr<std::vector<EnvReference>> FindEnvReferences(std::string_view text) {
  std::vector<EnvReference> references;
  size_t pos = 0;
  while ((pos = text.find("${", pos)) != std::string_view::npos) {
    const size_t close = text.find('}', pos + 2);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("unterminated reference \"" + Excerpt(text.substr(pos)) +
                                        "\": close it with }, e.g. ${env:API_KEY}");
    }
    const std::string_view whole = text.substr(pos, close + 1 - pos);
    const std::string_view inner = text.substr(pos + 2, close - pos - 2);
    if (!absl::StartsWith(Absl(inner), "env:")) {
      if (IsEnvName(inner)) {
        return absl::InvalidArgumentError("malformed reference \"" + Excerpt(whole) +
                                          "\": write ${env:" + std::string(inner) + "}");
      }
      return absl::InvalidArgumentError("malformed reference \"" + Excerpt(whole) +
                                        "\": only ${env:NAME} references are supported");
    }
    const std::string_view name = inner.substr(4);
    if (name.empty()) {
      return absl::InvalidArgumentError("malformed reference \"" + Excerpt(whole) +
                                        "\": name the variable, e.g. ${env:API_KEY}");
    }
    if (!IsEnvName(name)) {
      return absl::InvalidArgumentError("malformed reference \"" + Excerpt(whole) +
                                        "\": the name must match [A-Za-z_][A-Za-z0-9_]*");
    }
    references.push_back({pos, whole.size(), std::string(name)});
    pos = close + 1;
  }
  return references;
}

absl::StatusOr<std::string> ExpandEnvReferences(
    std::string_view text,
    const std::function<std::optional<std::string>(std::string_view name)>& lookup) {
  absl::StatusOr<std::vector<EnvReference>> references = FindEnvReferences(text);
  if (!references.ok()) return references.status();
  std::string out;
  size_t pos = 0;
  for (const EnvReference& reference : *references) {
    out.append(text.substr(pos, reference.offset - pos));
    std::optional<std::string> value = lookup(reference.name);
    if (!value.has_value()) {
      return absl::NotFoundError("environment variable " + reference.name + " is not set");
    }
    out += *value;
    pos = reference.offset + reference.length;
  }
  out.append(text.substr(pos));
  return out;
}

absl::StatusOr<std::string> ExpandEnvReferencesFromEnvironment(std::string_view text) {
  return ExpandEnvReferences(text, [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

bool IsSensitiveHeader(std::string_view name) {
  const std::string lower = absl::AsciiStrToLower(Absl(name));
  for (std::string_view exact :
       {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}) {
    if (lower == exact) return true;
  }
  // Broader than the list above on purpose: printing a secret is worse than hiding a value.
  for (std::string_view part : {"token", "secret", "key", "auth", "cookie", "password"}) {
    if (lower.find(part) != std::string::npos) return true;
  }
  return false;
}

std::string RedactHeaderValue(std::string_view name, std::string_view value) {
  if (value.empty() || !IsSensitiveHeader(name)) return std::string(value);
  std::string_view rest = value;
  for (std::string_view scheme : {"Bearer ", "Basic ", "Token "}) {
    if (StartsWithNoCase(rest, scheme)) {
      rest.remove_prefix(scheme.size());
      break;
    }
  }
  absl::StatusOr<std::vector<EnvReference>> references = FindEnvReferences(rest);
  if (!references.ok() || references->empty()) return std::string(kRedacted);
  // Only references and spaces may remain: anything else could be (part of) a secret.
  size_t pos = 0;
  for (const EnvReference& reference : *references) {
    for (char c : rest.substr(pos, reference.offset - pos)) {
      if (c != ' ') return std::string(kRedacted);
    }
    pos = reference.offset + reference.length;
  }
  for (char c : rest.substr(pos)) {
    if (c != ' ') return std::string(kRedacted);
  }
  return std::string(value);
}

BenchmarkConfig RedactSecrets(BenchmarkConfig config) {
  for (Header& header : config.target.headers) {
    header.value = RedactHeaderValue(header.name, header.value);
  }
  return config;
}

absl::Status CheckRunnable(const BenchmarkConfig& config) {
  std::string missing;
  if (config.target.endpoint.empty()) {
    missing = "target.endpoint is not set (give --endpoint URL or target.endpoint in the config)";
  }
  if (config.target.model.empty()) {
    if (!missing.empty()) missing += "; ";
    missing += "target.model is not set (give --model NAME or target.model in the config)";
  }
  // A results config.yaml has its secrets redacted: re-running it must not send the
  // placeholder as the header's value.
  for (const Header& header : config.target.headers) {
    if (header.value.find(std::string(kRedacted)) == std::string::npos) continue;
    if (!missing.empty()) missing += "; ";
    absl::StrAppend(&missing, "target.headers.", header.name, " is ", std::string(kRedacted),
                    " (a results config.yaml hides secrets): supply the secret, e.g. --set "
                    "'target.headers.",
                    header.name, "=Bearer ${env:API_KEY}'");
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(missing);
}

}  // namespace bench
