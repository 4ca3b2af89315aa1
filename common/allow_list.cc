#include "common/allow_list.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/status_macros.h"

namespace bench {
namespace {

// Parses a numeric address into family and bytes.
bool ParseAddress(const std::string& text, int* family, unsigned char bytes[16]) {
  std::memset(bytes, 0, 16);
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    *family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    *family = AF_INET6;
    return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<TargetAllowList> TargetAllowList::Parse(const std::vector<std::string>& entries) {
  TargetAllowList list;
  for (const std::string& raw : entries) {
    const std::string entry(absl::StripAsciiWhitespace(raw));
    if (entry.empty()) return absl::InvalidArgumentError("--allow-target: empty entry");
    const size_t slash = entry.find('/');
    Block block;
    const std::string address = entry.substr(0, slash);
    if (ParseAddress(address, &block.family, block.bytes)) {
      const int bits = block.family == AF_INET ? 32 : 128;
      block.prefix = bits;
      if (slash != std::string::npos) {
        if (!absl::SimpleAtoi(entry.substr(slash + 1), &block.prefix) || block.prefix < 0 ||
            block.prefix > bits) {
          return absl::InvalidArgumentError(
              absl::StrCat("--allow-target ", entry, ": the prefix length must be 0..", bits));
        }
      }
      list.blocks_.push_back(block);
      continue;
    }
    if (slash != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--allow-target ", entry, ": not an address block (CIDR)"));
    }
    list.hosts_.push_back(absl::AsciiStrToLower(entry));
  }
  return list;
}

absl::Status TargetAllowList::Check(const std::string& host,
                                    const std::vector<std::string>& addresses) const {
  const std::string lower = absl::AsciiStrToLower(host);
  if (std::find(hosts_.begin(), hosts_.end(), lower) != hosts_.end()) return absl::OkStatus();
  if (empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "target ", host, " is not allowed: the controller's allow-list is empty (--allow-target)"));
  }
  if (addresses.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("target ", host, " is not allowed: it resolves to no address"));
  }
  for (const std::string& address : addresses) {
    int family = 0;
    unsigned char bytes[16];
    if (!ParseAddress(address, &family, bytes)) {
      return absl::PermissionDeniedError(
          absl::StrCat("target ", host, ": cannot check address ", address));
    }
    bool inside = false;
    for (const Block& block : blocks_) {
      if (block.family != family) continue;
      int bits = block.prefix;
      bool match = true;
      for (int i = 0; bits > 0 && match; ++i, bits -= 8) {
        const unsigned char mask =
            bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
        match = (bytes[i] & mask) == (block.bytes[i] & mask);
      }
      if (match) {
        inside = true;
        break;
      }
    }
    if (!inside) {
      return absl::PermissionDeniedError(absl::StrCat("target ", host, " is not allowed: address ",
                                                      address, " is outside the allow-list"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ResolveHostAddresses(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0) {
    return absl::NotFoundError(absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  std::vector<std::string> addresses;
  for (addrinfo* a = result; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (inet_ntop(a->ai_family, raw, text, sizeof(text)) != nullptr) {
      if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
        addresses.push_back(text);
      }
    }
  }
  freeaddrinfo(result);
  return addresses;
}

absl::Status CheckTargetAllowed(std::string_view endpoint,
                                const std::vector<std::string>& entries) {
  BENCH_ASSIGN_OR_RETURN(TargetAllowList list, TargetAllowList::Parse(entries));
  absl::StatusOr<EndpointUrl> url = ParseEndpoint(endpoint);
  if (!url.ok())
    return absl::InvalidArgumentError(absl::StrCat("target.endpoint ", url.status().message()));
  if (list.empty()) return list.Check(url->host, {});
  absl::StatusOr<std::vector<std::string>> addresses = ResolveHostAddresses(url->host);
  if (!addresses.ok()) {
    // A listed name may be checked without resolving; anything else must resolve.
    absl::Status by_name = list.Check(url->host, {});
    if (by_name.ok()) return by_name;
    return absl::PermissionDeniedError(
        absl::StrCat("target ", url->host, " is not allowed: ", addresses.status().message()));
  }
  return list.Check(url->host, *addresses);
}

}  // namespace bench
