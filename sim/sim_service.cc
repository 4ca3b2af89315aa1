#include "sim/sim_service.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sim/failure.h"
#include "sim/generation.h"
#include "sim/model.h"
#include "sim/openai_format.h"
#include "sim/server_connection.h"
#include "sim/sim_worker.h"
#include "sim/tokenizer.h"

namespace bench::sim {
namespace {

constexpr std::string_view kJson = "application/json";

void RespondError(ServerConnection& connection, int32_t stream, const ApiError& error,
                  const HeaderList& extra_headers = {}) {
  std::string body;
  AppendErrorBody(error, body);
  connection.Respond(stream, error.http_status, kJson, body, extra_headers);
}

void RespondError(ServerConnection& connection, int32_t stream, int http_status,
                  std::string message, const HeaderList& extra_headers = {}) {
  ApiError error;
  error.http_status = http_status;
  error.message = std::move(message);
  RespondError(connection, stream, error, extra_headers);
}

absl::string_view Abseil(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Checks what needs the settings (model name, context length) and starts a generation.
void HandleGeneration(SimWorker& worker, ServerConnection& connection, int32_t stream, ApiKind kind,
                      const IncomingRequest& incoming) {
  const std::string_view body = incoming.body;
  const SimConfig& config = worker.shared().config;
  Generation::Setup setup;
  ApiError error;
  ParseOptions options;
  options.want_echo_text = config.mode == OutputMode::kEcho;
  options.block_size = worker.shared().prefix_cache != nullptr ? config.block_size : 0;
  options.hash_seed = config.seed;
  if (!worker.parser().Parse(kind, body, options, setup.request, error)) {
    RespondError(connection, stream, error);
    return;
  }
  const GenerationRequest& request = setup.request;
  if (request.model != config.model) {
    error.http_status = 404;
    error.message = absl::StrCat("The model `", request.model, "` does not exist.");
    error.param = "model";
    RespondError(connection, stream, error);
    return;
  }
  const char* prompt_field = kind == ApiKind::kChat ? "messages" : "prompt";
  // At least one token must fit after the prompt.
  if (request.prompt_tokens >= config.max_model_len) {
    error.message =
        absl::StrCat("This model's maximum context length is ", config.max_model_len,
                     " tokens. However, your request has ", request.prompt_tokens,
                     " input tokens. Please reduce the length of the input ", prompt_field, ".");
    error.param = prompt_field;
    RespondError(connection, stream, error);
    return;
  }
  if (request.max_tokens.has_value() &&
      request.prompt_tokens + *request.max_tokens > config.max_model_len) {
    error.message = absl::StrCat(
        "This model's maximum context length is ", config.max_model_len,
        " tokens. However, you requested ", request.prompt_tokens + *request.max_tokens,
        " tokens (", request.prompt_tokens, " in the ", prompt_field, ", ", *request.max_tokens,
        " in the completion). Please reduce the length of the ", prompt_field, " or completion.");
    error.param = "max_tokens";
    RespondError(connection, stream, error);
    return;
  }

  SimShared& shared = worker.shared();
  const uint64_t serial = worker.NextRequestSerial();
  const absl::StatusOr<FailureKind> failure =
      shared.failures.Choose(incoming.failure_header, serial);
  if (!failure.ok()) {
    RespondError(connection, stream, 400, std::string(failure.status().message()));
    return;
  }
  if (const int status = FailureHttpStatus(*failure); status != 0) {
    shared.metrics.AddInjectedFailures(*failure, 1);
    RespondError(connection, stream, status,
                 absl::StrCat("Injected failure ", status,
                              " (bench-sim --failure-rate / x-sim-failure); not a real error."));
    return;
  }
  setup.failure = *failure;
  setup.arrival_ns = incoming.arrival_ns;
  setup.request_key = HashBytes(body, config.seed);
  OutputPlanInput plan_input;
  plan_input.prompt_tokens = request.prompt_tokens;
  plan_input.max_tokens = request.max_tokens;
  plan_input.min_tokens = request.min_tokens;
  plan_input.ignore_eos = request.ignore_eos;
  plan_input.request_key = setup.request_key;
  if (config.mode == OutputMode::kEcho) {
    plan_input.echo_tokens = CountTokens(request.echo_text);
  }
  setup.plan = PlanOutput(config, plan_input);
  const uint64_t id_bits = Mix64(shared.id_nonce ^ serial);
  setup.id = MakeResponseId(kind, id_bits, Mix64(id_bits));
  setup.created_unix_seconds = absl::ToUnixSeconds(absl::Now());

  auto generation = std::make_unique<Generation>(worker, &connection, stream, std::move(setup));
  if (!generation->Start()) {
    RespondError(
        connection, stream, 429,
        absl::StrCat("The waiting queue is full (", config.max_queue, " requests waiting, ",
                     config.max_num_seqs, " running); retry later."));
    return;
  }
  connection.Adopt(stream, std::move(generation));
}

}  // namespace

void HandleRequest(SimWorker& worker, ServerConnection& connection, int32_t stream,
                   const IncomingRequest& request) {
  std::string_view path = request.target;
  const size_t query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);

  // HEAD is not served: a body-less answer would need care in both protocols for no user.
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  static const HeaderList kAllowGet = {{"allow", "GET"}};
  static const HeaderList kAllowPost = {{"allow", "POST"}};
  const SimConfig& config = worker.shared().config;

  if (path == "/v1/chat/completions" || path == "/v1/completions") {
    if (!post) {
      RespondError(connection, stream, 405,
                   absl::StrCat("Method ", Abseil(request.method), " not allowed on ", Abseil(path),
                                "; use POST."),
                   kAllowPost);
      return;
    }
    if (request.body_too_large) {
      RespondError(connection, stream, 413,
                   absl::StrCat("The request body is over ", config.max_body_bytes, " bytes."));
      return;
    }
    HandleGeneration(worker, connection, stream,
                     path == "/v1/chat/completions" ? ApiKind::kChat : ApiKind::kCompletions,
                     request);
    return;
  }
  if (path == "/health" || path == "/v1/models" || path == "/metrics") {
    if (!get) {
      RespondError(connection, stream, 405,
                   absl::StrCat("Method ", Abseil(request.method), " not allowed on ", Abseil(path),
                                "; use GET."),
                   kAllowGet);
      return;
    }
    if (path == "/health") {
      connection.Respond(stream, 200, "text/plain; charset=utf-8", "OK");
    } else if (path == "/v1/models") {
      connection.Respond(
          stream, 200, kJson,
          ModelsBody(config.model, worker.shared().started_unix_seconds, config.max_model_len));
    } else {
      connection.Respond(stream, 200, "text/plain; version=0.0.4; charset=utf-8",
                         worker.shared().metrics.Serialize());
    }
    return;
  }
  RespondError(connection, stream, 404, absl::StrCat("Not Found: ", Abseil(path)));
}

}  // namespace bench::sim
