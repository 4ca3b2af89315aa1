// gRPC credentials for the processes that dial a controller (bench-worker and the client
// commands): TLS with an optional CA bundle and client certificate (mTLS), or plaintext to a
// loopback controller only when a token would travel with it (SPEC section 8).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace bench {

// The largest gRPC message either side accepts (a bigger one fails RESOURCE_EXHAUSTED): well
// above a shard of 200,000 request records (about 10 MB) or a million-arrival trace share (8 MB).
// gRPC assembles a message before checking its size, so a peer can make the controller hold about
// this much per stream while a message is refused; the controller is closed (TLS and token).
inline constexpr int kMaxMessageBytes = 64 << 20;

struct DialOptions {
  std::string address;     // HOST:PORT
  bool insecure = false;   // plaintext (development)
  std::string ca_file;     // PEM bundle that signed the controller's certificate
  std::string cert_file;   // mTLS client certificate
  std::string key_file;    // mTLS client key
  std::string token_file;  // bearer token; empty: BENCH_TOKEN from the environment, if set
};

struct Dial {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments arguments;  // keepalive and message sizes that match the server's
  std::string token;                 // empty: none
};

// kInvalidArgument naming the flag (--token-file, --ca-file, ...) for unreadable files, a
// half-given mTLS pair, or a token that would go in plaintext to a non-loopback address.
absl::StatusOr<Dial> MakeDial(const DialOptions& options);

// True for localhost, 127.0.0.0/8 and ::1 (HOST:PORT or a bare host).
bool IsLoopbackAddress(const std::string& host_port);

// Reads a whole file; kNotFound naming `what` and the path.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path, const std::string& what);

}  // namespace bench
