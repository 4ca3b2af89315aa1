#include "controller/served_models.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/failure_text.h"
#include "controller/http_get.h"
#include "nlohmann/json.hpp"

namespace bench::controller {

std::string ModelsUrl(std::string_view endpoint) {
  std::string url(endpoint.substr(0, endpoint.find('?')));
  for (std::string_view api : {"/chat/completions", "/completions"}) {
    if (url.size() >= api.size() && url.compare(url.size() - api.size(), api.size(), api) == 0) {
      url.resize(url.size() - api.size());
      break;
    }
  }
  return url + "/models";
}

absl::StatusOr<std::vector<std::string>> ListServedModels(const TargetConfig& target) {
  const std::string url = ModelsUrl(target.endpoint);
  HttpGetOptions options;
  options.tls_verify = !target.tls.insecure_skip_verify;
  options.ca_file = target.tls.ca_file;
  options.max_body_bytes = size_t{4} << 20;
  std::vector<std::string> secrets;
  for (const Header& header : target.headers) {
    absl::StatusOr<std::string> value = ExpandEnvReferencesFromEnvironment(header.value);
    if (!value.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("target.headers.", header.name, ": ", value.status().message()));
    }
    secrets.push_back(*value);  // Any header's value, as the engine masks them.
    options.headers.emplace_back(header.name, *std::move(value));
  }
  absl::StatusOr<HttpAnswer> answer = HttpGet(url, options);
  if (!answer.ok()) {
    return absl::Status(answer.status().code(),
                        absl::StrCat("GET ", url, ": ", answer.status().message()));
  }
  // The server answered: what it said is for the user to act on (a key, a path, --model).
  if (answer->status != 200) {
    std::string body = answer->body;
    MaskSecrets(body, secrets);
    const std::string text = PrintableExcerpt(body, 300);
    return absl::FailedPreconditionError(
        absl::StrCat("GET ", url, ": HTTP ", answer->status, text.empty() ? "" : ": ", text));
  }
  const nlohmann::json list = nlohmann::json::parse(answer->body, nullptr, false);
  if (list.is_discarded() || !list.is_object() || !list.contains("data") ||
      !list["data"].is_array()) {
    return absl::FailedPreconditionError(
        absl::StrCat("GET ", url, ": not an OpenAI model list ({\"data\": [{\"id\": ...}]})"));
  }
  std::vector<std::string> ids;
  for (const nlohmann::json& model : list["data"]) {
    if (model.is_object() && model.contains("id") && model["id"].is_string()) {
      ids.push_back(model["id"].get<std::string>());
    }
  }
  return ids;
}

absl::StatusOr<std::string> OnlyServedModel(const TargetConfig& target) {
  absl::StatusOr<std::vector<std::string>> ids = ListServedModels(target);
  if (!ids.ok()) return ids.status();
  if (ids->size() == 1) return ids->front();
  if (ids->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(ModelsUrl(target.endpoint), " lists no model; pass --model NAME"));
  }
  std::vector<std::string> shown;
  for (const std::string& id : *ids) shown.push_back(PrintableExcerpt(id, 100));
  return absl::FailedPreconditionError(
      absl::StrCat(ModelsUrl(target.endpoint), " lists ", ids->size(), " models (",
                   absl::StrJoin(shown, ", "), "); pass --model NAME to pick one"));
}

absl::StatusOr<std::optional<std::string>> TakeOnlyServedModel(TargetConfig& target) {
  const bool placeholder =
      std::any_of(target.headers.begin(), target.headers.end(), [](const Header& header) {
        return header.value.find(std::string(kRedacted)) != std::string::npos;
      });
  if (!target.model.empty() || target.endpoint.empty() || placeholder) return std::nullopt;
  absl::StatusOr<std::string> model = OnlyServedModel(target);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat("no --model given, and ", model.status().message()));
  }
  target.model = *std::move(model);
  return absl::StrCat("target.model not set: ", target.model, ", the one model ",
                      ModelsUrl(target.endpoint), " lists");
}

}  // namespace bench::controller
