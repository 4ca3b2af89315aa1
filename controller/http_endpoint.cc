#include "controller/http_endpoint.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"

namespace bench::controller {
namespace {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// Writes all of `data`; false when the peer is gone or too slow (SO_SNDTIMEO).
bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void SetTimeout(int fd, int option, int seconds) {
  timeval timeout{};
  timeout.tv_sec = seconds;
  ::setsockopt(fd, SOL_SOCKET, option, &timeout, sizeof(timeout));
}

}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& host_port,
                                                 const std::string& flag) {
  const size_t colon = host_port.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(host_port).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " must be HOST:PORT with a port in 0..65535, got ", host_port));
  }
  ListenAddress address;
  address.host = host_port.substr(0, colon);
  address.port = port;
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  return address;
}

HttpEndpoint::~HttpEndpoint() { Stop(); }

void HttpEndpoint::Handle(const std::string& path, Handler handler) {
  routes_[path] = std::move(handler);
}

absl::Status HttpEndpoint::Start(const std::string& host_port) {
  if (listen_fd_ >= 0 || thread_.joinable()) {
    return absl::FailedPreconditionError("the HTTP endpoint is already started");
  }
  absl::StatusOr<ListenAddress> address = ParseListenAddress(host_port, "listen address");
  if (!address.ok()) return address.status();

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(address->port);
  if (int rc = ::getaddrinfo(address->host.empty() ? nullptr : address->host.c_str(),
                             service.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", host_port, ": ", ::gai_strerror(rc)));
  }
  std::string error = "no address";
  int fd = -1;
  for (addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    fd = ::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                  candidate->ai_protocol);
    if (fd < 0) {
      error = absl::StrCat("socket: ", std::strerror(errno));
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
      break;
    }
    error = absl::StrCat("bind/listen: ", std::strerror(errno));
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host_port, ": ", error));
  }

  sockaddr_storage bound{};
  socklen_t bound_size = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_size) != 0) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("getsockname on ", host_port, ": ", reason));
  }
  port_ = bound.ss_family == AF_INET6
              ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
              : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  {
    MutexLock lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { ServeMain(); });
  return absl::OkStatus();
}

void HttpEndpoint::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    // shutdown() rather than close(): the thread still uses the descriptors, and on Linux a
    // shut-down listening socket makes the blocked accept() return at once.
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    if (client_fd_ >= 0) ::shutdown(client_fd_, SHUT_RDWR);
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(std::exchange(listen_fd_, -1));
}

void HttpEndpoint::ServeMain() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    const int accept_errno = errno;
    {
      MutexLock lock(mu_);
      if (stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      if (fd >= 0) client_fd_ = fd;
    }
    if (fd < 0) {
      if (accept_errno == EINTR || accept_errno == ECONNABORTED) continue;
      BENCH_LOG(ERROR) << "http endpoint: accept: " << std::strerror(accept_errno);
      if (accept_errno == EMFILE || accept_errno == ENFILE || accept_errno == ENOBUFS ||
          accept_errno == ENOMEM) {
        // Out of descriptors or memory: back off instead of spinning on the pending connection.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      return;  // The listening socket is broken; Stop() still joins.
    }
    ServeConnection(fd);
    MutexLock lock(mu_);
    client_fd_ = -1;
    ::close(fd);
  }
}

void HttpEndpoint::ServeConnection(int fd) {
  SetTimeout(fd, SO_RCVTIMEO, kClientTimeoutSeconds);
  SetTimeout(fd, SO_SNDTIMEO, kClientTimeoutSeconds);
  std::string head;
  HttpResponse response;
  bool complete = false;
  char buffer[2048];
  while (head.size() < kMaxRequestBytes) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // Closed, timed out or shut down by Stop(): nothing to answer.
    const size_t searched_from = head.size() >= 3 ? head.size() - 3 : 0;
    head.append(buffer, static_cast<size_t>(n));
    if (head.find("\r\n\r\n", searched_from) != std::string::npos ||
        head.find("\n\n", searched_from) != std::string::npos) {
      complete = true;
      break;
    }
  }
  bool head_only = false;
  if (!complete) {
    response = TextResponse(431, "request head over 8192 bytes\n");
  } else {
    response = Route(head, &head_only);
  }
  std::string out = absl::StrCat(
      "HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status),
      "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", response.body.size(),
      response.status == 405 ? "\r\nAllow: GET, HEAD" : "", "\r\nConnection: close\r\n\r\n");
  if (!head_only) out += response.body;
  if (!SendAll(fd, out)) return;
  ::shutdown(fd, SHUT_WR);
  if (!complete) {
    // Unread request bytes would make close() send a reset that can destroy the answer before
    // the client reads it: read on until the client closes (bounded by bytes and the timeout).
    for (size_t drained = 0; drained < (size_t{1} << 20);) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      drained += static_cast<size_t>(n);
    }
  }
}

HttpResponse HttpEndpoint::Route(const std::string& request_head, bool* head_only) {
  const absl::string_view line =
      absl::string_view(request_head).substr(0, request_head.find_first_of("\r\n"));
  const std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.") || parts[1].empty() ||
      parts[1][0] != '/') {
    return TextResponse(400, "bad request line\n");
  }
  if (parts[0] != "GET" && parts[0] != "HEAD") {
    return TextResponse(405, "only GET and HEAD\n");
  }
  *head_only = parts[0] == "HEAD";
  const std::string path(parts[1].substr(0, parts[1].find('?')));
  auto route = routes_.find(path);
  if (route == routes_.end()) return TextResponse(404, "not found\n");
  return route->second();
}

}  // namespace bench::controller
