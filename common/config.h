// The benchmark config model (SPEC section 2): plain typed structs with every default filled in,
// plus the small helpers that need no YAML: enum names, endpoint -> API, ${env:NAME} references
// and the one redaction rule for secrets. Parsing and printing live in config_yaml.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench {

// ---- benchmark ----------------------------------------------------------------------------

struct BenchmarkSection {
  std::string name;  // Required; [A-Za-z0-9._-]+ (it names the results directory).
  absl::Duration duration = absl::Seconds(60);   // Measurement window.
  absl::Duration warmup = absl::ZeroDuration();  // Load applied before, excluded from stats.
  uint64_t seed = 1;
  int64_t max_requests = 0;  // Stop after this many measured requests; 0 = no limit.

  bool operator==(const BenchmarkSection&) const = default;
};

// ---- target -------------------------------------------------------------------------------

enum class Protocol { kAuto, kHttp1, kH2c, kH2 };
// Which OpenAI API the endpoint's path selects.
enum class Api { kChatCompletions, kCompletions };

struct Header {
  std::string name;
  std::string value;  // May hold ${env:NAME} references, kept verbatim (expanded when sent).

  bool operator==(const Header&) const = default;
};

struct TlsConfig {
  bool insecure_skip_verify = false;
  std::string ca_file;  // Empty: the system trust store.

  bool operator==(const TlsConfig&) const = default;
};

struct TargetConfig {
  std::string endpoint;  // http(s)://host[:port]/...(/chat/completions|/completions); may be
                         // empty in a parsed config (run then needs --endpoint).
  std::string model;     // Empty likewise (run then needs --model).
  Protocol protocol = Protocol::kAuto;
  std::vector<Header> headers;                  // In config order; names unique case-insensitively.
  absl::Duration timeout = absl::Seconds(600);  // Per request.
  TlsConfig tls;
  std::string extra_body = "{}";  // Compact JSON object merged into every request body.
  // HTTP/2: the most streams one connection carries (the server's SETTINGS may lower it); a
  // new connection opens when every open one is full.
  int64_t max_streams_per_connection = 100;
  // The pool opens at least this many connections (split among workers and their threads)
  // before it shares them; 0 = as many as the load needs.
  int64_t connections = 0;
  // A response fails as response_too_large past these: a non-streaming body (decoded as it
  // arrives) or one server-sent event (held whole to be decoded) of more bytes, or more output
  // chunks (0 = no limit). Reading stops there.
  int64_t max_response_bytes = int64_t{16} << 20;
  int64_t max_response_tokens = 0;

  bool operator==(const TargetConfig&) const = default;
};

// ---- load ---------------------------------------------------------------------------------

enum class LoadType { kConstant, kPoisson, kGamma, kRamp, kBurst, kConcurrency, kStages, kTrace };

struct RampConfig {
  double from = 0;  // requests/s at the start of the measurement window
  double to = 0;    // requests/s at its end (linear in between)

  bool operator==(const RampConfig&) const = default;
};

struct BurstConfig {
  int64_t size = 0;  // Requests released at once.
  absl::Duration every = absl::ZeroDuration();

  bool operator==(const BurstConfig&) const = default;
};

struct StageConfig {
  double rate = 0;  // requests/s
  absl::Duration duration = absl::ZeroDuration();

  bool operator==(const StageConfig&) const = default;
};

// A series of runs instead of one (`load.type: sweep` or `capacity`): the controller runs one
// probe after another, each a plain run of the shape `arrival` (or a closed loop), and draws the
// series' answer from their summaries. A config with a series is never given to a worker whole.
enum class SeriesKind { kNone, kSweep, kCapacity };

// GuideLLM's sweep: a synchronous run (one request at a time), a throughput run (as many in
// flight as allowed), then points - 2 rates spread evenly between the two measured rates.
struct SweepConfig {
  int64_t points = 10;                   // runs in all, >= 3
  int64_t throughput_concurrency = 256;  // in flight during the throughput run

  bool operator==(const SweepConfig&) const = default;
};

// The highest request rate at which every SLO holds: probes double from `start` until one
// fails (bracketing), then bisect the bracket until it is narrower than the resolution.
struct CapacityConfig {
  double start = 1;  // requests/s of the first probe
  double max = 0;    // the highest rate probed; 0 = no bound
  // Stop when the failing rate is within this of the passing one: a fraction of the passing
  // rate (5% = 0.05) when relative, else requests/s.
  double resolution = 0.05;
  bool relative_resolution = true;
  // Each probe's window lasts at least long enough to send this many requests, so that its
  // high percentiles rest on enough samples (a p99 on 200 requests is its 2nd-worst).
  int64_t min_requests = 200;
  int64_t max_probes = 20;

  bool operator==(const CapacityConfig&) const = default;
};

struct SeriesConfig {
  SeriesKind kind = SeriesKind::kNone;
  SweepConfig sweep;
  CapacityConfig capacity;

  bool operator==(const SeriesConfig&) const = default;
};

