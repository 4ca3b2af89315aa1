#include "controller/http_get.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bench::controller {
namespace {

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

struct Url {
  bool tls = false;
  std::string host;  // Without brackets.
  std::string port;
  std::string target;  // Path and query, starting with '/'.
};

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  Url url;
  std::string_view rest;
  if (absl::StartsWithIgnoreCase(Absl(text), "http://")) {
    rest = text.substr(7);
  } else if (absl::StartsWithIgnoreCase(Absl(text), "https://")) {
    rest = text.substr(8);
    url.tls = true;
  } else {
    return absl::InvalidArgumentError("not an http:// or https:// URL");
  }
  const size_t slash = rest.find_first_of("/?");
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target.insert(0, "/");
  rest = rest.substr(0, slash);
  url.port = url.tls ? "443" : "80";
  if (!rest.empty() && rest.front() == '[') {  // [::1]:8000
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("unclosed [ in host");
    url.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size() && rest[close + 1] == ':') {
      url.port = std::string(rest.substr(close + 2));
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    url.host = std::string(rest.substr(0, colon));
    url.port = std::string(rest.substr(colon + 1));
  } else {
    url.host = std::string(rest);
  }
  if (url.host.empty()) return absl::InvalidArgumentError("no host");
  return url;
}

// A chunked body (RFC 9112 section 7.1) made whole.
absl::StatusOr<std::string> Dechunk(absl::string_view body) {
  std::string out;
  while (true) {
    const size_t line_end = body.find("\r\n");
    if (line_end == absl::string_view::npos) return absl::DataLossError("cut chunked body");
    absl::string_view size_text = body.substr(0, line_end);
    if (const size_t semi = size_text.find(';'); semi != absl::string_view::npos) {
      size_text = size_text.substr(0, semi);
    }
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
      return absl::DataLossError("bad chunk size");
    }
    body.remove_prefix(line_end + 2);
    if (size == 0) return out;
    if (size > body.size() || body.size() - size < 2) return absl::DataLossError("cut chunk");
    out.append(body.data(), size);
    body.remove_prefix(size + 2);
  }
}

// The last OpenSSL error as text, or `fallback`.
std::string TlsError(std::string_view fallback) {
  const unsigned long code = ERR_get_error();
  if (code == 0) return std::string(fallback);
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return text;
}

// How an answer's end is known (RFC 9112 section 6.3): chunked framing wins over
// Content-Length; without either, the end of the connection.
struct Framing {
  int status = 0;
  bool chunked = false;
  std::optional<size_t> content_length;
  size_t body_start = 0;

  bool Complete(const std::string& response) const {
    if (chunked) {
      return absl::EndsWith(response, "0\r\n\r\n") && Dechunk(response.substr(body_start)).ok();
    }
    return content_length.has_value() && response.size() - body_start >= *content_length;
  }
};

absl::StatusOr<Framing> ParseHead(const std::string& head) {
  if (!absl::StartsWith(head, "HTTP/1.")) return absl::DataLossError("not an HTTP answer");
  Framing framing;
  const size_t space = head.find(' ');
  if (space == std::string::npos || !absl::SimpleAtoi(head.substr(space + 1, 3), &framing.status)) {
    return absl::DataLossError("no status code");
  }
  size_t line_start = head.find("\r\n");
  while (line_start != std::string::npos) {
    line_start += 2;
    const size_t line_end = head.find("\r\n", line_start);
    const std::string line = head.substr(line_start, line_end - line_start);
    line_start = line_end;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    const std::string value =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (name == "transfer-encoding") {
      framing.chunked = absl::EndsWith(value, "chunked");
    } else if (name == "content-length") {
      size_t length = 0;
      if (!absl::SimpleAtoi(value, &length)) return absl::DataLossError("bad Content-Length");
      framing.content_length = length;
    }
  }
  if (framing.chunked) framing.content_length.reset();
  return framing;
}

