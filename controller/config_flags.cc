#include "controller/config_flags.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "controller/cli_flags.h"

namespace bench::controller {
namespace {

// Flags that set one key from their value: the flag, the key, whether the value is a plain
// string (never YAML), and where the flag comes from.
struct KeyFlag {
  const char* flag;
  const char* path;
  bool literal;
};
constexpr KeyFlag kKeyFlags[] = {
    {"--model", "target.model", true},           {"--seed", "benchmark.seed", false},
    {"--warmup", "benchmark.warmup", false},     {"--output", "output.dir", true},
    {"--result-dir", "output.dir", true},         // vLLM
    {"--artifact-dir", "output.dir", true},       // AIPerf
    {"--dataset-path", "prompts.dataset", true},  // vLLM
    {"--tokenizer", "prompts.tokenizer", true},   // vLLM (a file, not a Hugging Face model id)
};

// Flags resolved together in Finish (see ConfigFlags::Given).
constexpr const char* kEndpointFlags[] = {"--endpoint", "--base-url", "--target",
                                          "--url",      "--host",     "--port",
                                          "--api",      "--backend",  "--endpoint-type"};
constexpr const char* kLoadFlags[] = {
    "--rate",        "--request-rate",       "--concurrency",   "--max-concurrency",
    "--num-prompts", "--max-requests",       "--request-count", "--duration",
    "--max-seconds", "--benchmark-duration", "--rate-type",     "--burstiness"};
// Flags whose value is parsed here into several keys.
constexpr const char* kPromptFlags[] = {"--dataset-name",
                                        "--random-input-len",
                                        "--random-output-len",
                                        "--random-range-ratio",
                                        "--synthetic-input-tokens-mean",
                                        "--synthetic-input-tokens-stddev",
                                        "--output-tokens-mean",
                                        "--output-tokens-stddev",
                                        "--data",
                                        "--metric-percentiles",
                                        "--find-capacity"};

// What a flag's value is, for "--set needs key.path=value".
const char* ValueName(std::string_view flag) {
  if (flag == "--set") return "key.path=value";
  if (flag == "--config" || flag == "--tokenizer" || flag == "--dataset-path") {
    return "a file path";
  }
  if (flag == "--model") return "a model name";
  if (flag == "--endpoint" || flag == "--base-url" || flag == "--target" || flag == "--url") {
    return "a URL";
  }
  return "a value";
}

// "http://host:8000", "http://host:8000/v1" or ".../v1/" without an API path.
bool HasApiPath(const std::string& url) {
  return absl::EndsWith(url, "/completions") || absl::EndsWith(url, "/chat/completions");
}

}  // namespace

std::vector<std::string_view> ConfigFlags::Names() {
  std::vector<std::string_view> names = {"--config", "--set"};
  for (const KeyFlag& flag : kKeyFlags) names.push_back(flag.flag);
  for (const char* flag : kEndpointFlags) names.push_back(flag);
  for (const char* flag : kLoadFlags) names.push_back(flag);
  for (const char* flag : kPromptFlags) names.push_back(flag);
  return names;
}

void ConfigFlags::Set(const std::string& path, const std::string& yaml, const std::string& label) {
  overrides_.push_back({path, yaml, false, label});
}

void ConfigFlags::SetLiteral(const std::string& path, const std::string& value,
                             const std::string& label) {
  overrides_.push_back(LiteralOverride(path, value, label));
}

bool ConfigFlags::Match(const std::vector<std::string>& args, size_t* i, std::string* error) {
  const std::string& arg = args[*i];
  std::optional<std::string> value;
  std::string name;
  // The flag's name and value; false when args[*i] is not `flag`.
  const auto take = [&](const char* flag) {
    if (!MatchFlag(args, i, flag, &value)) return false;
    name = std::string(flag);
    if (!value.has_value() || value->empty()) {
      *error = absl::StrCat(flag, " needs ", ValueName(flag));
      value = std::nullopt;
    }
    return true;
  };
  if (arg == "--find-capacity") {
    find_capacity_ = true;
    return true;
  }
  if (take("--config")) {
    if (!value) return true;
    if (config_path_.has_value()) {
      *error = "--config given twice";
      return true;
    }
    config_path_ = *value;
    return true;
  }
  if (take("--set")) {
    if (!value) return true;
    absl::StatusOr<ConfigOverride> parsed = ParseSetFlag(*value);
    if (!parsed.ok()) {
      *error = std::string(parsed.status().message());
      return true;
    }
    overrides_.push_back(*std::move(parsed));
    return true;
  }
  for (const KeyFlag& flag : kKeyFlags) {
    if (!take(flag.flag)) continue;
    if (!value) return true;
    const std::string label = absl::StrCat(flag.flag, " ", *value);
    if (flag.literal) {
      SetLiteral(flag.path, *value, label);
    } else {
      Set(flag.path, *value, label);
    }
    return true;
  }
  const auto given = [&](std::optional<Given>* slot) {
    if (value) *slot = Given{*value, name};
    return true;
  };
  if (take("--endpoint")) return given(&endpoint_);
  if (take("--base-url") || take("--target") || take("--url")) return given(&base_url_);
  if (take("--host")) return given(&host_);
  if (take("--port")) return given(&port_);
  if (take("--api") || take("--backend") || take("--endpoint-type")) return given(&api_);
  if (take("--rate")) return given(&rate_);
  if (take("--request-rate")) {
    poisson_ = true;
    return given(&rate_);
  }
  if (take("--concurrency") || take("--max-concurrency")) return given(&concurrency_);
  if (take("--num-prompts") || take("--max-requests") || take("--request-count")) {
    return given(&num_prompts_);
  }
  if (take("--duration") || take("--max-seconds") || take("--benchmark-duration")) {
    return given(&duration_);
  }
  if (take("--rate-type")) return given(&rate_type_);
  if (take("--burstiness")) return given(&burstiness_);

  // Prompt flags: lengths as fixed or normal distributions.
  if (take("--dataset-name")) {
    if (!value) return true;
    const std::string kind = absl::AsciiStrToLower(*value);
    if (kind == "random") {
      Set("prompts.type", "synthetic", "--dataset-name random");
    } else if (kind == "sharegpt") {
      Set("prompts.type", "shareGPT", "--dataset-name sharegpt");
    } else {
      *error = absl::StrCat("--dataset-name ", *value,
                            ": random and sharegpt are supported (a JSONL file of prompts is "
                            "prompts.type file with prompts.dataset)");
    }
    return true;
  }
  for (const auto& [flag, path] : {std::pair{"--random-input-len", "prompts.inputLength"},
                                   std::pair{"--random-output-len", "prompts.outputLength"}}) {
    if (!take(flag)) continue;
    if (!value) return true;
    // vLLM: exactly that many tokens (its --random-range-ratio widens the range).
    Set(path, absl::StrCat("{mean: ", *value, ", stddev: 0, min: ", *value, ", max: ", *value, "}"),
        absl::StrCat(flag, " ", *value));
    return true;
  }
  if (take("--random-range-ratio")) {
    if (!value) return true;
    double ratio = 0;
    if (!absl::SimpleAtod(*value, &ratio) || !(ratio >= 0) || ratio >= 1) {
      *error = absl::StrCat("--random-range-ratio must be in [0, 1), got ", *value);
      return true;
    }
    range_ratio_ = ratio;
    return true;
  }
  for (const auto& [flag, path] :
       {std::pair{"--synthetic-input-tokens-mean", "prompts.inputLength.mean"},
        std::pair{"--synthetic-input-tokens-stddev", "prompts.inputLength.stddev"},
        std::pair{"--output-tokens-mean", "prompts.outputLength.mean"},
        std::pair{"--output-tokens-stddev", "prompts.outputLength.stddev"}}) {
    if (!take(flag)) continue;
    if (value) Set(path, *value, absl::StrCat(flag, " ", *value));
    return true;
  }
  if (take("--data")) {
    if (!value) return true;
    // GuideLLM's synthetic data spec: "prompt_tokens=256,output_tokens=128".
    for (absl::string_view part : absl::StrSplit(*value, ',', absl::SkipWhitespace())) {
      const std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
      static constexpr std::pair<const char*, const char*> kKeys[] = {
          {"prompt_tokens", "prompts.inputLength.mean"},
          {"prompt_tokens_stdev", "prompts.inputLength.stddev"},
          {"prompt_tokens_min", "prompts.inputLength.min"},
          {"prompt_tokens_max", "prompts.inputLength.max"},
          {"output_tokens", "prompts.outputLength.mean"},
          {"output_tokens_stdev", "prompts.outputLength.stddev"},
          {"output_tokens_min", "prompts.outputLength.min"},
          {"output_tokens_max", "prompts.outputLength.max"}};
      const auto* key = std::find_if(std::begin(kKeys), std::end(kKeys),
                                     [&](const auto& k) { return kv.first == k.first; });
      if (key == std::end(kKeys) || kv.second.empty()) {
        *error = absl::StrCat(
            "--data ", *value,
            ": only GuideLLM's synthetic spec is supported (prompt_tokens=N, output_tokens=N, "
            "and their _stdev, _min, _max); a dataset is --dataset-name sharegpt with "
            "--dataset-path FILE");
        return true;
      }
      Set(key->second, kv.second, absl::StrCat("--data ", part));
    }
    // GuideLLM: prompt_tokens without a _stdev is exactly that many.
    for (const auto& [tokens, stddev] :
         {std::pair{"prompt_tokens=", "prompts.inputLength.stddev"},
          std::pair{"output_tokens=", "prompts.outputLength.stddev"}}) {
      const std::string spread = absl::StrCat(absl::StripSuffix(tokens, "="), "_stdev");
      if (absl::StrContains(*value, tokens) && !absl::StrContains(*value, spread)) {
        Set(stddev, "0", absl::StrCat("--data ", *value));
      }
    }
    return true;
  }
  if (take("--metric-percentiles")) {
    if (!value) return true;
    Set("metrics.percentiles", absl::StrCat("[", *value, "]"),
        absl::StrCat("--metric-percentiles ", *value));
    return true;
  }
  return false;
}

absl::Status ConfigFlags::ResolveEndpoint() {
  std::string base;
  std::string base_flag;
  if (base_url_) {
    base = base_url_->value;
    base_flag = base_url_->flag;
  } else if (host_ || port_) {
    base = absl::StrCat("http://", host_ ? host_->value : "127.0.0.1", ":",
                        port_ ? port_->value : "8000");
    base_flag = host_ ? "--host" : "--port";
  }
  std::optional<std::string> api;
  if (api_) {
    const std::string v = absl::AsciiStrToLower(api_->value);
    if (v == "chat" || v == "openai-chat") {
      api = "chat";
    } else if (v == "completions" || v == "openai" || v == "vllm") {
      api = "completions";
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(api_->flag, " ", api_->value,
                       ": chat or completions (vLLM's --backend: openai-chat, openai or vllm)"));
    }
  }
  std::string url;
  std::string label;
  if (endpoint_ && absl::StartsWith(endpoint_->value, "/")) {
    // vLLM's --endpoint is the path under --base-url.
    if (base.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--endpoint ", endpoint_->value,
          " is a path: give the server too (--base-url http://HOST:PORT), or a whole URL"));
    }
    url = absl::StrCat(absl::StripSuffix(base, "/"), endpoint_->value);
    label = absl::StrCat(base_flag, " ", base, " --endpoint ", endpoint_->value);
  } else if (endpoint_) {
    url = endpoint_->value;
    label = absl::StrCat("--endpoint ", url);
    if (!base.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--endpoint ", url, " and ", base_flag, " ", base, " both name the server"));
    }
  } else if (!base.empty()) {
    url = base;
    label = absl::StrCat(base_flag, " ", base);
  } else {
    if (api_) {
      return absl::InvalidArgumentError(
          absl::StrCat(api_->flag, " needs the server: --endpoint http://HOST:PORT"));
    }
    return absl::OkStatus();
  }
  if (!HasApiPath(url)) {
    // A base URL: http://host:8000 or http://host:8000/v1, plus the API's path.
    const absl::string_view trimmed = absl::StripSuffix(url, "/");
    const size_t scheme = trimmed.find("://");
    const absl::string_view after_host =
        trimmed.substr(scheme == absl::string_view::npos ? 0 : scheme + 3);
    if (!absl::StrContains(after_host, "/")) {
      url = absl::StrCat(trimmed, "/v1");
    } else {
      url = std::string(trimmed);
    }
    // vLLM's bench serve defaults to the completions API; the others to chat.
    const bool vllm_flags =
        base_flag == "--base-url" || base_flag == "--host" || base_flag == "--port";
    absl::StrAppend(&url, api.value_or(vllm_flags ? "completions" : "chat") == "chat"
                              ? "/chat/completions"
                              : "/completions");
    if (api_) absl::StrAppend(&label, " ", api_->flag, " ", api_->value);
  } else if (api.has_value() && absl::EndsWith(url, "/chat/completions") != (*api == "chat")) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, " is the ", *api == "chat" ? "completions" : "chat", " API, but ",
                     api_->flag, " ", api_->value, " asks for the other"));
  }
  SetLiteral("target.endpoint", url, label);
  return absl::OkStatus();
}

