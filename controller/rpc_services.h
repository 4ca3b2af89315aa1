// The controller's gRPC face: the WorkerLink service (callback API, one reactor per worker
// stream, so a thousand workers cost no threads), the BenchmarkService for clients, and the
// bearer-token check every RPC passes first. Both services drive one Coordinator.
#pragma once

#include <memory>
#include <string>

#include "controller/coordinator.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/service_type.h"

namespace bench::controller {

// Checks `authorization: Bearer <token>` in constant time. An empty token accepts every call
// (only `serve --insecure` on loopback allows that, or mTLS where the certificate is the
// credential).
class TokenCheck {
 public:
  explicit TokenCheck(std::string token) : token_(std::move(token)) {}
  grpc::Status Check(const grpc::ServerContextBase& context) const;
  // Who made the call, for audit lines: the peer address and, under mTLS, the certificate's name.
  static std::string Caller(const grpc::ServerContextBase& context);

 private:
  std::string token_;
};

// Both services; the coordinator and token check must outlive them.
std::unique_ptr<grpc::Service> MakeWorkerLinkService(Coordinator& coordinator,
                                                     const TokenCheck& tokens);
std::unique_ptr<grpc::Service> MakeBenchmarkService(Coordinator& coordinator,
                                                    const TokenCheck& tokens);

// The proto state of a run phase (done splits by exit code: 3 is SLO_FAILED).
int RunStateOf(RunPhase phase, int exit_code);

}  // namespace bench::controller