class Connection {
 public:
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Connect(const Url& url, absl::Duration timeout) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    if (const int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &addresses);
        rc != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot resolve ", url.host, ": ", gai_strerror(rc)));
    }
    std::string connect_error = "no address";
    const timeval limit = absl::ToTimeval(timeout);
    for (addrinfo* a = addresses; a != nullptr && fd_ < 0; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) continue;
      // On Linux the send timeout also bounds connect().
      setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
      if (::connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
        connect_error = std::strerror(errno);
        ::close(fd_);
        fd_ = -1;
      }
    }
    freeaddrinfo(addresses);
    if (fd_ < 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", url.host, ":", url.port, ": ", connect_error));
    }
    return absl::OkStatus();
  }

  absl::Status StartTls(const Url& url, const HttpGetOptions& options) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return absl::InternalError(TlsError("cannot create a TLS context"));
    // Servers often close without close_notify after Connection: close; Content-Length and
    // the chunked framing still tell a cut answer.
    SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (options.tls_verify) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      const int loaded = options.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_)
                                                 : SSL_CTX_load_verify_locations(
                                                       ctx_, options.ca_file.c_str(), nullptr);
      if (loaded != 1) {
        return absl::UnavailableError(
            absl::StrCat("cannot load CA certificates", options.ca_file.empty() ? "" : " from ",
                         options.ca_file, ": ", TlsError("no certificates")));
      }
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return absl::InternalError(TlsError("cannot create a TLS session"));
    // An address is checked against the certificate's IP names and never sent as SNI.
    in6_addr address;
    const bool literal = inet_pton(AF_INET, url.host.c_str(), &address) == 1 ||
                         inet_pton(AF_INET6, url.host.c_str(), &address) == 1;
    if (!literal) SSL_set_tlsext_host_name(ssl_, url.host.c_str());
    if (options.tls_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      if (literal) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
      } else {
        SSL_set1_host(ssl_, url.host.c_str());
      }
    }
    SSL_set_fd(ssl_, fd_);
    ERR_clear_error();
    if (SSL_connect(ssl_) != 1) {
      const long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        return absl::UnavailableError(absl::StrCat(
            "TLS handshake with ", url.host, " failed: ", X509_verify_cert_error_string(verify)));
      }
      return absl::UnavailableError(
          absl::StrCat("TLS handshake with ", url.host, " failed: ", TlsError("closed")));
    }
    return absl::OkStatus();
  }

  absl::Status Write(std::string_view data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = 0;
      if (ssl_ != nullptr) {
        n = SSL_write(ssl_, data.data() + sent, static_cast<int>(data.size() - sent));
      } else {
        n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
      }
      if (n <= 0) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
      sent += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  // Appends what arrives next to `out`; false at the end of the connection.
  absl::StatusOr<bool> ReadSome(std::string& out) {
    char buffer[16384];
    while (true) {
      if (ssl_ != nullptr) {
        const int n = SSL_read(ssl_, buffer, sizeof(buffer));
        if (n > 0) {
          out.append(buffer, static_cast<size_t>(n));
          return true;
        }
        if (SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN) return false;
        return absl::DeadlineExceededError(absl::StrCat("reading: ", TlsError("TLS error")));
      }
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        return absl::DeadlineExceededError(absl::StrCat("reading: ", std::strerror(errno)));
      out.append(buffer, static_cast<size_t>(n));
      return n > 0;
    }
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace

absl::StatusOr<HttpAnswer> HttpGet(std::string_view url_text, const HttpGetOptions& options) {
  absl::StatusOr<Url> url = ParseUrl(url_text);
  if (!url.ok()) return url.status();
  Connection connection;
  if (absl::Status connected = connection.Connect(*url, options.timeout); !connected.ok()) {
    return connected;
  }
  if (url->tls) {
    if (absl::Status started = connection.StartTls(*url, options); !started.ok()) return started;
  }
  const bool ipv6 = url->host.find(':') != std::string::npos;
  std::string request = absl::StrCat("GET ", url->target, " HTTP/1.1\r\nHost: ", ipv6 ? "[" : "",
                                     url->host, ipv6 ? "]" : "", ":", url->port,
                                     "\r\nAccept: application/json\r\nConnection: close\r\n");
  for (const auto& [name, value] : options.headers) {
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("header ", name, " has a line break or NUL byte in its value"));
    }
  }
  for (const auto& [name, value] : options.headers)
    absl::StrAppend(&request, name, ": ", value, "\r\n");
  request += "\r\n";
  if (absl::Status written = connection.Write(request); !written.ok()) return written;
  // Read until the framing says the answer is whole (or the connection ends), within the
  // timeout for the whole exchange: a server that trickles bytes cannot hold the caller.
  const absl::Time deadline = absl::Now() + options.timeout;
  std::string response;
  std::optional<Framing> framing;
  while (true) {
    absl::StatusOr<bool> more = connection.ReadSome(response);
    if (!more.ok()) return more.status();
    if (!framing.has_value()) {
      if (const size_t head_end = response.find("\r\n\r\n"); head_end != std::string::npos) {
        absl::StatusOr<Framing> parsed = ParseHead(response.substr(0, head_end));
        if (!parsed.ok()) return parsed.status();
        framing = *parsed;
        framing->body_start = head_end + 4;
      }
    }
    if (framing.has_value() && framing->Complete(response)) break;
    if (!*more) break;
    if (response.size() > options.max_body_bytes + 65536) {
      return absl::ResourceExhaustedError(
          absl::StrCat("answer over ", options.max_body_bytes, " bytes"));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("no whole answer within ", absl::FormatDuration(options.timeout)));
    }
  }
  if (!framing.has_value()) return absl::DataLossError("not an HTTP answer");
  HttpAnswer answer;
  answer.status = framing->status;
  answer.body = response.substr(framing->body_start);
  if (framing->chunked) {
    absl::StatusOr<std::string> whole = Dechunk(answer.body);
    if (!whole.ok()) return whole.status();
    answer.body = *std::move(whole);
  } else if (framing->content_length.has_value()) {
    if (answer.body.size() < *framing->content_length) {
      return absl::DataLossError("the answer was cut short");
    }
    answer.body.resize(*framing->content_length);
  }
  return answer;
}

}  // namespace bench::controller
