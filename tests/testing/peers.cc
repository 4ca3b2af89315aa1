#include "tests/testing/peers.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/testing/test_certs.h"

namespace bench::testing {
namespace {

absl::StatusOr<std::string> MakeTempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  // nginx workers run as nobody: let them read what we write here.
  std::filesystem::permissions(pattern, std::filesystem::perms::all);
  return pattern;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all |
                                         std::filesystem::perms::group_read |
                                         std::filesystem::perms::others_read);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NginxPeer>> NginxPeer::Start(const std::string& locations) {
  std::unique_ptr<NginxPeer> peer(new NginxPeer());
  auto dir = MakeTempDir("bench-nginx-");
  if (!dir.ok()) return dir.status();
  peer->dir_ = *dir;
  const TestCertificate cert = MakeSelfSignedCertificate({"localhost", "127.0.0.1"});
  peer->cert_pem_ = cert.cert_pem;
  peer->cert_file_ = peer->dir_ + "/cert.pem";
  WriteFile(peer->cert_file_, cert.cert_pem);
  WriteFile(peer->dir_ + "/key.pem", cert.key_pem);
  // A port picked free may be taken again before nginx binds it (tests run in parallel and
  // their connections use the same range): nginx then exits, and we retry with other ports.
  absl::Status last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    peer->ports_ = {PickFreePort(), PickFreePort(), PickFreePort(), PickFreePort()};
    const std::string& d = peer->dir_;
    const NginxPorts& p = peer->ports_;
    const std::string tls_lines = absl::StrCat("ssl_certificate ", d, "/cert.pem;\n",
                                               "ssl_certificate_key ", d, "/key.pem;\n");
    const std::string config = absl::StrCat(
        "load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;\n"
        "worker_processes 1;\ndaemon off;\nmaster_process off;\n",
        "error_log ", d, "/error.log;\npid ", d, "/nginx.pid;\n",
        "events { worker_connections 20000; }\n"
        "http {\n  access_log off;\n  keepalive_requests 100000;\n",
        "  client_body_temp_path ", d, "/body;\n  proxy_temp_path ", d, "/proxy;\n",
        "  fastcgi_temp_path ", d, "/fastcgi;\n  uwsgi_temp_path ", d, "/uwsgi;\n",
        "  scgi_temp_path ", d, "/scgi;\n  http2_max_concurrent_streams 1000;\n",
        "  server { listen 127.0.0.1:", p.http1, ";\n", locations, "  }\n",
        "  server { listen 127.0.0.1:", p.h2c, " http2;\n", locations, "  }\n",
        "  server { listen 127.0.0.1:", p.tls, " ssl http2;\n", tls_lines, locations, "  }\n",
        "  server { listen 127.0.0.1:", p.tls_http1, " ssl;\n", tls_lines, locations, "  }\n",
        "}\n");
    WriteFile(d + "/nginx.conf", config);
    auto process = Subprocess::Start({"nginx", "-p", d, "-c", d + "/nginx.conf"}, d + "/out.log");
    if (!process.ok()) return process.status();
    peer->process_ = std::move(process).value();
    // nginx binds every port before it serves: once one answers, all are its own, unless it
    // exited on a taken port (then the answer came from someone else).
    bool listening = true;
    for (int port : {p.http1, p.h2c, p.tls, p.tls_http1}) {
      if (!WaitForPort(port, absl::Seconds(10)) || !peer->process_->Running()) {
        listening = false;
        last_error = absl::UnavailableError(
            absl::StrCat("nginx did not listen on ", port, "; see ", d, "/error.log"));
        break;
      }
    }
    // A port someone else holds answers too: nginx logs its failed bind() before retrying.
    if (listening && ReadText(d + "/error.log").find("bind() to") != std::string::npos) {
      listening = false;
      last_error = absl::UnavailableError(
          absl::StrCat("nginx could not bind its ports; see ", d, "/error.log"));
    }
    if (listening) return peer;
    peer->process_.reset();
  }
  return last_error;
}

NginxPeer::~NginxPeer() {
  process_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::StatusOr<std::unique_ptr<NghttpdPeer>> NghttpdPeer::Start(
    const std::vector<std::pair<std::string, std::string>>& files, int max_concurrent_streams,
    bool tls) {
  std::unique_ptr<NghttpdPeer> peer(new NghttpdPeer());
  auto dir = MakeTempDir("bench-nghttpd-");
  if (!dir.ok()) return dir.status();
  peer->dir_ = *dir;
  std::filesystem::create_directory(peer->dir_ + "/htdocs");
  for (const auto& [name, content] : files) WriteFile(peer->dir_ + "/htdocs/" + name, content);
  peer->port_ = PickFreePort();
  std::vector<std::string> argv = {
      "nghttpd",
      "-a",
      "127.0.0.1",
      "-d",
      peer->dir_ + "/htdocs",
      absl::StrCat("--max-concurrent-streams=", max_concurrent_streams)};
  if (tls) {
    const TestCertificate cert = MakeSelfSignedCertificate({"localhost", "127.0.0.1"});
    peer->cert_pem_ = cert.cert_pem;
    WriteFile(peer->dir_ + "/key.pem", cert.key_pem);
    WriteFile(peer->dir_ + "/cert.pem", cert.cert_pem);
    argv.push_back(std::to_string(peer->port_));
    argv.push_back(peer->dir_ + "/key.pem");
    argv.push_back(peer->dir_ + "/cert.pem");
  } else {
    argv.push_back("--no-tls");
    argv.push_back(std::to_string(peer->port_));
  }
  auto process = Subprocess::Start(argv, peer->dir_ + "/out.log");
  if (!process.ok()) return process.status();
  peer->process_ = std::move(process).value();
  if (!WaitForPort(peer->port_, absl::Seconds(10))) {
    return absl::UnavailableError(absl::StrCat("nghttpd did not listen on ", peer->port_));
  }
  return peer;
}

NghttpdPeer::~NghttpdPeer() {
  process_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace bench::testing
