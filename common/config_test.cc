#include "common/config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/config_yaml.h"
#include "common/plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Raw strings below start with a newline for readability; drop it so line 1 is the first line.
std::string Doc(std::string_view text) {
  if (!text.empty() && text.front() == '\n') text.remove_prefix(1);
  return std::string(text);
}

absl::StatusOr<ParsedConfig> Parse(std::string_view yaml,
                                   const std::vector<std::string>& sets = {}) {
  return ParseConfigWithSets(Doc(yaml), "cfg.yaml", sets);
}

BenchmarkConfig ParseOk(std::string_view yaml, const std::vector<std::string>& sets = {}) {
  absl::StatusOr<ParsedConfig> parsed = Parse(yaml, sets);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? parsed->config : BenchmarkConfig{};
}

// The error lines of a config that must fail with InvalidArgument.
std::vector<std::string> Errors(std::string_view yaml, const std::vector<std::string>& sets = {}) {
  absl::StatusOr<ParsedConfig> parsed = Parse(yaml, sets);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  if (parsed.ok()) return {};
  return absl::StrSplit(std::string(parsed.status().message()), '\n');
}

// A valid base to vary one field at a time: `{LOAD}` is replaced by the load section body.
std::string WithLoad(std::string_view load_body) {
  std::string doc =
      "benchmark:\n"
      "  name: t\n"
      "  duration: 60\n"
      "target:\n"
      "  endpoint: http://127.0.0.1:8000/v1/chat/completions\n"
      "  model: m\n"
      "load:\n";
  doc += load_body;
  return doc;
}

constexpr std::string_view kSeedBenchmarkConfig = R"(
# benchmark-config.yaml
benchmark:
  name: "throughput-test"
  duration: 300  # seconds
  warmup: 30
target:
  endpoint: "http://gateway/v1/chat/completions"
  model: "llama-70b"
load:
  type: "constant"  # constant, ramp, burst
  concurrency: 100
  rate: 50  # requests/second
prompts:
  type: "synthetic"  # synthetic, file, shareGPT
  inputLength:
    mean: 500
    stddev: 100
  outputLength:
    mean: 200
    stddev: 50
metrics:
  collect:
    - ttft
    - itl
    - throughput
    - errors
  prometheus:
    endpoint: "http://prometheus:9090"
)";

constexpr std::string_view kSeedMyBenchmark = R"(
# my-benchmark.yaml
benchmark:
  name: "cache-effectiveness"
  duration: 600
load:
  type: "shareGPT"
  dataset: "ShareGPT_V3_unfiltered.json"
  prefixRatio: 0.5
metrics:
  collect:
    - cache_hit_ratio
    - ttft
    - throughput
)";

// ---- the seed's examples (SPEC 2.1) --------------------------------------------------------

TEST(SeedExamplesTest, BenchmarkConfigParsesUnchanged) {
  const BenchmarkConfig c = ParseOk(kSeedBenchmarkConfig);
  EXPECT_EQ(c.benchmark.name, "throughput-test");
  EXPECT_EQ(c.benchmark.duration, absl::Seconds(300));
  EXPECT_EQ(c.benchmark.warmup, absl::Seconds(30));
  EXPECT_EQ(c.target.endpoint, "http://gateway/v1/chat/completions");
  EXPECT_EQ(c.target.model, "llama-70b");
  EXPECT_EQ(c.load.type, LoadType::kConstant);
  EXPECT_EQ(c.load.rate, 50);
  EXPECT_EQ(c.load.concurrency, 100);
  EXPECT_EQ(c.prompts.type, PromptsType::kSynthetic);
  EXPECT_EQ(c.prompts.input_length.mean, 500);
  EXPECT_EQ(c.prompts.input_length.stddev, 100);
  EXPECT_EQ(c.prompts.output_length.mean, 200);
  EXPECT_EQ(c.prompts.output_length.stddev, 50);
  EXPECT_THAT(c.metrics.collect, ElementsAre("ttft", "itl", "throughput", "errors"));
  EXPECT_EQ(c.metrics.prometheus.endpoint, "http://prometheus:9090");
}

TEST(SeedExamplesTest, MyBenchmarkShorthandMovesFieldsToPrompts) {
  absl::StatusOr<ParsedConfig> parsed = Parse(kSeedMyBenchmark);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const BenchmarkConfig& c = parsed->config;
  EXPECT_EQ(c.benchmark.name, "cache-effectiveness");
  EXPECT_EQ(c.benchmark.duration, absl::Seconds(600));
  EXPECT_EQ(c.prompts.type, PromptsType::kShareGpt);
  EXPECT_EQ(c.prompts.dataset, "ShareGPT_V3_unfiltered.json");
  EXPECT_EQ(c.prompts.prefix_ratio, 0.5);
  EXPECT_EQ(c.load.type, LoadType::kConcurrency);
  EXPECT_EQ(c.load.concurrency, kDefaultClosedLoopConcurrency);
  EXPECT_TRUE(c.target.endpoint.empty());
  EXPECT_THAT(parsed->notes, Contains(HasSubstr("load.type: shareGPT is shorthand")));
  EXPECT_THAT(parsed->notes, Contains(HasSubstr("no target in the config")));
  EXPECT_THAT(parsed->notes, Contains(HasSubstr("load.concurrency = 10")));
  EXPECT_EQ(CheckRunnable(c).code(), absl::StatusCode::kFailedPrecondition);
  // --endpoint/--model style overrides complete it.
  absl::StatusOr<ParsedConfig> completed =
      ParseConfig(Doc(kSeedMyBenchmark), "my.yaml",
                  {LiteralOverride("target.endpoint", "http://h:8000/v1/completions", "--endpoint"),
                   LiteralOverride("target.model", "llama", "--model")});
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_TRUE(CheckRunnable(completed->config).ok());
}

TEST(CheckRunnableTest, ARedactedHeaderFromAResultsConfigIsRefused) {
  BenchmarkConfig c;
  c.target.endpoint = "http://h:8000/v1/completions";
  c.target.model = "m";
  c.target.headers = {{"Authorization", std::string(kRedacted)}, {"X-Trace", "abc"}};
  const absl::Status status = CheckRunnable(c);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("target.headers.Authorization is <redacted>"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("supply the secret"));
  // What RedactSecrets writes to results/config.yaml is refused; the original is not.
  c.target.headers = {{"Authorization", "Bearer ${env:API_KEY}"}};
  EXPECT_TRUE(CheckRunnable(c).ok());
  c.target.headers = {{"Authorization", "Bearer sk-123"}};
  EXPECT_TRUE(CheckRunnable(c).ok());
  EXPECT_FALSE(CheckRunnable(RedactSecrets(c)).ok());
}

TEST(SeedExamplesTest, ShorthandWithRateIsOpenLoop) {
  const BenchmarkConfig c = ParseOk(R"(
benchmark: {name: x}
load: {type: shareGPT, dataset: d.json, rate: 4, prefixGroups: 3}
)");
  EXPECT_EQ(c.load.type, LoadType::kConstant);
  EXPECT_EQ(c.load.rate, 4);
  EXPECT_EQ(c.prompts.prefix_groups, 3);
  EXPECT_EQ(c.prompts.dataset, "d.json");
}

TEST(SeedExamplesTest, ShorthandConflictsAreReported) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
load: {type: shareGPT, dataset: a.json}
prompts: {dataset: b.json}
)"),
              ElementsAre("cfg.yaml:3: prompts.dataset and load.dataset (the shareGPT shorthand) "
                          "are both set; keep one"));
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
load: {type: shareGPT}
)"),
              ElementsAre("cfg.yaml:2: load.dataset is required with load.type: shareGPT (the "
                          "ShareGPT JSON file)"));
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
load:
  type: constant
  rate: 1
  dataset: a.json
)"),
              ElementsAre("cfg.yaml:5: load.dataset is only read with load.type: shareGPT (the "
                          "seed's shorthand); did you mean prompts.dataset?"));
}

// ---- defaults --------------------------------------------------------------------------------

