#include "sim/server_connection.h"

#include <utility>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/logging.h"
#include "sim/generation.h"
#include "sim/openai_format.h"
#include "sim/sim_service.h"
#include "sim/sim_worker.h"

namespace bench::sim {
namespace {

constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// A client that reads slower than the tokens are made gets them late, as from a real server:
// above the high water of bytes queued at the socket the connection stops writing (HTTP/2 data
// waits in its streams, where a stream's events coalesce into one DATA frame; HTTP/1.1 bytes in
// out_) and resumes below the low water. Only a client that stops reading is dropped: no write
// progress for kMaxWriteStallNs, or more than kMaxHeldBytes held for it.
constexpr size_t kWriteHighWater = size_t{1} << 20;
constexpr size_t kWriteLowWater = size_t{256} << 10;
constexpr size_t kMaxHeldBytes = size_t{256} << 20;
constexpr int64_t kMaxWriteStallNs = 10'000'000'000;

}  // namespace

// A write libuv could not take at once: it holds the bytes until the callback frees it.
struct ServerConnection::WriteRequest {
  uv_write_t request;
  std::string bytes;
};

ServerConnection::ServerConnection(SimWorker& worker, const engine::TlsContext* tls)
    : worker_(worker), tls_context_(tls) {}

ServerConnection::~ServerConnection() {
  // Generations point at this connection: stop them before anything else goes.
  for (auto& [stream, generation] : generations_) generation->Stop();
  generations_.clear();
}

absl::Status ServerConnection::Start(engine::UvHandle<uv_tcp_t> tcp) {
  accepted_ns_ = MonotonicNowNs();
  last_read_ns_ = accepted_ns_;
  last_request_ns_ = accepted_ns_;
  tcp_ = std::move(tcp);
  tcp_.get()->data = this;
  // Token events are small and latency is the point: never wait to coalesce them.
  uv_tcp_nodelay(tcp_.get(), 1);
  if (tls_context_ != nullptr) {
    auto tls = engine::TlsSession::CreateServer(*tls_context_);
    if (!tls.ok()) return tls.status();
    tls_ = std::move(tls).value();
  }
  const int rc = uv_read_start(
      reinterpret_cast<uv_stream_t*>(tcp_.get()),
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* self = static_cast<ServerConnection*>(handle->data);
        if (self == nullptr) {
          *buf = uv_buf_init(nullptr, 0);
          return;
        }
        *buf = uv_buf_init(self->worker_.loop().read_buffer(), engine::EventLoop::kReadBufferBytes);
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* self = static_cast<ServerConnection*>(stream->data);
        if (self == nullptr) return;
        SimWorker& worker = self->worker_;
        self->OnRead(nread, buf->base);
        worker.FlushDirty();
      });
  return engine::UvError(rc, "uv_read_start");
}

void ServerConnection::OnRead(ssize_t nread, const char* data) {
  // Requests arrive when their bytes are read: take the time before any decryption or parsing.
  read_time_ns_ = MonotonicNowNs();
  if (nread == 0 || closed_) return;  // EAGAIN
  last_read_ns_ = read_time_ns_;
  if (nread < 0) {  // EOF, reset
    Close();
    return;
  }
  const std::string_view bytes(data, static_cast<size_t>(nread));
  if (tls_ == nullptr) {
    OnPlaintext(bytes);
  } else {
    decrypted_.clear();
    const absl::Status status = tls_->ReceiveCiphertext(bytes, decrypted_);
    ciphertext_.clear();
    tls_->DrainCiphertext(ciphertext_);  // Handshake records, alerts.
    if (!ciphertext_.empty()) WriteRaw(ciphertext_);
    if (!status.ok()) {
      BENCH_LOG(DEBUG) << "bench-sim: TLS: " << status;
      Close();
      return;
    }
    if (protocol_ == Protocol::kUnknown && tls_->handshake_done()) {
      const std::string alpn = tls_->alpn_selected();
      if (alpn == "h2") {
        if (!ChooseProtocol(Protocol::kHttp2).ok()) return;
      } else if (alpn == "http/1.1") {
        if (!ChooseProtocol(Protocol::kHttp1).ok()) return;
      }
      // No ALPN: the bytes tell, as in cleartext.
    }
    if (!decrypted_.empty()) OnPlaintext(decrypted_);
    if (!closed_ && tls_->peer_closed()) CloseAfterWrites();
  }
  if (closed_ || !AccountBufferedRequests()) return;
  // An HTTP/1.1 request that began in this read (or before) and is not whole yet.
  if (http1_ != nullptr && http1_->request_incomplete()) {
    if (incomplete_since_ns_ == 0) incomplete_since_ns_ = read_time_ns_;
  } else {
    incomplete_since_ns_ = 0;
  }
  Flush();
}

