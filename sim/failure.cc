#include "sim/failure.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "sim/model.h"
#include "sim/sim_config.h"

namespace bench::sim {
namespace {

constexpr std::string_view kNames[kFailureKindCount] = {
    "none", "429", "500", "503", "reset", "truncate", "rst_stream", "goaway", "stall"};

}  // namespace

std::string_view FailureKindName(FailureKind kind) { return kNames[static_cast<int>(kind)]; }

std::optional<FailureKind> ParseFailureKind(std::string_view name) {
  for (int i = 0; i < kFailureKindCount; ++i) {
    if (kNames[i] == name) return static_cast<FailureKind>(i);
  }
  return std::nullopt;
}

int FailureHttpStatus(FailureKind kind) {
  switch (kind) {
    case FailureKind::kStatus429:
      return 429;
    case FailureKind::kStatus500:
      return 500;
    case FailureKind::kStatus503:
      return 503;
    default:
      return 0;
  }
}

FailurePolicy::FailurePolicy(const SimConfig& config)
    : rate_(config.failure_rate), seed_(config.seed) {
  for (const std::string& name : config.failure_kinds) {
    const std::optional<FailureKind> kind = ParseFailureKind(name);
    if (kind.has_value() && *kind != FailureKind::kNone) kinds_.push_back(*kind);
  }
  if (kinds_.empty()) {
    for (int i = 1; i < kFailureKindCount; ++i) kinds_.push_back(static_cast<FailureKind>(i));
  }
}

absl::StatusOr<FailureKind> FailurePolicy::Choose(std::string_view header, uint64_t serial) const {
  if (!header.empty()) {
    const std::optional<FailureKind> kind = ParseFailureKind(header);
    if (!kind.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("x-sim-failure: unknown kind '", std::string(header),
                       "' (none, 429, 500, 503, reset, truncate, rst_stream, goaway, stall)"));
    }
    return *kind;
  }
  if (rate_ <= 0) return FailureKind::kNone;
  const uint64_t bits = Mix64(seed_ ^ Mix64(serial ^ 0x6661696c75726573ULL));  // "failures"
  if (UnitInterval(bits) >= rate_) return FailureKind::kNone;
  return kinds_[Mix64(bits) % kinds_.size()];
}

}  // namespace bench::sim