TEST(DefaultsTest, MinimalConfigGetsDocumentedDefaults) {
  absl::StatusOr<ParsedConfig> parsed = Parse("benchmark: {name: minimal}\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const BenchmarkConfig& c = parsed->config;
  EXPECT_EQ(c.benchmark.duration, absl::Seconds(60));
  EXPECT_EQ(c.benchmark.warmup, absl::ZeroDuration());
  EXPECT_EQ(c.benchmark.seed, 1u);
  EXPECT_EQ(c.benchmark.max_requests, 0);
  EXPECT_EQ(c.target.protocol, Protocol::kAuto);
  EXPECT_EQ(c.target.timeout, absl::Seconds(600));
  EXPECT_EQ(c.target.extra_body, "{}");
  EXPECT_EQ(c.load.type, LoadType::kConcurrency);
  EXPECT_EQ(c.load.concurrency, 10);
  EXPECT_EQ(c.prompts.type, PromptsType::kSynthetic);
  EXPECT_EQ(c.prompts.input_length, (LengthDistribution{500, 100, 1, 8192}));
  EXPECT_EQ(c.prompts.output_length, (LengthDistribution{200, 50, 1, 4096}));
  EXPECT_THAT(c.metrics.percentiles, ElementsAre(50, 90, 95, 99, 99.9));
  EXPECT_EQ(c.metrics.interval, absl::Seconds(1));
  EXPECT_FALSE(c.metrics.raw);
  EXPECT_EQ(c.output.dir, "results");
  EXPECT_THAT(c.output.formats,
              ElementsAre(OutputFormat::kJson, OutputFormat::kHtml, OutputFormat::kPng));
  EXPECT_EQ(c.cluster.on_worker_loss, WorkerLossPolicy::kFail);
  EXPECT_EQ(c.cluster.workers, 0);
  EXPECT_TRUE(c.slo.thresholds.empty());
  EXPECT_FALSE(c.slo.max_error_rate.has_value());
  EXPECT_THAT(parsed->notes, Contains(HasSubstr("no load in the config: a closed loop with 10")));
  EXPECT_THAT(parsed->notes, Contains(HasSubstr("benchmark.duration = 1m")));
  EXPECT_THAT(parsed->notes, Contains(HasSubstr("benchmark.seed = 1")));
}

TEST(DefaultsTest, LoadTypeIsInferredFromTheFieldsGiven) {
  absl::StatusOr<ParsedConfig> parsed = Parse(WithLoad("  rate: 5\n"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.load.type, LoadType::kConstant);
  EXPECT_THAT(parsed->notes, Contains("load.type not set: using constant from the fields given"));
  EXPECT_EQ(ParseOk(WithLoad("  ramp: {from: 1, to: 2}\n")).load.type, LoadType::kRamp);
  EXPECT_EQ(ParseOk(WithLoad("  concurrency: 3\n")).load.type, LoadType::kConcurrency);
}

// ---- exact messages with line numbers --------------------------------------------------------

TEST(ErrorsTest, NegativeRateNamesLineKeyAndValue) {
  EXPECT_THAT(Errors(WithLoad("  type: constant\n  rate: -3\n")),
              ElementsAre("cfg.yaml:9: load.rate must be > 0, got -3"));
}

TEST(ErrorsTest, UnknownKeySuggestsTheNearestValidKey) {
  // Sorted by line: the missing rate is reported where the load section starts.
  EXPECT_THAT(Errors(WithLoad("  type: constant\n  rat: 5\n")),
              ElementsAre("cfg.yaml:7: load.rate is required for load.type constant (requests "
                          "per second)",
                          "cfg.yaml:9: unknown key load.rat (did you mean load.rate?)"));
}

TEST(ErrorsTest, DidYouMeanCoversCaseTyposPrefixesAndOtherSections) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x, duraton: 5}
)"),
              ElementsAre("cfg.yaml:1: unknown key benchmark.duraton (did you mean "
                          "benchmark.duration?)"));
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
prompts: {inputlength: {mean: 5}}
)"),
              ElementsAre("cfg.yaml:2: unknown key prompts.inputlength (did you mean "
                          "prompts.inputLength?)"));
  EXPECT_THAT(Errors(R"(
benchmark: {name: x, rate: 5}
)"),
              ElementsAre("cfg.yaml:1: unknown key benchmark.rate (did you mean load.rate?)"));
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
promts: {}
)"),
              ElementsAre("cfg.yaml:2: unknown key promts (did you mean prompts?)"));
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
cluster: {zzz: 1}
)"),
              ElementsAre("cfg.yaml:2: unknown key cluster.zzz (valid keys in cluster: workers, "
                          "onWorkerLoss)"));
}

TEST(ErrorsTest, WrongTypesSayWhatWasExpected) {
  EXPECT_THAT(
      Errors(R"(
benchmark:
  name: x
  duration: fast
  seed: 1.5
target:
  tls: {insecureSkipVerify: yes}
  headers: [a]
load:
  type: constant
  rate: lots
  concurrency: [1]
)"),
      ElementsAre("cfg.yaml:3: benchmark.duration must be a duration (e.g. 300, \"5m\", "
                  "\"250ms\"), got \"fast\"",
                  "cfg.yaml:4: benchmark.seed must be a whole number from 0 to "
                  "18446744073709551615, got 1.5",
                  "cfg.yaml:6: target.tls.insecureSkipVerify must be true or false, got \"yes\"",
                  "cfg.yaml:7: target.headers must be a map of header names to values (e.g. "
                  "{Authorization: \"Bearer ${env:API_KEY}\"}), got a list",
                  "cfg.yaml:10: load.rate must be a number, got \"lots\"",
                  "cfg.yaml:11: load.concurrency must be a whole number, got a list"));
}

TEST(ErrorsTest, DurationFormsAndTheirMessages) {
  const auto duration_error = [](std::string_view value) {
    std::vector<std::string> errors =
        Errors("benchmark:\n  name: x\n  duration: " + std::string(value) + "\n");
    return errors.empty() ? std::string() : errors.front();
  };
  EXPECT_EQ(duration_error("0"), "cfg.yaml:3: benchmark.duration must be > 0, got 0");
  EXPECT_EQ(duration_error("-5"), "cfg.yaml:3: benchmark.duration must be > 0, got -5");
  EXPECT_EQ(duration_error("\"-2m\""), "cfg.yaml:3: benchmark.duration must be > 0, got \"-2m\"");
  EXPECT_EQ(duration_error("5x"),
            "cfg.yaml:3: benchmark.duration must be a duration (e.g. 300, \"5m\", \"250ms\"), "
            "got \"5x\": unknown unit \"x\" (use ns, us, ms, s, m or h)");
  EXPECT_EQ(duration_error("{a: 1}"),
            "cfg.yaml:3: benchmark.duration must be a duration (e.g. 300, \"5m\", \"250ms\"), "
            "got a map");
  EXPECT_EQ(duration_error(".inf"),
            "cfg.yaml:3: benchmark.duration must be a duration (e.g. 300, \"5m\", \"250ms\"), "
            "got .inf");
  for (std::string_view ok : {"300", "0.5", "\"250ms\"", "5m", "1h", "1m30s", "100us", "2s"}) {
    EXPECT_TRUE(Parse("benchmark:\n  name: x\n  duration: " + std::string(ok) + "\n").ok()) << ok;
  }
  EXPECT_EQ(ParseOk("benchmark: {name: x, duration: 1m30s, warmup: 0.5}").benchmark.duration,
            absl::Seconds(90));
}

TEST(ErrorsTest, AllErrorsOfADocumentAreCollectedAndSortedByLine) {
  std::vector<std::string> errors = Errors(R"(
output:
  formats: [jsn]
benchmark:
  name: "my test"
load:
  type: gamma
  rate: 0
  burstiness: 0
)");
  EXPECT_THAT(errors,
              ElementsAre("cfg.yaml:2: output.formats[0]: unknown format \"jsn\" (did you mean "
                          "json?); known: json, html, png, pdf, llmd, csv, md",
                          "cfg.yaml:4: benchmark.name must match [A-Za-z0-9._-]+ (it names the "
                          "results directory), got \"my test\"",
                          "cfg.yaml:7: load.rate must be > 0, got 0",
                          "cfg.yaml:8: load.burstiness must be > 0 (gamma shape k; 1 = Poisson), "
                          "got 0"));
}

TEST(ErrorsTest, NameIsRequired) {
  EXPECT_THAT(Errors("load: {type: concurrency}\n"),
              ElementsAre("cfg.yaml: benchmark.name is required ([A-Za-z0-9._-]+; it names the "
                          "results directory)"));
  EXPECT_THAT(Errors("benchmark:\n  duration: 5\n"),
              ElementsAre("cfg.yaml:1: benchmark.name is required ([A-Za-z0-9._-]+; it names the "
                          "results directory)"));
}

