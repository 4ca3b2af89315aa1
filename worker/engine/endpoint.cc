#include "worker/engine/endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <uv.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bench::engine {

absl::StatusOr<Endpoint> ParseEndpointUrl(std::string_view url) {
  Endpoint endpoint;
  std::string_view rest;
  const std::string lower = absl::AsciiStrToLower(std::string(url.substr(0, 8)));
  if (lower.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (lower.rfind("https://", 0) == 0) {
    endpoint.tls = true;
    rest = url.substr(8);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint must start with http:// or https://, got '", std::string(url), "'"));
  }
  const size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "/" : rest.substr(path_start);
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "endpoint must not contain credentials (user:password@); put them in target.headers");
  }
  if (!path.empty() && path[0] != '/') path = "/";  // "?x" with no path
  if (const size_t fragment = path.find('#'); fragment != std::string_view::npos) {
    path = path.substr(0, fragment);
  }
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("endpoint: unterminated IPv6 address '[...'");
    }
    endpoint.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return absl::InvalidArgumentError("endpoint: junk after IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (endpoint.host.empty()) return absl::InvalidArgumentError("endpoint: missing host");
  endpoint.port = endpoint.tls ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    if (!absl::SimpleAtoi(absl::string_view(port_text.data(), port_text.size()), &port) ||
        port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("endpoint: port must be 1..65535, got '", std::string(port_text), "'"));
    }
    endpoint.port = port;
  }
  endpoint.path = std::string(path);
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  endpoint.authority = ipv6 ? absl::StrCat("[", endpoint.host, "]") : endpoint.host;
  if (endpoint.port != (endpoint.tls ? 443 : 80))
    absl::StrAppend(&endpoint.authority, ":", endpoint.port);
  return endpoint;
}

absl::StatusOr<std::vector<sockaddr_storage>> ResolveEndpoint(const Endpoint& endpoint) {
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) return absl::InternalError("uv_loop_init failed");
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  uv_getaddrinfo_t request;
  const std::string port = std::to_string(endpoint.port);
  // A null callback makes the call synchronous.
  const int rc =
      uv_getaddrinfo(&loop, &request, nullptr, endpoint.host.c_str(), port.c_str(), &hints);
  std::vector<sockaddr_storage> addresses;
  if (rc == 0) {
    for (addrinfo* info = request.addrinfo; info != nullptr; info = info->ai_next) {
      if (info->ai_family != AF_INET && info->ai_family != AF_INET6) continue;
      sockaddr_storage address;
      std::memset(&address, 0, sizeof(address));
      std::memcpy(&address, info->ai_addr, info->ai_addrlen);
      addresses.push_back(address);
    }
    uv_freeaddrinfo(request.addrinfo);
  }
  uv_loop_close(&loop);
  if (rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve ", endpoint.host, ": ", uv_strerror(rc)));
  }
  if (addresses.empty()) {
    return absl::NotFoundError(absl::StrCat("no TCP address for ", endpoint.host));
  }
  std::stable_sort(addresses.begin(), addresses.end(),
                   [](const sockaddr_storage& a, const sockaddr_storage& b) {
                     return a.ss_family == AF_INET && b.ss_family != AF_INET;
                   });
  return addresses;
}

std::string FormatAddress(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    return absl::StrCat(text, ":", ntohs(v4->sin_port));
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
  inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
  return absl::StrCat("[", text, "]:", ntohs(v6->sin6_port));
}

}  // namespace bench::engine
