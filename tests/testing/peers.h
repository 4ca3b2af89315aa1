// Real HTTP peers from Debian for engine tests: nginx (HTTP/1.1, h2c, h2 with TLS, echo module for
// scripted SSE responses) and nghttpd (HTTP/2 with a stream cap). Each runs in its own temporary
// directory on free loopback ports and is stopped by PID when the object dies.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace bench::testing {

struct NginxPorts {
  int http1 = 0;      // plaintext HTTP/1.1
  int h2c = 0;        // plaintext HTTP/2 (prior knowledge)
  int tls = 0;        // TLS with ALPN h2 and http/1.1
  int tls_http1 = 0;  // TLS with http/1.1 only
};

class NginxPeer {
 public:
  // `locations` is the text of nginx `location` blocks shared by every server. The TLS servers use
  // a certificate for localhost and 127.0.0.1, in cert_file().
  static absl::StatusOr<std::unique_ptr<NginxPeer>> Start(const std::string& locations);
  ~NginxPeer();
  const NginxPorts& ports() const { return ports_; }
  const std::string& cert_file() const { return cert_file_; }
  const std::string& cert_pem() const { return cert_pem_; }

 private:
  NginxPeer() = default;
  std::string dir_;
  std::string cert_file_;
  std::string cert_pem_;
  NginxPorts ports_;
  std::unique_ptr<Subprocess> process_;
};

class NghttpdPeer {
 public:
  // Serves `files` (name -> content) from a temporary directory over h2c, or over TLS (h2) when
  // `tls`; caps concurrent streams per connection at `max_concurrent_streams`.
  static absl::StatusOr<std::unique_ptr<NghttpdPeer>> Start(
      const std::vector<std::pair<std::string, std::string>>& files, int max_concurrent_streams,
      bool tls);
  ~NghttpdPeer();
  int port() const { return port_; }
  const std::string& cert_pem() const { return cert_pem_; }

 private:
  NghttpdPeer() = default;
  std::string dir_;
  std::string cert_pem_;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace bench::testing
