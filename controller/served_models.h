// A run without --model (`run`, or `submit` on the controller daemon): the model comes from the
// server's own list (GET .../v1/models, the OpenAI API's model list, next to the endpoint's
// path), as vLLM's and GuideLLM's clients do.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace bench::controller {

// The models list's URL for an endpoint: http://h:8000/v1/chat/completions ->
// http://h:8000/v1/models (the query string dropped).
std::string ModelsUrl(std::string_view endpoint);

// The ids the target's model list holds, asked with the target's headers (${env:NAME}
// expanded) and TLS settings. Errors name the URL and what went wrong: FailedPrecondition when
// the server answered (its HTTP status and the start of its error text, header values masked;
// not a model list), the transport's error otherwise (unreachable, TLS, timeout).
absl::StatusOr<std::vector<std::string>> ListServedModels(const TargetConfig& target);

// The one model the server lists. FailedPrecondition when it lists several (naming them) or
// none; the errors of ListServedModels otherwise.
absl::StatusOr<std::string> OnlyServedModel(const TargetConfig& target);

// Without target.model (and with an endpoint): sets it to OnlyServedModel's and returns the note
// that says so. nullopt when there was nothing to do, or when a header holds a results config's
// placeholder (CheckRunnable refuses that config before anything is sent). Errors are
// OnlyServedModel's, their message starting "no --model given, and ".
absl::StatusOr<std::optional<std::string>> TakeOnlyServedModel(TargetConfig& target);

}  // namespace bench::controller