TEST(ErrorsTest, ImpossibleLoadCombinations) {
  EXPECT_THAT(Errors(WithLoad("  type: stages\n")),
              ElementsAre("cfg.yaml:7: load.stages is required for load.type stages (e.g. "
                          "stages: [{rate: 10, duration: 60}])"));
  EXPECT_THAT(Errors(WithLoad("  type: trace\n")),
              ElementsAre("cfg.yaml:7: load.trace is required for load.type trace (a JSONL file of "
                          "timestamped requests)"));
  EXPECT_THAT(Errors(WithLoad("  type: ramp\n")),
              ElementsAre("cfg.yaml:7: load.ramp is required for load.type ramp (e.g. ramp: "
                          "{from: 1, to: 100})"));
  EXPECT_THAT(Errors(WithLoad("  type: gamma\n  rate: 5\n  burstiness: -1\n")),
              ElementsAre("cfg.yaml:10: load.burstiness must be > 0 (gamma shape k; 1 = Poisson), "
                          "got -1"));
  EXPECT_THAT(Errors(WithLoad("  type: poisson\n  rate: 0\n")),
              ElementsAre("cfg.yaml:9: load.rate must be > 0, got 0"));
  EXPECT_THAT(Errors(WithLoad("  type: concurrency\n  concurrency: 0\n")),
              ElementsAre("cfg.yaml:9: load.concurrency must be >= 1, got 0"));
  EXPECT_THAT(Errors(WithLoad("  type: concurrency\n  rate: 5\n")),
              ElementsAre("cfg.yaml:9: load.rate is not used by load.type concurrency; remove it "
                          "(or use load.type constant, poisson or gamma)"));
  EXPECT_THAT(Errors(WithLoad("  type: constant\n  rate: 5\n  burstiness: 2\n")),
              ElementsAre("cfg.yaml:10: load.burstiness is not used by load.type constant; remove "
                          "it (or use load.type gamma)"));
  EXPECT_THAT(Errors(WithLoad("  type: ramp\n  ramp: {from: 0, to: 0}\n")),
              ElementsAre("cfg.yaml:9: load.ramp must have from or to > 0 (requests per second)"));
  EXPECT_THAT(Errors(WithLoad("  type: ramp\n  ramp: {from: 5}\n")),
              ElementsAre("cfg.yaml:9: load.ramp.to is required (requests per second)"));
  EXPECT_THAT(Errors(WithLoad("  type: burst\n  burst: {size: 0, every: 0}\n")),
              ElementsAre("cfg.yaml:9: load.burst.size must be >= 1, got 0",
                          "cfg.yaml:9: load.burst.every must be > 0, got 0"));
  EXPECT_THAT(Errors(WithLoad("  type: stages\n  stages: []\n")),
              ElementsAre("cfg.yaml:9: load.stages must list at least one stage"));
  EXPECT_THAT(Errors(WithLoad("  type: stages\n  stages:\n    - {rate: 5, duration: 10}\n"
                              "    - {rate: 0, duraton: 10}\n")),
              ElementsAre("cfg.yaml:11: unknown key load.stages[1].duraton (did you mean "
                          "load.stages[1].duration?)",
                          "cfg.yaml:11: load.stages[1].rate must be > 0, got 0",
                          "cfg.yaml:11: load.stages[1].duration is required (e.g. 60 or \"1m\")"));
  EXPECT_THAT(
      Errors(WithLoad("  type: constnt\n")),
      ElementsAre(
          "cfg.yaml:8: load.type must be one of constant, poisson, gamma, ramp, "
          "burst, concurrency, stages, trace, sweep, capacity, shareGPT, got \"constnt\" (did you "
          "mean constant?)"));
}

TEST(ErrorsTest, StagesSetTheMeasurementWindow) {
  absl::StatusOr<ParsedConfig> parsed = Parse(R"(
benchmark: {name: x}
load:
  type: stages
  stages: [{rate: 5, duration: 10}, {rate: 10, duration: 20s}]
)");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.benchmark.duration, absl::Seconds(30));
  EXPECT_THAT(parsed->notes, Contains(HasSubstr("the stages last 30s")));
  EXPECT_THAT(Errors(R"(
benchmark: {name: x, duration: 60}
load:
  type: stages
  stages: [{rate: 5, duration: 10}]
)"),
              ElementsAre("cfg.yaml:1: benchmark.duration (1m) differs from the sum of the "
                          "load.stages durations (10s); remove benchmark.duration or make them "
                          "agree"));
}

TEST(ErrorsTest, PromptRules) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
prompts:
  prefixRatio: 1.5
  prefixGroups: 0
  outputLength: {min: 500, max: 100}
  inputLength: {mean: 9000}
)"),
              ElementsAre("cfg.yaml:3: prompts.prefixRatio must be between 0 and 1 (the share of "
                          "each prompt that is a shared prefix), got 1.5",
                          "cfg.yaml:4: prompts.prefixGroups must be >= 1 (how many distinct "
                          "shared prefixes), got 0",
                          "cfg.yaml:5: prompts.outputLength.min (500) must be <= "
                          "prompts.outputLength.max (100)",
                          "cfg.yaml:6: prompts.inputLength.mean (9000) must be between min (1) "
                          "and max (8192); raise prompts.inputLength.max"));
  EXPECT_THAT(Errors("benchmark: {name: x}\nprompts: {type: file}\n"),
              ElementsAre("cfg.yaml:2: prompts.dataset is required for prompts.type file (a JSONL "
                          "file of {\"prompt\"} or {\"messages\"})"));
  EXPECT_THAT(Errors("benchmark: {name: x}\nprompts: {dataset: a.json}\n"),
              ElementsAre("cfg.yaml:2: prompts.dataset is only read with prompts.type file, "
                          "shareGPT or conversation; remove it or set prompts.type"));
  EXPECT_EQ(
      ParseOk("benchmark: {name: x}\nprompts: {type: sharegpt, dataset: s.json}\n").prompts.type,
      PromptsType::kShareGpt);
}

TEST(ErrorsTest, ConversationRules) {
  const BenchmarkConfig config = ParseOk(R"(
benchmark: {name: x}
target: {endpoint: "http://h/v1/chat/completions", headers: {X-Tenant: a}}
load: {type: concurrency, concurrency: 4}
prompts:
  type: conversation
  conversation: {turns: {mean: 4, stddev: 1, min: 2, max: 8}, thinkTime: 1.5s,
                 sessionHeader: X-Session-Id}
)");
  EXPECT_EQ(config.prompts.type, PromptsType::kConversation);
  EXPECT_EQ(config.prompts.conversation.turns, (LengthDistribution{4, 1, 2, 8}));
  EXPECT_EQ(config.prompts.conversation.think_time, absl::Milliseconds(1500));
  EXPECT_EQ(config.prompts.conversation.session_header, "x-session-id");
  EXPECT_EQ(TurnShardCount(config.prompts), 8);
  EXPECT_EQ(ParseOk("benchmark: {name: x}\nload: {type: concurrency, concurrency: 1}\n"
                    "prompts: {type: conversation, conversation: {turns: 3}}\n")
                .prompts.conversation.turns,
            (LengthDistribution{3, 0, 3, 3}))
      << "a bare number is a fixed count";
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
target: {endpoint: "http://h/v1/completions", headers: {X-Session: a}}
load: {type: poisson, rate: 2}
prompts:
  type: conversation
  conversation: {turns: 0, thinkTime: -1s, sessionHeader: x-session, rounds: 2}
)"),
              ElementsAre("cfg.yaml:5: prompts.type conversation runs as a closed loop: each of "
                          "load.concurrency users holds one conversation, and a turn is sent when "
                          "the previous reply and the think time are over; set load.type: "
                          "concurrency (got poisson; open-loop conversation arrivals are not "
                          "built)",
                          "cfg.yaml:5: prompts.type conversation needs a chat endpoint "
                          "(.../chat/completions): a turn sends the history as messages; "
                          "target.endpoint is http://h/v1/completions",
                          "cfg.yaml:6: unknown key prompts.conversation.rounds (valid keys in "
                          "prompts.conversation: turns, thinkTime, sessionHeader)",
                          "cfg.yaml:6: prompts.conversation.turns must be >= 1 (turns per "
                          "conversation), got 0",
                          "cfg.yaml:6: prompts.conversation.thinkTime must be >= 0, got \"-1s\"",
                          "cfg.yaml:6: prompts.conversation.sessionHeader x-session is also in "
                          "target.headers; keep one"));
  EXPECT_THAT(Errors("benchmark: {name: x}\nprompts: {tokenizer: \"\"}\n"),
              ElementsAre("cfg.yaml:2: prompts.tokenizer must name the model's tokenizer.json or "
                          "SentencePiece .model file, got \"\""));
  EXPECT_THAT(Errors("benchmark: {name: x}\nload: {type: concurrency}\nprompts: {type: "
                     "conversation, conversation: {turns: {mean: 4, max: 5000}}}\n"),
              ElementsAre("cfg.yaml:3: prompts.conversation.turns.max must be <= 1000, got 5000"));
  EXPECT_THAT(Errors("benchmark: {name: x}\nload: {type: concurrency}\nprompts: {type: "
                     "conversation, conversation: {turns: [1, 2]}}\n"),
              ElementsAre("cfg.yaml:3: prompts.conversation.turns must be a map (e.g. {mean: 4, "
                          "max: 8}), got a list"));
  EXPECT_THAT(Errors("benchmark: {name: x}\nprompts: {conversation: {turns: 2}}\n"),
              ElementsAre("cfg.yaml:2: prompts.conversation is only read with prompts.type "
                          "conversation; remove it or set prompts.type: conversation"));
}