void ServerConnection::CheckTimeouts(int64_t now_ns) {
  if (closed_ || closing_) return;
  const SimConfig& config = worker_.shared().config;
  const int64_t header_timeout_ns = absl::ToInt64Nanoseconds(config.header_timeout);
  // Since when the connection has owed us a whole request: the handshake or preface from the
  // accept; an HTTP/1.1 request from its first byte; HTTP/2 streams whose request has not
  // arrived whole, from the last request that did (streams finish at all times under load).
  int64_t owed_since_ns = 0;
  if (protocol_ == Protocol::kUnknown || (tls_ != nullptr && !tls_->handshake_done())) {
    owed_since_ns = accepted_ns_;
  } else if (http1_ != nullptr && incomplete_since_ns_ != 0) {
    owed_since_ns = incomplete_since_ns_;
  } else if (http2_ != nullptr && http2_->IncompleteRequests() > 0) {
    owed_since_ns = last_request_ns_;
  }
  if (owed_since_ns != 0 && now_ns - owed_since_ns > header_timeout_ns) {
    BENCH_LOG(WARNING) << "bench-sim: closing a connection that sent no whole request within "
                       << absl::FormatDuration(config.header_timeout)
                       << " (--header-timeout; a slow or stalled client)";
    Close();
    return;
  }
  if (owed_since_ns == 0 && generations_.empty() &&
      now_ns - last_read_ns_ > absl::ToInt64Nanoseconds(config.idle_timeout)) {
    BENCH_LOG(DEBUG) << "bench-sim: closing an idle connection (--idle-timeout)";
    if (http2_ != nullptr) {
      // A graceful end: GOAWAY(NO_ERROR), then the close once it is written.
      http2_->Terminate(0).IgnoreError();
      Flush();
      return;
    }
    Close();
  }
}

void ServerConnection::OnPlaintext(std::string_view bytes) {
  if (closed_ || closing_) return;
  if (protocol_ == Protocol::kUnknown) {
    preface_.append(bytes);
    const size_t compared = std::min(preface_.size(), kHttp2Preface.size());
    if (std::string_view(preface_).substr(0, compared) != kHttp2Preface.substr(0, compared)) {
      if (!ChooseProtocol(Protocol::kHttp1).ok()) return;
    } else if (preface_.size() >= kHttp2Preface.size()) {
      if (!ChooseProtocol(Protocol::kHttp2).ok()) return;
    } else {
      return;  // A prefix of the HTTP/2 preface so far: wait for more.
    }
    std::string buffered;
    buffered.swap(preface_);
    OnPlaintext(buffered);
    return;
  }
  if (protocol_ == Protocol::kHttp1) {
    in_receive_ = true;
    const absl::Status status = http1_->Receive(bytes, out_);
    in_receive_ = false;
    if (!status.ok()) HandleHttp1Failure(status);
    return;
  }
  in_receive_ = true;
  const absl::Status status = http2_->Receive(bytes);
  in_receive_ = false;
  if (!status.ok()) {
    BENCH_LOG(DEBUG) << "bench-sim: HTTP/2: " << status;
    Close();
  }
}

