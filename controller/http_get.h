// A blocking HTTP/1.1 GET for the controller's side requests (Prometheus's API, a server's
// /v1/models): one connection per request, `Connection: close`, over TLS for https:// with
// the system's or a given CA bundle. Never used for benchmark traffic.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace bench::controller {

struct HttpGetOptions {
  std::vector<std::pair<std::string, std::string>> headers;  // Sent as given.
  bool tls_verify = true;                     // Check the certificate chain and the host name.
  std::string ca_file;                        // PEM bundle instead of the system store.
  absl::Duration timeout = absl::Seconds(5);  // For connecting, and for each read or write.
  size_t max_body_bytes = size_t{64} << 20;
};

struct HttpAnswer {
  int status = 0;
  std::string body;  // Dechunked.
};

// GET `url` (http:// or https://, optional port, path and query). Any status is an answer;
// errors are for what kept one from arriving: Unavailable (resolve, connect, TLS handshake with
// the reason), DeadlineExceeded, DataLoss (not HTTP), ResourceExhausted (body too large),
// InvalidArgument (the URL).
absl::StatusOr<HttpAnswer> HttpGet(std::string_view url, const HttpGetOptions& options);

}  // namespace bench::controller
