#include "worker/engine/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bench::engine {
namespace {

// An in-memory HTTP/2 server on nghttp2's server session. It answers each request according to
// `behaviour` once the request is complete; bytes move only when the test pumps them.
class FakeServer {
 public:
  struct Request {
    std::map<std::string, std::string> headers;
    std::string body;
  };
  enum class Behaviour { kStreamEvents, kRstStream, kGoawayAfterFirst };

  explicit FakeServer(uint32_t max_concurrent_streams,
                      Behaviour behaviour = Behaviour::kStreamEvents)
      : behaviour_(behaviour) {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(
        callbacks,
        [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
           const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
          auto* self = static_cast<FakeServer*>(user_data);
          self->requests_[frame->hd.stream_id]
              .headers[std::string(reinterpret_cast<const char*>(name), namelen)] =
              std::string(reinterpret_cast<const char*>(value), valuelen);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        callbacks, [](nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                      void* user_data) {
          static_cast<FakeServer*>(user_data)->requests_[stream_id].body.append(
              reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        callbacks, [](nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
          if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
              (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)) {
            static_cast<FakeServer*>(user_data)->complete_.push_back(frame->hd.stream_id);
          }
          return 0;
        });
    nghttp2_session_server_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_concurrent_streams}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
  }
  ~FakeServer() { nghttp2_session_del(session_); }

  void Receive(const std::string& bytes) {
    ASSERT_EQ(nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    for (int32_t stream_id : complete_) Respond(stream_id);
    complete_.clear();
  }
  std::string Drain() {
    std::string out;
    for (;;) {
      const uint8_t* chunk;
      ssize_t n = nghttp2_session_mem_send(session_, &chunk);
      if (n <= 0) return out;
      out.append(reinterpret_cast<const char*>(chunk), n);
    }
  }

  // The SSE body the server streams for every request: `events` events of `event_bytes` each.
  static std::string Events(int events) {
    std::string body;
    for (int i = 0; i < events; ++i) absl::StrAppend(&body, "data: {\"n\":", i, "}\n\n");
    return body;
  }

  std::map<int32_t, Request> requests_;
  int response_events = 5;
  size_t response_padding = 0;  // Extra bytes appended to each response (flow-control tests).
  bool declare_length = false;  // send content-length with each response

 private:
  struct Body {
    std::string data;
    size_t sent = 0;
  };

  void Respond(int32_t stream_id) {
    ++responded_;
    if (behaviour_ == Behaviour::kRstStream) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (behaviour_ == Behaviour::kGoawayAfterFirst && responded_ > 1) return;
    auto& body = bodies_[stream_id];
    body.data = Events(response_events) + std::string(response_padding, ':');
    nghttp2_data_provider provider;
    provider.source.ptr = &body;
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source* source, void*) -> ssize_t {
      auto* b = static_cast<Body*>(source->ptr);
      const size_t n = std::min(length, b->data.size() - b->sent);
      memcpy(buf, b->data.data() + b->sent, n);
      b->sent += n;
      if (b->sent == b->data.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    std::string length = std::to_string(body.data.size());
    const nghttp2_nv headers[] = {
        {(uint8_t*)":status", (uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)"content-type", (uint8_t*)"text/event-stream", 12, 17, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)"content-length", (uint8_t*)length.data(), 14, length.size(),
         NGHTTP2_NV_FLAG_NONE}};
    nghttp2_submit_response(session_, stream_id, headers, declare_length ? 3 : 2, &provider);
    if (behaviour_ == Behaviour::kGoawayAfterFirst) {
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR, nullptr, 0);
    }
  }

  Behaviour behaviour_;
  nghttp2_session* session_ = nullptr;
  std::vector<int32_t> complete_;
  std::map<int32_t, Body> bodies_;
  int responded_ = 0;
};

// Records every listener call.
class RecordingListener : public Http2Listener {
 public:
  struct Stream {
    int status = 0;
    int64_t content_length = -2;
    std::string body;
    int data_calls = 0;
    bool closed = false;
    uint32_t error_code = 0;
    bool reset_by_peer = false;
  };
  void OnResponseHeaders(int32_t id, const ResponseHead& head) override {
    streams[id].status = head.http_status;
    streams[id].content_length = head.content_length;
  }
  void OnResponseData(int32_t id, std::string_view data) override {
    streams[id].body.append(data);
    ++streams[id].data_calls;
  }
  void OnStreamClosed(int32_t id, uint32_t error_code, bool reset_by_peer) override {
    streams[id].closed = true;
    streams[id].error_code = error_code;
    streams[id].reset_by_peer = reset_by_peer;
  }
  void OnGoaway(int32_t last_stream_id, uint32_t error_code) override {
    goaway_last_stream = last_stream_id;
    goaway_error = error_code;
  }
  std::map<int32_t, Stream> streams;
  int32_t goaway_last_stream = -1;
  uint32_t goaway_error = 0;
};

RequestHead ChatRequest() {
  RequestHead head;
  head.authority = "127.0.0.1:8000";
  head.path = "/v1/chat/completions";
  head.headers = {{"content-type", "application/json"}, {"accept", "text/event-stream"}};
  return head;
}

// Moves bytes both ways until neither side has anything to say.
void Pump(Http2ClientSession& client, FakeServer& server) {
  for (int round = 0; round < 100; ++round) {
    std::string to_server;
    ASSERT_TRUE(client.DrainOutput(to_server).ok());
    if (!to_server.empty()) server.Receive(to_server);
    const std::string to_client = server.Drain();
    if (!to_client.empty()) {
      ASSERT_TRUE(client.Receive(to_client).ok());
    }
    if (to_server.empty() && to_client.empty()) return;
  }
  FAIL() << "the sessions kept talking for 100 rounds";
}

TEST(Http2ClientSession, StreamsARequestAndItsResponse) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok()) << client.status();
  FakeServer server(100);
  const std::string body = R"({"model":"m","stream":true})";
  auto id = (*client)->SubmitRequest(ChatRequest(), body);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ((*client)->open_streams(), 1u);
  Pump(**client, server);

