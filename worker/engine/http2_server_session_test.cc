#include "worker/engine/http2_server_session.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "worker/engine/http2_session.h"

namespace bench::engine {
namespace {

struct SeenRequest {
  int32_t stream_id = 0;
  std::string method;
  std::string path;
  std::string authority;
  std::string body;
  bool body_too_large = false;
  std::string captured;
};

class ServerRecorder : public Http2ServerListener {
 public:
  void OnRequest(const Http2ServerRequest& request) override {
    requests.push_back({request.stream_id, std::string(request.method), std::string(request.path),
                        std::string(request.authority), std::string(request.body),
                        request.body_too_large, std::string(request.captured_header)});
  }
  void OnStreamClosed(int32_t stream_id, uint32_t error_code) override {
    closed[stream_id] = error_code;
  }
  std::vector<SeenRequest> requests;
  std::map<int32_t, uint32_t> closed;
};

class ClientRecorder : public Http2Listener {
 public:
  void OnResponseHeaders(int32_t stream_id, const ResponseHead& head) override {
    status[stream_id] = head.http_status;
    content_type[stream_id] = std::string(head.content_type);
  }
  void OnResponseData(int32_t stream_id, std::string_view data) override {
    body[stream_id].append(data);
    ++data_calls[stream_id];
  }
  void OnStreamClosed(int32_t stream_id, uint32_t error_code, bool) override {
    closed[stream_id] = error_code;
  }
  void OnGoaway(int32_t, uint32_t error_code) override { goaway_code = error_code; }
  std::map<int32_t, int> status;
  std::map<int32_t, std::string> content_type;
  std::map<int32_t, std::string> body;
  std::map<int32_t, int> data_calls;
  std::map<int32_t, uint32_t> closed;
  int64_t goaway_code = -1;
};

// The engine's HTTP/2 client and the server session, wired in memory.
class Http2ServerSessionTest : public ::testing::Test {
 protected:
  void SetUp() override { Connect(Http2Options()); }