absl::Status ServerConnection::ChooseProtocol(Protocol protocol) {
  const size_t max_body_bytes = worker_.shared().config.max_body_bytes;
  protocol_ = protocol;
  if (protocol == Protocol::kHttp1) {
    engine::Http1ServerOptions options;
    options.max_body_bytes = max_body_bytes;
    options.capture_header = std::string(kFailureHeader);
    http1_ = std::make_unique<engine::Http1ServerSession>(this, options);
    return absl::OkStatus();
  }
  engine::Http2ServerOptions options;
  options.max_body_bytes = max_body_bytes;
  options.capture_header = std::string(kFailureHeader);
  auto session = engine::Http2ServerSession::Create(this, options);
  if (!session.ok()) {
    BENCH_LOG(ERROR) << "bench-sim: " << session.status();
    Close();
    return session.status();
  }
  http2_ = std::move(session).value();
  return absl::OkStatus();
}

void ServerConnection::HandleHttp1Failure(const absl::Status& status) {
  BENCH_LOG(DEBUG) << "bench-sim: HTTP/1.1: " << status;
  // Mid-response (too much pipelined input) there is no room for an error response.
  if (!generations_.empty() || http1_->failure_http_status() == 0) {
    Close();
    return;
  }
  ApiError error;
  error.http_status = http1_->failure_http_status();
  error.message = std::string(status.message());
  std::string body;
  AppendErrorBody(error, body);
  if (!http1_->EncodeResponse(error.http_status, "application/json", body, out_).ok()) {
    Close();
    return;
  }
  MarkDirty();  // Flush() sees should_close() and closes after the write.
}

void ServerConnection::OnRequest(const engine::Http1ServerRequest& request) {
  last_request_ns_ = read_time_ns_;
  incomplete_since_ns_ = 0;
  IncomingRequest incoming;
  incoming.method = request.method;
  incoming.target = request.target;
  incoming.body = request.body;
  incoming.failure_header = request.captured_header;
  incoming.arrival_ns = read_time_ns_;
  HandleRequest(worker_, *this, 0, incoming);
}

void ServerConnection::OnRequest(const engine::Http2ServerRequest& request) {
  last_request_ns_ = read_time_ns_;
  IncomingRequest incoming;
  incoming.method = request.method;
  incoming.target = request.path;
  incoming.body = request.body;
  incoming.body_too_large = request.body_too_large;
  incoming.failure_header = request.captured_header;
  incoming.arrival_ns = read_time_ns_;
  HandleRequest(worker_, *this, request.stream_id, incoming);
}

void ServerConnection::OnStreamClosed(int32_t stream_id, uint32_t) { StopGeneration(stream_id); }

void ServerConnection::StopGeneration(int32_t stream) {
  auto it = generations_.find(stream);
  if (it == generations_.end()) return;
  std::unique_ptr<Generation> generation = std::move(it->second);
  generations_.erase(it);
  generation->Stop();
  worker_.Retire(std::move(generation));
}

void ServerConnection::Adopt(int32_t stream, std::unique_ptr<Generation> generation) {
  if (closed_) {  // A write failed while the request was being answered.
    generation->Stop();
    worker_.Retire(std::move(generation));
    return;
  }
  generations_[stream] = std::move(generation);
}

void ServerConnection::Respond(int32_t stream, int http_status, std::string_view content_type,
                               std::string_view body, const HeaderList& extra_headers) {
  if (closed_) return;
  if (http1_ != nullptr) {
    if (!http1_->EncodeResponse(http_status, content_type, body, out_, extra_headers).ok()) {
      Close();
      return;
    }
  } else if (http2_ != nullptr) {
    engine::Http2ServerSession::HeaderList headers(extra_headers.begin(), extra_headers.end());
    // kNotFound: the client reset the stream meanwhile; nothing to answer.
    http2_->SubmitResponse(stream, http_status, content_type, body, headers).IgnoreError();
  }
  MarkDirty();
}

void ServerConnection::BeginStream(int32_t stream, int http_status, std::string_view content_type) {
  if (closed_) return;
  if (http1_ != nullptr) {
    if (!http1_->BeginStream(http_status, content_type, out_).ok()) {
      Close();
      return;
    }
  } else if (http2_ != nullptr) {
    http2_->SubmitStreamHead(stream, http_status, content_type).IgnoreError();
  }
  MarkDirty();
}

