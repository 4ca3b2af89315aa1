#include "worker/engine/http1_session.h"

#include <http_parser.h>

#include <algorithm>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "worker/engine/http_text.h"

namespace bench::engine {
namespace {

// RFC 9110 tchar.
bool IsTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// Request-line parts and Host may hold no whitespace or control characters.
bool IsVisibleNonSpace(std::string_view s) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// The framing hazards (request splitting); other bytes in values are the caller's business.
bool IsSafeFieldValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool HasCloseToken(std::string_view connection_value) {
  while (!connection_value.empty()) {
    const size_t comma = connection_value.find(',');
    if (EqualsIgnoreCase(TrimWhitespace(connection_value.substr(0, comma)), "close")) return true;
    if (comma == std::string_view::npos) break;
    connection_value.remove_prefix(comma + 1);
  }
  return false;
}

// RFC 9110 section 9.3: these methods define a meaning for content, so an empty body is sent as
// Content-Length: 0 rather than left to the server to guess.
bool MethodExpectsBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

std::string Escaped(std::string_view s) {
  return absl::CEscape(absl::string_view(s.data(), s.size()));
}

}  // namespace

struct Http1ClientSession::Callbacks {
  static Http1ClientSession* Self(http_parser* parser) {
    return static_cast<Http1ClientSession*>(parser->data);
  }

  static int OnStatus(http_parser* parser, const char*, size_t length) {
    Http1ClientSession* self = Self(parser);
    self->reason_phrase_bytes_ += length;
    if (self->reason_phrase_bytes_ > kMaxReasonPhraseBytes) {
      self->callback_error_ = "status line too long (reason phrase over 1024 bytes)";
      return -1;
    }
    return 0;
  }

  // Header names and values may arrive in pieces across Receive() calls: match the captured
  // headers incrementally instead of buffering names.
  static int OnHeaderField(http_parser* parser, const char* at, size_t length) {
    Http1ClientSession* self = Self(parser);
    if (self->headers_done_) return 0;  // A trailer.
    if (!self->in_header_field_) {
      self->in_header_field_ = true;
      self->content_type_.StartName();
      self->content_encoding_.StartName();
      self->location_.StartName();
    }
    self->content_type_.NameBytes(std::string_view(at, length));
    self->content_encoding_.NameBytes(std::string_view(at, length));
    self->location_.NameBytes(std::string_view(at, length));
    return 0;
  }

  static int OnHeaderValue(http_parser* parser, const char* at, size_t length) {
    Http1ClientSession* self = Self(parser);
    if (self->headers_done_) return 0;
    if (self->in_header_field_) {
      self->in_header_field_ = false;
      self->content_type_.StartValue();
      self->content_encoding_.StartValue();
      self->location_.StartValue();
    }
    self->content_type_.ValueBytes(std::string_view(at, length));
    self->content_encoding_.ValueBytes(std::string_view(at, length));
    self->location_.ValueBytes(std::string_view(at, length));
    return 0;
  }

  // Returning 1 tells http-parser the message has no body.
  static int OnHeadersComplete(http_parser* parser) {
    Http1ClientSession* self = Self(parser);
    self->in_header_field_ = false;
    // http-parser accepts any digits; only 1.x is HTTP/1 (1.0 and 1.1 in practice).
    if (parser->http_major != 1) {
      self->callback_error_ = "unsupported HTTP version (not 1.x)";
      return -1;
    }
    const int status = static_cast<int>(parser->status_code);
    if (status == 101) {
      self->callback_error_ = "unexpected 101 Switching Protocols (no upgrade was requested)";
      return -1;
    }
    if (status < 100) {
      self->callback_error_ = "invalid status code (below 100)";
      return -1;
    }
    if (status < 200) {
      self->interim_ = true;  // 100 Continue, 103 Early Hints: skipped.
      return 1;
    }
    self->headers_done_ = true;
    Http1ResponseHead head;
    head.http_status = status;
    head.http_major = parser->http_major;
    head.http_minor = parser->http_minor;
    head.content_type = self->content_type_.value();
    head.content_encoding = self->content_encoding_.value();
    head.location = self->location_.value();
    if ((parser->flags & F_CONTENTLENGTH) != 0 && (parser->flags & F_CHUNKED) == 0) {
      head.content_length = static_cast<int64_t>(
          std::min<uint64_t>(parser->content_length, std::numeric_limits<int64_t>::max()));
    }
    head.event_stream = IsEventStream(head.content_type);
    self->listener_->OnResponseHeaders(head);
    // RFC 9112 section 6.3: no body after HEAD, 204 or 304, whatever the headers say.
    return (self->request_is_head_ || status == 204 || status == 304) ? 1 : 0;
  }

