#include "common/config_schema.h"

#include <algorithm>

namespace bench {
namespace {

// The slot of a field reached from the config through `members`:
// Slot(&BenchmarkConfig::load, &LoadConfig::rate) stores into config.load.rate.
template <typename... Members>
std::function<FieldSlot(BenchmarkConfig&)> Slot(Members... members) {
  return [=](BenchmarkConfig& config) -> FieldSlot { return &(config.*....*members); };
}

using B = BenchmarkConfig;

// The four keys of a length distribution under `path` (token counts, or turns), each at most
// `limit`.
void AddLengths(std::vector<ConfigField>& rows, const std::string& path, std::string_view unit,
                double limit, const LengthDistribution& defaults,
                std::function<LengthDistribution*(BenchmarkConfig&)> at) {
  const auto format = [](double value) {
    std::string text = std::to_string(value);
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
    return text;
  };
  rows.push_back({.path = path + ".mean",
                  .type = FieldType::kNumber,
                  .doc = "Mean " + std::string(unit) + ".",
                  .default_text = format(defaults.mean),
                  .example = format(defaults.mean),
                  .bounds = FieldBounds::Positive().AtMost(limit),
                  .slot = [at](B& c) -> FieldSlot { return &at(c)->mean; }});
  rows.push_back({.path = path + ".stddev",
                  .type = FieldType::kNumber,
                  .doc = "Standard deviation of a normal distribution around the mean; 0 gives "
                         "the mean every time.",
                  .default_text = format(defaults.stddev),
                  .example = format(defaults.stddev),
                  .bounds = FieldBounds::NonNegative().AtMost(limit),
                  .slot = [at](B& c) -> FieldSlot { return &at(c)->stddev; }});
  rows.push_back({.path = path + ".min",
                  .type = FieldType::kInteger,
                  .doc = "Draws below it are raised to it.",
                  .default_text = std::to_string(defaults.min),
                  .example = std::to_string(defaults.min),
                  .bounds = FieldBounds::AtLeast(1).AtMost(limit),
                  .slot = [at](B& c) -> FieldSlot { return &at(c)->min; }});
  rows.push_back({.path = path + ".max",
                  .type = FieldType::kInteger,
                  .doc = "Draws above it are lowered to it.",
                  .default_text = std::to_string(defaults.max),
                  .example = std::to_string(defaults.max),
                  .bounds = FieldBounds::AtLeast(1).AtMost(limit),
                  .slot = [at](B& c) -> FieldSlot { return &at(c)->max; }});
}

std::vector<ConfigField> BuildRows() {
  constexpr double kMaxTokens = 10000000;
  std::vector<ConfigField> rows;
  const BenchmarkConfig defaults;

  // ---- benchmark ----
  rows.push_back({.path = "benchmark",
                  .type = FieldType::kSection,
                  .doc = "What the run is called, how long it measures, and its seed.",
                  .example = "{name: my-test, duration: 60}",
                  .required = true});
  rows.push_back({.path = "benchmark.name",
                  .type = FieldType::kString,
                  .doc = "Names the results directory (output.dir/NAME-TIMESTAMP); "
                         "[A-Za-z0-9._-]+.",
                  .example = "llama-8b-poisson",
                  .required = true,
                  .required_hint = "[A-Za-z0-9._-]+; it names the results directory"});
  rows.push_back({.path = "benchmark.duration",
                  .type = FieldType::kDuration,
                  .doc = "The measurement window. With load.type stages it is the sum of the "
                         "stages and may be left out; with a series, each probe's window.",
                  .default_text = "60s",
                  .example = "5m",
                  .positive_duration = true,
                  .slot = Slot(&B::benchmark, &BenchmarkSection::duration)});
  rows.push_back({.path = "benchmark.warmup",
                  .type = FieldType::kDuration,
                  .doc = "Load applied before the window; its requests are not counted.",
                  .default_text = "0s",
                  .example = "10s",
                  .slot = Slot(&B::benchmark, &BenchmarkSection::warmup)});
  rows.push_back({.path = "benchmark.seed",
                  .type = FieldType::kSeed,
                  .doc = "Seeds arrivals and prompts, so a run can be repeated exactly. `random` "
                         "picks one per run (recorded in the results' config.yaml), so a "
                         "repeated run does not send prompts the server has cached.",
                  .default_text = "1",
                  .example = "42"});
  rows.push_back({.path = "benchmark.maxRequests",
                  .type = FieldType::kInteger,
                  .doc = "Ends the window after this many measured requests.",
                  .default_text = "0",
                  .example = "1000",
                  .bounds = FieldBounds::NonNegative().Hint("0 = no limit"),
                  .slot = Slot(&B::benchmark, &BenchmarkSection::max_requests)});

  // ---- target ----
  rows.push_back({.path = "target",
                  .type = FieldType::kSection,
                  .doc = "The OpenAI-compatible endpoint under test.",
                  .example = "{endpoint: http://host:8000/v1/chat/completions, model: my-model}"});
  rows.push_back({.path = "target.endpoint",
                  .type = FieldType::kString,
                  .doc = "http:// or https:// URL whose path ends in /chat/completions or "
                         "/completions (it selects the API). `run` takes it from --endpoint when "
                         "absent.",
                  .example = "http://127.0.0.1:8000/v1/chat/completions"});
  rows.push_back({.path = "target.model",
                  .type = FieldType::kString,
                  .doc =
                      "The `model` field of each request. When neither it nor --model is "
                      "given, `run` and `submit` take the one model the server's /v1/models lists.",
                  .example = "meta-llama/Llama-3.1-8B-Instruct",
                  .slot = Slot(&B::target, &TargetConfig::model)});
  rows.push_back({.path = "target.protocol",
                  .type = FieldType::kEnum,
                  .doc = "auto: HTTP/1.1 for http://, ALPN (h2, else HTTP/1.1) for https://. h2c "
                         "is HTTP/2 without TLS (prior knowledge), h2 needs https://.",
                  .default_text = "auto",
                  .example = "h2c",
                  .values = {"auto", "http1", "h2c", "h2"}});
  rows.push_back({.path = "target.headers",
                  .type = FieldType::kHeaderMap,
                  .doc = "Headers sent with every request. Values may hold ${env:NAME} "
                         "references, expanded when sent; secret values never reach logs or "
                         "results.",
                  .example = "{Authorization: \"Bearer ${env:API_KEY}\"}"});
  rows.push_back({.path = "target.timeout",
                  .type = FieldType::kDuration,
                  .doc = "Per request, from its send to its last byte; a request past it fails "
                         "as `timeout`.",
                  .default_text = "10m",
                  .example = "60s",
                  .positive_duration = true,
                  .slot = Slot(&B::target, &TargetConfig::timeout)});
  rows.push_back({.path = "target.tls",
                  .type = FieldType::kSection,
                  .doc = "Certificate checks for https:// endpoints.",
                  .example = "{insecureSkipVerify: false, caFile: /etc/ssl/ca.pem}"});
  rows.push_back({.path = "target.tls.insecureSkipVerify",
                  .type = FieldType::kBool,
                  .doc = "Accept any certificate (testing only).",
                  .default_text = "false",
                  .example = "true",
                  .slot = Slot(&B::target, &TargetConfig::tls, &TlsConfig::insecure_skip_verify)});
  rows.push_back({.path = "target.tls.caFile",
                  .type = FieldType::kString,
                  .doc = "PEM bundle of trusted CAs instead of the system store.",
                  .example = "/etc/ssl/private-ca.pem",
                  .slot = Slot(&B::target, &TargetConfig::tls, &TlsConfig::ca_file)});
  rows.push_back({.path = "target.extraBody",
                  .type = FieldType::kJsonObject,
                  .doc = "JSON fields merged into every request body (sampling parameters, "
                         "vendor extensions).",
                  .default_text = "{}",
                  .example = "{temperature: 0, ignore_eos: true}"});
  rows.push_back(
      {.path = "target.maxStreamsPerConnection",
       .type = FieldType::kInteger,
       .doc = "HTTP/2: the most streams one connection carries (the server's SETTINGS may lower "
              "it); a new connection opens when the open ones are full.",
       .default_text = std::to_string(defaults.target.max_streams_per_connection),
       .example = "32",
       .bounds = FieldBounds::AtLeast(1).AtMost(1'000'000).Hint("HTTP/2 streams per connection"),
       .slot = Slot(&B::target, &TargetConfig::max_streams_per_connection)});
  rows.push_back(
      {.path = "target.connections",
       .type = FieldType::kInteger,
       .doc = "The pool opens at least this many connections (split among workers and their "
              "threads) and spreads streams over them.",
       .default_text = "0",
       .example = "16",
       .bounds = FieldBounds::NonNegative().AtMost(100'000).Hint("0 = as many as the load needs"),
       .slot = Slot(&B::target, &TargetConfig::connections)});
  rows.push_back({.path = "target.maxResponseBytes",
                  .type = FieldType::kByteSize,
                  .doc = "A non-streaming body or one server-sent event larger than this fails "
                         "as `response_too_large`; a body whose Content-Length says so fails "
                         "before it is read. A body is decoded as it arrives, not held; one "
                         "event is held whole to be decoded.",
                  .default_text = "16MiB",
                  .example = "64MiB",
                  .bounds = FieldBounds::Between(1024, 1073741824).Hint("1KiB to 1GiB"),
                  .slot = Slot(&B::target, &TargetConfig::max_response_bytes)});
  rows.push_back({.path = "target.maxResponseTokens",
                  .type = FieldType::kInteger,
                  .doc = "A response with more output chunks fails as `response_too_large`.",
                  .default_text = "0",
                  .example = "100000",
                  .bounds = FieldBounds::NonNegative().AtMost(1e12).Hint("0 = no limit"),
                  .slot = Slot(&B::target, &TargetConfig::max_response_tokens)});

  // ---- load ----
  rows.push_back({.path = "load",
                  .type = FieldType::kSection,
                  .doc = "When requests are sent: an open-loop schedule, a closed loop, a trace, "
                         "or a series of runs (sweep, capacity).",
                  .default_text = "a closed loop of 10",
                  .example = "{type: poisson, rate: 10}"});
  rows.push_back(
      {.path = "load.type",
       .type = FieldType::kEnum,
       .doc = "constant, poisson, gamma: open loop at load.rate. ramp, burst, stages, trace: "
              "open loop of that shape. concurrency: a closed loop of load.concurrency users. "
              "sweep, capacity: a series of runs. shareGPT: shorthand for prompts.type shareGPT "
              "(see load.dataset). When absent it is inferred from the keys given.",
       .default_text = "inferred from the keys given",
       .example = "poisson",
       .values = {"constant", "poisson", "gamma", "ramp", "burst", "concurrency", "stages", "trace",
                  "sweep", "capacity", "shareGPT"}});
  rows.push_back(
      {.path = "load.rate",
       .type = FieldType::kNumber,
       .doc = "Requests per second (with load.type shareGPT: an open loop at this rate).",
       .example = "20",
       .bounds = FieldBounds::Positive().AtMost(1e7),
       .required_hint = "requests per second",
       .load_types = "constant poisson gamma",
       .required_by_load_types = true,
       .slot = Slot(&B::load, &LoadConfig::rate)});
  rows.push_back({.path = "load.concurrency",
                  .type = FieldType::kInteger,
                  .doc = "Closed loop: the requests kept in flight (users). Open loop: a cap on "
                         "requests in flight; arrivals past it wait. A sweep: the throughput "
                         "run's users unless load.sweep.throughputConcurrency is set.",
                  .default_text = "10 for concurrency, else no cap",
                  .example = "64",
                  .bounds = FieldBounds::AtLeast(1).AtMost(1000000),
                  .slot = Slot(&B::load, &LoadConfig::concurrency)});
  rows.push_back({.path = "load.burstiness",
                  .type = FieldType::kNumber,
                  .doc = "Shape k of the gamma gaps: below 1 burstier than Poisson, above 1 "
                         "more regular.",
                  .default_text = "1",
                  .example = "0.5",
                  .bounds = FieldBounds::Positive().AtMost(1000).Hint("gamma shape k; 1 = Poisson"),
                  .load_types = "gamma",
                  .slot = Slot(&B::load, &LoadConfig::burstiness)});
  rows.push_back({.path = "load.ramp",
                  .type = FieldType::kSection,
                  .doc = "A rate changing linearly over the window.",
                  .example = "{from: 1, to: 100}",
                  .required_hint = "e.g. ramp: {from: 1, to: 100}",
                  .load_types = "ramp",
                  .required_by_load_types = true});
  for (const auto& [key, doc, member] :
       {std::tuple{"from", "Requests per second at the start of the window.", &RampConfig::from},
        std::tuple{"to", "Requests per second at its end.", &RampConfig::to}}) {
    rows.push_back({.path = std::string("load.ramp.") + key,
                    .type = FieldType::kNumber,
                    .doc = doc,
                    .example = std::string(key) == "from" ? "1" : "100",
                    .bounds = FieldBounds::NonNegative().AtMost(1e7),
                    .required = true,
                    .required_hint = "requests per second",
                    .slot = Slot(&B::load, &LoadConfig::ramp, member)});
  }
  rows.push_back({.path = "load.burst",
                  .type = FieldType::kSection,
                  .doc = "Requests released together at a fixed period.",
                  .example = "{size: 50, every: 10}",
                  .required_hint = "e.g. burst: {size: 50, every: 10}",
                  .load_types = "burst",
                  .required_by_load_types = true});
  rows.push_back({.path = "load.burst.size",
                  .type = FieldType::kInteger,
                  .doc = "Requests per burst.",
                  .example = "50",
                  .bounds = FieldBounds::AtLeast(1).AtMost(1e9),
                  .required = true,
                  .required_hint = "requests per burst",
                  .slot = Slot(&B::load, &LoadConfig::burst, &BurstConfig::size)});
  rows.push_back({.path = "load.burst.every",
                  .type = FieldType::kDuration,
                  .doc = "Time between bursts.",
                  .example = "10s",
                  .required = true,
                  .required_hint = "time between bursts, e.g. 10s",
                  .positive_duration = true,
                  .slot = Slot(&B::load, &LoadConfig::burst, &BurstConfig::every)});
  rows.push_back({.path = "load.stages",
                  .type = FieldType::kSectionList,
                  .doc = "Constant-rate stages run one after another; benchmark.duration is "
                         "their sum.",
                  .example = "[{rate: 10, duration: 60}, {rate: 20, duration: 60}]",
                  .required_hint = "e.g. stages: [{rate: 10, duration: 60}]",
                  .load_types = "stages",
                  .required_by_load_types = true});
  rows.push_back({.path = "load.stages[].rate",
                  .type = FieldType::kNumber,
                  .doc = "Requests per second during the stage.",
                  .example = "10",
                  .bounds = FieldBounds::Positive().AtMost(1e7),
                  .required = true,
                  .required_hint = "requests per second"});
  rows.push_back({.path = "load.stages[].duration",
                  .type = FieldType::kDuration,
                  .doc = "How long the stage lasts.",
                  .example = "60s",
                  .required = true,
                  .required_hint = "e.g. 60 or \"1m\"",
                  .positive_duration = true});
  rows.push_back({.path = "load.trace",
                  .type = FieldType::kString,
                  .doc = "A JSONL file of timestamped requests (timestamp, input and output "
                         "lengths) replayed as recorded.",
                  .example = "traces/azure-conv.jsonl",
                  .required_hint = "a JSONL file of timestamped requests",
                  .load_types = "trace",
                  .required_by_load_types = true});
  rows.push_back({.path = "load.arrival",
                  .type = FieldType::kEnum,
                  .doc = "The arrivals of a series' rate probes.",
                  .default_text = "poisson",
                  .example = "constant",
                  .values = {"constant", "poisson"},
                  .load_types = "sweep capacity"});
  rows.push_back({.path = "load.sweep",
                  .type = FieldType::kSection,
                  .doc = "A synchronous run (one user), a throughput run, then rates spread "
                         "evenly between the two measured rates.",
                  .example = "{points: 10, throughputConcurrency: 256}",
                  .load_types = "sweep"});
  rows.push_back(
      {.path = "load.sweep.points",
       .type = FieldType::kInteger,
       .doc = "Runs in all: synchronous, throughput and points - 2 rates.",
       .default_text = "10",
       .example = "6",
       .bounds = FieldBounds::AtLeast(3).AtMost(100).Hint(
           "runs in all: synchronous, throughput and the rates between"),
       .slot = Slot(&B::load, &LoadConfig::series, &SeriesConfig::sweep, &SweepConfig::points)});
  rows.push_back({.path = "load.sweep.throughputConcurrency",
                  .type = FieldType::kInteger,
                  .doc = "Requests in flight during the throughput run.",
                  .default_text = "load.concurrency, else 256",
                  .example = "512",
                  .bounds = FieldBounds::AtLeast(1).AtMost(1000000),
                  .slot = Slot(&B::load, &LoadConfig::series, &SeriesConfig::sweep,
                               &SweepConfig::throughput_concurrency)});
  rows.push_back({.path = "load.capacity",
                  .type = FieldType::kSection,
                  .doc = "The highest rate at which every SLO holds: probes double from start "
                         "until one fails, then bisect until the bracket is within resolution.",
                  .example = "{start: 1, max: 500, resolution: 5%}",
                  .load_types = "capacity"});
  const CapacityConfig capacity;
  rows.push_back({.path = "load.capacity.start",
                  .type = FieldType::kNumber,
                  .doc = "Requests per second of the first probe.",
                  .default_text = "1",
                  .example = "2",
                  .bounds = FieldBounds::Positive().AtMost(1e7),
                  .slot = Slot(&B::load, &LoadConfig::series, &SeriesConfig::capacity,
                               &CapacityConfig::start)});
  rows.push_back(
      {.path = "load.capacity.max",
       .type = FieldType::kNumber,
       .doc = "The highest rate probed.",
       .default_text = "0",
       .example = "500",
       .bounds = FieldBounds::NonNegative().AtMost(1e7).Hint("0 = no bound"),
       .slot = Slot(&B::load, &LoadConfig::series, &SeriesConfig::capacity, &CapacityConfig::max)});
  rows.push_back(
      {.path = "load.capacity.resolution",
       .type = FieldType::kRateOrPercent,
       .doc = "The search stops when the failing rate is within this of the passing "
              "one: a percentage of the passing rate, or requests per second.",
       .default_text = "5%",
       .example = "2%",
       .bounds = FieldBounds::Positive().AtMost(1e7).Hint("requests/s, or a percentage like 5%")});
  rows.push_back({.path = "load.capacity.minRequests",
                  .type = FieldType::kInteger,
                  .doc = "Each probe's window lasts long enough to send this many requests, so "
                         "its high percentiles rest on enough samples.",
                  .default_text = std::to_string(capacity.min_requests),
                  .example = "300",
                  .bounds = FieldBounds::AtLeast(1).AtMost(10'000'000),
                  .slot = Slot(&B::load, &LoadConfig::series, &SeriesConfig::capacity,
                               &CapacityConfig::min_requests)});
  rows.push_back({.path = "load.capacity.maxProbes",
                  .type = FieldType::kInteger,
                  .doc = "The search ends after this many probes.",
                  .default_text = std::to_string(capacity.max_probes),
                  .example = "16",
                  .bounds = FieldBounds::AtLeast(2).AtMost(100),
                  .slot = Slot(&B::load, &LoadConfig::series, &SeriesConfig::capacity,
                               &CapacityConfig::max_probes)});
  for (const auto& [key, doc] :
       {std::pair{"dataset", "With load.type shareGPT: the ShareGPT JSON file (prompts.dataset)."},
        std::pair{"prefixRatio", "With load.type shareGPT: prompts.prefixRatio."},
        std::pair{"prefixGroups", "With load.type shareGPT: prompts.prefixGroups."}}) {
    rows.push_back({.path = std::string("load.") + key,
                    .type = std::string(key) == "dataset"       ? FieldType::kString
                            : std::string(key) == "prefixRatio" ? FieldType::kNumber
                                                                : FieldType::kInteger,
                    .doc = doc,
                    .example = std::string(key) == "dataset"       ? "ShareGPT_V3_unfiltered.json"
                               : std::string(key) == "prefixRatio" ? "0.5"
                                                                   : "4",
                    .bounds = std::string(key) == "prefixRatio" ? FieldBounds::Between(0, 1)
                              : std::string(key) == "prefixGroups"
                                  ? FieldBounds::AtLeast(1).AtMost(1000000)
                                  : FieldBounds::None(),
                    .load_types = "shareGPT"});
  }

  // ---- prompts ----
  rows.push_back({.path = "prompts",
                  .type = FieldType::kSection,
                  .doc = "What each request asks: synthetic prompts, a dataset, or conversations.",
                  .example = "{type: synthetic}"});
  rows.push_back(
      {.path = "prompts.type",
       .type = FieldType::kEnum,
       .doc = "synthetic: generated text of inputLength tokens. file: a JSONL file of "
              "{\"prompt\"} or {\"messages\"}. shareGPT: a ShareGPT JSON file (first human turn "
              "and the length of its answer). conversation: multi-turn chats, each turn sending "
              "the history.",
       .default_text = "synthetic",
       .example = "shareGPT",
       .values = {"synthetic", "file", "shareGPT", "conversation"}});
  rows.push_back({.path = "prompts.inputLength",
                  .type = FieldType::kSection,
                  .doc = "Prompt tokens of synthetic prompts.",
                  .example = "{mean: 500, stddev: 100, min: 1, max: 8192}"});
  AddLengths(rows, "prompts.inputLength", "prompt tokens", kMaxTokens,
             defaults.prompts.input_length, [](B& c) { return &c.prompts.input_length; });
  rows.push_back({.path = "prompts.outputLength",
                  .type = FieldType::kSection,
                  .doc = "Output tokens asked for (max_tokens) when the prompts do not say.",
                  .example = "{mean: 200, stddev: 50, min: 1, max: 4096}"});
  AddLengths(rows, "prompts.outputLength", "output tokens", kMaxTokens,
             defaults.prompts.output_length, [](B& c) { return &c.prompts.output_length; });
  rows.push_back({.path = "prompts.dataset",
                  .type = FieldType::kString,
                  .doc = "The file of prompts.type file or shareGPT; for conversation, an "
                         "optional ShareGPT file of multi-turn records.",
                  .example = "ShareGPT_V3_unfiltered_cleaned_split.json"});
  rows.push_back({.path = "prompts.prefixRatio",
                  .type = FieldType::kNumber,
                  .doc = "The share of each prompt that is a prefix shared with other prompts "
                         "(a prefix cache's best case at 1).",
                  .default_text = "0",
                  .example = "0.5",
                  .bounds = FieldBounds::Between(0, 1).Hint(
                      "the share of each prompt that is a shared prefix")});
  rows.push_back({.path = "prompts.prefixGroups",
                  .type = FieldType::kInteger,
                  .doc = "How many distinct shared prefixes the prompts are spread over.",
                  .default_text = "1",
                  .example = "8",
                  .bounds = FieldBounds::AtLeast(1).AtMost(1000000).Hint(
                      "how many distinct shared prefixes")});
  rows.push_back({.path = "prompts.conversation",
                  .type = FieldType::kSection,
                  .doc = "With prompts.type conversation: turns per conversation, think time, "
                         "and a session header.",
                  .default_text = "3 turns, no think time, no session header",
                  .example = "{turns: {mean: 4, max: 8}, thinkTime: 2s, sessionHeader: "
                             "x-session-id}"});
  rows.push_back(
      {.path = "prompts.conversation.turns",
       .type = FieldType::kCountOrLengths,
       .doc = "Turns of a synthetic conversation: a fixed count, or a distribution. "
              "For a dataset's conversations only max applies (a cap).",
       .default_text = "{mean: 3, stddev: 0, min: 1, max: 10}",
       .example = "{mean: 4, max: 8}",
       .bounds =
           FieldBounds::AtLeast(1).AtMost(kMaxConversationTurns).Hint("turns per conversation")});
  AddLengths(rows, "prompts.conversation.turns", "turns per conversation", kMaxConversationTurns,
             defaults.prompts.conversation.turns,
             [](B& c) { return &c.prompts.conversation.turns; });
  rows.push_back(
      {.path = "prompts.conversation.thinkTime",
       .type = FieldType::kDuration,
       .doc = "From a reply to the next turn's request.",
       .default_text = "0s",
       .example = "2s",
       .slot = Slot(&B::prompts, &PromptsConfig::conversation, &ConversationConfig::think_time)});
  rows.push_back({.path = "prompts.conversation.sessionHeader",
                  .type = FieldType::kString,
                  .doc = "A header carrying one id per conversation on each of its turns, for "
                         "session-affine routing.",
                  .example = "x-session-id"});
  rows.push_back({.path = "prompts.tokenizer",
                  .type = FieldType::kString,
                  .doc = "The model's tokenizer.json (byte-level BPE) or SentencePiece .model: "
                         "synthetic prompts of exact token lengths, and output counted when the "
                         "server sends no usage.",
                  .example = "/models/llama-3.1-8b/tokenizer.json"});

  // ---- metrics ----
  rows.push_back({.path = "metrics",
                  .type = FieldType::kSection,
                  .doc = "What the results hold.",
                  .example = "{percentiles: [50, 90, 99]}"});
  std::vector<std::string_view> metric_names;
  for (const std::string& name : KnownMetricNames()) metric_names.push_back(name);
  rows.push_back({.path = "metrics.collect",
                  .type = FieldType::kEnumList,
                  .doc = "The metrics in the summary.",
                  .default_text = "[ttft, itl, tpot, e2e_latency, throughput, "
                                  "tokens_per_second, errors, queue_depth, cache_hit_ratio]",
                  .example = "[ttft, itl, throughput]",
                  .values = metric_names});
  rows.push_back({.path = "metrics.percentiles",
                  .type = FieldType::kNumberList,
                  .doc = "Percentiles reported for each latency.",
                  .default_text = "[50, 90, 95, 99, 99.9]",
                  .example = "[50, 90, 99, 99.9]",
                  .bounds = FieldBounds::OpenInterval(0, 100)});
  rows.push_back({.path = "metrics.interval",
                  .type = FieldType::kDuration,
                  .doc = "Bucket of the time series (metrics.json, plots).",
                  .default_text = "1s",
                  .example = "5s",
                  .positive_duration = true,
                  .slot = Slot(&B::metrics, &MetricsConfig::interval)});
  rows.push_back({.path = "metrics.raw",
                  .type = FieldType::kBool,
                  .doc = "Also write requests.jsonl, one line per request.",
                  .default_text = "false",
                  .example = "true",
                  .slot = Slot(&B::metrics, &MetricsConfig::raw)});
  rows.push_back({.path = "metrics.rawTokenTimes",
                  .type = FieldType::kBool,
                  .doc = "requests.jsonl also lists every chunk's gap (needs metrics.raw).",
                  .default_text = "false",
                  .example = "true"});
  rows.push_back({.path = "metrics.prometheus",
                  .type = FieldType::kSection,
                  .doc = "Server-side series queried from Prometheus over the run's window.",
                  .example = "{endpoint: http://prometheus:9090}"});
  rows.push_back({.path = "metrics.prometheus.endpoint",
                  .type = FieldType::kString,
                  .doc = "The Prometheus server's base URL.",
                  .example = "http://prometheus:9090"});
  rows.push_back({.path = "metrics.prometheus.step",
                  .type = FieldType::kDuration,
                  .doc = "Query resolution.",
                  .default_text = "5s",
                  .example = "10s",
                  .positive_duration = true,
                  .slot = Slot(&B::metrics, &MetricsConfig::prometheus, &PrometheusConfig::step)});
  rows.push_back({.path = "metrics.prometheus.queries",
                  .type = FieldType::kSectionList,
                  .doc = "PromQL range queries, each stored under its name.",
                  .example = "[{name: gpu_utilization, query: \"DCGM_FI_DEV_GPU_UTIL\"}]"});
  rows.push_back({.path = "metrics.prometheus.queries[].name",
                  .type = FieldType::kString,
                  .doc = "A label for the series, [A-Za-z_][A-Za-z0-9_]*, unique.",
                  .example = "gpu_utilization",
                  .required = true,
                  .required_hint = "a label for the series, e.g. gpu_utilization"});
  rows.push_back({.path = "metrics.prometheus.queries[].query",
                  .type = FieldType::kString,
                  .doc = "PromQL.",
                  .example = "DCGM_FI_DEV_GPU_UTIL",
                  .required = true,
                  .required_hint = "PromQL"});

  // ---- slo ----
  rows.push_back({.path = "slo",
                  .type = FieldType::kSection,
                  .doc = "Limits a run must meet (exit 3 when one is missed); goodput counts the "
                         "requests within them.",
                  .example = "{ttft: {p99: 500ms}}"});
  for (const std::string& metric : SloMetricNames()) {
    rows.push_back({.path = "slo." + metric,
                    .type = FieldType::kPercentileMap,
                    .doc = "Percentiles of " + metric + " to their limits.",
                    .example = "{p50: 200ms, p99: 500ms}"});
  }
  rows.push_back({.path = "slo.errorRate",
                  .type = FieldType::kSection,
                  .doc = "A bound on the share of failed requests.",
                  .default_text = "none (0.01 with load.type capacity)",
                  .example = "{max: 0.01}"});
  rows.push_back({.path = "slo.errorRate.max",
                  .type = FieldType::kNumber,
                  .doc = "The largest share of failed requests, a fraction.",
                  .example = "0.01",
                  .bounds = FieldBounds::Between(0, 1).Hint("a fraction: 0.01 = 1%"),
                  .required = true,
                  .required_hint = "a fraction, e.g. 0.01 for 1%"});
  rows.push_back({.path = "slo.abortOnFail",
                  .type = FieldType::kBool,
                  .doc = "End the run as soon as the live figures miss an SLO (exit 4).",
                  .default_text = "false",
                  .example = "true"});

  // ---- cluster, output ----
  rows.push_back({.path = "cluster",
                  .type = FieldType::kSection,
                  .doc = "The workers a run is split over: in-process workers for `run`, the "
                         "daemon's bench-worker processes for `submit`.",
                  .example = "{workers: 2}"});
  rows.push_back({.path = "cluster.workers",
                  .type = FieldType::kInteger,
                  .doc = "`run`: how many in-process workers share the engine threads (0 = 1, at "
                         "most 64). `submit`: the run waits for at least this many workers.",
                  .default_text = "0",
                  .example = "4",
                  .bounds = FieldBounds::NonNegative().AtMost(100000).Hint("0 = all connected"),
                  .slot = Slot(&B::cluster, &ClusterConfig::workers)});
  rows.push_back({.path = "cluster.onWorkerLoss",
                  .type = FieldType::kEnum,
                  .doc = "rebalance: the other workers take over a lost worker's share. fail: "
                         "the run fails.",
                  .default_text = "fail",
                  .example = "rebalance",
                  .values = {"rebalance", "fail"}});
  rows.push_back({.path = "output",
                  .type = FieldType::kSection,
                  .doc = "Where the results go and in which forms.",
                  .example = "{dir: results}"});
  rows.push_back({.path = "output.dir",
                  .type = FieldType::kString,
                  .doc = "The parent of each run's results directory.",
                  .default_text = "results",
                  .example = "/data/bench"});
  rows.push_back({.path = "output.formats",
                  .type = FieldType::kEnumList,
                  .doc = "json: summary.json and metrics.json (always written). html: "
                         "report.html. png: plots. pdf: report.pdf. llmd: llm-d's "
                         "benchmark_report.yaml. csv, md: the summary table.",
                  .default_text = "[json, html, png]",
                  .example = "[json, html, png, llmd]",
                  .values = {"json", "html", "png", "pdf", "llmd", "csv", "md"}});
  return rows;
}

// "load.stages[2].rate" -> "load.stages[].rate".
std::string WithoutIndices(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    out += path[i];
    if (path[i] != '[') continue;
    while (i + 1 < path.size() && path[i + 1] != ']') ++i;
  }
  return out;
}

// "constant poisson gamma" -> its words.
std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    words.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return words;
}

}  // namespace