TEST(ErrorsTest, MetricsRules) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
metrics:
  collect: [ttfb, itl, itl]
  percentiles: [0, 50, 100, 50]
  prometheus:
    endpoint: prometheus:9090
    queries: [{name: 1x, query: up}]
)"),
              ElementsAre("cfg.yaml:3: metrics.collect[0]: unknown metric \"ttfb\" (did you mean "
                          "ttft?); known: ttft, itl, tpot, ntpot, e2e_latency, schedule_lag, "
                          "e2e_from_intended, throughput, tokens_per_second, goodput, errors, "
                          "error_rate, queue_depth, cache_hit_ratio",
                          "cfg.yaml:3: metrics.collect[2]: itl is listed twice",
                          "cfg.yaml:4: metrics.percentiles[0] must be between 0 and 100 "
                          "(exclusive), got 0",
                          "cfg.yaml:4: metrics.percentiles[2] must be between 0 and 100 "
                          "(exclusive), got 100",
                          "cfg.yaml:4: metrics.percentiles[3]: 50 is listed twice",
                          "cfg.yaml:6: metrics.prometheus.endpoint must start with http:// or "
                          "https://, got \"prometheus:9090\"",
                          "cfg.yaml:7: metrics.prometheus.queries[0].name must match "
                          "[A-Za-z_][A-Za-z0-9_]*, got \"1x\""));
  EXPECT_THAT(Errors("benchmark: {name: x}\nmetrics: {prometheus: {queries: [{name: a, query: "
                     "up}]}}\n"),
              ElementsAre("cfg.yaml:2: metrics.prometheus.queries need "
                          "metrics.prometheus.endpoint (e.g. http://prometheus:9090)"));
  // Each field of a query reports its own problem.
  EXPECT_THAT(Errors("benchmark: {name: x}\nmetrics: {prometheus: {endpoint: http://p:9090, "
                     "queries: [{name: 1bad}, {name: ok, query: \"\"}]}}\n"),
              ElementsAre("cfg.yaml:2: metrics.prometheus.queries[0].query is required (PromQL)",
                          "cfg.yaml:2: metrics.prometheus.queries[0].name must match "
                          "[A-Za-z_][A-Za-z0-9_]*, got \"1bad\"",
                          "cfg.yaml:2: metrics.prometheus.queries[1].query must not be empty"));
  EXPECT_THAT(Errors("benchmark: {name: x}\nmetrics: {prometheus: {endpoint: "
                     "\"http://admin:pw@p:9090\"}}\n"),
              ElementsAre("cfg.yaml:2: metrics.prometheus.endpoint must not hold credentials "
                          "(user:password@), got <redacted>"));
  EXPECT_THAT(Errors("benchmark: {name: x}\nmetrics: {rawTokenTimes: true}\n"),
              ElementsAre("cfg.yaml:2: metrics.rawTokenTimes lists chunk times in requests.jsonl, "
                          "which needs metrics.raw: true"));
  absl::StatusOr<ParsedConfig> both =
      ParseConfig("benchmark: {name: x}\nmetrics: {raw: true, rawTokenTimes: true}\n", "cfg.yaml");
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_TRUE(both->config.metrics.raw_token_times);
}

TEST(ErrorsTest, SloRules) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
slo:
  ttft: {p99: 500ms, q99: 1s, p100: 2s, p99.0: 3s}
  ttfb: {p99: 1s}
  itl: 50ms
  errorRate: {max: 2}
)"),
              ElementsAre("cfg.yaml:3: unknown SLO percentile slo.ttft.q99 (use p50, p90, p95, "
                          "p99, p99.9, ...: p and a number between 0 and 100)",
                          "cfg.yaml:3: unknown SLO percentile slo.ttft.p100 (use p50, p90, p95, "
                          "p99, p99.9, ...: p and a number between 0 and 100)",
                          "cfg.yaml:3: duplicate key slo.ttft.p99.0; keep one",
                          "cfg.yaml:4: unknown key slo.ttfb (did you mean slo.ttft?)",
                          "cfg.yaml:5: slo.itl must be a map of percentiles to limits (e.g. "
                          "{p99: 500ms}), got \"50ms\"",
                          "cfg.yaml:6: slo.errorRate.max must be between 0 and 1 (a fraction: "
                          "0.01 = 1%), got 2"));
  const BenchmarkConfig c = ParseOk(R"(
benchmark: {name: x}
slo:
  itl: {p99: 50ms}
  ttft: {p50: 100ms, p99.9: 1s}
  errorRate: {max: 0.01}
  abortOnFail: true
)");
  // Grouped by metric in SloMetricNames() order, percentiles as written.
  EXPECT_THAT(c.slo.thresholds, ElementsAre(SloThreshold{"ttft", 50, absl::Milliseconds(100)},
                                            SloThreshold{"ttft", 99.9, absl::Seconds(1)},
                                            SloThreshold{"itl", 99, absl::Milliseconds(50)}));
  EXPECT_EQ(c.slo.max_error_rate, 0.01);
  EXPECT_TRUE(c.slo.abort_on_fail);
  EXPECT_THAT(Errors("benchmark: {name: x}\nslo: {abortOnFail: true}\n"),
              ElementsAre("cfg.yaml:2: slo.abortOnFail is true but no SLO threshold is set (e.g. "
                          "slo.ttft.p99: 500ms)"));
}

TEST(ErrorsTest, ClusterAndOutputRules) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
cluster: {workers: -1, onWorkerLoss: retry}
output: {dir: "", formats: [json, JSON, pdff]}
)"),
              ElementsAre("cfg.yaml:2: cluster.workers must be >= 0 (0 = all connected), got -1",
                          "cfg.yaml:2: cluster.onWorkerLoss must be one of rebalance, fail, got "
                          "\"retry\"",
                          "cfg.yaml:3: output.dir must name a directory, got \"\"",
                          "cfg.yaml:3: output.formats[1]: json is listed twice",
                          "cfg.yaml:3: output.formats[2]: unknown format \"pdff\" (did you mean "
                          "pdf?); known: json, html, png, pdf, llmd, csv, md"));
}

TEST(ErrorsTest, ConnectionPoolKeys) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
target: {maxStreamsPerConnection: 0, connections: -2}
)"),
              ElementsAre("cfg.yaml:2: target.maxStreamsPerConnection must be >= 1 (HTTP/2 "
                          "streams per connection), got 0",
                          "cfg.yaml:2: target.connections must be >= 0 (0 = as many as the load "
                          "needs), got -2"));
  const BenchmarkConfig config =
      ParseOk("benchmark: {name: x}\ntarget: {maxStreamsPerConnection: 8, connections: 64}\n");
  EXPECT_EQ(config.target.max_streams_per_connection, 8);
  EXPECT_EQ(config.target.connections, 64);
  const BenchmarkConfig defaults = ParseOk("benchmark: {name: x}\n");
  EXPECT_EQ(defaults.target.max_streams_per_connection, 100);
  EXPECT_EQ(defaults.target.connections, 0);
}

TEST(ErrorsTest, ResponseCapKeys) {
  EXPECT_THAT(
      Errors(R"(
benchmark: {name: x}
target: {maxResponseBytes: 16 furlongs, maxResponseTokens: -1}
)"),
      ElementsAre("cfg.yaml:2: target.maxResponseBytes must be a size in bytes (e.g. "
                  "1048576, \"16MiB\", \"1GB\"), got \"16 furlongs\"",
                  "cfg.yaml:2: target.maxResponseTokens must be >= 0 (0 = no limit), got -1"));
  EXPECT_THAT(Errors("benchmark: {name: x}\ntarget: {maxResponseBytes: 2GiB}\n"),
              ElementsAre("cfg.yaml:2: target.maxResponseBytes must be between 1024 and "
                          "1073741824 (1KiB to 1GiB), got \"2GiB\""));
  for (const auto& [text, bytes] :
       std::vector<std::pair<std::string, int64_t>>{{"1048576", 1048576},
                                                    {"256KiB", 262144},
                                                    {"1.5 MB", 1500000},
                                                    {"1GiB", 1073741824},
                                                    {"4096B", 4096}}) {
    SCOPED_TRACE(text);
    const BenchmarkConfig config =
        ParseOk("benchmark: {name: x}\ntarget: {maxResponseBytes: " + text + "}\n");
    EXPECT_EQ(config.target.max_response_bytes, bytes);
    // The resolved config writes it back in a form that reads the same.
    EXPECT_EQ(ParseOk(ConfigToYaml(config)).target.max_response_bytes, bytes);
  }
  const BenchmarkConfig defaults = ParseOk("benchmark: {name: x}\n");
  EXPECT_EQ(defaults.target.max_response_bytes, 16 << 20);
  EXPECT_EQ(defaults.target.max_response_tokens, 0);
  EXPECT_EQ(ParseOk("benchmark: {name: x}\ntarget: {maxResponseTokens: 5000}\n")
                .target.max_response_tokens,
            5000);
}

