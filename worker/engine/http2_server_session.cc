#include "worker/engine/http2_server_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/engine/http2_session.h"  // Nghttp2Error, SubmitInitialSettings

namespace bench::engine {

namespace {

constexpr int64_t kMaxWindow = (int64_t{1} << 31) - 1;  // RFC 9113 6.9.1
constexpr size_t kFrameHeaderBytes = 9;
// A SETTINGS frame is read on its way to nghttp2 up to this size (nghttp2 refuses more entries).
constexpr size_t kMaxSettingsBytes = 6 * 64;

uint32_t ReadUint32(const std::string& bytes, size_t at) {
  return (uint32_t{static_cast<uint8_t>(bytes[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(bytes[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(bytes[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(bytes[at + 3])};
}

void AppendDataFrameHeader(std::string& out, size_t length, int32_t stream_id) {
  const char head[kFrameHeaderBytes] = {static_cast<char>(length >> 16),
                                        static_cast<char>(length >> 8),
                                        static_cast<char>(length),
                                        static_cast<char>(NGHTTP2_DATA),
                                        0,
                                        static_cast<char>((stream_id >> 24) & 0x7f),
                                        static_cast<char>(stream_id >> 16),
                                        static_cast<char>(stream_id >> 8),
                                        static_cast<char>(stream_id)};
  out.append(head, kFrameHeaderBytes);
}

}  // namespace

struct Http2ServerSession::Callbacks {
  static Http2ServerSession* Self(void* user_data) {
    return static_cast<Http2ServerSession*>(user_data);
  }

  static Stream* StreamOf(nghttp2_session* session, int32_t stream_id) {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  }

  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    Http2ServerSession* self = Self(user_data);
    auto stream = std::make_unique<Stream>();
    stream->id = frame->hd.stream_id;
    stream->send_window = self->peer_initial_window_;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream.get());
    self->streams_[frame->hd.stream_id] = std::move(stream);
    return 0;
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                      void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* stream = StreamOf(session, frame->hd.stream_id);
    if (stream == nullptr || stream->request_delivered) return 0;  // Trailers: ignored.
    const std::string_view header(reinterpret_cast<const char*>(name), name_length);
    const std::string_view text(reinterpret_cast<const char*>(value), value_length);
    if (header == ":method") {
      stream->method.assign(text);
    } else if (header == ":path") {
      stream->path.assign(text);
    } else if (header == ":authority") {
      stream->authority.assign(text);
    } else if (header == ":scheme") {
      stream->scheme.assign(text);
    } else if (!header.empty() && header == Self(user_data)->options_.capture_header) {
      stream->captured_header.assign(text.substr(0, 64));
    }
    return 0;
  }

  static int OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t length, void* user_data) {
    Stream* stream = StreamOf(session, stream_id);
    if (stream == nullptr || stream->body_too_large || stream->request_delivered) return 0;
    Http2ServerSession* self = Self(user_data);
    if (stream->body.size() + length > self->options_.max_body_bytes) {
      stream->body_too_large = true;
      self->buffered_request_bytes_ -= stream->body.size();
      std::string().swap(stream->body);
      return 0;
    }
    stream->body.append(reinterpret_cast<const char*>(data), length);
    self->buffered_request_bytes_ += length;
    return 0;
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
    Stream* stream = StreamOf(session, frame->hd.stream_id);
    if (stream == nullptr || stream->request_delivered) return 0;
    stream->request_delivered = true;
    Http2ServerRequest request;
    request.stream_id = stream->id;
    request.method = stream->method;
    request.path = stream->path;
    request.authority = stream->authority;
    request.scheme = stream->scheme;
    request.body = stream->body;
    request.body_too_large = stream->body_too_large;
    request.captured_header = stream->captured_header;
    Http2ServerSession* self = Self(user_data);
    self->listener_->OnRequest(request);
    // The listener used the body during the call; a streamed answer can last minutes.
    self->buffered_request_bytes_ -= stream->body.size();
    std::string().swap(stream->body);
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    Http2ServerSession* self = Self(user_data);
    if (StreamOf(session, stream_id) == nullptr) return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
    if (auto it = self->streams_.find(stream_id); it != self->streams_.end()) {
      self->buffered_request_bytes_ -= it->second->body.size();  // empty once delivered
      self->streams_.erase(it);
    }
    self->listener_->OnStreamClosed(stream_id, error_code);
    return 0;
  }

  // The body's bytes are framed by WriteData(); nghttp2 sends only the stream's end, an empty
  // DATA frame with END_STREAM, once every byte is out.
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t* data_flags,
                          nghttp2_data_source* source, void*) {
    auto* stream = static_cast<Stream*>(source->ptr);
    if (stream->end_after_pending && stream->pending_offset == stream->pending.size()) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    stream->deferred = true;  // DrainOutput() resumes it when the end may go.
    return NGHTTP2_ERR_DEFERRED;
  }

  // A response's HEADERS are out: its body may follow.
  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* stream = StreamOf(session, frame->hd.stream_id);
    if (stream == nullptr || stream->head_sent) return 0;
    stream->head_sent = true;
    Self(user_data)->MarkDirty(stream);
    return 0;
  }

  // Every other frame, as nghttp2 serializes it.
  static ssize_t Send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user_data) {
    Self(user_data)->out_->append(reinterpret_cast<const char*>(data), length);
    return static_cast<ssize_t>(length);
  }
};

absl::StatusOr<std::unique_ptr<Http2ServerSession>> Http2ServerSession::Create(
    Http2ServerListener* listener, const Http2ServerOptions& options) {
  std::unique_ptr<Http2ServerSession> self(new Http2ServerSession(listener));
  self->options_ = options;

  nghttp2_session_callbacks* callbacks = nullptr;
  BENCH_RETURN_IF_ERROR(
      Nghttp2Error(nghttp2_session_callbacks_new(&callbacks), "nghttp2_session_callbacks_new"));
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Callbacks::OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Callbacks::OnDataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Callbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Callbacks::OnStreamClose);
  nghttp2_session_callbacks_set_send_callback(callbacks, &Callbacks::Send);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &Callbacks::OnFrameSend);
  const int rc = nghttp2_session_server_new(&self->session_, callbacks, self.get());
  nghttp2_session_callbacks_del(callbacks);
  BENCH_RETURN_IF_ERROR(Nghttp2Error(rc, "nghttp2_session_server_new"));

