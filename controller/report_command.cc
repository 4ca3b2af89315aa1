// `bench-controller report`: rebuilds a report from a results directory, also an interrupted
// run's partial results (controller/report.h).

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/report.h"

namespace bench::controller {
namespace {

constexpr char kUsage[] =
    "usage: bench-controller report --input DIR [--format html|pdf|md|csv|json]\n"
    "                               [--output FILE]\n"
    "\n"
    "Rebuilds a report from a results directory (summary.json, metrics.json, config.yaml,\n"
    "prometheus.json), also from an interrupted run's partial results.\n"
    "  --input DIR     the results directory\n"
    "  --format F      html (default: self-contained, opens offline), pdf (printed by headless\n"
    "                  Chromium), md, csv (one row per metric and stage) or json\n"
    "  --output FILE   where to write it (default DIR/report.<format>); - for stdout\n"
    "                  (not pdf)\n";

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller report: %s\n\n%s", reason.c_str(), kUsage);
  return kExitUsage;
}

}  // namespace

int RunReportCommand(const std::vector<std::string>& args) {
  std::optional<std::string> input, output;
  ReportFormat format = ReportFormat::kHtml;
  for (size_t i = 0; i < args.size(); ++i) {
    std::optional<std::string> value;
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (MatchFlag(args, &i, "--input", &value)) {
      if (!value.has_value() || value->empty()) return UsageError("--input needs a directory");
      input = *value;
    } else if (MatchFlag(args, &i, "--format", &value)) {
      if (!value.has_value()) return UsageError("--format needs html, pdf, md, csv or json");
      absl::StatusOr<ReportFormat> parsed = ParseReportFormat(*value);
      if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
      format = *parsed;
    } else if (MatchFlag(args, &i, "--output", &value)) {
      if (!value.has_value() || value->empty()) return UsageError("--output needs a file path");
      output = *value;
    } else if (!args[i].empty() && args[i][0] == '-') {
      return UsageError("unknown flag " + args[i]);
    } else if (!input.has_value()) {
      input = args[i];  // `report DIR` reads as `report --input DIR`
    } else {
      return UsageError("unexpected argument " + args[i]);
    }
  }
  if (!input.has_value()) return UsageError("--input DIR is required");
  if (output == "-" && format == ReportFormat::kPdf) {
    return UsageError("--output - (stdout) is for text formats; a PDF needs a file");
  }
  absl::StatusOr<ResultsDirectory> results = LoadResultsDirectory(*input);
  if (!results.ok()) {
    std::fprintf(stderr, "bench-controller report: %s\n",
                 std::string(results.status().message()).c_str());
    return results.status().code() == absl::StatusCode::kNotFound ? kExitUsage : kExitRunFailed;
  }
  if (output == "-") {
    absl::StatusOr<std::string> text = RenderReport(*results, format);
    if (!text.ok()) {
      std::fprintf(stderr, "bench-controller report: %s\n",
                   std::string(text.status().message()).c_str());
      return kExitRunFailed;
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    return kExitOk;
  }
  const std::string path = output.value_or(absl::StrCat(*input, "/", ReportFileName(format)));
  if (absl::Status written = WriteReport(*results, format, path); !written.ok()) {
    std::fprintf(stderr, "bench-controller report: %s\n", std::string(written.message()).c_str());
    return kExitRunFailed;
  }
  std::printf("%s\n", path.c_str());
  return kExitOk;
}

}  // namespace bench::controller
