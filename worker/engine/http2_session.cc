#include "worker/engine/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace bench::engine {

absl::Status Nghttp2Error(int64_t rc, std::string_view what) {
  if (rc >= 0) return absl::OkStatus();
  const std::string message =
      absl::StrCat(std::string(what), ": ", nghttp2_strerror(static_cast<int>(rc)), " (", rc, ")");
  switch (rc) {
    case NGHTTP2_ERR_NOMEM:
      return absl::ResourceExhaustedError(message);
    case NGHTTP2_ERR_INVALID_ARGUMENT:
    case NGHTTP2_ERR_INVALID_STATE:
      return absl::InvalidArgumentError(message);
    case NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE:
    case NGHTTP2_ERR_SESSION_CLOSING:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status DrainNghttp2Output(nghttp2_session* session, std::string& out) {
  for (;;) {
    const uint8_t* chunk = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &chunk);
    if (n < 0) return Nghttp2Error(n, "nghttp2_session_mem_send");
    if (n == 0) return absl::OkStatus();
    // `chunk` is valid only until the next mem_send call: copy it now.
    out.append(reinterpret_cast<const char*>(chunk), static_cast<size_t>(n));
  }
}

absl::Status SubmitInitialSettings(nghttp2_session* session,
                                   std::initializer_list<std::pair<int32_t, uint32_t>> settings,
                                   uint32_t connection_window_bytes) {
  std::vector<nghttp2_settings_entry> entries;
  entries.reserve(settings.size());
  for (const auto& [id, value] : settings) entries.push_back(nghttp2_settings_entry{id, value});
  BENCH_RETURN_IF_ERROR(Nghttp2Error(
      nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, entries.data(), entries.size()),
      "nghttp2_submit_settings"));
  return Nghttp2Error(
      nghttp2_session_set_local_window_size(
          session, NGHTTP2_FLAG_NONE, 0,
          static_cast<int32_t>(std::min<uint32_t>(connection_window_bytes, (1u << 31) - 1))),
      "nghttp2_session_set_local_window_size");
}

struct Http2ClientSession::Callbacks {
  static Http2ClientSession* Self(void* user_data) {
    return static_cast<Http2ClientSession*>(user_data);
  }

  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void*) {
    auto* pending = static_cast<PendingBody*>(source->ptr);
    const size_t n = std::min(length, pending->body.size() - pending->sent);
    std::memcpy(buf, pending->body.data() + pending->sent, n);
    pending->sent += n;
    if (pending->sent == pending->body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                      void*) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto* pending = static_cast<PendingBody*>(
        nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (pending == nullptr) return 0;
    // nghttp2 hands over header names in lower case (RFC 9113 8.2.1 requires it).
    const std::string_view header_name(reinterpret_cast<const char*>(name), name_length);
    const std::string_view header_value(reinterpret_cast<const char*>(value), value_length);
    if (header_name == ":status") {
      int status = 0;
      if (absl::SimpleAtoi(absl::string_view(header_value.data(), header_value.size()), &status)) {
        pending->http_status = status;
      }
    } else if (header_name == "content-type") {
      pending->content_type.assign(header_value.substr(0, kMaxHeaderValueBytes));
    } else if (header_name == "content-encoding") {
      pending->content_encoding.assign(header_value.substr(0, kMaxHeaderValueBytes));
    } else if (header_name == "location") {
      pending->location.assign(header_value.substr(0, kMaxHeaderValueBytes));
    } else if (header_name == "content-length") {
      int64_t length = -1;
      if (absl::SimpleAtoi(absl::string_view(header_value.data(), header_value.size()), &length) &&
          length >= 0) {
        pending->content_length = length;
      }
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    Http2ClientSession* self = Self(user_data);
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        if (frame->headers.cat != NGHTTP2_HCAT_RESPONSE) break;  // 1xx and trailers: ignore
        auto* pending = static_cast<PendingBody*>(
            nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
        if (pending != nullptr && pending->http_status >= 200) {
          ResponseHead head;
          head.http_status = pending->http_status;
          head.content_type = pending->content_type;
          head.content_encoding = pending->content_encoding;
          head.location = pending->location;
          head.content_length = pending->content_length;
          head.event_stream = IsEventStream(head.content_type);
          self->listener_->OnResponseHeaders(frame->hd.stream_id, head);
        }
        break;
      }
      case NGHTTP2_RST_STREAM: {
        auto* pending = static_cast<PendingBody*>(
            nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
        if (pending != nullptr) pending->reset_by_peer = true;
        break;
      }
      case NGHTTP2_GOAWAY:
        self->goaway_ = true;
        self->listener_->OnGoaway(frame->goaway.last_stream_id, frame->goaway.error_code);
        break;
      case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) self->peer_settings_received_ = true;
        break;
      default:
        break;
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t length, void* user_data) {
    Self(user_data)->listener_->OnResponseData(
        stream_id, std::string_view(reinterpret_cast<const char*>(data), length));
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    Http2ClientSession* self = Self(user_data);
    auto* pending =
        static_cast<PendingBody*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (pending == nullptr) return 0;  // Not one of ours (cannot happen for a client).
    const bool reset_by_peer = pending->reset_by_peer;
    nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
    self->streams_.erase(stream_id);
    self->listener_->OnStreamClosed(stream_id, error_code, reset_by_peer);
    return 0;
  }
};

absl::StatusOr<std::unique_ptr<Http2ClientSession>> Http2ClientSession::Create(
    Http2Listener* listener, const Http2Options& options) {
  std::unique_ptr<Http2ClientSession> self(new Http2ClientSession(listener));
  self->options_ = options;

  nghttp2_session_callbacks* callbacks = nullptr;
  BENCH_RETURN_IF_ERROR(
      Nghttp2Error(nghttp2_session_callbacks_new(&callbacks), "nghttp2_session_callbacks_new"));
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Callbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Callbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Callbacks::OnStreamClose);

  nghttp2_option* option = nullptr;
  int rc = nghttp2_option_new(&option);
  if (rc == 0) {
    nghttp2_option_set_peer_max_concurrent_streams(option,
                                                   options.initial_peer_max_concurrent_streams);
    rc = nghttp2_session_client_new2(&self->session_, callbacks, self.get(), option);
    nghttp2_option_del(option);
  }
  nghttp2_session_callbacks_del(callbacks);
  BENCH_RETURN_IF_ERROR(Nghttp2Error(rc, "nghttp2_session_client_new2"));

  BENCH_RETURN_IF_ERROR(
      SubmitInitialSettings(self->session_,
                            {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                             {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options.stream_window_bytes}},
                            options.connection_window_bytes));
  return self;
}