  const auto& request = server.requests_.at(*id);
  EXPECT_EQ(request.headers.at(":method"), "POST");
  EXPECT_EQ(request.headers.at(":path"), "/v1/chat/completions");
  EXPECT_EQ(request.headers.at(":authority"), "127.0.0.1:8000");
  EXPECT_EQ(request.headers.at("content-type"), "application/json");
  EXPECT_EQ(request.body, body);

  const auto& stream = listener.streams.at(*id);
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(stream.body, FakeServer::Events(5));
  EXPECT_TRUE(stream.closed);
  EXPECT_EQ(stream.error_code, 0u);
  EXPECT_FALSE(stream.reset_by_peer);
  EXPECT_EQ((*client)->open_streams(), 0u);
}

TEST(Http2ClientSession, ReportsTheDeclaredContentLength) {
  for (const bool declared : {false, true}) {
    RecordingListener listener;
    auto client = Http2ClientSession::Create(&listener, Http2Options());
    ASSERT_TRUE(client.ok()) << client.status();
    FakeServer server(100);
    server.declare_length = declared;
    auto id = (*client)->SubmitRequest(ChatRequest(), "{}");
    ASSERT_TRUE(id.ok()) << id.status();
    Pump(**client, server);
    const auto& stream = listener.streams.at(*id);
    ASSERT_TRUE(stream.closed);
    EXPECT_EQ(stream.error_code, 0u);
    EXPECT_EQ(stream.content_length,
              declared ? static_cast<int64_t>(stream.body.size()) : int64_t{-1});
  }
}

TEST(Http2ClientSession, LearnsTheServersStreamLimit) {
  RecordingListener listener;
  Http2Options options;
  options.initial_peer_max_concurrent_streams = 100;
  auto client = Http2ClientSession::Create(&listener, options);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->PeerMaxConcurrentStreams(), 100u);
  FakeServer server(10);
  Pump(**client, server);
  EXPECT_EQ((*client)->PeerMaxConcurrentStreams(), 10u);
}