  BENCH_RETURN_IF_ERROR(SubmitInitialSettings(
      self->session_,
      {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams},
       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options.stream_window_bytes}},
      options.connection_window_bytes));
  return self;
}

Http2ServerSession::~Http2ServerSession() {
  // nghttp2_session_del frees its streams without callbacks; streams_ frees our state after.
  if (session_ != nullptr) nghttp2_session_del(session_);
}

Http2ServerSession::Stream* Http2ServerSession::FindStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2ServerSession::PrefetchStream(int32_t stream_id) const {
  auto it = streams_.find(stream_id);
  if (it != streams_.end()) __builtin_prefetch(it->second.get());
}

absl::Status Http2ServerSession::Submit(int32_t stream_id, int http_status,
                                        std::string_view content_type,
                                        const HeaderList& extra_headers, Stream* stream) {
  if (stream->response_submitted) {
    return absl::FailedPreconditionError(
        absl::StrCat("HTTP/2 stream ", stream_id, " already has a response"));
  }
  char status_text[4];
  const int clamped = std::clamp(http_status, 100, 999);
  status_text[0] = static_cast<char>('0' + clamped / 100);
  status_text[1] = static_cast<char>('0' + clamped / 10 % 10);
  status_text[2] = static_cast<char>('0' + clamped % 10);
  status_text[3] = '\0';
  std::vector<nghttp2_nv> nva;
  nva.reserve(3 + extra_headers.size());
  auto add = [&nva](std::string_view name, std::string_view value) {
    nva.push_back(nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
                             const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())),
                             name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  };
  add(":status", std::string_view(status_text, 3));
  if (!content_type.empty()) add("content-type", content_type);
  for (const auto& [name, value] : extra_headers) add(name, value);
  nghttp2_data_provider provider;
  provider.source.ptr = stream;
  provider.read_callback = &Callbacks::ReadBody;
  // nghttp2 copies the header names and values.
  BENCH_RETURN_IF_ERROR(
      Nghttp2Error(nghttp2_submit_response(session_, stream_id, nva.data(), nva.size(), &provider),
                   "nghttp2_submit_response"));
  stream->response_submitted = true;
  return absl::OkStatus();
}

