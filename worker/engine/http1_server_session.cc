#include "worker/engine/http1_server_session.h"

#include <http_parser.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_cat.h"
#include "worker/engine/http_text.h"

namespace bench::engine {
namespace {

constexpr std::string_view kExpect = "expect";
constexpr size_t kMaxTrackedNameBytes = 16;  // Longer names are never ones we look at.
constexpr size_t kMaxTrackedValueBytes = 32;

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void AppendHex(size_t value, std::string& out) {
  char digits[sizeof(size_t) * 2];
  size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value & 0xf];
    value >>= 4;
  } while (value != 0);
  while (n > 0) out.push_back(digits[--n]);
}

}  // namespace

struct Http1ServerSession::Callbacks {
  static Http1ServerSession* Self(http_parser* parser) {
    return static_cast<Http1ServerSession*>(parser->data);
  }

  static int Reject(Http1ServerSession* self, absl::StatusCode code, int http_status,
                    const char* why) {
    self->callback_code_ = code;
    self->callback_http_status_ = http_status;
    self->callback_error_ = why;
    return -1;
  }

  // http-parser reports the target in pieces at read boundaries: an over-long target is
  // rejected once the head is complete, so the error does not depend on how reads were cut (a
  // malformed target later in the line wins either way).
  static int OnUrl(http_parser* parser, const char* at, size_t length) {
    Http1ServerSession* self = Self(parser);
    const size_t room = self->options_.max_target_bytes + 1 - self->target_.size();
    self->target_.append(at, std::min(length, room));
    return 0;
  }

  // Names and values may arrive in pieces across reads: keep a short lower-cased prefix of the
  // name and of interesting values.
  static int OnHeaderField(http_parser* parser, const char* at, size_t length) {
    Http1ServerSession* self = Self(parser);
    if (!self->in_header_field_) {
      self->in_header_field_ = true;
      self->header_name_.clear();
    }
    for (size_t i = 0; i < length && self->header_name_.size() <= kMaxTrackedNameBytes; ++i) {
      self->header_name_.push_back(ToLowerAscii(at[i]));
    }
    return 0;
  }

  static int OnHeaderValue(http_parser* parser, const char* at, size_t length) {
    Http1ServerSession* self = Self(parser);
    if (self->in_header_field_) {
      self->in_header_field_ = false;
      self->value_is_expect_ = self->header_name_ == kExpect;
      if (self->value_is_expect_) self->header_name_.clear();  // Reused for the value.
      self->value_is_captured_ = !self->options_.capture_header.empty() &&
                                 self->header_name_ == self->options_.capture_header;
      if (self->value_is_captured_) self->captured_value_.clear();  // The last one wins.
    }
    if (self->value_is_captured_) {
      const size_t room = kMaxTrackedValueBytes - self->captured_value_.size();
      self->captured_value_.append(at, std::min(length, room));
    }
    if (self->value_is_expect_) {
      for (size_t i = 0; i < length && self->header_name_.size() <= kMaxTrackedValueBytes; ++i) {
        self->header_name_.push_back(at[i]);
      }
      std::string_view value = self->header_name_;
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      self->expect_continue_ = EqualsIgnoreCase(value, "100-continue");
    }
    return 0;
  }

  static int OnHeadersComplete(http_parser* parser) {
    Http1ServerSession* self = Self(parser);
    self->in_header_field_ = false;
    if (parser->http_major != 1) {
      return Reject(self, absl::StatusCode::kInvalidArgument, 505, "HTTP version is not 1.x");
    }
    if (self->target_.size() > self->options_.max_target_bytes) {
      return Reject(self, absl::StatusCode::kOutOfRange, 414, "request-target too long");
    }
    if ((parser->flags & F_CONTENTLENGTH) != 0 &&
        parser->content_length > self->options_.max_body_bytes) {
      return Reject(self, absl::StatusCode::kOutOfRange, 413, "request body too large");
    }
    const bool has_body = (parser->flags & F_CHUNKED) != 0 ||
                          ((parser->flags & F_CONTENTLENGTH) != 0 && parser->content_length > 0);
    // RFC 9110 section 10.1.1: a client waiting for 100 Continue would otherwise stall (curl
    // waits a second before sending a large body).
    if (self->expect_continue_ && parser->http_minor >= 1 && has_body) {
      self->out_->append("HTTP/1.1 100 Continue\r\n\r\n");
    }
    return 0;
  }