void ServerConnection::SendEvent(int32_t stream, std::string_view bytes) {
  if (closed_) return;
  if (http1_ != nullptr) {
    http1_->EncodeStreamData(bytes, out_);
  } else if (http2_ != nullptr) {
    // A connection not writing for now keeps events in their streams: they leave as one frame.
    http2_->SendStreamData(stream, bytes, write_blocked_ ? nullptr : &out_).IgnoreError();
  }
  MarkDirty();
}

void ServerConnection::FinishStream(int32_t stream, bool streamed) {
  auto it = generations_.find(stream);
  if (it != generations_.end()) {
    worker_.Retire(std::move(it->second));
    generations_.erase(it);
  }
  if (closed_) return;
  if (http1_ != nullptr) {
    if (streamed) http1_->EndStream(out_);
    MarkDirty();
    ResumeHttp1();
  } else if (http2_ != nullptr) {
    if (streamed) http2_->EndStream(stream).IgnoreError();
    MarkDirty();
  }
}

void ServerConnection::ResumeHttp1() {
  if (in_receive_ || closed_ || http1_ == nullptr || !http1_->has_pending_input() ||
      http1_->response_in_progress()) {
    return;
  }
  read_time_ns_ = MonotonicNowNs();  // A pipelined request is taken up now.
  in_receive_ = true;
  const absl::Status status = http1_->Resume(out_);
  in_receive_ = false;
  if (!status.ok()) HandleHttp1Failure(status);
  if (!closed_) AccountBufferedRequests();  // the pipelined input it took up
}

void ServerConnection::MarkDirty() {
  if (dirty_ || closed_) return;
  dirty_ = true;
  worker_.MarkDirty(this);
}

void ServerConnection::Flush() {
  dirty_ = false;
  if (closed_) return;
  if (WriteBlocked()) return;
  if (http2_ != nullptr) {
    const absl::Status status = http2_->DrainOutput(out_);
    if (!status.ok()) {
      BENCH_LOG(DEBUG) << "bench-sim: HTTP/2: " << status;
      Close();
      return;
    }
  }
  if (!out_.empty()) {
    if (tls_ == nullptr) {
      WriteRaw(out_);
    } else {
      const absl::Status status = tls_->SendPlaintext(out_);
      if (!status.ok()) {
        Close();
        return;
      }
      ciphertext_.clear();
      tls_->DrainCiphertext(ciphertext_);
      WriteRaw(ciphertext_);
    }
    out_.clear();
  }
  if (closed_) return;
  const bool finished =
      (http1_ != nullptr && http1_->should_close() && !http1_->response_in_progress()) ||
      (http2_ != nullptr && !http2_->WantsRead() && !http2_->WantsWrite());
  if (finished) CloseAfterWrites();
}

bool ServerConnection::WriteBlocked() {
  const size_t queued = reinterpret_cast<uv_stream_t*>(tcp_.get())->write_queue_size;
  if (!write_blocked_) {
    if (queued < kWriteHighWater) return false;
    write_blocked_ = true;
    last_write_progress_ns_ = MonotonicNowNs();
    return true;
  }
  if (queued <= kWriteLowWater) {
    write_blocked_ = false;
    return false;
  }
  const size_t held = queued + out_.size() + (http2_ != nullptr ? http2_->PendingBytes() : 0);
  const int64_t stalled_ns = MonotonicNowNs() - last_write_progress_ns_;
  if (held > kMaxHeldBytes || stalled_ns > kMaxWriteStallNs) {
    BENCH_LOG(WARNING) << "bench-sim: closing a connection whose client stopped reading ("
                       << (held >> 20) << " MiB held for it, nothing written for "
                       << stalled_ns / 1'000'000 << " ms)";
    Close();
  }
  return true;
}