  static int OnBody(http_parser* parser, const char* at, size_t length) {
    Http1ClientSession* self = Self(parser);
    self->body_bytes_ += length;
    self->listener_->OnResponseData(std::string_view(at, length));
    return 0;
  }

  // Pausing stops http-parser right after this message, so bytes that follow in the same read
  // are not taken as a next response before we know one is expected.
  static int OnMessageComplete(http_parser* parser) {
    Self(parser)->message_complete_ = true;
    http_parser_pause(parser, 1);
    return 0;
  }

  static constexpr http_parser_settings kSettings = {
      .on_message_begin = nullptr,
      .on_url = nullptr,
      .on_status = &OnStatus,
      .on_header_field = &OnHeaderField,
      .on_header_value = &OnHeaderValue,
      .on_headers_complete = &OnHeadersComplete,
      .on_body = &OnBody,
      .on_message_complete = &OnMessageComplete,
      .on_chunk_header = nullptr,
      .on_chunk_complete = nullptr,
  };
};

Http1ClientSession::Http1ClientSession(Http1Listener* listener)
    : listener_(listener), parser_(std::make_unique<http_parser>()) {
  parser_->data = this;
  StartResponse();
}

Http1ClientSession::~Http1ClientSession() = default;

absl::Status Http1ClientSession::EncodeRequest(const RequestHead& head, std::string_view body,
                                               std::string& out) {
  if (finished_) {
    return absl::FailedPreconditionError("HTTP/1.1 session has ended (error or peer closed)");
  }
  if (phase_ != Phase::kIdle) {
    return absl::FailedPreconditionError("HTTP/1.1 request already in progress on this connection");
  }
  if (closing_) {
    return absl::FailedPreconditionError(
        "HTTP/1.1 connection is closing: the last response did not keep it alive");
  }
  if (!IsToken(head.method)) {
    return absl::InvalidArgumentError(
        absl::StrCat("request method \"", Escaped(head.method), "\" is not a token"));
  }
  if (!IsVisibleNonSpace(head.path)) {
    return absl::InvalidArgumentError(
        "request path is empty or contains whitespace or control characters");
  }
  if (!IsVisibleNonSpace(head.authority)) {
    return absl::InvalidArgumentError(
        "request authority (Host) is empty or contains whitespace or control characters");
  }
  bool asked_close = false;
  size_t head_bytes = head.method.size() + head.path.size() + head.authority.size() + 64;
  for (const auto& [name, value] : head.headers) {
    // Names are not secrets and may be echoed; values never are.
    if (!IsToken(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("request header name \"", Escaped(name), "\" is not a token"));
    }
    if (!IsSafeFieldValue(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("request header '", name, "': value contains CR, LF or NUL"));
    }
    if (EqualsIgnoreCase(name, "host") || EqualsIgnoreCase(name, "content-length") ||
        EqualsIgnoreCase(name, "transfer-encoding")) {
      return absl::InvalidArgumentError(
          absl::StrCat("request header '", name, "' is set by the HTTP/1.1 session"));
    }
    if (EqualsIgnoreCase(name, "connection") && HasCloseToken(value)) asked_close = true;
    head_bytes += name.size() + value.size() + 4;
  }

  out.reserve(out.size() + head_bytes + body.size());
  out.append(head.method).append(" ").append(head.path).append(" HTTP/1.1\r\nHost: ");
  out.append(head.authority).append("\r\n");
  for (const auto& [name, value] : head.headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!body.empty() || MethodExpectsBody(head.method)) {
    absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n");
  }
  out.append("\r\n").append(body);

  phase_ = Phase::kAwaitingResponse;
  request_is_head_ = head.method == "HEAD";
  request_asked_close_ = asked_close;
  StartResponse();
  return absl::OkStatus();
}

absl::Status Http1ClientSession::Receive(std::string_view bytes) {
  if (finished_) {
    return absl::FailedPreconditionError("HTTP/1.1 session has ended (error or peer closed)");
  }
  while (!bytes.empty()) {
    if (phase_ == Phase::kIdle) {
      // Tolerate empty lines between responses, as http-parser does before a status line.
      const size_t first = bytes.find_first_not_of("\r\n");
      if (first == std::string_view::npos) return absl::OkStatus();
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("unexpected data after response: ", bytes.size() - first,
                       " bytes with no request pending")));
    }
    phase_ = Phase::kInResponse;
    const size_t parsed =
        http_parser_execute(parser_.get(), &Callbacks::kSettings, bytes.data(), bytes.size());
    const auto error = static_cast<http_errno>(parser_->http_errno);
    if (error != HPE_OK && error != HPE_PAUSED) {
      if (callback_error_ != nullptr) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("malformed HTTP/1.1 response: ", callback_error_)));
      }
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("malformed HTTP/1.1 response: ", http_errno_name(error), " (",
                       http_errno_description(error), ")")));
    }
    if (!message_complete_) {
      // Only an upgrade stops http-parser early without an error, and 101 is rejected above.
      if (parsed != bytes.size()) {
        return Fail(absl::InternalError(absl::StrCat("http-parser stopped after ", parsed, " of ",
                                                     bytes.size(), " bytes without error")));
      }
      return absl::OkStatus();
    }
    bytes.remove_prefix(parsed);
    FinishMessage();
  }
  return absl::OkStatus();
}