absl::Status ConfigFlags::ResolveLoad(bool have_config) {
  const bool infinite = rate_ && (absl::AsciiStrToLower(rate_->value) == "inf" ||
                                  absl::AsciiStrToLower(rate_->value) == "infinity");
  if (find_capacity_) {
    // The search picks the rates; a concurrency is its cap.
    if (rate_ || rate_type_ || num_prompts_ || burstiness_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--find-capacity searches for the rate itself: drop ", rate_        ? rate_->flag
                                                                 : rate_type_ ? rate_type_->flag
                                                                 : num_prompts_
                                                                     ? num_prompts_->flag
                                                                     : burstiness_->flag));
    }
    Set("load.type", "capacity", "--find-capacity");
    if (concurrency_) {
      Set("load.concurrency", concurrency_->value,
          absl::StrCat(concurrency_->flag, " ", concurrency_->value));
    }
    if (duration_) {
      Set("benchmark.duration", duration_->value,
          absl::StrCat(duration_->flag, " ", duration_->value));
    }
    return absl::OkStatus();
  }
  if (rate_type_) {
    // Which of --rate and --concurrency each profile reads; the other would be ignored.
    const std::string type = absl::AsciiStrToLower(rate_type_->value);
    const bool reads_rate = type != "synchronous";
    const bool reads_concurrency =
        type == "throughput" || type == "constant" || type == "poisson" || type == "sweep";
    if ((rate_ && !reads_rate) || (concurrency_ && !reads_concurrency)) {
      return absl::InvalidArgumentError(
          absl::StrCat(rate_ && !reads_rate ? rate_->flag : concurrency_->flag,
                       " has no meaning with --rate-type ", rate_type_->value));
    }
  }
  if (rate_type_) {
    // GuideLLM: --rate-type names the profile, and --rate means what the profile counts.
    const std::string type = absl::AsciiStrToLower(rate_type_->value);
    const std::string label = absl::StrCat("--rate-type ", rate_type_->value);
    if (type == "synchronous") {
      Set("load.type", "concurrency", label);
      Set("load.concurrency", "1", label);
    } else if (type == "throughput") {
      Set("load.type", "concurrency", label);
      Set("load.concurrency", concurrency_ ? concurrency_->value : (rate_ ? rate_->value : "256"),
          label);
    } else if (type == "concurrent") {
      if (!rate_) return absl::InvalidArgumentError(label + " needs --rate N (users)");
      Set("load.type", "concurrency", label);
      Set("load.concurrency", rate_->value, absl::StrCat(label, " --rate ", rate_->value));
    } else if (type == "constant" || type == "poisson") {
      if (!rate_) return absl::InvalidArgumentError(label + " needs --rate R (requests/s)");
      Set("load.type", type, label);
      Set("load.rate", rate_->value, absl::StrCat("--rate ", rate_->value));
      if (concurrency_) Set("load.concurrency", concurrency_->value, concurrency_->flag);
    } else if (type == "sweep") {
      Set("load.type", "sweep", label);
      if (rate_) Set("load.sweep.points", rate_->value, absl::StrCat("--rate ", rate_->value));
      if (concurrency_) Set("load.concurrency", concurrency_->value, concurrency_->flag);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(label, ": synchronous, throughput, concurrent, constant, poisson or sweep"));
    }
  } else if (infinite) {
    // Every request at once, as many in flight as the cap allows: a closed loop of the cap.
    const std::optional<Given>& cap = concurrency_ ? concurrency_ : num_prompts_;
    if (!cap) {
      return absl::InvalidArgumentError(
          absl::StrCat(rate_->flag,
                       " inf sends every request at once: bound it with "
                       "--concurrency N (vLLM's --max-concurrency) or --num-prompts N"));
    }
    const std::string label = absl::StrCat(rate_->flag, " inf ", cap->flag, " ", cap->value);
    Set("load.type", "concurrency", label);
    Set("load.concurrency", cap->value, label);
  } else if (rate_) {
    const std::string label = absl::StrCat(rate_->flag, " ", rate_->value);
    if (burstiness_) {
      // vLLM: gamma-distributed gaps of shape `burstiness`; 1 is Poisson.
      Set("load.type", "gamma", label);
      Set("load.burstiness", burstiness_->value, absl::StrCat("--burstiness ", burstiness_->value));
    } else if (poisson_) {
      Set("load.type", "poisson", label);  // vLLM's and AIPerf's arrivals
    }
    // Our --rate keeps the config's shape (constant when the flags make the config).
    Set("load.rate", rate_->value, label);
    if (concurrency_) {
      Set("load.concurrency", concurrency_->value,
          absl::StrCat(concurrency_->flag, " ", concurrency_->value));
    }
  } else if (concurrency_) {
    // Without a config, a closed loop of that many; with one, its load's count or cap.
    const std::string label = absl::StrCat(concurrency_->flag, " ", concurrency_->value);
    if (!have_config) Set("load.type", "concurrency", label);
    Set("load.concurrency", concurrency_->value, label);
  } else if (!have_config && !num_prompts_) {
    return absl::InvalidArgumentError(
        "give --config FILE, or the load: --rate R (or --request-rate), --concurrency N, "
        "or --rate inf with --num-prompts N");
  } else if (!have_config) {
    // --num-prompts alone: vLLM's default, every request at once.
    const std::string label = absl::StrCat(num_prompts_->flag, " ", num_prompts_->value);
    Set("load.type", "concurrency", label);
    Set("load.concurrency", num_prompts_->value, label);
  }
  if (burstiness_ && (!rate_ || infinite || rate_type_)) {
    return absl::InvalidArgumentError("--burstiness shapes the gaps of --request-rate R");
  }
  if (num_prompts_) {
    const std::string label = absl::StrCat(num_prompts_->flag, " ", num_prompts_->value);
    Set("benchmark.maxRequests", num_prompts_->value, label);
    // When the flags make the load, the window lasts until the prompts are sent: N / rate
    // seconds at a rate; a closed loop of them ends at maxRequests (within an hour). With a
    // config's load, its duration stands and maxRequests may end it sooner.
    double count = 0, rate = 0;
    if (!duration_ && !rate_type_) {
      if (rate_ && !infinite && absl::SimpleAtod(num_prompts_->value, &count) &&
          absl::SimpleAtod(rate_->value, &rate) && rate > 0 && count > 0) {
        Set("benchmark.duration", absl::StrCat(std::ceil(count / rate), "s"), label);
      } else if (infinite || !have_config) {
        Set("benchmark.duration", "1h", label);
      }
    }
  }
  if (duration_) {
    Set("benchmark.duration", duration_->value,
        absl::StrCat(duration_->flag, " ", duration_->value));
  }
  return absl::OkStatus();
}