TEST(ErrorsTest, EndpointSelectsTheApiAndIsChecked) {
  const auto endpoint_errors = [](std::string_view endpoint) {
    return Errors("benchmark: {name: x}\ntarget:\n  endpoint: \"" + std::string(endpoint) +
                  "\"\n  model: m\n");
  };
  EXPECT_THAT(endpoint_errors("gateway/v1/chat/completions"),
              ElementsAre("cfg.yaml:3: target.endpoint must start with http:// or https://, got "
                          "\"gateway/v1/chat/completions\""));
  EXPECT_THAT(endpoint_errors("http://gw/v1/models"),
              ElementsAre("cfg.yaml:3: target.endpoint path must end in /chat/completions (chat "
                          "completions API) or /completions (completions API), got "
                          "\"http://gw/v1/models\""));
  EXPECT_THAT(endpoint_errors("http://gw:8000"),
              ElementsAre("cfg.yaml:3: target.endpoint has no path; it must end in "
                          "/chat/completions (chat completions API) or /completions (completions "
                          "API), got \"http://gw:8000\""));
  EXPECT_THAT(endpoint_errors("http://user:pw@gw/v1/completions"),
              ElementsAre(HasSubstr("must not contain credentials")));
  EXPECT_THAT(endpoint_errors("http://gw:99999/v1/completions"),
              ElementsAre(HasSubstr("has an invalid port \"99999\" (expected 1-65535)")));
  EXPECT_THAT(Errors("benchmark: {name: x}\ntarget: {endpoint: 'http://gw/v1/completions', "
                     "protocol: h2}\n"),
              ElementsAre("cfg.yaml:2: target.protocol h2 needs an https:// endpoint (use h2c for "
                          "HTTP/2 without TLS)"));

  absl::StatusOr<EndpointUrl> chat = ParseEndpoint("https://gw.example/v1/chat/completions");
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->api, Api::kChatCompletions);
  EXPECT_TRUE(chat->tls);
  EXPECT_EQ(chat->port, 443);
  absl::StatusOr<EndpointUrl> legacy = ParseEndpoint("http://[::1]:8000/v1/completions?x=1");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->api, Api::kCompletions);
  EXPECT_EQ(legacy->host, "::1");
  EXPECT_EQ(legacy->port, 8000);
  EXPECT_EQ(legacy->path, "/v1/completions?x=1");
}

TEST(ErrorsTest, HeaderRules) {
  EXPECT_THAT(Errors(R"(
benchmark: {name: x}
target:
  headers:
    Authorization: "Bearer ${API_KEY}"
    X-Trace: "${env:}"
    "Bad Name": x
    Content-Length: 5
    x-trace: again
)"),
              ElementsAre("cfg.yaml:4: target.headers.Authorization has a malformed ${...} "
                          "reference; write ${env:NAME} with NAME matching [A-Za-z_][A-Za-z0-9_]*",
                          "cfg.yaml:5: target.headers.X-Trace: malformed reference \"${env:}\": "
                          "name the variable, e.g. ${env:API_KEY}",
                          "cfg.yaml:6: target.headers: \"Bad Name\" is not a valid header name "
                          "(letters, digits and !#$%&'*+-.^_`|~ only)",
                          "cfg.yaml:7: target.headers.Content-Length is set by the benchmark's "
                          "HTTP client; remove it",
                          "cfg.yaml:8: target.headers.x-trace repeats header X-Trace (header "
                          "names are case-insensitive); keep one"));
}

TEST(ErrorsTest, MalformedReferencesInAnyString) {
  EXPECT_THAT(Errors("benchmark: {name: x}\ntarget: {model: \"${MODEL}\"}\n"),
              ElementsAre("cfg.yaml:2: target.model: malformed reference \"${MODEL}\": write "
                          "${env:MODEL}"));
}

TEST(ErrorsTest, DuplicateKeysAndDocumentShape) {
  EXPECT_THAT(Errors("benchmark: {name: x}\nload: {rate: 1}\nload: {rate: 2}\n"),
              ElementsAre("cfg.yaml:3: duplicate key load (first set on line 2); keep one"));
  EXPECT_THAT(Errors("- a\n- b\n"),
              ElementsAre("cfg.yaml:1: the config must be a map of sections (benchmark, target, "
                          "load, prompts, metrics, slo, cluster, output), got a list"));
  EXPECT_THAT(Errors("benchmark: {name: x}\n---\nbenchmark: {name: y}\n"),
              ElementsAre("cfg.yaml: has 2 YAML documents (separated by ---); a config is one "
                          "document"));
  EXPECT_THAT(Errors("benchmark:\n  name: x\n  seed: [1, 2\n"),
              ElementsAre(HasSubstr("YAML syntax error")));
  EXPECT_THAT(Errors("benchmark:\n\tname: x\n"),
              ElementsAre("cfg.yaml:2: YAML syntax error: illegal map value (column 6); indent "
                          "with spaces, YAML does not allow tabs there"));
  const std::vector<std::string> syntax = Errors("benchmark:\n  name: x\n  seed: [1, 2\n");
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_THAT(syntax[0], testing::StartsWith("cfg.yaml:3: YAML syntax error"));
}

// ---- hostile documents ----------------------------------------------------------------------

TEST(RobustnessTest, RejectsHostileDocumentsCleanly) {
  EXPECT_THAT(Errors(std::string(100, '[') + std::string(100, ']')),
              ElementsAre("cfg.yaml:1: nested deeper than 64 levels"));
  std::string deep_block;
  for (int i = 0; i < 70; ++i) deep_block += std::string(static_cast<size_t>(i), ' ') + "a:\n";
  EXPECT_THAT(Errors(deep_block), ElementsAre(HasSubstr("nested deeper than 64 levels")));
  EXPECT_THAT(Errors(std::string(kMaxConfigBytes + 1, '#')),
              ElementsAre("cfg.yaml: the config is 1048577 bytes; the limit is 1048576"));
  EXPECT_THAT(Errors(std::string("benchmark: {name: x}\nx\0y", 24)),
              ElementsAre("cfg.yaml:2: contains a NUL byte; save the config as UTF-8 text (not "
                          "UTF-16)"));
  EXPECT_THAT(Errors("benchmark: {name: \"\xff\"}\n"),
              ElementsAre("cfg.yaml:1: is not valid UTF-8 (column 20); save the config as UTF-8"));
  // Nine levels of nine aliases each: 9^9 nodes once expanded.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 9; ++k) bomb += ", " + prev;
    bomb += "]\n";
  }
  EXPECT_THAT(Errors(bomb), ElementsAre(HasSubstr("values after expanding aliases")));
  EXPECT_THAT(Errors("benchmark: &b {name: x, extra: *b}\n"),
              ElementsAre("cfg.yaml:1: an alias refers to the node that contains it"));
  // yaml-cpp 0.7 alone would read documents forever here.
  EXPECT_THAT(Errors(", a"), ElementsAre("cfg.yaml:1: YAML syntax error: unexpected text (a stray "
                                         "',' ']' or '}'?)"));
}

// ---- overrides ------------------------------------------------------------------------------

TEST(OverrideTest, ScalarListAndMapValuesAreParsedAsYaml) {
  const BenchmarkConfig c = ParseOk(WithLoad("  type: constant\n  rate: 5\n"),
                                    {"load.type=stages", "load.rate=",
                                     "load.stages=[{rate: 5, duration: 10}, {rate: 7, duration: "
                                     "2s}]",
                                     "benchmark.duration=12", "target.headers={X-A: b}"});
  EXPECT_EQ(c.load.type, LoadType::kStages);
  EXPECT_THAT(c.load.stages,
              ElementsAre(StageConfig{5, absl::Seconds(10)}, StageConfig{7, absl::Seconds(2)}));
  EXPECT_EQ(c.load.rate, 0);
  EXPECT_THAT(c.target.headers, ElementsAre(Header{"X-A", "b"}));
}

TEST(OverrideTest, CreatesMissingMapsAndLaterOverridesWin) {
  const BenchmarkConfig c = ParseOk(
      "benchmark: {name: x}\n",
      {"slo.ttft.p99.9=300ms", "cluster.workers=3", "cluster.workers=4", "target.model=a:b"});
  EXPECT_THAT(c.slo.thresholds, ElementsAre(SloThreshold{"ttft", 99.9, absl::Milliseconds(300)}));
  EXPECT_EQ(c.cluster.workers, 4);
  EXPECT_EQ(c.target.model, "a:b");  // A plain scalar; "a: b" would be a map (see below).
}