struct LoadConfig {
  // With a series, the arrival shape of its rate probes (constant or poisson).
  LoadType type = LoadType::kConstant;
  double rate = 0;  // requests/s for constant, poisson and gamma; 0 for the other types.
  // Closed loop (type concurrency): the requests kept in flight. Open loop: a cap on requests in
  // flight, 0 = no cap.
  int64_t concurrency = 0;
  double burstiness = 1.0;  // Gamma shape k; 1 = Poisson.
  RampConfig ramp;
  BurstConfig burst;
  std::vector<StageConfig> stages;
  std::string trace;  // JSONL file path (type trace).
  SeriesConfig series;

  bool operator==(const LoadConfig&) const = default;
};

// The default in-flight count of a closed loop when the config names none (the seed's
// `load.type: shareGPT` shorthand, a config without `load`).
inline constexpr int64_t kDefaultClosedLoopConcurrency = 10;

// ---- prompts ------------------------------------------------------------------------------

enum class PromptsType { kSynthetic, kFile, kShareGpt, kConversation };

// Token counts drawn from a normal distribution, clipped to [min, max].
struct LengthDistribution {
  double mean = 0;
  double stddev = 0;
  int64_t min = 1;
  int64_t max = 0;

  bool operator==(const LengthDistribution&) const = default;
};

// prompts.type conversation: multi-turn chats. Each closed-loop user holds one conversation at a
// time; every turn sends the whole history (the earlier user turns and the server's own replies),
// so a server with a prefix cache finds the earlier turns cached.
struct ConversationConfig {
  // Turns of a synthetic conversation; for a dataset's conversations only max applies (a cap).
  LengthDistribution turns{3, 0, 1, 10};
  absl::Duration think_time = absl::ZeroDuration();  // From a reply to the next turn's request.
  // A header carrying one id per conversation on each of its turns (for session-affine routing,
  // e.g. x-session-id); empty = none.
  std::string session_header;

  bool operator==(const ConversationConfig&) const = default;
};

inline constexpr int64_t kMaxConversationTurns = 1000;
// Per-turn figures are kept for this many turns; the last also holds every later turn.
inline constexpr int kMaxTurnShards = 32;

struct PromptsConfig {
  PromptsType type = PromptsType::kSynthetic;
  LengthDistribution input_length{500, 100, 1, 8192};
  LengthDistribution output_length{200, 50, 1, 4096};  // Sent as max_tokens.
  std::string dataset;      // Required for file and shareGPT; optional for conversation (ShareGPT).
  double prefix_ratio = 0;  // Share of each prompt that is a shared prefix, [0, 1].
  int64_t prefix_groups = 1;        // Distinct shared prefixes, >= 1.
  ConversationConfig conversation;  // Read with type conversation only.
  // The model's tokenizer.json (byte-level BPE) or SentencePiece .model: synthetic prompts of
  // exact token lengths. Empty: words that are one token each in Llama 3 and cl100k_base.
  std::string tokenizer;

  bool operator==(const PromptsConfig&) const = default;
};

// ---- metrics ------------------------------------------------------------------------------

struct PrometheusQuery {
  std::string name;   // [A-Za-z_][A-Za-z0-9_]*, unique.
  std::string query;  // PromQL.

  bool operator==(const PrometheusQuery&) const = default;
};

struct PrometheusConfig {
  std::string endpoint;  // Empty: no Prometheus queries.
  absl::Duration step = absl::Seconds(5);
  std::vector<PrometheusQuery> queries;

  bool operator==(const PrometheusConfig&) const = default;
};

// The names metrics.collect accepts (SPEC section 3), in the order the docs list them.
const std::vector<std::string>& KnownMetricNames();

struct MetricsConfig {
  std::vector<std::string> collect = {"ttft",        "itl",         "tpot",
                                      "e2e_latency", "throughput",  "tokens_per_second",
                                      "errors",      "queue_depth", "cache_hit_ratio"};
  std::vector<double> percentiles = {50, 90, 95, 99, 99.9};
  absl::Duration interval = absl::Seconds(1);  // Time-series bucket.
  bool raw = false;                            // Also write requests.jsonl.
  bool raw_token_times = false;  // rawTokenTimes: requests.jsonl lists every chunk gap (needs raw)
  PrometheusConfig prometheus;

  bool operator==(const MetricsConfig&) const = default;
};

// ---- slo ----------------------------------------------------------------------------------

// The latency metrics an SLO may bound.
const std::vector<std::string>& SloMetricNames();

// `slo.<metric>.p<percentile>: <max>`, e.g. slo.ttft.p99: 500ms.
struct SloThreshold {
  std::string metric;     // One of SloMetricNames().
  double percentile = 0;  // In (0, 100).
  absl::Duration max = absl::ZeroDuration();

  bool operator==(const SloThreshold&) const = default;
};

struct SloConfig {
  std::vector<SloThreshold> thresholds;  // Grouped by metric in SloMetricNames() order.
  std::optional<double> max_error_rate;  // errorRate.max, [0, 1]; unset = no bound.
  bool abort_on_fail = false;

  bool operator==(const SloConfig&) const = default;
};