absl::Status ConfigFlags::Finish(bool have_config) {
  if (range_ratio_.has_value() &&
      std::none_of(overrides_.begin(), overrides_.end(), [](const ConfigOverride& o) {
        return absl::StartsWith(o.label, "--random-");
      })) {
    return absl::InvalidArgumentError(
        "--random-range-ratio widens --random-input-len and --random-output-len; give one");
  }
  if (range_ratio_.has_value()) {
    // vLLM: lengths uniform in [N(1 - r), N(1 + r)]; here a normal with that mean, range and
    // the uniform's standard deviation.
    for (ConfigOverride& o : overrides_) {
      if (!absl::StartsWith(o.label, "--random-")) continue;
      double mean = 0;
      const std::string text = o.label.substr(o.label.rfind(' ') + 1);
      if (!absl::SimpleAtod(text, &mean)) continue;
      const double r = *range_ratio_;
      o.value = absl::StrCat("{mean: ", mean, ", stddev: ", mean * r / std::sqrt(3.0),
                             ", min: ", std::max(1.0, std::floor(mean * (1 - r) + 1e-9)),
                             ", max: ", std::ceil(mean * (1 + r) - 1e-9), "}");
      absl::StrAppend(&o.label, " --random-range-ratio ", r);
    }
  }
  BENCH_RETURN_IF_ERROR(ResolveEndpoint());
  return ResolveLoad(have_config);
}

std::string UnknownFlag(std::string_view arg, const std::vector<std::string_view>& known) {
  const std::string flag(arg.substr(0, arg.find('=')));
  std::string message = absl::StrCat("unknown flag ", flag);
  if (std::optional<std::string> near = SuggestNearest(flag, known)) {
    absl::StrAppend(&message, " (did you mean ", *near, "?)");
  }
  return message;
}

}  // namespace bench::controller
