// Where requests go: the parsed endpoint URL and its resolved addresses.
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace bench::engine {

struct Endpoint {
  bool tls = false;       // https
  std::string host;       // without brackets for IPv6
  int port = 0;           // 80 / 443 by default
  std::string path;       // origin-form with query: /v1/chat/completions
  std::string authority;  // as sent in Host / :authority: host[:port], IPv6 in brackets
};

// Parses http[s]://host[:port]/path. Errors name what is wrong (scheme, port, missing host)
// and never echo userinfo (user:password@ is rejected: credentials go in headers).
absl::StatusOr<Endpoint> ParseEndpointUrl(std::string_view url);

// Resolves host and port (numeric or DNS, via libuv's synchronous getaddrinfo) to TCP addresses,
// IPv4 first. kNotFound when the name does not resolve.
absl::StatusOr<std::vector<sockaddr_storage>> ResolveEndpoint(const Endpoint& endpoint);

// "127.0.0.1:8000" / "[::1]:8000" for logs and error messages.
std::string FormatAddress(const sockaddr_storage& address);

}  // namespace bench::engine