// ---- cluster, output ----------------------------------------------------------------------

enum class WorkerLossPolicy { kRebalance, kFail };

struct ClusterConfig {
  int64_t workers = 0;  // Wait for at least this many workers; 0 = all connected.
  WorkerLossPolicy on_worker_loss = WorkerLossPolicy::kFail;  // Rebalancing is opt-in.

  bool operator==(const ClusterConfig&) const = default;
};

enum class OutputFormat { kJson, kHtml, kPng, kPdf, kLlmd, kCsv, kMd };

struct OutputConfig {
  std::string dir = "results";
  std::vector<OutputFormat> formats = {OutputFormat::kJson, OutputFormat::kHtml,
                                       OutputFormat::kPng};

  bool Wants(OutputFormat format) const {
    return std::find(formats.begin(), formats.end(), format) != formats.end();
  }
  bool operator==(const OutputConfig&) const = default;
};

// ---- the whole config ---------------------------------------------------------------------

struct BenchmarkConfig {
  BenchmarkSection benchmark;
  TargetConfig target;
  LoadConfig load;
  PromptsConfig prompts;
  MetricsConfig metrics;
  SloConfig slo;
  ClusterConfig cluster;
  OutputConfig output;

  bool operator==(const BenchmarkConfig&) const = default;
};

// ---- enum names (as written in YAML) ------------------------------------------------------

std::string_view ProtocolName(Protocol protocol);
std::string_view LoadTypeName(LoadType type);
std::string_view SeriesKindName(SeriesKind kind);  // "sweep", "capacity"; "" for none
// load.type as written: the series' name, or the load shape's.
std::string_view LoadTypeName(const LoadConfig& load);
std::string_view PromptsTypeName(PromptsType type);
// How many per-turn shards a run keeps: 0 without conversations.
int TurnShardCount(const PromptsConfig& prompts);
std::string_view WorkerLossPolicyName(WorkerLossPolicy policy);
std::string_view OutputFormatName(OutputFormat format);
std::string_view ApiName(Api api);  // "chat completions" or "completions"

// True for the open-loop types, whose arrivals follow a schedule rather than completions.
bool IsOpenLoop(LoadType type);

// ---- endpoint -----------------------------------------------------------------------------

// The parts of a target endpoint URL.
struct EndpointUrl {
  bool tls = false;  // https://
  std::string host;  // Without brackets for IPv6 literals.
  int port = 0;      // Explicit or the scheme's default.
  std::string path;  // Starts with '/'; includes the query string if any.
  Api api = Api::kChatCompletions;
};

// Parses and checks an endpoint: http:// or https://, a host, an optional port, and a path
// ending in /chat/completions (chat API) or /completions (completions API), optionally followed
// by a query string. InvalidArgument with a message that does not start with the field name,
// e.g. "must start with http:// or https://".
absl::StatusOr<EndpointUrl> ParseEndpoint(std::string_view endpoint);

// ---- ${env:NAME} references ---------------------------------------------------------------

// One `${env:NAME}` in a string.
struct EnvReference {
  size_t offset = 0;  // Of the '$'.
  size_t length = 0;  // Of the whole reference.
  std::string name;

  bool operator==(const EnvReference&) const = default;
};

// Finds every `${env:NAME}` in `text`. Any other `${` (`${API_KEY}`, `${env:}`, `${env:1X}`, an
// unterminated `${env:X`) is InvalidArgument naming the bad reference and the fix. A `$` not
// followed by `{` is plain text.
absl::StatusOr<std::vector<EnvReference>> FindEnvReferences(std::string_view text);

// Replaces each reference with lookup(NAME); NotFound when lookup returns nullopt (the message
// names the variable, never a value). For the code that sends requests.
absl::StatusOr<std::string> ExpandEnvReferences(
    std::string_view text,
    const std::function<std::optional<std::string>(std::string_view name)>& lookup);

// ExpandEnvReferences with the process environment.
absl::StatusOr<std::string> ExpandEnvReferencesFromEnvironment(std::string_view text);

// ---- secrets (SPEC section 8) -------------------------------------------------------------

// The text printed instead of a secret.
inline constexpr std::string_view kRedacted = "<redacted>";

// Authorization, Proxy-Authorization, Cookie, X-Api-Key, Api-Key, and any name containing
// "token", "secret" or "key" (case-insensitive).
bool IsSensitiveHeader(std::string_view name);

// The value to show for a header: `value` itself unless the header is sensitive and the value is
// more than an optional scheme word (Bearer, Basic, Token) followed by ${env:NAME} references,
// which are references, not secrets; otherwise kRedacted.
std::string RedactHeaderValue(std::string_view name, std::string_view value);

// `config` with every header value passed through RedactHeaderValue: what may be printed,
// logged or written to results/config.yaml. Idempotent.
BenchmarkConfig RedactSecrets(BenchmarkConfig config);

// OK when the config can be run as is: the target endpoint and model are set. Otherwise
// FailedPrecondition naming the missing fields and the flags that supply them.
absl::Status CheckRunnable(const BenchmarkConfig& config);

}  // namespace bench