absl::Status Http2ServerSession::SubmitResponse(int32_t stream_id, int http_status,
                                                std::string_view content_type,
                                                std::string_view body,
                                                const HeaderList& extra_headers) {
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr) {
    return absl::NotFoundError(absl::StrCat("HTTP/2 stream ", stream_id, " is gone"));
  }
  stream->pending.assign(body.data(), body.size());
  stream->pending_offset = 0;
  stream->end_after_pending = true;
  return Submit(stream_id, http_status, content_type, extra_headers, stream);
}

absl::Status Http2ServerSession::SubmitStreamHead(int32_t stream_id, int http_status,
                                                  std::string_view content_type) {
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr) {
    return absl::NotFoundError(absl::StrCat("HTTP/2 stream ", stream_id, " is gone"));
  }
  static const HeaderList kStreamHeaders = {{"cache-control", "no-cache"}};
  return Submit(stream_id, http_status, content_type, kStreamHeaders, stream);
}

absl::Status Http2ServerSession::SendStreamData(int32_t stream_id, std::string_view data,
                                                std::string* out) {
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr) {
    return absl::NotFoundError(absl::StrCat("HTTP/2 stream ", stream_id, " is gone"));
  }
  if (!stream->response_submitted || stream->end_after_pending) {
    return absl::FailedPreconditionError(
        absl::StrCat("HTTP/2 stream ", stream_id, " has no open streamed response"));
  }
  const auto size = static_cast<int64_t>(data.size());
  // HEADERS are out (so already in `out` or written), nothing of the stream waits, the windows
  // take it whole and the session is not over (as in DrainOutput()): the frame goes now.
  if (out != nullptr && stream->head_sent && stream->pending_offset == stream->pending.size() &&
      size > 0 && data.size() <= peer_max_frame_ && size <= stream->send_window &&
      size <= connection_window_ && SendsBodies()) {
    AppendDataFrameHeader(*out, data.size(), stream_id);
    out->append(data);
    stream->send_window -= size;
    connection_window_ -= size;
    return absl::OkStatus();
  }
  stream->pending.append(data);
  MarkDirty(stream);
  return absl::OkStatus();
}

absl::Status Http2ServerSession::EndStream(int32_t stream_id) {
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr) {
    return absl::NotFoundError(absl::StrCat("HTTP/2 stream ", stream_id, " is gone"));
  }
  if (!stream->response_submitted) {
    return absl::FailedPreconditionError(
        absl::StrCat("HTTP/2 stream ", stream_id, " has no response to end"));
  }
  stream->end_after_pending = true;
  // With bytes still to frame, WriteData() lets the end go after them.
  if (stream->pending_offset == stream->pending.size() && stream->deferred) {
    ending_.push_back(stream_id);
  }
  return absl::OkStatus();
}

absl::Status Http2ServerSession::ResetStream(int32_t stream_id, uint32_t error_code) {
  return Nghttp2Error(nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, error_code),
                      "nghttp2_submit_rst_stream");
}

size_t Http2ServerSession::PendingBytes() const {
  size_t bytes = 0;
  for (const auto& [id, stream] : streams_) {
    bytes += stream->pending.size() - stream->pending_offset;
  }
  return bytes;
}

size_t Http2ServerSession::IncompleteRequests() const {
  size_t count = 0;
  for (const auto& [id, stream] : streams_) count += stream->request_delivered ? 0 : 1;
  return count;
}

absl::Status Http2ServerSession::Terminate(uint32_t error_code) {
  return Nghttp2Error(nghttp2_session_terminate_session(session_, error_code),
                      "nghttp2_session_terminate_session");
}

