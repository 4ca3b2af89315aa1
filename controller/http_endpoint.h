// A tiny blocking HTTP/1.1 server for the controller's /metrics, /healthz and /readyz: one
// thread accepts a connection, reads one bounded request, answers it by path with a
// Content-Length body and closes. Plain POSIX sockets: prometheus-cpp's Exposer (civetweb) would
// bring a thread pool and a 2 s shutdown for three read-only routes.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/mutex.h"

namespace bench::controller {

// "HOST:PORT" split; IPv6 hosts in brackets ("[::1]:9090" gives host "::1").
struct ListenAddress {
  std::string host;  // "" binds every address
  int port = 0;      // 0: the OS picks one
};
// kInvalidArgument naming `flag` and the value unless it is HOST:PORT with 0 <= PORT <= 65535.
absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& host_port,
                                                 const std::string& flag);

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Serves GET and HEAD on the routes given to Handle(); anything else gets 404 (unknown path),
// 405 (other methods), 400 (no request line) or 431 (a request head over kMaxRequestBytes).
// One connection at a time, one request per connection (Connection: close). Owned by its
// creator; Handle() and Start() are called before the server thread exists, Stop() from any
// thread but the server's own. What the handlers reference must outlive Stop().
class HttpEndpoint {
 public:
  static constexpr size_t kMaxRequestBytes = 8192;
  // A client that sends its request (or reads its answer) slower than this is dropped, so a
  // stalled client cannot hold the one thread.
  static constexpr int kClientTimeoutSeconds = 5;

  using Handler = std::function<HttpResponse()>;

  HttpEndpoint() = default;
  ~HttpEndpoint();  // Stop()
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // `path` is matched exactly, without the query string. Before Start() only.
  void Handle(const std::string& path, Handler handler);
  // Binds, listens and starts the server thread. kInvalidArgument for a malformed address,
  // kUnavailable when it cannot be bound (naming the address and errno's text),
  // kFailedPrecondition when already started.
  absl::Status Start(const std::string& host_port);
  // The bound port (the OS's choice for port 0); 0 before Start().
  int port() const { return port_; }
  // Wakes the blocked accept (shutdown() of the listening socket) and any request in progress,
  // joins the thread and closes the socket. Idempotent.
  void Stop();

 private:
  void ServeMain();
  void ServeConnection(int fd);
  HttpResponse Route(const std::string& request_head, bool* head_only);

  std::map<std::string, Handler> routes_;  // fixed once the thread runs
  int listen_fd_ = -1;                     // written before the thread starts and after it ends
  int port_ = 0;
  std::thread thread_;
  Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The connection being served, so Stop() can wake its read; closed under mu_ so Stop() never
  // shuts down a descriptor number that was reused.
  int client_fd_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace bench::controller
