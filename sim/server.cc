#include "sim/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "sim/model.h"

namespace bench::sim {
namespace {

// A bound (not yet listening) TCP socket with SO_REUSEPORT, so every worker can bind the port.
// The first socket of an address binds without it and turns it on after: with it, a bind
// would share a port some other process holds with SO_REUSEPORT (another bench-sim, or the
// kernel's pick for port 0) instead of failing, and the two would split the connections.
// With one thread the port is never shared.
absl::StatusOr<int> BindSocket(const ListenAddress& address, int port, bool first, bool share) {
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* results = nullptr;
  const std::string port_text = std::to_string(port);
  const int rc = getaddrinfo(address.host.c_str(), port_text.c_str(), &hints, &results);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen ", address.host, ": cannot resolve: ", gai_strerror(rc)));
  }
  const int fd = socket(results->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(results);
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (share && !first) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (results->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  const int bound = bind(fd, results->ai_addr, results->ai_addrlen);
  const int bind_errno = errno;
  freeaddrinfo(results);
  if (share && bound == 0 && first) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bound != 0) {
    close(fd);
    const std::string message =
        absl::StrCat("listen ", address.host, ":", port, ": ", std::strerror(bind_errno));
    return bind_errno == EADDRINUSE ? absl::AlreadyExistsError(message)
                                    : absl::InvalidArgumentError(message);
  }
  return fd;
}

int LocalPort(int fd) {
  sockaddr_storage storage;
  socklen_t length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

}  // namespace

std::string BoundAddress::Describe() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port,
                      tls ? " (https: h2, http/1.1)" : " (http/1.1, h2c)");
}

absl::StatusOr<std::unique_ptr<SimServer>> SimServer::Create(const SimConfig& config) {
  std::unique_ptr<SimServer> server(new SimServer());
  server->shared_ = std::make_unique<SimShared>(config);
  SimShared& shared = *server->shared_;
  shared.started_unix_seconds = absl::ToUnixSeconds(absl::Now());
  shared.id_nonce =
      Mix64(static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^
            (static_cast<uint64_t>(getpid()) << 32) ^ static_cast<uint64_t>(MonotonicNowNs()));
  if (!config.tls_cert.empty()) {
    engine::TlsServerOptions options;
    options.cert_file = config.tls_cert;
    options.key_file = config.tls_key;
    options.alpn = {"h2", "http/1.1"};
    BENCH_ASSIGN_OR_RETURN(shared.tls, engine::TlsContext::CreateServer(options));
  }
  for (int i = 0; i < config.threads; ++i) {
    BENCH_ASSIGN_OR_RETURN(std::unique_ptr<SimWorker> worker, SimWorker::Create(shared, i));
    server->workers_.push_back(std::move(worker));
  }
  for (const ListenAddress& address : config.listen) {
    int port = address.port;
    for (auto& worker : server->workers_) {
      BENCH_ASSIGN_OR_RETURN(const int fd, BindSocket(address, port, worker == server->workers_[0],
                                                      server->workers_.size() > 1));
      port = LocalPort(fd);  // Port 0: the first bind chose; the other threads join it.
      BENCH_RETURN_IF_ERROR(worker->Listen(fd));
    }
    server->addresses_.push_back({address.host, port, shared.tls != nullptr});
    if (server->addresses_.size() == 1) shared.first_port = port;
  }
  return server;
}

SimServer::~SimServer() { Stop(); }

void SimServer::Start() {
  for (auto& worker : workers_) worker->Start();
}

void SimServer::Stop() {
  for (auto& worker : workers_) worker->Stop();
}

}  // namespace bench::sim
