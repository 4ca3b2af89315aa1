// bench-sim's failure injection: which requests fail on purpose, and how. A request fails with
// probability --failure-rate, its kind drawn uniformly from --failure-kinds (all kinds when the
// list is empty); a request header `x-sim-failure: KIND` forces one kind (or `none`) whatever
// the rate. The draw is a pure function of the seed and the request's serial number.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace bench::sim {

struct SimConfig;

// The request header that forces a kind (lower-case, as HTTP/2 sends it).
inline constexpr std::string_view kFailureHeader = "x-sim-failure";

enum class FailureKind : uint8_t {
  kNone,
  kStatus429,  // at once: 429 with an OpenAI rate-limit error body
  kStatus500,  // at once: 500
  kStatus503,  // at once: 503
  kReset,      // mid-stream: TCP reset of the connection (every request on it fails)
  kTruncate,   // mid-stream: the response ends cleanly without finish, usage or [DONE]
  kRstStream,  // mid-stream: HTTP/2 RST_STREAM(INTERNAL_ERROR); a reset over HTTP/1.1
  kGoaway,     // mid-stream: HTTP/2 GOAWAY(INTERNAL_ERROR), then the connection closes; a
               // reset over HTTP/1.1
  kStall,      // mid-stream: no bytes for --failure-stall, then the stream goes on
};
inline constexpr int kFailureKindCount = 9;

// "429", "500", "503", "reset", "truncate", "rst_stream", "goaway", "stall"; "none".
std::string_view FailureKindName(FailureKind kind);
// The inverse of FailureKindName; nullopt for anything else.
std::optional<FailureKind> ParseFailureKind(std::string_view name);
// 429, 500 or 503 for the status kinds; 0 otherwise.
int FailureHttpStatus(FailureKind kind);

// Thread-safe (immutable).
class FailurePolicy {
 public:
  // The settings must have passed ValidateConfig().
  explicit FailurePolicy(const SimConfig& config);

  // The kind for one request. `header` is the x-sim-failure value ("" when absent);
  // InvalidArgument for a value that names no kind. `serial` is distinct per request.
  absl::StatusOr<FailureKind> Choose(std::string_view header, uint64_t serial) const;

  // How many tokens are sent before a mid-stream kind strikes: half the output, rounded down.
  static int64_t TokensBeforeFailure(int64_t completion_tokens) { return completion_tokens / 2; }

 private:
  double rate_;
  uint64_t seed_;
  std::vector<FailureKind> kinds_;
};

}  // namespace bench::sim