Http2ClientSession::~Http2ClientSession() {
  // nghttp2_session_del frees its streams without callbacks; streams_ frees our state after.
  if (session_ != nullptr) nghttp2_session_del(session_);
}

absl::StatusOr<int32_t> Http2ClientSession::SubmitRequest(const RequestHead& head,
                                                          std::string body) {
  if (!AcceptsNewStreams()) {
    return absl::FailedPreconditionError("HTTP/2 session accepts no new streams (GOAWAY)");
  }
  std::vector<nghttp2_nv> nva;
  nva.reserve(4 + head.headers.size());
  auto add = [&nva](std::string_view name, std::string_view value) {
    nva.push_back(nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
                             const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())),
                             name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  };
  add(":method", head.method);
  add(":scheme", head.scheme);
  add(":authority", head.authority);
  add(":path", head.path);
  for (const auto& [name, value] : head.headers) add(name, value);

  auto owned = std::make_unique<PendingBody>();
  owned->body = std::move(body);
  PendingBody* pending = owned.get();
  nghttp2_data_provider provider;
  provider.source.ptr = pending;
  provider.read_callback = &Callbacks::ReadBody;
  const bool has_body = !pending->body.empty();
  const int32_t stream_id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                                   has_body ? &provider : nullptr, pending);
  if (stream_id < 0) return Nghttp2Error(stream_id, "nghttp2_submit_request");
  streams_.emplace(stream_id, std::move(owned));
  return stream_id;
}

absl::Status Http2ClientSession::ResetStream(int32_t stream_id, uint32_t error_code) {
  return Nghttp2Error(nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code),
                      "nghttp2_submit_rst_stream");
}

absl::Status Http2ClientSession::Terminate(uint32_t error_code) {
  goaway_ = true;
  return Nghttp2Error(nghttp2_session_terminate_session(session_, error_code),
                      "nghttp2_session_terminate_session");
}

absl::Status Http2ClientSession::Receive(std::string_view bytes) {
  const ssize_t n = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return Nghttp2Error(n, "nghttp2_session_mem_recv");
}

absl::Status Http2ClientSession::DrainOutput(std::string& out) {
  return DrainNghttp2Output(session_, out);
}

bool Http2ClientSession::WantsRead() const { return nghttp2_session_want_read(session_) != 0; }
bool Http2ClientSession::WantsWrite() const { return nghttp2_session_want_write(session_) != 0; }

uint32_t Http2ClientSession::PeerMaxConcurrentStreams() const {
  if (!peer_settings_received_) return options_.initial_peer_max_concurrent_streams;
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool Http2ClientSession::AcceptsNewStreams() const {
  return !goaway_ && nghttp2_session_check_request_allowed(session_) != 0;
}

}  // namespace bench::engine