  static int OnBody(http_parser* parser, const char* at, size_t length) {
    Http1ServerSession* self = Self(parser);
    if (self->body_.size() + length > self->options_.max_body_bytes) {
      return Reject(self, absl::StatusCode::kOutOfRange, 413, "request body too large");
    }
    self->body_.append(at, length);
    return 0;
  }

  // Pausing stops http-parser right after this request, so a pipelined next request is not
  // parsed before this one has been answered.
  static int OnMessageBegin(http_parser* parser) {
    Self(parser)->message_begun_ = true;
    return 0;
  }

  static int OnMessageComplete(http_parser* parser) {
    Self(parser)->message_complete_ = true;
    Self(parser)->message_begun_ = false;
    http_parser_pause(parser, 1);
    return 0;
  }

  static constexpr http_parser_settings kSettings = {
      .on_message_begin = &OnMessageBegin,
      .on_url = &OnUrl,
      .on_status = nullptr,
      .on_header_field = &OnHeaderField,
      .on_header_value = &OnHeaderValue,
      .on_headers_complete = &OnHeadersComplete,
      .on_body = &OnBody,
      .on_message_complete = &OnMessageComplete,
      .on_chunk_header = nullptr,
      .on_chunk_complete = nullptr,
  };
};

Http1ServerSession::Http1ServerSession(Http1ServerListener* listener, Http1ServerOptions options)
    : listener_(listener), options_(options), parser_(std::make_unique<http_parser>()) {
  StartRequest();
}

Http1ServerSession::~Http1ServerSession() = default;

void Http1ServerSession::StartRequest() {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
  target_.clear();
  body_.clear();
  header_name_.clear();
  in_header_field_ = false;
  value_is_expect_ = false;
  value_is_captured_ = false;
  captured_value_.clear();
  expect_continue_ = false;
  message_complete_ = false;
  callback_http_status_ = 0;
  callback_code_ = absl::StatusCode::kOk;
  callback_error_ = nullptr;
}

absl::Status Http1ServerSession::Receive(std::string_view bytes, std::string& out) {
  if (failed_) return absl::FailedPreconditionError("HTTP/1.1 session has failed");
  if (phase_ != Phase::kIdle || !pending_input_.empty()) {
    if (should_close_) return absl::OkStatus();  // Nothing after a closing response is read.
    if (pending_input_.size() + bytes.size() > options_.max_pending_input_bytes) {
      return Fail(absl::StatusCode::kResourceExhausted, 400,
                  "too much pipelined input while a response is in progress");
    }
    pending_input_.append(bytes);
    if (phase_ != Phase::kIdle) return absl::OkStatus();
    return Resume(out);
  }
  return Parse(bytes, out);
}

absl::Status Http1ServerSession::Resume(std::string& out) {
  if (failed_) return absl::FailedPreconditionError("HTTP/1.1 session has failed");
  if (phase_ != Phase::kIdle || pending_input_.empty()) return absl::OkStatus();
  std::string input;
  input.swap(pending_input_);
  const absl::Status status = Parse(input, out);
  // Whatever the parse left unread (a response went asynchronous) went back to pending_input_
  // inside Parse(); keep the larger buffer for reuse when it is empty.
  if (pending_input_.empty()) {
    input.clear();
    pending_input_.swap(input);
  }
  return status;
}