absl::Status Http1ClientSession::OnPeerClosed() {
  if (finished_) {
    return absl::FailedPreconditionError("HTTP/1.1 session has ended (error or peer closed)");
  }
  finished_ = true;
  switch (phase_) {
    case Phase::kIdle:
      if (closing_) return absl::OkStatus();
      return absl::UnavailableError("peer closed the idle HTTP/1.1 connection");
    case Phase::kAwaitingResponse:
      return absl::UnavailableError(
          "peer closed the HTTP/1.1 connection before any byte of the response");
    case Phase::kInResponse:
      break;
  }
  // A zero-length execute tells http-parser about EOF: it completes a close-delimited body and
  // flags every other unfinished state.
  http_parser_execute(parser_.get(), &Callbacks::kSettings, nullptr, 0);
  if (message_complete_ && !interim_) {
    FinishMessage();
    return absl::OkStatus();
  }
  return TruncatedError();
}

absl::Status Http1ClientSession::Fail(absl::Status status) {
  finished_ = true;
  return status;
}

void Http1ClientSession::StartResponse() {
  http_parser_init(parser_.get(), HTTP_RESPONSE);
  interim_ = false;
  headers_done_ = false;
  message_complete_ = false;
  in_header_field_ = false;
  content_type_.Reset();
  content_encoding_.Reset();
  location_.Reset();
  reason_phrase_bytes_ = 0;
  body_bytes_ = 0;
  callback_error_ = nullptr;
}

void Http1ClientSession::FinishMessage() {
  if (interim_) {
    StartResponse();  // The final response follows on the same request.
    return;
  }
  const bool keep_alive = http_should_keep_alive(parser_.get()) != 0 && !request_asked_close_;
  message_complete_ = false;
  phase_ = Phase::kIdle;
  closing_ = !keep_alive;
  listener_->OnResponseComplete(keep_alive);
}

absl::Status Http1ClientSession::TruncatedError() const {
  if (!headers_done_) {
    return absl::DataLossError("peer closed the HTTP/1.1 connection inside the response head");
  }
  if ((parser_->flags & F_CHUNKED) != 0) {
    return absl::DataLossError(
        absl::StrCat("peer closed the HTTP/1.1 connection inside a chunked body after ",
                     body_bytes_, " bytes (no last chunk)"));
  }
  return absl::DataLossError(absl::StrCat("peer closed the HTTP/1.1 connection after ", body_bytes_,
                                          " body bytes, ", parser_->content_length,
                                          " more expected by Content-Length"));
}

}  // namespace bench::engine
