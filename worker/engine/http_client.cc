#include "worker/engine/http_client.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/clock.h"
#include "worker/engine/http1_session.h"

namespace bench::engine {
namespace {
constexpr uint32_t kRefusedStream = 7;  // HTTP/2 error code REFUSED_STREAM
}  // namespace

const char* TransportOutcomeName(TransportOutcome outcome) {
  switch (outcome) {
    case TransportOutcome::kCompleted:
      return "completed";
    case TransportOutcome::kConnect:
      return "connect";
    case TransportOutcome::kTls:
      return "tls";
    case TransportOutcome::kReset:
      return "reset";
    case TransportOutcome::kRstStream:
      return "rst_stream";
    case TransportOutcome::kGoaway:
      return "goaway";
    case TransportOutcome::kProtocol:
      return "protocol";
    case TransportOutcome::kTruncated:
      return "truncated_stream";
    case TransportOutcome::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

struct HttpClient::InFlight {
  RequestId id = 0;
  RequestHead head;
  std::string body;
  ResponseObserver* observer = nullptr;
  PooledConnection* connection = nullptr;  // null while pending
  int32_t stream_id = 0;                   // HTTP/2 only
  bool sent = false;
  bool response_started = false;
  int64_t assigned_ns = 0;      // when it was given to a connection that was still connecting
  int64_t connect_wait_ns = 0;  // how long it then waited for the connection to be ready
  int attempts = 0;
};

// One connection of the pool with the protocol session on top of it. Owned by the client;
// destroyed only through the client's graveyard.
class HttpClient::PooledConnection final : public ConnectionListener,
                                           public Http2Listener,
                                           public Http1Listener {
 public:
  PooledConnection(HttpClient& client, ConnectionOptions options)
      : client_(client), connection_(client.loop_, this, client.tls_, std::move(options)) {}

  absl::Status Connect(const sockaddr_storage& address) {
    connect_start_ns_ = MonotonicNowNs();
    return connection_.Connect(reinterpret_cast<const sockaddr*>(&address));
  }

  Mode mode() const { return mode_; }
  bool ready() const { return ready_; }
  bool dead() const { return dead_; }
  // Requests on this connection now: open streams, the HTTP/1.1 request, those waiting for it.
  size_t load() const { return streams_.size() + assigned_.size() + (current_ != nullptr); }
  uint64_t streams_carried() const { return streams_carried_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t peak_streams() const { return peak_streams_; }

  // Requests this connection could still take now or once connected.
  size_t SpareCapacity() const {
    if (dead_ || goaway_) return 0;
    if (mode_ == Mode::kHttp1 || (mode_ == Mode::kUnknown && client_.mode_ != Mode::kHttp2)) {
      return (current_ == nullptr && assigned_.empty() &&
              (http1_ == nullptr || http1_->ready_for_request()))
                 ? 1
                 : 0;
    }
    // Until this server's SETTINGS arrive, assume what its other connections said.
    const size_t limit = std::min(http2_ != nullptr && http2_->peer_settings_received()
                                      ? http2_->PeerMaxConcurrentStreams()
                                      : client_.peer_max_streams_,
                                  client_.options_.max_streams_per_connection);
    const size_t load = streams_.size() + assigned_.size();
    if (http2_ != nullptr && !http2_->AcceptsNewStreams()) return 0;
    return load < limit ? limit - load : 0;
  }

  void Assign(InFlight* request) {
    request->connection = this;
    ++request->attempts;
    if (!ready_) {
      request->assigned_ns = MonotonicNowNs();
      assigned_.push_back(request);
      return;
    }
    Start(request);
  }

  // Takes a request off this connection (Cancel): no more events for it.
  void Detach(InFlight* request) {
    assigned_.erase(std::remove(assigned_.begin(), assigned_.end(), request), assigned_.end());
    unsent_.erase(std::remove(unsent_.begin(), unsent_.end(), request), unsent_.end());
    if (mode_ == Mode::kHttp2 && request->stream_id != 0) {
      streams_.erase(request->stream_id);
      (void)http2_->ResetStream(request->stream_id, 8 /* CANCEL */);
      // Cancelled from a callback of Receive(), nghttp2 must not be asked to send: OnBytes
      // flushes once Receive() returns.
      if (!in_receive_) Flush();
    } else if (current_ == request) {
      current_ = nullptr;
      Fail(TransportOutcome::kCancelled, absl::CancelledError("cancelled"));
    }
  }

  // ConnectionListener:
  void OnConnected(std::string_view alpn) override {
    client_.OnConnectSucceeded(MonotonicNowNs() - connect_start_ns_);
    const HttpProtocol protocol = client_.options_.protocol;
    if (protocol == HttpProtocol::kH2 && alpn != "h2") {
      Fail(TransportOutcome::kProtocol,
           absl::UnavailableError(absl::StrCat("server did not negotiate h2 with ALPN (got '",
                                               std::string(alpn), "')")));
      return;
    }
    const bool http2 = protocol == HttpProtocol::kH2c || protocol == HttpProtocol::kH2 ||
                       (protocol == HttpProtocol::kAuto && alpn == "h2");
    mode_ = http2 ? Mode::kHttp2 : Mode::kHttp1;
    client_.mode_ = mode_;
    if (http2) {
      auto session = Http2ClientSession::Create(this, client_.options_.http2);
      if (!session.ok()) {
        Fail(TransportOutcome::kProtocol, session.status());
        return;
      }
      http2_ = std::move(session).value();
    } else {
      http1_ = std::make_unique<Http1ClientSession>(this);
    }
    ready_ = true;
    std::vector<InFlight*> assigned;
    assigned.swap(assigned_);
    const int64_t ready_ns = MonotonicNowNs();
    for (InFlight* request : assigned) {
      if (SpareCapacity() > 0) {
        request->connect_wait_ns = ready_ns - request->assigned_ns;
        Start(request);
      } else {
        client_.Requeue(request);
      }
    }
    if (mode_ == Mode::kHttp1) {
      std::vector<PooledConnection*>& warming = client_.warming_http1_;
      warming.erase(std::remove(warming.begin(), warming.end(), this), warming.end());
      // Opened ahead of the load: ready for a request.
      if (current_ == nullptr) client_.idle_http1_.push_back(this);
    }
    Flush();  // The HTTP/2 preface and SETTINGS at least.
    client_.Dispatch();
  }

  void OnBytes(std::string_view plaintext, int64_t read_time_ns) override {
    read_time_ns_ = read_time_ns;
    bytes_read_ += plaintext.size();
    in_receive_ = true;
    absl::Status status =
        mode_ == Mode::kHttp2 ? http2_->Receive(plaintext) : http1_->Receive(plaintext);
    in_receive_ = false;
    if (dead_) return;
    if (!status.ok()) {
      Fail(TransportOutcome::kProtocol, status);
      return;
    }
    if (mode_ == Mode::kHttp2) {
      if (http2_->peer_settings_received()) {
        client_.peer_max_streams_ = http2_->PeerMaxConcurrentStreams();
        uint64_t& smallest = client_.stats_.connections.server_max_streams;
        if (smallest == 0 || client_.peer_max_streams_ < smallest) {
          smallest = client_.peer_max_streams_;
        }
      }
      Flush();
      if (!dead_ && !http2_->WantsRead() && !http2_->WantsWrite()) {
        // nghttp2 gave up on the peer (protocol error) or both sides said GOAWAY and are done.
        Fail(goaway_ ? TransportOutcome::kGoaway : TransportOutcome::kProtocol,
             absl::UnavailableError("HTTP/2 session ended"));
        return;
      }
    }
    if (mode_ == Mode::kHttp1 && closing_after_response_ && current_ == nullptr) {
      RetireQuietly();
    }
    client_.Dispatch();
  }

  void OnDisconnected(TransportError error, const absl::Status& detail) override {
    read_time_ns_ = MonotonicNowNs();
    switch (error) {
      case TransportError::kConnect:
      case TransportError::kConnectTimeout:
        Fail(TransportOutcome::kConnect, detail);
        return;
      case TransportError::kTls:
        Fail(TransportOutcome::kTls, detail);
        return;
      case TransportError::kReset:
      case TransportError::kNone:
        Fail(TransportOutcome::kReset, detail);
        return;
      case TransportError::kPeerClosed:
        OnPeerClosed(detail);
        return;
    }
  }

  // Http2Listener:
  void OnResponseHeaders(int32_t stream_id, const ResponseHead& head) override {
    if (auto it = streams_.find(stream_id); it != streams_.end()) {
      it->second->response_started = true;
      it->second->observer->OnResponseHeaders(head, read_time_ns_);
    }
  }
  void OnResponseData(int32_t stream_id, std::string_view data) override {
    if (auto it = streams_.find(stream_id); it != streams_.end()) {
      it->second->observer->OnResponseBody(data, read_time_ns_);
    }
  }
  void OnStreamClosed(int32_t stream_id, uint32_t error_code, bool reset_by_peer) override {
    auto it = streams_.find(stream_id);
    if (it == streams_.end()) return;  // Cancelled by us.
    InFlight* request = it->second;
    streams_.erase(it);
    RequestEnd end;
    if (error_code == 0) {
      end.outcome = TransportOutcome::kCompleted;
    } else if (goaway_ && stream_id > goaway_last_stream_id_) {
      // Above the GOAWAY's last stream id: not processed (RFC 9113 8.7), so safe to resend.
      if (RetryUnprocessed(request)) return;
      end.outcome = TransportOutcome::kGoaway;
      end.h2_error_code = goaway_error_code_;
      end.detail = absl::UnavailableError(
          absl::StrCat("stream not processed: GOAWAY with HTTP/2 error ", goaway_error_code_));
    } else if (reset_by_peer && error_code == kRefusedStream && RetryUnprocessed(request)) {
      // REFUSED_STREAM: the server did not process it (RFC 9113 8.7), so it is safe to resend.
      return;
    } else {
      end.outcome = reset_by_peer ? TransportOutcome::kRstStream : TransportOutcome::kProtocol;
      end.h2_error_code = error_code;
      end.detail =
          absl::UnavailableError(absl::StrCat("stream closed with HTTP/2 error ", error_code));
    }
    client_.Finish(request, std::move(end), read_time_ns_);
  }
  void OnGoaway(int32_t last_stream_id, uint32_t error_code) override {
    goaway_ = true;
    goaway_last_stream_id_ = last_stream_id;
    goaway_error_code_ = error_code;
  }

  // Http1Listener. An observer may Cancel() its request from these calls, which closes and
  // retires this connection while the session is still parsing the bytes read: what follows
  // them must then be ignored, and above all not put the connection back in the idle list.
  void OnResponseHeaders(const Http1ResponseHead& head) override {
    if (current_ == nullptr || dead_) return;
    current_->response_started = true;
    current_->observer->OnResponseHeaders(head, read_time_ns_);
  }
  void OnResponseData(std::string_view data) override {
    if (current_ != nullptr && !dead_) current_->observer->OnResponseBody(data, read_time_ns_);
  }
  void OnResponseComplete(bool keep_alive) override {
    if (dead_) return;
    InFlight* request = std::exchange(current_, nullptr);
    reused_ = true;
    if (!keep_alive) closing_after_response_ = true;
    if (keep_alive) client_.idle_http1_.push_back(this);
    if (request != nullptr) client_.Finish(request, RequestEnd(), read_time_ns_);
  }

  // Fails every request on this connection with `outcome` and retires it. Requests that were
  // never written go back to the queue (a few times) unless nothing can connect at all.
  void Fail(TransportOutcome outcome, absl::Status detail) {
    if (dead_) return;
    dead_ = true;
    connection_.Close();
    std::vector<std::pair<InFlight*, RequestEnd>> victims;
    for (InFlight* request : assigned_) victims.push_back({request, {outcome, 0, detail}});
    for (auto& [stream_id, request] : streams_) {
      const bool excluded_by_goaway = goaway_ && stream_id > goaway_last_stream_id_;
      if (excluded_by_goaway && RetryUnprocessed(request)) continue;
      victims.push_back(
          {request, {excluded_by_goaway ? TransportOutcome::kGoaway : outcome, 0, detail}});
    }
    if (current_ != nullptr) victims.push_back({current_, {outcome, 0, detail}});
    assigned_.clear();
    streams_.clear();
    unsent_.clear();
    current_ = nullptr;
    if (!victims.empty() && outcome != TransportOutcome::kCancelled) {
      ++client_.stats_.connections.failed;
    }
    client_.Retire(this);
    // Backing off first: a victim's observer may send again at once (a closed loop).
    const bool never_connected =
        !ready_ && (outcome == TransportOutcome::kConnect || outcome == TransportOutcome::kTls);
    if (never_connected) client_.OnConnectFailed(RequestEnd{outcome, 0, detail});
    const int64_t now = MonotonicNowNs();
    for (auto& [request, end] : victims) {
      if (outcome == TransportOutcome::kCancelled) continue;  // Cancel() or shutdown reports it.
      const bool can_retry = outcome != TransportOutcome::kConnect &&
                             outcome != TransportOutcome::kTls && request->attempts < 3;
      if (!request->sent && can_retry) {
        client_.Requeue(request);
        continue;
      }
      client_.Finish(request, std::move(end), now);
    }
    client_.Dispatch();
  }

  // A request the server did not process (a stale keep-alive connection closed as it was written,
  // REFUSED_STREAM, above a GOAWAY's last stream id) goes back to the queue for another
  // connection, up to three attempts; false when it may not.
  bool RetryUnprocessed(InFlight* request) {
    if (request->response_started || request->attempts >= 3) return false;
    ++client_.stats_.connections.retries;
    request->sent = false;
    client_.Requeue(request);
    return true;
  }

  // Closes a connection that ended normally (Connection: close) with nothing open on it.
  void RetireQuietly() {
    if (dead_) return;
    dead_ = true;
    connection_.Close();
    client_.Retire(this);
  }

 private:
  void Start(InFlight* request) {
    if (mode_ == Mode::kHttp2) {
      auto stream_id = http2_->SubmitRequest(request->head, request->body);
      if (!stream_id.ok()) {
        client_.Requeue(request);
        return;
      }
      request->stream_id = *stream_id;
      streams_.emplace(*stream_id, request);
      ++streams_carried_;
      peak_streams_ = std::max<uint64_t>(peak_streams_, streams_.size());
      unsent_.push_back(request);
      if (!in_receive_) Flush();
      return;
    }
    std::string bytes;
    const absl::Status status = http1_->EncodeRequest(request->head, request->body, bytes);
    if (!status.ok()) {
      client_.Finish(request, RequestEnd{TransportOutcome::kProtocol, 0, status}, MonotonicNowNs());
      return;
    }
    current_ = request;
    ++streams_carried_;
    peak_streams_ = 1;
    // Stamped as the bytes are handed over: a preemption inside the write then lengthens the
    // measured latency instead of shortening it.
    const int64_t handed_ns = MonotonicNowNs();
    connection_.Write(bytes);
    MarkSent(request, handed_ns);
  }

  // Writes what the HTTP/2 session has queued and stamps the requests that went out with it.
  void Flush() {
    if (mode_ != Mode::kHttp2 || http2_ == nullptr || dead_) return;
    std::string out;
    const absl::Status status = http2_->DrainOutput(out);
    const int64_t handed_ns = MonotonicNowNs();  // Before the write: see Start().
    if (!out.empty()) connection_.Write(out);
    if (!status.ok()) {
      Fail(TransportOutcome::kProtocol, status);
      return;
    }
    std::vector<InFlight*> sent;
    sent.swap(unsent_);
    for (InFlight* request : sent) MarkSent(request, handed_ns);
  }

  void MarkSent(InFlight* request, int64_t handed_ns) {
    request->sent = true;
    request->observer->OnRequestSent(handed_ns, std::exchange(request->connect_wait_ns, 0));
  }

  void OnPeerClosed(const absl::Status& detail) {
    if (mode_ != Mode::kHttp1 || http1_ == nullptr) {
      Fail(goaway_ ? TransportOutcome::kGoaway : TransportOutcome::kReset, detail);
      return;
    }
    InFlight* request = current_;
    const bool was_reused = reused_;
    const absl::Status status = http1_->OnPeerClosed();  // May complete a close-delimited body.
    if (dead_) return;
    if (status.ok() || request == nullptr || current_ == nullptr) {
      Fail(TransportOutcome::kReset, detail);  // Nothing open is left to fail, or it completed.
      return;
    }
    if (status.code() == absl::StatusCode::kDataLoss) {
      Fail(TransportOutcome::kTruncated, status);
      return;
    }
    // Closed before any response byte: on a reused keep-alive connection that is the server
    // dropping an idle connection as we wrote; send once more on a fresh one.
    if (was_reused && RetryUnprocessed(request)) current_ = nullptr;
    Fail(TransportOutcome::kReset, status);
  }

  HttpClient& client_;
  Connection connection_;
  Mode mode_ = Mode::kUnknown;
  bool ready_ = false;
  bool dead_ = false;
  bool in_receive_ = false;
  bool reused_ = false;
  bool closing_after_response_ = false;
  bool goaway_ = false;
  int32_t goaway_last_stream_id_ = std::numeric_limits<int32_t>::max();
  uint32_t goaway_error_code_ = 0;
  int64_t read_time_ns_ = 0;
  int64_t connect_start_ns_ = 0;
  uint64_t streams_carried_ = 0;
  uint64_t bytes_read_ = 0;
  uint64_t peak_streams_ = 0;
  std::unique_ptr<Http2ClientSession> http2_;
  std::unique_ptr<Http1ClientSession> http1_;
  absl::flat_hash_map<int32_t, InFlight*> streams_;  // HTTP/2 streams open
  InFlight* current_ = nullptr;                      // HTTP/1.1 request open
  std::vector<InFlight*> assigned_;                  // waiting for the connection to be ready
  std::vector<InFlight*> unsent_;                    // submitted, not yet flushed (HTTP/2)
};

HttpClient::HttpClient(EventLoop& loop, Endpoint endpoint, std::vector<sockaddr_storage> addresses,
                       const TlsContext* tls, HttpClientOptions options)
    : loop_(loop),
      endpoint_(std::move(endpoint)),
      addresses_(std::move(addresses)),
      tls_(tls),
      options_(std::move(options)),
      peer_max_streams_(options_.http2.initial_peer_max_concurrent_streams),
      reaper_(loop, [this] { graveyard_.clear(); }),
      backoff_(loop, [this] { Dispatch(); }) {
  BENCH_CHECK(!addresses_.empty()) << "HttpClient needs at least one address";
  if (options_.protocol == HttpProtocol::kH2c) mode_ = Mode::kHttp2;
  if (options_.protocol == HttpProtocol::kHttp1) mode_ = Mode::kHttp1;
  if (options_.protocol == HttpProtocol::kAuto && tls_ == nullptr) mode_ = Mode::kHttp1;
}

HttpClient::~HttpClient() {
  shutting_down_ = true;  // No dispatching, no new connections from here.
  std::vector<std::unique_ptr<PooledConnection>> connections;
  connections.swap(connections_);
  for (auto& connection : connections) connection->Fail(TransportOutcome::kCancelled, {});
}

HttpClient::RequestId HttpClient::Send(RequestHead head, std::string body,
                                       ResponseObserver* observer) {
  auto request = std::make_unique<InFlight>();
  request->id = next_id_++;
  request->head = std::move(head);
  request->body = std::move(body);
  request->observer = observer;
  const RequestId id = request->id;
  pending_.push_back(request.get());
  requests_.emplace(id, std::move(request));
  Dispatch();
  return id;
}

void HttpClient::Cancel(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  InFlight* request = it->second.get();
  if (request->connection != nullptr) {
    request->connection->Detach(request);
  } else {
    pending_.erase(std::remove(pending_.begin(), pending_.end(), request), pending_.end());
  }
  Finish(request, RequestEnd{TransportOutcome::kCancelled, 0, absl::CancelledError("cancelled")},
         MonotonicNowNs());
}

void HttpClient::Requeue(InFlight* request) {
  request->connection = nullptr;
  request->stream_id = 0;
  pending_.push_front(request);
}

void HttpClient::Finish(InFlight* request, RequestEnd end, int64_t end_ns) {
  auto node = requests_.extract(request->id);
  if (node.empty()) return;
  std::unique_ptr<InFlight> owned = std::move(node.mapped());
  owned->observer->OnRequestEnd(end, end_ns);
  Dispatch();
}

HttpClient::PooledConnection* HttpClient::OpenConnection() {
  if (connections_.size() >= options_.max_connections) return nullptr;
  if (unreachable_) {
    if (backoff_.active() || probe_in_flight_) return nullptr;
    probe_in_flight_ = true;
  }
  ConnectionOptions connection_options;
  connection_options.connect_timeout_ms = options_.connect_timeout_ms;
  connection_options.server_name = endpoint_.host;
  auto connection = std::make_unique<PooledConnection>(*this, std::move(connection_options));
  const sockaddr_storage& address = addresses_[next_address_++ % addresses_.size()];
  ++stats_.connections.opened;
  PooledConnection* raw = connection.get();
  connections_.push_back(std::move(connection));
  const absl::Status status = raw->Connect(address);
  if (!status.ok()) {
    raw->Fail(TransportOutcome::kConnect, status);
    return nullptr;
  }
  return raw;
}

void HttpClient::Dispatch() {
  if (dispatching_ || shutting_down_) return;  // Re-entered from a callback of the dispatch below.
  dispatching_ = true;
  while (!pending_.empty()) {
    PooledConnection* target = nullptr;
    const bool below_minimum = connections_.size() < options_.min_connections;
    if (mode_ == Mode::kHttp1) {
      if (below_minimum) target = OpenConnection();
      while (!idle_http1_.empty() && target == nullptr) {
        PooledConnection* candidate = idle_http1_.back();
        idle_http1_.pop_back();
        if (candidate->SpareCapacity() > 0) target = candidate;
      }
      while (!warming_http1_.empty() && target == nullptr) {
        PooledConnection* candidate = warming_http1_.back();
        warming_http1_.pop_back();
        if (candidate->SpareCapacity() > 0) target = candidate;
      }
      if (target == nullptr) target = OpenConnection();
    } else if (mode_ == Mode::kHttp2) {
      // The least-loaded connection with room, so streams spread instead of filling the first.
      for (auto& connection : connections_) {
        if (connection->SpareCapacity() == 0) continue;
        if (target == nullptr || connection->load() < target->load()) target = connection.get();
      }
      if (target == nullptr || below_minimum) {
        if (PooledConnection* opened = OpenConnection()) target = opened;
      }
    } else {
      // ALPN decides: one connection first, the rest wait for its verdict.
      if (connections_.empty()) {
        target = OpenConnection();
      } else {
        break;
      }
    }
    if (target == nullptr) break;  // At the connection cap: wait for a free slot.
    InFlight* request = pending_.front();
    pending_.pop_front();
    target->Assign(request);
  }
  dispatching_ = false;
}

void HttpClient::Retire(PooledConnection* connection) {
  AddConnection(*connection, stats_.connections);
  idle_http1_.erase(std::remove(idle_http1_.begin(), idle_http1_.end(), connection),
                    idle_http1_.end());
  warming_http1_.erase(std::remove(warming_http1_.begin(), warming_http1_.end(), connection),
                       warming_http1_.end());
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [connection](const auto& owned) { return owned.get() == connection; });
  if (it == connections_.end()) return;
  graveyard_.push_back(std::move(*it));
  connections_.erase(it);
  reaper_.Start(0);
}

void HttpClient::Preconnect(size_t requests_in_flight) {
  size_t wanted = 1;
  if (mode_ == Mode::kHttp1) wanted = requests_in_flight;
  if (mode_ == Mode::kHttp2) {
    // Not the limit assumed before any SETTINGS: a server that allows fewer streams gets more
    // connections from Dispatch() once it said so.
    const size_t per_connection = std::max<size_t>(1, options_.max_streams_per_connection);
    wanted = (requests_in_flight + per_connection - 1) / per_connection;
  }
  wanted = std::min(std::max(wanted, options_.min_connections), options_.max_connections);
  while (connections_.size() < wanted && !unreachable_) {
    PooledConnection* opened = OpenConnection();
    if (opened == nullptr) break;
    // An HTTP/1.1 connection still connecting is not idle yet; Dispatch may still give it one.
    if (mode_ == Mode::kHttp1 && !opened->ready()) warming_http1_.push_back(opened);
  }
}

void HttpClient::AddConnection(const PooledConnection& connection, ConnectionStats& stats) {
  stats.streams += connection.streams_carried();
  stats.bytes += connection.bytes_read();
  stats.max_streams = std::max(stats.max_streams, connection.streams_carried());
  stats.max_bytes = std::max(stats.max_bytes, connection.bytes_read());
  stats.max_concurrent_streams = std::max(stats.max_concurrent_streams, connection.peak_streams());
}

void HttpClient::OnConnectSucceeded(int64_t connect_ns) {
  stats_.connections.connect_time.Record(std::max<int64_t>(1, connect_ns / 1000));
  probe_in_flight_ = false;
  if (!unreachable_) return;
  stats_.connections.unreachable_ns += MonotonicNowNs() - unreachable_since_ns_;
  unreachable_ = false;
  backoff_ms_ = 0;
  backoff_.Stop();
}

void HttpClient::OnConnectFailed(const RequestEnd& cause) {
  probe_in_flight_ = false;
  const bool was_unreachable = unreachable_;
  if (!unreachable_) {
    unreachable_ = true;
    unreachable_since_ns_ = MonotonicNowNs();
  }
  if (!backoff_.active()) {
    backoff_ms_ = backoff_ms_ == 0 ? options_.connect_backoff_initial_ms
                                   : std::min(options_.connect_backoff_max_ms, backoff_ms_ * 2);
    const double jittered = static_cast<double>(backoff_ms_) * absl::Uniform(jitter_, 0.8, 1.2);
    backoff_.Start(static_cast<uint64_t>(std::max(1.0, jittered)));
  }
  if (!was_unreachable) return;
  // Still no connection: what waits for one fails now, with the cause, instead of piling up.
  std::deque<InFlight*> waiting;
  waiting.swap(pending_);
  const int64_t now = MonotonicNowNs();
  for (InFlight* request : waiting) Finish(request, cause, now);
}

HttpClientStats HttpClient::stats() const {
  HttpClientStats stats = stats_;
  for (const auto& connection : connections_) AddConnection(*connection, stats.connections);
  if (unreachable_) stats.connections.unreachable_ns += MonotonicNowNs() - unreachable_since_ns_;
  stats.open_connections = connections_.size();
  stats.queued_requests = pending_.size();
  return stats;
}

}  // namespace bench::engine
