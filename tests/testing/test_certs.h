// Self-signed certificates made at test time, so no key material is checked in.
#pragma once

#include <string>
#include <vector>

namespace bench::testing {

struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
};

// An ECDSA P-256 certificate valid for a day, CN = first name, with every name as a
// subjectAltName (DNS names, or IP addresses when they parse as one). Aborts on OpenSSL failure.
TestCertificate MakeSelfSignedCertificate(const std::vector<std::string>& names);

}  // namespace bench::testing