TEST(Http2ClientSession, ManyConcurrentStreamsAllComplete) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok());
  FakeServer server(100);
  server.response_events = 50;
  std::vector<int32_t> ids;
  for (int i = 0; i < 50; ++i) {
    auto id = (*client)->SubmitRequest(ChatRequest(), absl::StrCat("{\"i\":", i, "}"));
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  Pump(**client, server);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(server.requests_.at(ids[i]).body, absl::StrCat("{\"i\":", i, "}"));
    EXPECT_EQ(listener.streams.at(ids[i]).body, FakeServer::Events(50));
    EXPECT_TRUE(listener.streams.at(ids[i]).closed);
  }
}

TEST(Http2ClientSession, LargeWindowsLetTheServerSendWithoutWaiting) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok());
  FakeServer server(100);
  server.response_padding = 4 << 20;  // 4 MiB: far beyond the 64 KiB default window.
  auto id = (*client)->SubmitRequest(ChatRequest(), "{}");
  ASSERT_TRUE(id.ok());
  std::string to_server;
  ASSERT_TRUE((*client)->DrainOutput(to_server).ok());
  server.Receive(to_server);
  // One drain of the server, with no WINDOW_UPDATE from the client in between, carries it all.
  ASSERT_TRUE((*client)->Receive(server.Drain()).ok());
  EXPECT_TRUE(listener.streams.at(*id).closed);
  EXPECT_EQ(listener.streams.at(*id).body.size(), FakeServer::Events(5).size() + (4u << 20));
}

TEST(Http2ClientSession, ReportsRstStreamFromThePeer) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok());
  FakeServer server(100, FakeServer::Behaviour::kRstStream);
  auto id = (*client)->SubmitRequest(ChatRequest(), "{}");
  ASSERT_TRUE(id.ok());
  Pump(**client, server);
  const auto& stream = listener.streams.at(*id);
  EXPECT_TRUE(stream.closed);
  EXPECT_EQ(stream.error_code, static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_TRUE(stream.reset_by_peer);
  EXPECT_EQ(stream.status, 0);
}

TEST(Http2ClientSession, OwnResetIsNotReportedAsThePeers) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok());
  FakeServer server(100);
  auto id = (*client)->SubmitRequest(ChatRequest(), "{}");
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE((*client)->ResetStream(*id, NGHTTP2_CANCEL).ok());
  Pump(**client, server);
  const auto& stream = listener.streams.at(*id);
  EXPECT_TRUE(stream.closed);
  EXPECT_EQ(stream.error_code, static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_FALSE(stream.reset_by_peer);
}

TEST(Http2ClientSession, GoawayStopsNewStreams) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok());
  FakeServer server(100, FakeServer::Behaviour::kGoawayAfterFirst);
  auto first = (*client)->SubmitRequest(ChatRequest(), "{}");
  ASSERT_TRUE(first.ok());
  Pump(**client, server);
  EXPECT_EQ(listener.goaway_last_stream, *first);
  EXPECT_EQ(listener.goaway_error, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_TRUE(listener.streams.at(*first).closed);
  EXPECT_FALSE((*client)->AcceptsNewStreams());
  auto second = (*client)->SubmitRequest(ChatRequest(), "{}");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Http2ClientSession, GarbageFromThePeerEndsTheSession) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->WantsRead());
  // Not a SETTINGS frame: a connection error. nghttp2 queues GOAWAY and stops reading.
  const absl::Status status = (*client)->Receive("HTTP/1.1 200 OK\r\n\r\n");
  std::string out;
  ASSERT_TRUE((*client)->DrainOutput(out).ok());
  EXPECT_FALSE((*client)->WantsRead()) << status;
  EXPECT_FALSE((*client)->AcceptsNewStreams());
}

TEST(Http2ClientSession, StreamsOpenAtDestructionAreFreed) {
  RecordingListener listener;
  auto client = Http2ClientSession::Create(&listener, Http2Options());
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*client)->SubmitRequest(ChatRequest(), "{}").ok());
  EXPECT_EQ((*client)->open_streams(), 10u);
  client->reset();  // ASan's leak check fails this test if per-stream state leaked.
  EXPECT_TRUE(listener.streams.empty());
}

}  // namespace
}  // namespace bench::engine
