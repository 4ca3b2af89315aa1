// Early-return helpers for absl::Status / absl::StatusOr, which Abseil 20220623 does not ship.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BENCH_STATUS_CONCAT_INNER_(a, b) a##b
#define BENCH_STATUS_CONCAT_(a, b) BENCH_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) once and returns it from the caller if it is not OK.
#define BENCH_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status bench_status_ = (expr);         \
    if (!bench_status_.ok()) return bench_status_; \
  } while (false)

// `BENCH_ASSIGN_OR_RETURN(auto x, Parse(s));` declares or assigns `lhs` from an absl::StatusOr,
// or returns its status from the caller.
#define BENCH_ASSIGN_OR_RETURN(lhs, expr) \
  BENCH_ASSIGN_OR_RETURN_IMPL_(BENCH_STATUS_CONCAT_(bench_statusor_, __LINE__), lhs, expr)

#define BENCH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