absl::Status Http2ServerSession::Receive(std::string_view bytes) {
  while (!bytes.empty()) {
    switch (input_state_) {
      case InputState::kMagic:
      case InputState::kPassPayload: {
        const size_t n = std::min(input_left_, bytes.size());
        feed_.append(bytes.data(), n);
        const bool settings = input_state_ == InputState::kPassPayload && keep_settings_;
        if (settings) frame_.append(bytes.data(), n);
        bytes.remove_prefix(n);
        input_left_ -= n;
        if (input_left_ > 0) break;
        if (settings) {
          BENCH_RETURN_IF_ERROR(FlushFeed());  // nghttp2 first: it refuses a bad one
          BENCH_RETURN_IF_ERROR(OnSettings());
        }
        frame_.clear();
        input_state_ = InputState::kHeader;
        break;
      }
      case InputState::kHeader: {
        const size_t n = std::min(kFrameHeaderBytes - frame_.size(), bytes.size());
        frame_.append(bytes.data(), n);
        bytes.remove_prefix(n);
        if (frame_.size() < kFrameHeaderBytes) break;
        const size_t length = ReadUint32(frame_, 0) >> 8;
        const auto type = static_cast<uint8_t>(frame_[3]);
        const auto flags = static_cast<uint8_t>(frame_[4]);
        if (type == NGHTTP2_WINDOW_UPDATE && length == 4) {
          input_state_ = InputState::kWindowUpdate;
          input_left_ = 4;
          break;
        }
        feed_.append(frame_);
        frame_.clear();
        keep_settings_ = type == NGHTTP2_SETTINGS && (flags & NGHTTP2_FLAG_ACK) == 0 &&
                         length % 6 == 0 && length <= kMaxSettingsBytes;
        input_left_ = length;
        input_state_ = length > 0 ? InputState::kPassPayload : InputState::kHeader;
        break;
      }
      case InputState::kWindowUpdate: {
        const size_t n = std::min(input_left_, bytes.size());
        frame_.append(bytes.data(), n);
        bytes.remove_prefix(n);
        input_left_ -= n;
        if (input_left_ > 0) break;
        BENCH_RETURN_IF_ERROR(OnWindowUpdate());
        frame_.clear();
        input_state_ = InputState::kHeader;
        break;
      }
    }
  }
  return FlushFeed();
}

absl::Status Http2ServerSession::FlushFeed() {
  if (feed_.empty()) return absl::OkStatus();
  const ssize_t n = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(feed_.data()), feed_.size());
  feed_.clear();
  if (n == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
    return absl::InvalidArgumentError("HTTP/2: bad client connection preface");
  }
  return Nghttp2Error(n, "nghttp2_session_mem_recv");
}

absl::Status Http2ServerSession::FlowControlError() {
  return Nghttp2Error(nghttp2_session_terminate_session(session_, NGHTTP2_FLOW_CONTROL_ERROR),
                      "nghttp2_session_terminate_session");
}

bool Http2ServerSession::SendsBodies() const {
  return nghttp2_session_want_read(session_) != 0 || nghttp2_session_want_write(session_) != 0;
}

absl::Status Http2ServerSession::OnWindowUpdate() {
  const auto stream_id = static_cast<int32_t>(ReadUint32(frame_, 5) & 0x7fffffff);
  const int64_t increment = ReadUint32(frame_, 9) & 0x7fffffff;
  if (increment == 0) {
    feed_.append(frame_);  // a protocol error: nghttp2 answers it
    return absl::OkStatus();
  }
  if (stream_id == 0) {
    connection_window_ += increment;
    if (connection_window_ > kMaxWindow) {
      BENCH_RETURN_IF_ERROR(FlushFeed());
      return FlowControlError();
    }
    for (const int32_t id : blocked_) {
      if (Stream* stream = FindStream(id)) MarkDirty(stream);
    }
    blocked_.clear();
    return absl::OkStatus();
  }
  BENCH_RETURN_IF_ERROR(FlushFeed());  // the frames before it may open the stream
  Stream* stream = FindStream(stream_id);
  if (stream == nullptr) {
    feed_.append(frame_);  // not a stream we answer: nghttp2 judges it (closed, or an error)
    return absl::OkStatus();
  }
  stream->send_window += increment;
  if (stream->send_window > kMaxWindow) {
    return Nghttp2Error(nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id,
                                                  NGHTTP2_FLOW_CONTROL_ERROR),
                        "nghttp2_submit_rst_stream");
  }
  // nghttp2 holds the stream's empty END_STREAM frame while its own window (the peer's initial
  // window, never spent) is not positive: then it needs the update too.
  if (nghttp2_session_get_stream_remote_window_size(session_, stream_id) <= 0) {
    feed_.append(frame_);
  }
  MarkDirty(stream);
  return absl::OkStatus();
}