TEST(OverrideTest, ErrorsAreAttributedToTheOverride) {
  EXPECT_THAT(Errors(WithLoad("  type: constant\n  rate: 5\n"), {"load.rate=-3"}),
              ElementsAre("--set load.rate=-3: load.rate must be > 0, got -3"));
  EXPECT_THAT(Errors(WithLoad("  type: constant\n  rate: 5\n"), {"load.rat=5"}),
              ElementsAre("--set load.rat=5: unknown key load.rat (did you mean load.rate?)"));
  EXPECT_THAT(Errors("benchmark: {name: x}\n", {"lod.rate=5"}),
              ElementsAre("--set lod.rate=5: unknown key lod (did you mean load?)"));
  EXPECT_THAT(Errors("benchmark: {name: x}\n", {"target.model=a: b"}),
              ElementsAre("--set target.model=a: b: target.model must be a string, got a map"));
  EXPECT_THAT(Errors("benchmark: {name: x}\n", {"benchmark.name.x=1"}),
              ElementsAre("--set benchmark.name.x=1: cannot set benchmark.name.x: "
                          "benchmark.name is \"x\", not a map"));
  EXPECT_THAT(Errors("benchmark: {name: x}\n", {"load..rate=1"}),
              ElementsAre("--set load..rate=1: the key path \"load..rate\" has an empty part"));
  EXPECT_THAT(Errors("benchmark: {name: x}\n", {"load.stages=[1"}),
              ElementsAre(testing::StartsWith(
                  "--set load.stages=[1: cannot parse the value: YAML syntax error")));
  // File errors come first, then override errors in flag order.
  EXPECT_THAT(Errors("benchmark: {name: x, seed: -1}\n", {"cluster.workers=-2", "load.rate=0"}),
              ElementsAre("cfg.yaml:1: benchmark.seed must be a whole number from 0 to "
                          "18446744073709551615, got -1",
                          "--set cluster.workers=-2: cluster.workers must be >= 0 (0 = all "
                          "connected), got -2",
                          "--set load.rate=0: load.rate must be > 0, got 0"));
}

TEST(OverrideTest, SetFlagSyntaxAndRedactedLabels) {
  EXPECT_EQ(ParseSetFlag("load.rate").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSetFlag("=5").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ConfigOverride> plain = ParseSetFlag("a.b=c=d");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->path, "a.b");
  EXPECT_EQ(plain->value, "c=d");
  EXPECT_EQ(plain->label, "--set a.b=c=d");
  EXPECT_EQ(ParseSetFlag("target.headers.Authorization=Bearer sk-123")->label,
            "--set target.headers.Authorization=<redacted>");
  EXPECT_EQ(ParseSetFlag("target.headers.Authorization=Bearer ${env:K}")->label,
            "--set target.headers.Authorization=Bearer ${env:K}");
  EXPECT_EQ(ParseSetFlag("target.headers={Cookie: s=1}")->label, "--set target.headers=<redacted>");
  // A secret in a failing override never reaches the message.
  std::vector<std::string> errors =
      Errors("benchmark: {name: x}\n", {"target.headers.X-Api-Key=[sk-123]"});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], Not(HasSubstr("sk-123")));
  EXPECT_EQ(errors[0],
            "--set target.headers.X-Api-Key=<redacted>: target.headers.X-Api-Key must be a "
            "string, got a list");
}

TEST(OverrideTest, LiteralOverridesAreNotYaml) {
  absl::StatusOr<ParsedConfig> parsed =
      ParseConfig("benchmark: {name: x}\n", "cfg.yaml",
                  {LiteralOverride("target.model", "[weird]: model", "--model [weird]: model")});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.target.model, "[weird]: model");
}

// ---- ${env:NAME} references ------------------------------------------------------------------

TEST(EnvReferenceTest, FindsWellFormedReferences) {
  absl::StatusOr<std::vector<EnvReference>> refs =
      FindEnvReferences("Bearer ${env:API_KEY}-${env:_x1} $5 $ {");
  ASSERT_TRUE(refs.ok()) << refs.status();
  EXPECT_THAT(*refs, ElementsAre(EnvReference{7, 14, "API_KEY"}, EnvReference{22, 10, "_x1"}));
  EXPECT_TRUE(FindEnvReferences("no references")->empty());
}

TEST(EnvReferenceTest, MalformedReferencesSayHowToFixThem) {
  EXPECT_EQ(FindEnvReferences("${API_KEY}").status().message(),
            "malformed reference \"${API_KEY}\": write ${env:API_KEY}");
  EXPECT_EQ(FindEnvReferences("a${env:}").status().message(),
            "malformed reference \"${env:}\": name the variable, e.g. ${env:API_KEY}");
  EXPECT_EQ(FindEnvReferences("${env:1X}").status().message(),
            "malformed reference \"${env:1X}\": the name must match [A-Za-z_][A-Za-z0-9_]*");
  EXPECT_EQ(FindEnvReferences("${env:X").status().message(),
            "unterminated reference \"${env:X\": close it with }, e.g. ${env:API_KEY}");
  EXPECT_EQ(FindEnvReferences("${file:/x}").status().message(),
            "malformed reference \"${file:/x}\": only ${env:NAME} references are supported");
  EXPECT_EQ(FindEnvReferences("${env:}").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EnvReferenceTest, ReferencesAreKeptVerbatimAndExpandedOnlyOnRequest) {
  const BenchmarkConfig c = ParseOk(R"(
benchmark: {name: x}
target:
  model: "${env:MODEL}"
  headers: {Authorization: "Bearer ${env:API_KEY}"}
  extraBody: {user: "${env:USER_ID}"}
)");
  EXPECT_EQ(c.target.model, "${env:MODEL}");
  EXPECT_THAT(c.target.headers, ElementsAre(Header{"Authorization", "Bearer ${env:API_KEY}"}));
  EXPECT_EQ(c.target.extra_body, "{\"user\":\"${env:USER_ID}\"}");
  const auto lookup = [](std::string_view name) -> std::optional<std::string> {
    if (name == "API_KEY") return "sk-1";
    return std::nullopt;
  };
  EXPECT_EQ(*ExpandEnvReferences("Bearer ${env:API_KEY}!", lookup), "Bearer sk-1!");
  absl::StatusOr<std::string> missing = ExpandEnvReferences("${env:NOPE}", lookup);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "environment variable NOPE is not set");
}

// ---- secrets ---------------------------------------------------------------------------------

TEST(RedactionTest, SensitiveHeaderNames) {
  for (std::string_view name : {"Authorization", "proxy-authorization", "Cookie", "X-Api-Key",
                                "api-key", "X-Auth-Token", "my-secret", "OpenAI-Key"}) {
    EXPECT_TRUE(IsSensitiveHeader(name)) << name;
  }
  for (std::string_view name : {"X-Request-Id", "Content-Type", "User-Agent"}) {
    EXPECT_FALSE(IsSensitiveHeader(name)) << name;
  }
}

TEST(RedactionTest, SecretsAreHiddenReferencesShown) {
  EXPECT_EQ(RedactHeaderValue("Authorization", "Bearer sk-123"), "<redacted>");
  EXPECT_EQ(RedactHeaderValue("Authorization", "sk-123"), "<redacted>");
  EXPECT_EQ(RedactHeaderValue("Authorization", "Bearer ${env:API_KEY}"), "Bearer ${env:API_KEY}");
  EXPECT_EQ(RedactHeaderValue("Authorization", "basic ${env:A} ${env:B}"),
            "basic ${env:A} ${env:B}");
  EXPECT_EQ(RedactHeaderValue("X-Api-Key", "${env:KEY}"), "${env:KEY}");
  // A reference next to literal text may hide a secret in the literal part.
  EXPECT_EQ(RedactHeaderValue("X-Api-Key", "sk-${env:KEY}"), "<redacted>");
  EXPECT_EQ(RedactHeaderValue("Authorization", "Bearer"), "<redacted>");
  EXPECT_EQ(RedactHeaderValue("X-Request-Id", "abc"), "abc");
}

TEST(RedactionTest, ConfigToYamlRedactsOnlySecrets) {
  const BenchmarkConfig c = ParseOk(R"(
benchmark: {name: x}
target:
  headers:
    Authorization: "Bearer sk-live-123"
    X-Api-Key: "${env:KEY}"
    X-Request-Source: bench
)");
  const std::string yaml = ConfigToYaml(c);
  EXPECT_THAT(yaml, Not(HasSubstr("sk-live-123")));
  EXPECT_THAT(yaml, HasSubstr("\"Authorization\": \"<redacted>\""));
  EXPECT_THAT(yaml, HasSubstr("\"X-Api-Key\": \"${env:KEY}\""));
  EXPECT_THAT(yaml, HasSubstr("\"X-Request-Source\": \"bench\""));
  absl::StatusOr<ParsedConfig> back = ParseConfig(yaml, "resolved.yaml");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->config, RedactSecrets(c));
  EXPECT_EQ(RedactSecrets(RedactSecrets(c)), RedactSecrets(c));
}

// ---- target.extraBody as JSON -----------------------------------------------------------------

