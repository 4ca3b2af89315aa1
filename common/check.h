// Invariant checks that abort with a message: BENCH_CHECK(ptr != nullptr) << "why";
// For programming errors only; bad input and failed requests are Status values or counted data.
#pragma once

#include "common/logging.h"

#define BENCH_CHECK(condition)                                                              \
  (condition)                                                                               \
      ? (void)0                                                                             \
      : ::bench::internal::LogVoidify() &                                                   \
            ::bench::internal::LogMessage(__FILE__, __LINE__, ::bench::LogSeverity::kFatal) \
                    .stream()                                                               \
                << "Check failed: " #condition " "

#define BENCH_CHECK_OP_(a, op, b) BENCH_CHECK((a)op(b)) << "(" << (a) << " vs " << (b) << ") "
#define BENCH_CHECK_EQ(a, b) BENCH_CHECK_OP_(a, ==, b)
#define BENCH_CHECK_NE(a, b) BENCH_CHECK_OP_(a, !=, b)
#define BENCH_CHECK_LT(a, b) BENCH_CHECK_OP_(a, <, b)
#define BENCH_CHECK_LE(a, b) BENCH_CHECK_OP_(a, <=, b)
#define BENCH_CHECK_GT(a, b) BENCH_CHECK_OP_(a, >, b)
#define BENCH_CHECK_GE(a, b) BENCH_CHECK_OP_(a, >=, b)
// Aborts with the status's message when `status_expr` is not OK.
#define BENCH_CHECK_OK(status_expr)                               \
  do {                                                            \
    const ::absl::Status bench_check_status_ = (status_expr);     \
    BENCH_CHECK(bench_check_status_.ok()) << bench_check_status_; \
  } while (false)

#ifdef NDEBUG
#define BENCH_DCHECK(condition) \
  while (false) BENCH_CHECK(condition)
#else
#define BENCH_DCHECK(condition) BENCH_CHECK(condition)
#endif
