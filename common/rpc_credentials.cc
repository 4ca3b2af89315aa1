#include "common/rpc_credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/grpcpp.h"

namespace bench {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, const std::string& what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(what, ": cannot read ", path));
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

bool IsLoopbackAddress(const std::string& host_port) {
  std::string host = host_port;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.rfind(':'));
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<Dial> MakeDial(const DialOptions& options) {
  Dial dial;
  if (!options.token_file.empty()) {
    BENCH_ASSIGN_OR_RETURN(std::string token, ReadWholeFile(options.token_file, "--token-file"));
    dial.token = std::string(absl::StripAsciiWhitespace(token));
    if (dial.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", options.token_file, " is empty"));
    }
  } else if (const char* env = std::getenv("BENCH_TOKEN"); env != nullptr && *env != '\0') {
    dial.token = std::string(absl::StripAsciiWhitespace(env));
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("--cert-file and --key-file go together (mTLS)");
  }
  if (options.insecure) {
    if (!options.ca_file.empty() || !options.cert_file.empty()) {
      return absl::InvalidArgumentError(
          "--insecure turns TLS off: drop --ca-file, --cert-file and --key-file");
    }
    if (!dial.token.empty() && !IsLoopbackAddress(options.address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("refusing to send the token in plaintext to ", options.address,
                       " (--insecure is for a loopback controller; use TLS)"));
    }
    dial.credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      BENCH_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadWholeFile(options.ca_file, "--ca-file"));
    }
    if (!options.cert_file.empty()) {
      BENCH_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadWholeFile(options.cert_file, "--cert-file"));
      BENCH_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadWholeFile(options.key_file, "--key-file"));
    }
    dial.credentials = grpc::SslCredentials(ssl);
  }
  dial.arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  dial.arguments.SetMaxSendMessageSize(kMaxMessageBytes);
  // Keepalive within what the controller permits (GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL...).
  dial.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  dial.arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  dial.arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  dial.arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  dial.arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10'000);
  return dial;
}

}  // namespace bench