absl::Status Http1ServerSession::Parse(std::string_view bytes, std::string& out) {
  out_ = &out;
  while (!bytes.empty()) {
    if (should_close_) return absl::OkStatus();
    if (phase_ != Phase::kIdle) {
      // The listener answers later: hold the rest until the response ends.
      if (bytes.size() > options_.max_pending_input_bytes) {
        return Fail(absl::StatusCode::kResourceExhausted, 400,
                    "too much pipelined input while a response is in progress");
      }
      pending_input_.assign(bytes.data(), bytes.size());
      return absl::OkStatus();
    }
    const size_t parsed =
        http_parser_execute(parser_.get(), &Callbacks::kSettings, bytes.data(), bytes.size());
    const auto error = static_cast<http_errno>(parser_->http_errno);
    if (error != HPE_OK && error != HPE_PAUSED) {
      if (callback_error_ != nullptr) {
        return Fail(callback_code_, callback_http_status_,
                    absl::StrCat("bad HTTP/1.1 request: ", callback_error_));
      }
      if (error == HPE_HEADER_OVERFLOW) {
        return Fail(absl::StatusCode::kResourceExhausted, 431,
                    "bad HTTP/1.1 request: head over 80 KiB");
      }
      return Fail(absl::StatusCode::kInvalidArgument, 400,
                  absl::StrCat("bad HTTP/1.1 request: ", http_errno_name(error), " (",
                               http_errno_description(error), ")"));
    }
    if (!message_complete_) {
      if (parsed != bytes.size()) {
        return Fail(absl::StatusCode::kInvalidArgument, 400,
                    "bad HTTP/1.1 request: parser stopped early");
      }
      return absl::OkStatus();
    }
    bytes.remove_prefix(parsed);

    request_is_head_ = parser_->method == HTTP_HEAD;
    request_keep_alive_ = http_should_keep_alive(parser_.get()) != 0;
    request_http_minor_ = parser_->http_minor;
    phase_ = Phase::kAwaitingResponse;
    Http1ServerRequest request;
    request.method = http_method_str(static_cast<http_method>(parser_->method));
    request.target = target_;
    request.body = body_;
    request.http_minor = parser_->http_minor;
    std::string_view captured = captured_value_;
    while (!captured.empty() && (captured.back() == ' ' || captured.back() == '\t')) {
      captured.remove_suffix(1);
    }
    request.captured_header = captured;
    listener_->OnRequest(request);
    StartRequest();
  }
  return absl::OkStatus();
}

absl::Status Http1ServerSession::Fail(absl::StatusCode code, int http_status,
                                      std::string_view message) {
  failed_ = true;
  should_close_ = true;
  failure_http_status_ = http_status;
  pending_input_.clear();
  // The error response is the only one left to encode.
  phase_ = Phase::kAwaitingResponse;
  request_is_head_ = false;
  request_keep_alive_ = false;
  request_http_minor_ = 1;
  return absl::Status(code, absl::string_view(message.data(), message.size()));
}

void Http1ServerSession::AppendHead(int http_status, std::string_view content_type,
                                    std::string& out) {
  if (!request_keep_alive_) should_close_ = true;
  absl::StrAppend(&out, "HTTP/1.1 ", http_status, " ");
  out.append(ReasonPhrase(http_status)).append("\r\n");
  if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
  if (should_close_) {
    out.append("Connection: close\r\n");
  } else if (request_http_minor_ == 0) {
    out.append("Connection: keep-alive\r\n");  // HTTP/1.0 closes unless told otherwise.
  }
}

absl::Status Http1ServerSession::EncodeResponse(
    int http_status, std::string_view content_type, std::string_view body, std::string& out,
    const std::vector<std::pair<std::string_view, std::string_view>>& extra_headers) {
  if (phase_ != Phase::kAwaitingResponse) {
    return absl::FailedPreconditionError("HTTP/1.1: no request awaits a response");
  }
  AppendHead(http_status, content_type, out);
  for (const auto& [name, value] : extra_headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n\r\n");
  if (!request_is_head_) out.append(body);
  FinishResponse();
  return absl::OkStatus();
}

absl::Status Http1ServerSession::BeginStream(int http_status, std::string_view content_type,
                                             std::string& out) {
  if (phase_ != Phase::kAwaitingResponse || failed_) {
    return absl::FailedPreconditionError("HTTP/1.1: no request awaits a streamed response");
  }
  // HTTP/1.0 has no chunked coding: the body ends when the connection closes.
  if (request_http_minor_ == 0) request_keep_alive_ = false;
  AppendHead(http_status, content_type, out);
  if (request_http_minor_ >= 1) out.append("Transfer-Encoding: chunked\r\n");
  out.append("Cache-Control: no-cache\r\n\r\n");
  phase_ = Phase::kStreaming;
  return absl::OkStatus();
}

void Http1ServerSession::EncodeStreamData(std::string_view data, std::string& out) {
  if (phase_ != Phase::kStreaming || data.empty() || request_is_head_) return;
  if (request_http_minor_ == 0) {
    out.append(data);
    return;
  }
  AppendHex(data.size(), out);
  out.append("\r\n").append(data).append("\r\n");
}

void Http1ServerSession::EndStream(std::string& out) {
  if (phase_ != Phase::kStreaming) return;
  if (request_http_minor_ >= 1 && !request_is_head_) out.append("0\r\n\r\n");
  FinishResponse();
}

void Http1ServerSession::FinishResponse() { phase_ = Phase::kIdle; }

}  // namespace bench::engine
