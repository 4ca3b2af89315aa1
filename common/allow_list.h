// The target allow-list of a controller daemon (SPEC section 8): entries are CIDR blocks
// ("10.0.0.0/8", "::1/128"), single addresses, or host names matched exactly (case-insensitive).
// A target is allowed when its host name is listed, or when every address it resolves to lies in
// a listed block. An empty list allows nothing. Checked at submit and again by workers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bench {

class TargetAllowList {
 public:
  // kInvalidArgument naming the entry for a malformed one ("10.0.0.0/33", "").
  static absl::StatusOr<TargetAllowList> Parse(const std::vector<std::string>& entries);

  // OK or kPermissionDenied naming the host and the address outside the list. `addresses` are
  // numeric (as getaddrinfo gives them).
  absl::Status Check(const std::string& host, const std::vector<std::string>& addresses) const;
  bool empty() const { return blocks_.empty() && hosts_.empty(); }

 private:
  struct Block {
    int family = 0;  // AF_INET or AF_INET6
    unsigned char bytes[16] = {};
    int prefix = 0;
  };
  std::vector<Block> blocks_;
  std::vector<std::string> hosts_;  // lower case
};

// The numeric addresses `host` resolves to (a literal resolves to itself); kNotFound naming the
// host when it does not resolve.
absl::StatusOr<std::vector<std::string>> ResolveHostAddresses(const std::string& host);

// Parses `endpoint`, resolves its host and checks it against `entries`.
absl::Status CheckTargetAllowed(std::string_view endpoint, const std::vector<std::string>& entries);

}  // namespace bench