TEST(ExtraBodyTest, YamlBecomesCompactTypedJson) {
  const BenchmarkConfig c = ParseOk(R"(
benchmark: {name: x}
target:
  extraBody:
    temperature: 0.7
    ignore_eos: true
    stop: ["\n", 'say "hi"', "tab\there"]
    seed: null
    top_k: 0x10
    n: +2
    p: .5
    q: 1.
    big: 007
    text: "5"
    plain: hello world
    nested: {a: [1, {b: -0.25e2}], "k e y": ~}
    "\u00e9": "\u0001"
)");
  EXPECT_EQ(c.target.extra_body,
            "{\"temperature\":0.7,\"ignore_eos\":true,\"stop\":[\"\\n\",\"say \\\"hi\\\"\","
            "\"tab\\there\"],\"seed\":null,\"top_k\":16,\"n\":2,\"p\":0.5,\"q\":1.0,\"big\":7,"
            "\"text\":\"5\",\"plain\":\"hello world\",\"nested\":{\"a\":[1,{\"b\":-0.25e2}],"
            "\"k e y\":null},\"\xC3\xA9\":\"\\u0001\"}");
  EXPECT_THAT(Errors("benchmark: {name: x}\ntarget:\n  extraBody: [1]\n"),
              ElementsAre("cfg.yaml:3: target.extraBody must be a map of JSON fields (e.g. "
                          "{temperature: 0, ignore_eos: true}), got a list"));
  EXPECT_THAT(Errors("benchmark: {name: x}\ntarget:\n  extraBody: {a: .nan, b: {c: 1, c: 2}}\n"),
              ElementsAre("cfg.yaml:3: target.extraBody.a cannot be sent as JSON, got .nan (JSON "
                          "has no infinity or NaN)",
                          "cfg.yaml:3: duplicate key target.extraBody.b.c; keep one"));
}

// ---- ConfigToYaml round trip -----------------------------------------------------------------

constexpr std::string_view kEverything = R"yaml(
benchmark: {name: all.fields_1, duration: 1h30m, warmup: 0.25, seed: 18446744073709551615,
            maxRequests: 12345}
target:
  endpoint: "https://gw.example:8443/v1/chat/completions?api-version=2"
  model: "org/model \"quoted\" \\ back"
  protocol: h2
  headers: {X-Request-Source: "bench\ttab", Authorization: "Bearer ${env:TOKEN}"}
  timeout: 1.5s
  tls: {insecureSkipVerify: true, caFile: /etc/ca.pem}
  extraBody: {temperature: 0.1, stop: ["\n"], "\u2028": "\u0085", deep: {a: [[[]]]}}
load:
  type: gamma
  rate: 0.1
  burstiness: 0.3333333333333333
  concurrency: 77
prompts:
  type: file
  inputLength: {mean: 123.456, stddev: 0, min: 7, max: 9000}
  outputLength: {mean: 1, stddev: 1e-5, min: 1, max: 1}
  dataset: "data/p r o m p t s.jsonl"
  prefixRatio: 0.3
  prefixGroups: 12
  tokenizer: "models/q w/tokenizer.json"
metrics:
  collect: [schedule_lag, ttft]
  percentiles: [99.99, 0.001, 33.3]
  interval: 250ms
  raw: true
  prometheus:
    endpoint: http://prom:9090
    step: 1m30s
    queries: [{name: gpu, query: "avg(DCGM_FI_DEV_GPU_UTIL{pod=~\"vllm.*\"})"}]
slo:
  e2e_latency: {p50: 1s}
  ttft: {p99.9: 1ms, p1: 5us}
  errorRate: {max: 0}
  abortOnFail: true
cluster: {workers: 9, onWorkerLoss: fail}
output: {dir: "out dir/x", formats: [md, csv, llmd, pdf]}
)yaml";

