// The protocol-neutral head of an HTTP request, as the load driver builds it and the HTTP/1.1 and
// HTTP/2 sessions encode it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace bench::engine {

struct RequestHead {
  std::string method = "POST";
  std::string scheme = "http";  // http | https
  std::string authority;        // host[:port], sent as :authority (h2) or Host (HTTP/1.1)
  std::string path;             // origin-form: /v1/chat/completions
  // Lower-case names; no Host, Content-Length or connection-specific headers (the sessions add
  // what their protocol needs).
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace bench::engine
