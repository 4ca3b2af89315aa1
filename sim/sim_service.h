// bench-sim's routes: /v1/chat/completions and /v1/completions start generations; /v1/models,
// /health and /metrics answer at once; everything else is an OpenAI-style error (404, 405, 413).
#pragma once

#include <cstdint>
#include <string_view>

namespace bench::sim {

class ServerConnection;
class SimWorker;

struct IncomingRequest {
  std::string_view method;
  std::string_view target;  // path and query
  std::string_view body;
  bool body_too_large = false;
  // The x-sim-failure header's value (failure.h), or empty.
  std::string_view failure_header;
  // MonotonicNowNs() when the read that completed the request returned (taken before any
  // parsing, so a batch of requests in one read shares it), or when a pipelined HTTP/1.1
  // request was taken up.
  int64_t arrival_ns = 0;
};

// Answers `request` on `stream` of `connection`, at once or through a Generation the connection
// adopts. Loop thread only; views are used only during the call.
void HandleRequest(SimWorker& worker, ServerConnection& connection, int32_t stream,
                   const IncomingRequest& request);

}  // namespace bench::sim