absl::Status Http2ServerSession::OnSettings() {
  for (size_t at = 0; at + 6 <= frame_.size(); at += 6) {
    const uint32_t id = ReadUint32(frame_, at) >> 16;
    const uint32_t value = ReadUint32(frame_, at + 2);
    if (id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE && value <= kMaxWindow) {
      const int64_t delta = static_cast<int64_t>(value) - peer_initial_window_;
      peer_initial_window_ = value;
      bool overflow = false;
      for (auto& [stream_id, stream] : streams_) {
        stream->send_window += delta;
        overflow = overflow || stream->send_window > kMaxWindow;
        if (delta > 0) MarkDirty(stream.get());
      }
      // A change that takes a stream's window past 2^31-1 is a connection error (RFC 9113
      // 6.9.2); nghttp2 cannot see it, its windows are never spent.
      if (overflow) return FlowControlError();
    } else if (id == NGHTTP2_SETTINGS_MAX_FRAME_SIZE && value >= 16'384 && value <= 16'777'215) {
      peer_max_frame_ = value;
    }
  }
  return absl::OkStatus();
}

void Http2ServerSession::MarkDirty(Stream* stream) {
  if (stream->dirty || stream->pending_offset == stream->pending.size()) return;
  stream->dirty = true;
  dirty_.push_back(stream->id);
}

void Http2ServerSession::WriteData(std::string& out) {
  for (const int32_t id : dirty_) {
    Stream* stream = FindStream(id);
    if (stream == nullptr) continue;  // reset or closed since
    stream->dirty = false;
    if (!stream->head_sent) continue;  // OnFrameSend() marks it again
    while (stream->pending_offset < stream->pending.size()) {
      const int64_t window = std::min(stream->send_window, connection_window_);
      if (window <= 0) {
        // Its own window: the stream's WINDOW_UPDATE marks it again; the connection's: this.
        if (stream->send_window > 0) blocked_.push_back(id);
        break;
      }
      const size_t n = std::min({stream->pending.size() - stream->pending_offset, peer_max_frame_,
                                 static_cast<size_t>(window)});
      AppendDataFrameHeader(out, n, id);
      out.append(stream->pending, stream->pending_offset, n);
      stream->pending_offset += n;
      stream->send_window -= static_cast<int64_t>(n);
      connection_window_ -= static_cast<int64_t>(n);
    }
    if (stream->pending_offset < stream->pending.size()) continue;
    stream->pending.clear();
    stream->pending_offset = 0;
    if (stream->end_after_pending && stream->deferred) ending_.push_back(id);
  }
  dirty_.clear();
}

absl::Status Http2ServerSession::DrainOutput(std::string& out) {
  out_ = &out;
  // nghttp2's frames first (the HEADERS our DATA must follow), then the bodies, then the ends
  // of the streams whose bodies are all out. A session that is over sends no more bodies.
  int rc = nghttp2_session_send(session_);
  if (rc == 0 && SendsBodies()) WriteData(out);
  if (rc == 0 && !ending_.empty()) {
    for (const int32_t id : ending_) {
      Stream* stream = FindStream(id);
      if (stream == nullptr || !stream->deferred) continue;
      stream->deferred = false;
      rc = nghttp2_session_resume_data(session_, id);
      if (rc != 0) break;
    }
    ending_.clear();
    if (rc == 0) rc = nghttp2_session_send(session_);
  }
  out_ = nullptr;
  return Nghttp2Error(rc, "nghttp2_session_send");
}

bool Http2ServerSession::WantsRead() const { return nghttp2_session_want_read(session_) != 0; }
bool Http2ServerSession::WantsWrite() const {
  return nghttp2_session_want_write(session_) != 0 || !dirty_.empty() || !ending_.empty();
}

}  // namespace bench::engine
