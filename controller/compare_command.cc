// `bench-controller compare`: a baseline results directory against candidates
// (controller/compare.h).

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/compare.h"
#include "controller/results.h"

namespace bench::controller {
namespace {

constexpr char kUsage[] =
    "usage: bench-controller compare BASELINE CANDIDATE... [--fail-on-regression PCT]\n"
    "                                [--threshold PCT] [--labels A,B,...] [--json]\n"
    "                                [--output FILE.html]\n"
    "\n"
    "Compares results directories: every metric side by side with its absolute and relative\n"
    "change. A change is a regression (or an improvement) when it is beyond the threshold and\n"
    "beyond both runs' noise: the 99% confidence intervals of a latency percentile (from each\n"
    "run's histogram) or of the per-interval rate do not overlap.\n"
    "  --fail-on-regression PCT  exit 3 when a metric regressed by more than PCT percent\n"
    "                            (also the threshold)\n"
    "  --threshold PCT           the smallest relative change that counts (default 5)\n"
    "  --labels A,B,...          names of the runs, baseline first (default: directory names),\n"
    "                            e.g. 1,2,4 for runs at 1, 2 and 4 replicas\n"
    "  --json                    print the comparison as JSON instead of tables\n"
    "  --output FILE.html        also write a self-contained page with the distributions of\n"
    "                            every run overlaid\n"
    "exit codes: 0 compared, 2 bad usage or not a results directory, 3 a regression beyond\n"
    "--fail-on-regression.\n";

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller compare: %s\n\n%s", reason.c_str(), kUsage);
  return kExitUsage;
}

bool ParsePercent(const std::string& text, double* out) {
  return absl::SimpleAtod(text, out) && *out >= 0 && *out <= 1000;
}

}  // namespace

int RunCompareCommand(const std::vector<std::string>& args) {
  std::vector<std::string> paths;
  CompareOptions options;
  std::optional<double> fail_on;
  std::optional<double> threshold;
  std::optional<std::string> output;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::optional<std::string> value;
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (MatchFlag(args, &i, "--fail-on-regression", &value)) {
      double pct = 0;
      if (!value.has_value() || !ParsePercent(*value, &pct)) {
        return UsageError("--fail-on-regression needs a percentage (10 for 10%)");
      }
      fail_on = pct;
    } else if (MatchFlag(args, &i, "--threshold", &value)) {
      double pct = 0;
      if (!value.has_value() || !ParsePercent(*value, &pct)) {
        return UsageError("--threshold needs a percentage (5 for 5%)");
      }
      threshold = pct;
    } else if (MatchFlag(args, &i, "--labels", &value)) {
      if (!value.has_value() || value->empty()) return UsageError("--labels needs A,B,...");
      options.labels = absl::StrSplit(*value, ',');
    } else if (MatchFlag(args, &i, "--output", &value)) {
      if (!value.has_value() || value->empty()) return UsageError("--output needs a file path");
      output = *value;
    } else if (args[i] == "--json") {
      json = true;
    } else if (!args[i].empty() && args[i][0] == '-') {
      return UsageError("unknown flag " + args[i]);
    } else {
      paths.push_back(args[i]);
    }
  }
  if (paths.size() < 2) return UsageError("needs a baseline and at least one candidate directory");
  if (!options.labels.empty() && options.labels.size() != paths.size()) {
    return UsageError(absl::StrCat("--labels names ", options.labels.size(), " runs, but ",
                                   paths.size(), " directories are given"));
  }
  if (fail_on.has_value() && threshold.has_value() && *threshold > *fail_on) {
    return UsageError(
        "--threshold above --fail-on-regression would hide the regressions it fails on");
  }
  options.threshold_pct = threshold.value_or(fail_on.value_or(options.threshold_pct));

  std::vector<ResultsDirectory> runs;
  for (const std::string& path : paths) {
    absl::StatusOr<ResultsDirectory> run = LoadResultsDirectory(path);
    if (!run.ok()) {
      std::fprintf(stderr, "bench-controller compare: %s\n",
                   std::string(run.status().message()).c_str());
      return kExitUsage;
    }
    runs.push_back(*std::move(run));
  }
  const ResultsDirectory baseline = std::move(runs.front());
  runs.erase(runs.begin());
  Comparison comparison = Compare(baseline, runs, options);
  // With both flags, the verdict column uses the threshold; the exit code only counts what
  // regressed beyond --fail-on-regression.
  int failing = 0;
  for (const CandidateComparison& candidate : comparison.candidates) {
    for (const MetricChange& change : candidate.changes) {
      if (change.verdict != ChangeVerdict::kRegression || !fail_on.has_value()) continue;
      const bool beyond =
          !change.relative.has_value() || std::abs(*change.relative) * 100.0 >= *fail_on;
      if (beyond) ++failing;
    }
  }
  const std::string text = json ? ComparisonJson(comparison) : ComparisonText(comparison);
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (output.has_value()) {
    absl::StatusOr<std::string> page = ComparisonHtml(comparison, baseline, runs);
    absl::Status written = page.ok() ? WriteResultFile(*output, *page) : page.status();
    if (!written.ok()) {
      std::fprintf(stderr, "bench-controller compare: %s: %s\n", output->c_str(),
                   std::string(written.message()).c_str());
      return kExitRunFailed;
    }
    std::fprintf(stderr, "comparison page: %s\n", output->c_str());
  }
  if (failing > 0) {
    std::fprintf(stderr, "compare: %d regression%s beyond %s%% (--fail-on-regression): exit 3\n",
                 failing, failing == 1 ? "" : "s", absl::StrCat(*fail_on).c_str());
    return kExitSloFailed;
  }
  return kExitOk;
}

}  // namespace bench::controller