  // A new server session and a client with `options` (its windows, say).
  void Connect(const Http2Options& client_options) {
    Http2ServerOptions options;
    options.max_body_bytes = 1000;
    options.capture_header = "x-sim-failure";
    auto server = Http2ServerSession::Create(&server_recorder_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    auto client = Http2ClientSession::Create(&client_recorder_, client_options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(client).value();
  }

  // Moves bytes both ways until neither side has anything to send; `byte_by_byte` hands the
  // server what the client sent one byte at a time.
  void Pump(int max_rounds = 100, bool byte_by_byte = false) {
    for (int round = 0; round < max_rounds; ++round) {
      std::string to_server;
      // What SendStreamData() framed at once goes first, as the connection writes it.
      std::string to_client = std::exchange(server_out_, std::string());
      ASSERT_TRUE(client_->DrainOutput(to_server).ok());
      if (byte_by_byte) {
        for (const char byte : to_server) {
          ASSERT_TRUE(server_->Receive(std::string_view(&byte, 1)).ok());
        }
      } else if (!to_server.empty()) {
        ASSERT_TRUE(server_->Receive(to_server).ok());
      }
      ASSERT_TRUE(server_->DrainOutput(to_client).ok());
      if (!to_client.empty()) {
        ASSERT_TRUE(client_->Receive(to_client).ok());
      }
      if (to_server.empty() && to_client.empty()) return;
    }
    FAIL() << "pump did not settle";
  }

  int32_t Submit(std::string body, std::string path = "/v1/chat/completions",
                 std::string failure_header = "") {
    RequestHead head;
    head.authority = "sim:8000";
    head.path = std::move(path);
    head.headers = {{"content-type", "application/json"}};
    if (!failure_header.empty()) head.headers.push_back({"x-sim-failure", failure_header});
    auto id = client_->SubmitRequest(head, std::move(body));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : -1;
  }

  ServerRecorder server_recorder_;
  ClientRecorder client_recorder_;
  std::unique_ptr<Http2ServerSession> server_;
  std::unique_ptr<Http2ClientSession> client_;
  std::string server_out_;  // the server connection's output buffer, for SendStreamData()
};

TEST_F(Http2ServerSessionTest, DeliversRequestAndWholeResponse) {
  const int32_t id = Submit(R"({"model":"m"})");
  Pump();
  ASSERT_EQ(server_recorder_.requests.size(), 1u);
  const SeenRequest& request = server_recorder_.requests[0];
  EXPECT_EQ(request.stream_id, id);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/v1/chat/completions");
  EXPECT_EQ(request.authority, "sim:8000");
  EXPECT_EQ(request.body, R"({"model":"m"})");
  ASSERT_TRUE(server_->SubmitResponse(id, 404, "application/json", R"({"error":{}})").ok());
  Pump();
  EXPECT_EQ(client_recorder_.status[id], 404);
  EXPECT_EQ(client_recorder_.body[id], R"({"error":{}})");
  EXPECT_EQ(client_recorder_.closed[id], 0u);
  EXPECT_EQ(server_recorder_.closed[id], 0u);
  EXPECT_EQ(server_->open_streams(), 0u);
}

TEST_F(Http2ServerSessionTest, CapturesTheNamedHeader) {
  const int32_t with = Submit("{}", "/v1/completions", "goaway");
  const int32_t without = Submit("{}");
  Pump();
  ASSERT_EQ(server_recorder_.requests.size(), 2u);
  EXPECT_EQ(server_recorder_.requests[0].stream_id, with);
  EXPECT_EQ(server_recorder_.requests[0].captured, "goaway");
  EXPECT_EQ(server_recorder_.requests[1].stream_id, without);
  EXPECT_EQ(server_recorder_.requests[1].captured, "");
}

TEST_F(Http2ServerSessionTest, EachDrainedEventIsItsOwnDataFrame) {
  const int32_t id = Submit("{}");
  Pump();
  ASSERT_TRUE(server_->SubmitStreamHead(id, 200, "text/event-stream").ok());
  Pump();
  EXPECT_EQ(client_recorder_.status[id], 200);
  EXPECT_EQ(client_recorder_.content_type[id], "text/event-stream") << "the client reads it";
  std::string expected;
  for (int i = 0; i < 10; ++i) {
    const std::string event = "data: " + std::to_string(i) + "\n\n";
    expected += event;
    ASSERT_TRUE(server_->SendStreamData(id, event, &server_out_).ok());
    Pump();
    EXPECT_EQ(client_recorder_.data_calls[id], i + 1);
  }
  EXPECT_EQ(client_recorder_.closed.count(id), 0u);
  ASSERT_TRUE(server_->EndStream(id).ok());
  Pump();
  EXPECT_EQ(client_recorder_.body[id], expected);
  EXPECT_EQ(client_recorder_.closed[id], 0u);
  EXPECT_EQ(server_recorder_.closed[id], 0u);
}

TEST_F(Http2ServerSessionTest, ManyConcurrentStreams) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(Submit("{}", "/s" + std::to_string(i)));
  Pump();
  ASSERT_EQ(server_recorder_.requests.size(), 100u);
  for (int32_t id : ids) ASSERT_TRUE(server_->SubmitStreamHead(id, 200, "text/plain").ok());
  for (int round = 0; round < 3; ++round) {
    for (int32_t id : ids) ASSERT_TRUE(server_->SendStreamData(id, "x", &server_out_).ok());
    Pump();
  }
  for (int32_t id : ids) ASSERT_TRUE(server_->EndStream(id).ok());
  Pump();
  for (int32_t id : ids) {
    EXPECT_EQ(client_recorder_.body[id], "xxx");
    EXPECT_EQ(client_recorder_.closed[id], 0u);
  }
  EXPECT_EQ(server_->open_streams(), 0u);
}

// The response bodies are framed by the session itself: the client's windows and largest frame
// hold (the client's nghttp2 would reset a stream, or end the connection, on a frame beyond
// either), WINDOW_UPDATEs reopen them, and every byte arrives in order before END_STREAM.
std::string Body(size_t bytes, char seed) {
  std::string body;
  for (size_t i = 0; i < bytes; ++i) body.push_back(static_cast<char>('a' + (seed + i) % 26));
  return body;
}

TEST_F(Http2ServerSessionTest, SmallStreamWindowsAreRespected) {
  Http2Options options;
  options.stream_window_bytes = 100;  // SETTINGS_INITIAL_WINDOW_SIZE 100
  Connect(options);
  const int32_t id = Submit("{}");
  Pump();
  ASSERT_TRUE(server_->SubmitStreamHead(id, 200, "text/event-stream").ok());
  std::string body = Body(3000, 0);
  for (size_t at = 0; at < body.size(); at += 300) {  // before the HEADERS are out: all queued
    ASSERT_TRUE(server_->SendStreamData(id, body.substr(at, 300), &server_out_).ok());
  }
  EXPECT_TRUE(server_out_.empty());
  Pump(1000);
  EXPECT_EQ(client_recorder_.body[id], body);
  // The window reopened (the client returns what it read once half is spent): a piece that fits
  // is framed at once, one that does not waits, and a small one behind it waits too.
  ASSERT_TRUE(server_->SendStreamData(id, Body(40, 1), &server_out_).ok());
  EXPECT_EQ(server_out_.size(), 9u + 40u);
  EXPECT_EQ(server_->PendingBytes(), 0u);
  ASSERT_TRUE(server_->SendStreamData(id, Body(300, 2), &server_out_).ok());
  ASSERT_TRUE(server_->SendStreamData(id, Body(10, 3), &server_out_).ok());
  EXPECT_EQ(server_out_.size(), 9u + 40u);
  EXPECT_EQ(server_->PendingBytes(), 310u);
  body += Body(40, 1) + Body(300, 2) + Body(10, 3);
  Pump(1000);
  EXPECT_EQ(client_recorder_.body[id], body);
  // Without an output (the connection is not writing) a piece that fits is queued all the same.
  ASSERT_TRUE(server_->SendStreamData(id, Body(20, 4), nullptr).ok());
  EXPECT_TRUE(server_out_.empty());
  EXPECT_EQ(server_->PendingBytes(), 20u);
  body += Body(20, 4);
  ASSERT_TRUE(server_->EndStream(id).ok());
  Pump(1000);
  EXPECT_EQ(client_recorder_.body[id], body);
  EXPECT_EQ(client_recorder_.closed[id], 0u);
  EXPECT_GE(client_recorder_.data_calls[id], 30);  // no frame over the 100-byte window
  EXPECT_EQ(server_->open_streams(), 0u);
  EXPECT_EQ(server_->PendingBytes(), 0u);
}

TEST_F(Http2ServerSessionTest, TheConnectionWindowIsSharedAndReopened) {
  Http2Options options;
  options.connection_window_bytes = 65'535;  // the protocol's initial connection window
  Connect(options);
  std::vector<int32_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Submit("{}"));
  Pump();
  std::vector<std::string> bodies;
  for (size_t i = 0; i < ids.size(); ++i) {
    bodies.push_back(Body(40'000, static_cast<char>(i)));  // 120,000 bytes in all
    ASSERT_TRUE(server_->SubmitResponse(ids[i], 200, "application/json", bodies[i]).ok());
  }
  Pump(1000);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(client_recorder_.body[ids[i]], bodies[i]) << i;
    EXPECT_EQ(client_recorder_.closed[ids[i]], 0u) << i;
    // 40,000 bytes in frames of at most 16,384 (the client's SETTINGS_MAX_FRAME_SIZE).
    EXPECT_GE(client_recorder_.data_calls[ids[i]], 3) << i;
  }
  EXPECT_EQ(client_recorder_.goaway_code, -1);
}

TEST_F(Http2ServerSessionTest, InputSplitIntoSingleBytes) {
  Http2Options options;
  options.stream_window_bytes = 64;
  Connect(options);
  const int32_t id = Submit("{\"model\":\"m\"}");
  Pump(100, /*byte_by_byte=*/true);
  ASSERT_EQ(server_recorder_.requests.size(), 1u);
  EXPECT_EQ(server_recorder_.requests[0].body, "{\"model\":\"m\"}");
  const std::string body = Body(1000, 3);
  ASSERT_TRUE(server_->SubmitResponse(id, 200, "application/json", body).ok());
  Pump(1000, /*byte_by_byte=*/true);
  EXPECT_EQ(client_recorder_.body[id], body);
  EXPECT_EQ(client_recorder_.closed[id], 0u);
}

// A WINDOW_UPDATE that takes the connection's window past 2^31-1 ends it (RFC 9113 6.9.1).
TEST_F(Http2ServerSessionTest, AWindowOverflowEndsTheConnection) {
  Submit("{}");
  Pump();
  const char update[] = {0,
                         0,
                         4,
                         0x08,
                         0,
                         0,
                         0,
                         0,
                         0,
                         0x7f,
                         static_cast<char>(0xff),
                         static_cast<char>(0xff),
                         static_cast<char>(0xff)};
  ASSERT_TRUE(server_->Receive(std::string_view(update, sizeof(update))).ok());
  Pump();
  EXPECT_EQ(client_recorder_.goaway_code, 3);  // FLOW_CONTROL_ERROR
  EXPECT_FALSE(server_->WantsRead());
}

// So does a SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream's window past it (6.9.2).
TEST_F(Http2ServerSessionTest, AnInitialWindowOverflowEndsTheConnection) {
  Http2Options options;
  options.stream_window_bytes = 65'535;
  Connect(options);
  const int32_t id = Submit("{}");
  Pump();
  ASSERT_EQ(id, 1);
  const uint32_t increment = 0x7fffffffu - 65'535u;  // the stream's window to 2^31-1 exactly
  const char update[] = {0,
                         0,
                         4,
                         0x08,
                         0,
                         0,
                         0,
                         0,
                         1,
                         static_cast<char>(increment >> 24),
                         static_cast<char>(increment >> 16),
                         static_cast<char>(increment >> 8),
                         static_cast<char>(increment)};
  ASSERT_TRUE(server_->Receive(std::string_view(update, sizeof(update))).ok());
  Pump();
  ASSERT_TRUE(server_->WantsRead()) << "2^31-1 itself is allowed";
  // SETTINGS_INITIAL_WINDOW_SIZE 65,536: one byte more for every open stream.
  const char settings[] = {0, 0, 6, 0x04, 0, 0, 0, 0, 0, 0, 0x04, 0, 0x01, 0, 0};
  ASSERT_TRUE(server_->Receive(std::string_view(settings, sizeof(settings))).ok());
  Pump();
  EXPECT_EQ(client_recorder_.goaway_code, 3);  // FLOW_CONTROL_ERROR
  EXPECT_FALSE(server_->WantsRead());
}

TEST_F(Http2ServerSessionTest, ClientResetClosesTheStream) {
  const int32_t id = Submit("{}");
  Pump();
  ASSERT_TRUE(server_->SubmitStreamHead(id, 200, "text/event-stream").ok());
  Pump();
  ASSERT_TRUE(client_->ResetStream(id, 8).ok());  // CANCEL
  Pump();
  ASSERT_EQ(server_recorder_.closed.count(id), 1u);
  EXPECT_EQ(server_recorder_.closed[id], 8u);
  EXPECT_EQ(server_->SendStreamData(id, "late", &server_out_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(server_->EndStream(id).code(), absl::StatusCode::kNotFound);
}

TEST_F(Http2ServerSessionTest, ServerResetReachesTheClient) {
  const int32_t id = Submit("{}");
  Pump();
  ASSERT_TRUE(server_->ResetStream(id, 2).ok());  // INTERNAL_ERROR
  Pump();
  EXPECT_EQ(client_recorder_.closed[id], 2u);
}

TEST_F(Http2ServerSessionTest, BodyOverTheLimitIsFlagged) {
  Submit(std::string(1500, 'x'));
  Pump();
  ASSERT_EQ(server_recorder_.requests.size(), 1u);
  EXPECT_TRUE(server_recorder_.requests[0].body_too_large);
  EXPECT_EQ(server_recorder_.requests[0].body, "");
}

// What a request not yet whole holds is counted (bench-sim's --max-buffered-bytes), and let go
// once it is delivered, flagged too large, or reset.
TEST_F(Http2ServerSessionTest, BuffersOfRequestsNotYetWholeAreCounted) {
  const int32_t id = Submit(std::string(900, 'x'));
  std::string to_server;
  ASSERT_TRUE(client_->DrainOutput(to_server).ok());
  ASSERT_GT(to_server.size(), 300u);
  ASSERT_TRUE(server_->Receive(std::string_view(to_server).substr(0, to_server.size() - 300)).ok());
  EXPECT_EQ(server_->buffered_request_bytes(), 600u);  // the body's first 600 bytes
  EXPECT_TRUE(server_recorder_.requests.empty());
  ASSERT_TRUE(server_->Receive(std::string_view(to_server).substr(to_server.size() - 300)).ok());
  ASSERT_EQ(server_recorder_.requests.size(), 1u);
  EXPECT_EQ(server_recorder_.requests[0].body.size(), 900u);
  EXPECT_EQ(server_->buffered_request_bytes(), 0u);  // delivered: the body is let go
  ASSERT_TRUE(server_->SubmitResponse(id, 200, "application/json", "{}").ok());
  Pump();

  Submit(std::string(1500, 'y'));  // over max_body_bytes (1000): flagged, nothing kept
  Pump();
  EXPECT_EQ(server_->buffered_request_bytes(), 0u);

  const int32_t cut = Submit(std::string(900, 'z'));
  to_server.clear();
  ASSERT_TRUE(client_->DrainOutput(to_server).ok());
  ASSERT_TRUE(server_->Receive(std::string_view(to_server).substr(0, to_server.size() - 100)).ok());
  EXPECT_EQ(server_->buffered_request_bytes(), 800u);
  ASSERT_TRUE(server_->ResetStream(cut, 8).ok());  // the stream ends before its request did
  Pump();
  EXPECT_EQ(server_->buffered_request_bytes(), 0u);
}

TEST_F(Http2ServerSessionTest, SecondResponseOnAStreamIsRefused) {
  const int32_t id = Submit("{}");
  Pump();
  ASSERT_TRUE(server_->SubmitStreamHead(id, 200, "text/plain").ok());
  EXPECT_EQ(server_->SubmitResponse(id, 200, "text/plain", "x").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(Http2ServerSessionTest, GoawayReachesTheClient) {
  Submit("{}");
  Pump();
  ASSERT_TRUE(server_->Terminate(0).ok());
  Pump();
  EXPECT_EQ(client_recorder_.goaway_code, 0);
}

TEST(Http2ServerSessionPrefaceTest, Http1BytesAreABadPreface) {
  ServerRecorder recorder;
  auto server = Http2ServerSession::Create(&recorder, Http2ServerOptions());
  ASSERT_TRUE(server.ok());
  EXPECT_EQ((*server)->Receive("GET / HTTP/1.1\r\nHost: a\r\n\r\n").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bench::engine