TEST(RoundTripTest, ConfigToYamlParsesBackToTheSameConfig) {
  const BenchmarkConfig original = ParseOk(kEverything);
  ASSERT_EQ(original.load.type, LoadType::kGamma);
  const std::string yaml = ConfigToYaml(original);
  absl::StatusOr<ParsedConfig> back = ParseConfig(yaml, "resolved.yaml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_TRUE(back->config == original) << yaml;
  // Printing is stable: the second print equals the first.
  EXPECT_EQ(ConfigToYaml(back->config), yaml);
}

TEST(RoundTripTest, ConversationsRoundTrip) {
  for (std::string_view prompts :
       {"{type: conversation}",
        "{type: conversation, dataset: chats.json, conversation: {turns: 5}}",
        "{type: conversation, conversation: {turns: {mean: 2.5, stddev: 1, min: 1, max: 40}, "
        "thinkTime: 250ms, sessionHeader: x-session-id}}"}) {
    const BenchmarkConfig original =
        ParseOk("benchmark: {name: x}\nload: {type: concurrency, concurrency: 2}\nprompts: " +
                std::string(prompts) + "\n");
    absl::StatusOr<ParsedConfig> back = ParseConfig(ConfigToYaml(original), "resolved.yaml");
    ASSERT_TRUE(back.ok()) << prompts << ": " << back.status();
    EXPECT_TRUE(back->config == original) << prompts << "\n" << ConfigToYaml(original);
  }
}

TEST(RoundTripTest, EveryLoadTypeRoundTrips) {
  for (std::string_view load :
       {"{type: constant, rate: 3}", "{type: poisson, rate: 1e-3}",
        "{type: ramp, ramp: {from: 0, to: 2.5}}",
        "{type: burst, burst: {size: 3, every: 1.5s}, concurrency: 1}",
        "{type: stages, stages: [{rate: 1, duration: 1ns}, {rate: 2, duration: 3h}]}",
        "{type: concurrency, concurrency: 1000000}", "{type: trace, trace: \"t.jsonl\"}"}) {
    const BenchmarkConfig original =
        ParseOk("benchmark: {name: x}\nload: " + std::string(load) + "\n");
    absl::StatusOr<ParsedConfig> back = ParseConfig(ConfigToYaml(original), "resolved.yaml");
    ASSERT_TRUE(back.ok()) << load << ": " << back.status();
    EXPECT_TRUE(back->config == original) << load << "\n" << ConfigToYaml(original);
  }
}

// ---- deploy/examples ------------------------------------------------------------------------

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(ExamplesTest, EveryDeployExampleParsesValidatesAndRoundTrips) {
  const char* source_dir = std::getenv("BENCH_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "ctest sets BENCH_SOURCE_DIR";
  const std::filesystem::path dir = std::filesystem::path(source_dir) / "deploy" / "examples";
  int count = 0;
  bool saw_seed = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++count;
    saw_seed |= entry.path().filename() == "seed-my-benchmark.yaml";
    const std::string text = ReadFile(entry.path());
    absl::StatusOr<ParsedConfig> parsed = ParseConfig(text, entry.path().string());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    absl::StatusOr<ParsedConfig> back = ParseConfig(ConfigToYaml(parsed->config), "resolved");
    ASSERT_TRUE(back.ok()) << entry.path() << ": " << back.status();
    EXPECT_TRUE(back->config == RedactSecrets(parsed->config)) << entry.path();
    const Plan plan = MakePlan(parsed->config);
    EXPECT_EQ(plan.total, parsed->config.benchmark.warmup + parsed->config.benchmark.duration);
    EXPECT_FALSE(RenderPlan(plan).empty());
  }
  EXPECT_GE(count, 10);
  EXPECT_TRUE(saw_seed);
  EXPECT_EQ(ReadFile(dir / "seed-benchmark-config.yaml"), Doc(kSeedBenchmarkConfig));
  EXPECT_EQ(ReadFile(dir / "seed-my-benchmark.yaml"), Doc(kSeedMyBenchmark));
}

// ---- plan ------------------------------------------------------------------------------------

Plan PlanFor(std::string_view yaml) { return MakePlan(ParseOk(yaml)); }

TEST(PlanTest, OpenLoopCountsAreRateTimesDuration) {
  const Plan plan = MakePlan(ParseOk(kSeedBenchmarkConfig));
  EXPECT_EQ(plan.api, Api::kChatCompletions);
  EXPECT_EQ(plan.total, absl::Seconds(330));
  EXPECT_FALSE(plan.closed_loop);
  EXPECT_EQ(plan.measured_requests, 15000);
  EXPECT_EQ(plan.warmup_requests, 1500);
  EXPECT_EQ(plan.mean_rate, 50);
  EXPECT_EQ(plan.peak_rate, 50);
  EXPECT_EQ(plan.in_flight, 100);
  const std::string text = RenderPlan(plan);
  EXPECT_THAT(text, HasSubstr("(chat completions API)"));
  EXPECT_THAT(text, HasSubstr("about 15000 measured, about 1500 in warmup"));
  EXPECT_THAT(text, HasSubstr("30s warmup + 5m measured = 5m30s in all"));
}

TEST(PlanTest, RampBurstAndStages) {
  const Plan ramp = PlanFor(R"(
benchmark: {name: x, duration: 60, warmup: 10}
target: {endpoint: "http://h/v1/completions"}
load: {type: ramp, ramp: {from: 1, to: 100}}
)");
  EXPECT_EQ(ramp.api, Api::kCompletions);
  EXPECT_DOUBLE_EQ(*ramp.measured_requests, 3030);  // (1 + 100) / 2 * 60
  EXPECT_DOUBLE_EQ(*ramp.warmup_requests, 10);      // warmup holds the starting rate
  EXPECT_DOUBLE_EQ(ramp.mean_rate, 50.5);
  EXPECT_DOUBLE_EQ(ramp.peak_rate, 100);

  // Bursts at 0, 10, ..., 50 s: six in a 60 s window, seven in 61 s.
  const Plan burst = PlanFor(
      "benchmark: {name: x, duration: 60, warmup: 5}\nload: {type: burst, burst: {size: 50, "
      "every: 10}}\n");
  EXPECT_DOUBLE_EQ(*burst.measured_requests, 300);
  EXPECT_DOUBLE_EQ(*burst.warmup_requests, 50);
  EXPECT_DOUBLE_EQ(burst.peak_rate, 50);
  EXPECT_DOUBLE_EQ(burst.mean_rate, 5);
  EXPECT_DOUBLE_EQ(*PlanFor("benchmark: {name: x, duration: 61}\nload: {type: burst, burst: "
                            "{size: 50, every: 10}}\n")
                        .measured_requests,
                   350);

  const Plan stages = PlanFor(R"(
benchmark: {name: x, warmup: 2}
load:
  type: stages
  stages: [{rate: 10, duration: 60}, {rate: 20, duration: 30}, {rate: 5, duration: 30}]
)");
  ASSERT_EQ(stages.stages.size(), 3u);
  EXPECT_EQ(stages.stages[1].start, absl::Seconds(60));
  EXPECT_DOUBLE_EQ(stages.stages[1].expected_requests, 600);
  EXPECT_DOUBLE_EQ(*stages.measured_requests, 600 + 600 + 150);
  EXPECT_DOUBLE_EQ(*stages.warmup_requests, 20);  // first stage's rate
  EXPECT_DOUBLE_EQ(stages.peak_rate, 20);
  EXPECT_DOUBLE_EQ(stages.mean_rate, 1350.0 / 120);
  EXPECT_EQ(stages.measurement, absl::Seconds(120));
  EXPECT_THAT(RenderPlan(stages), HasSubstr("stages:"));
}

TEST(PlanTest, ClosedLoopHasNoCountUnlessCapped) {
  const Plan open_ended = PlanFor(
      "benchmark: {name: x}\nload: {type: concurrency, concurrency: "
      "16}\n");
  EXPECT_TRUE(open_ended.closed_loop);
  EXPECT_FALSE(open_ended.measured_requests.has_value());
  EXPECT_THAT(RenderPlan(open_ended), HasSubstr("closed loop, 16 in flight"));
  const Plan capped = PlanFor(
      "benchmark: {name: x, maxRequests: 500}\nload: {type: "
      "concurrency, concurrency: 16}\n");
  EXPECT_EQ(capped.measured_requests, 500);
  EXPECT_THAT(RenderPlan(capped), HasSubstr("at most 500 measured"));
}

TEST(PlanTest, MaxRequestsCapsOpenLoopCounts) {
  const Plan plan = PlanFor(
      "benchmark: {name: x, duration: 100, maxRequests: 250}\nload: "
      "{type: constant, rate: 10}\n");
  EXPECT_TRUE(plan.capped);
  EXPECT_EQ(plan.measured_requests, 250);
  EXPECT_EQ(plan.cap_reached_after, absl::Seconds(25));
  EXPECT_THAT(RenderPlan(plan), HasSubstr("capped by benchmark.maxRequests, reached after about "
                                          "25s"));
  const Plan ramp = PlanFor(
      "benchmark: {name: x, duration: 10, maxRequests: 50}\nload: {type: "
      "ramp, ramp: {from: 0, to: 20}}\n");
  // count(t) = t^2 (rate 2t): 50 requests after sqrt(50) s.
  ASSERT_TRUE(ramp.cap_reached_after.has_value());
  EXPECT_NEAR(absl::ToDoubleSeconds(*ramp.cap_reached_after), std::sqrt(50.0), 1e-9);
  const Plan uncapped = PlanFor(
      "benchmark: {name: x, duration: 10, maxRequests: 1000}\nload: "
      "{type: constant, rate: 10}\n");
  EXPECT_FALSE(uncapped.capped);
  EXPECT_EQ(uncapped.measured_requests, 100);
}

TEST(PlanTest, TraceCountsReadableFiles) {
  const std::string path = testing::TempDir() + "/plan_trace.jsonl";
  {
    std::ofstream out(path);
    out << "# comment\n{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 5}\n\n"
        << "{\"timestamp\": 2.5, \"input_length\": 5, \"output_length\": 5}\n"
        << "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 5}\n"
        << "{\"timestamp\": 1.5, \"input_length\": 5, \"output_length\": 5}";
  }
  const Plan plan = PlanFor(
      "benchmark: {name: x, warmup: 1, duration: 1}\nload: {type: trace, "
      "trace: \"" +
      path + "\"}\n");
  EXPECT_EQ(plan.trace_requests, 4);
  EXPECT_EQ(plan.trace_span, absl::Milliseconds(2500));
  EXPECT_EQ(plan.trace_out_of_order, 2);
  EXPECT_EQ(plan.warmup_requests, 1);
  EXPECT_EQ(plan.measured_requests, 2) << "1 and 1.5 s fall in [1 s, 2 s)";
  EXPECT_EQ(plan.trace_not_sent, 1);
  EXPECT_EQ(plan.mean_rate, 2);
  EXPECT_EQ(plan.peak_rate, 2);
  EXPECT_THAT(RenderPlan(plan), HasSubstr("about 2 measured"));
  EXPECT_THAT(RenderPlan(plan), HasSubstr("trace:      4 records over 2.5s; 1 at or after warmup + "
                                          "duration are not sent"));
  EXPECT_THAT(RenderPlan(plan), HasSubstr("2 lines were out of time order"));
  const Plan capped = PlanFor(
      "benchmark: {name: x, warmup: 1, duration: 1, maxRequests: 1}\n"
      "load: {type: trace, trace: \"" +
      path + "\"}\n");
  EXPECT_TRUE(capped.capped);
  EXPECT_EQ(capped.cap_reached_after, absl::Milliseconds(500));

  const std::string bad = testing::TempDir() + "/plan_trace_bad.jsonl";
  {
    std::ofstream out(bad);
    out << "{\"timestamp\": 0, \"input_length\": \"x\", \"output_length\": 5}\n";
  }
  const Plan broken =
      PlanFor("benchmark: {name: x}\nload: {type: trace, trace: \"" + bad + "\"}\n");
  EXPECT_FALSE(broken.trace_requests.has_value());
  EXPECT_EQ(broken.trace_error, bad + ":1: input_length must be a positive integer, got \"x\"");
  EXPECT_THAT(RenderPlan(broken), HasSubstr("ERRORS in the trace file:\n  " + bad + ":1:"));

  const Plan missing =
      PlanFor("benchmark: {name: x}\nload: {type: trace, trace: /nonexistent/t.jsonl}\n");
  EXPECT_FALSE(missing.trace_requests.has_value());
  EXPECT_EQ(missing.trace_note, "cannot read /nonexistent/t.jsonl here: No such file or directory");
  PlanOptions no_io;
  no_io.read_trace_file = false;
  EXPECT_FALSE(
      MakePlan(ParseOk("benchmark: {name: x}\nload: {type: trace, trace: \"" + path + "\"}\n"),
               no_io)
          .trace_requests.has_value());
}

TEST(SeedTest, RandomGivesEachParseItsOwnSeedAndSaysWhich) {
  const std::string yaml = "benchmark: {name: s, seed: random}\n";
  absl::StatusOr<ParsedConfig> first = Parse(yaml);
  absl::StatusOr<ParsedConfig> second = Parse(yaml);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  // Two draws of a billion values agree once in a billion runs.
  EXPECT_NE(first->config.benchmark.seed, second->config.benchmark.seed);
  const std::string note =
      "benchmark.seed: random gave " + std::to_string(first->config.benchmark.seed);
  EXPECT_TRUE(std::any_of(first->notes.begin(), first->notes.end(), [&](const std::string& n) {
    return n.rfind(note, 0) == 0;
  })) << absl::StrJoin(first->notes, "\n");
  // The printed config holds the number, so the run can be repeated exactly.
  EXPECT_NE(
      ConfigToYaml(first->config).find("seed: " + std::to_string(first->config.benchmark.seed)),
      std::string::npos);
  EXPECT_FALSE(Parse("benchmark: {name: s, seed: randm}\n").ok());
}

}  // namespace
}  // namespace bench