void ServerConnection::WriteRaw(std::string_view bytes) {
  if (closed_ || bytes.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_.get());
  size_t offset = 0;
  // Most writes go out whole at once, without a request allocation.
  if (stream->write_queue_size == 0) {
    uv_buf_t buf =
        uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
    const int written = uv_try_write(stream, &buf, 1);
    if (written == static_cast<int>(bytes.size())) return;
    if (written > 0) {
      offset = static_cast<size_t>(written);
    } else if (written != UV_EAGAIN) {
      Close();
      return;
    }
  }
  auto* request = new WriteRequest{{}, std::string(bytes.substr(offset))};
  uv_buf_t buf = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  const int rc = uv_write(&request->request, stream, &buf, 1, [](uv_write_t* req, int status) {
    uv_stream_t* handle = req->handle;
    auto* self = static_cast<ServerConnection*>(handle->data);
    delete reinterpret_cast<WriteRequest*>(req);
    if (self == nullptr) return;
    if (status < 0) {
      if (status != UV_ECANCELED) self->Close();
      return;
    }
    self->last_write_progress_ns_ = MonotonicNowNs();
    // Drained below the low water: what was held back goes out now.
    if (self->write_blocked_ && !self->closed_ && handle->write_queue_size <= kWriteLowWater) {
      self->Flush();
    }
  });
  if (rc < 0) {
    delete request;
    Close();
  }
}

void ServerConnection::CloseAfterWrites() {
  if (closing_ || closed_) return;
  closing_ = true;
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_.get());
  uv_read_stop(stream);
  // The shutdown completes after the queued writes; then the socket closes.
  auto* request = new uv_shutdown_t;
  const int rc = uv_shutdown(request, stream, [](uv_shutdown_t* req, int) {
    auto* self = static_cast<ServerConnection*>(req->handle->data);
    delete req;
    if (self != nullptr) self->Close();
  });
  if (rc < 0) {
    delete request;
    Close();
  }
}

void ServerConnection::StopGenerations() {
  for (auto& [stream, generation] : generations_) {
    generation->Stop();
    worker_.Retire(std::move(generation));
  }
  generations_.clear();
}

void ServerConnection::Close() { CloseNow(/*reset=*/false); }

bool ServerConnection::AccountBufferedRequests() {
  const size_t held = preface_.size() + (http1_ != nullptr ? http1_->buffered_request_bytes() : 0) +
                      (http2_ != nullptr ? http2_->buffered_request_bytes() : 0);
  const int64_t delta = static_cast<int64_t>(held) - accounted_request_bytes_;
  if (delta == 0) return true;
  SimShared& shared = worker_.shared();
  const int64_t total = shared.buffered_request_bytes.fetch_add(delta) + delta;
  accounted_request_bytes_ = static_cast<int64_t>(held);
  if (delta < 0 || total <= shared.config.max_buffered_bytes) return true;
  worker_.NoteBufferedBytesRefusal(accounted_request_bytes_, total);
  Close();
  return false;
}

void ServerConnection::CloseNow(bool reset) {
  if (closed_) return;
  closed_ = true;
  if (accounted_request_bytes_ != 0) {
    worker_.shared().buffered_request_bytes.fetch_sub(accounted_request_bytes_);
    accounted_request_bytes_ = 0;
  }
  StopGenerations();
  if (reset) {
    tcp_.CloseWithReset();
  } else {
    tcp_.Close();
  }
  worker_.RetireConnection(this);
}

void ServerConnection::FailStream(int32_t stream, FailureKind kind) {
  if (closed_) return;
  constexpr uint32_t kInternalError = 2;  // RFC 9113 section 7
  // Over HTTP/1.1 only a reset breaks a response.
  if (http2_ == nullptr) kind = FailureKind::kReset;
  // Counted first: the flush below may find the connection broken and close it.
  worker_.shared().metrics.AddInjectedFailures(
      kind, kind == FailureKind::kRstStream ? 1 : static_cast<int64_t>(generations_.size()));
  // The tokens emitted so far leave first: a reset frame would discard the DATA queued behind
  // it, and a TCP reset the bytes not yet written.
  Flush();
  if (closed_) return;
  switch (kind) {
    case FailureKind::kRstStream:
      StopGeneration(stream);
      http2_->ResetStream(stream, kInternalError).IgnoreError();
      MarkDirty();
      return;
    case FailureKind::kGoaway:
      StopGenerations();
      // Once GOAWAY is out the session wants neither reads nor writes: Flush() closes after it.
      http2_->Terminate(kInternalError).IgnoreError();
      MarkDirty();
      return;
    default:
      CloseNow(/*reset=*/true);
      return;
  }
}

}  // namespace bench::sim