const std::vector<ConfigField>& ConfigFields() {
  static const auto* const kRows = new std::vector<ConfigField>(BuildRows());
  return *kRows;
}

const ConfigField* FindConfigField(std::string_view path) {
  const std::string key = WithoutIndices(path);
  for (const ConfigField& field : ConfigFields()) {
    if (field.path == key) return &field;
  }
  return nullptr;
}

std::vector<std::string_view> ConfigFieldKeys(std::string_view parent) {
  const std::string prefix = parent.empty() ? "" : WithoutIndices(parent) + ".";
  std::vector<std::string_view> keys;
  for (const ConfigField& field : ConfigFields()) {
    std::string_view path = field.path;
    if (!path.starts_with(prefix)) continue;
    path.remove_prefix(prefix.size());
    if (path.empty() || path.find_first_of(".[") != std::string_view::npos) continue;
    keys.push_back(path);
  }
  return keys;
}

bool LoadTypeReads(const ConfigField& field, std::string_view type_name) {
  if (field.load_types.empty()) return true;
  const std::vector<std::string_view> names = Words(field.load_types);
  return std::find(names.begin(), names.end(), type_name) != names.end();
}

std::string LoadTypesText(const ConfigField& field) {
  const std::vector<std::string_view> names = Words(field.load_types);
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " or " : ", ";
    text += names[i];
  }
  return text;
}

}  // namespace bench
