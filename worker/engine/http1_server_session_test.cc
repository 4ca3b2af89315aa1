#include "worker/engine/http1_server_session.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "worker/engine/http1_session.h"

namespace bench::engine {
namespace {

struct SeenRequest {
  std::string method;
  std::string target;
  std::string body;
  int http_minor = 1;
  std::string captured;
};

// Records requests; answers each at once with `body` unless `defer` is set.
class Recorder : public Http1ServerListener {
 public:
  void OnRequest(const Http1ServerRequest& request) override {
    requests.push_back({std::string(request.method), std::string(request.target),
                        std::string(request.body), request.http_minor,
                        std::string(request.captured_header)});
    if (!defer) {
      EXPECT_TRUE(session->EncodeResponse(200, "text/plain", "hi", *out).ok());
    }
  }
  Http1ServerSession* session = nullptr;
  std::string* out = nullptr;
  bool defer = false;
  std::vector<SeenRequest> requests;
};

class Http1ServerSessionTest : public ::testing::Test {
 protected:
  Http1ServerSessionTest() : session_(&recorder_, Options()) {
    recorder_.session = &session_;
    recorder_.out = &out_;
  }
  static Http1ServerOptions Options() {
    Http1ServerOptions options;
    options.max_body_bytes = 1000;
    options.max_pending_input_bytes = 4096;
    options.capture_header = "x-sim-failure";
    return options;
  }
  Recorder recorder_;
  Http1ServerSession session_;
  std::string out_;
};

TEST_F(Http1ServerSessionTest, ParsesGetAndAnswersWithContentLength) {
  ASSERT_TRUE(session_.Receive("GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", out_).ok());
  ASSERT_EQ(recorder_.requests.size(), 1u);
  EXPECT_EQ(recorder_.requests[0].method, "GET");
  EXPECT_EQ(recorder_.requests[0].target, "/v1/models?x=1");
  EXPECT_EQ(recorder_.requests[0].body, "");
  EXPECT_EQ(out_, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_FALSE(session_.should_close());
  EXPECT_FALSE(session_.response_in_progress());
}

TEST_F(Http1ServerSessionTest, BodyArrivingByteByByte) {
  const std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
  for (char c : request) ASSERT_TRUE(session_.Receive(std::string_view(&c, 1), out_).ok());
  ASSERT_EQ(recorder_.requests.size(), 1u);
  EXPECT_EQ(recorder_.requests[0].method, "POST");
  EXPECT_EQ(recorder_.requests[0].body, "hello world");
}

TEST_F(Http1ServerSessionTest, CapturesTheNamedHeaderSplitAcrossReads) {
  const std::string request =
      "POST / HTTP/1.1\r\nHost: a\r\nX-Sim-Failure: rst_stream  \r\nX-Other: 1\r\n"
      "Content-Length: 0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  for (char c : request) ASSERT_TRUE(session_.Receive(std::string_view(&c, 1), out_).ok());
  ASSERT_EQ(recorder_.requests.size(), 2u);
  EXPECT_EQ(recorder_.requests[0].captured, "rst_stream") << "case-insensitive name, value trimmed";
  EXPECT_EQ(recorder_.requests[1].captured, "") << "not carried over to the next request";
}

TEST_F(Http1ServerSessionTest, ChunkedRequestBody) {
  ASSERT_TRUE(session_
                  .Receive("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                           out_)
                  .ok());
  ASSERT_EQ(recorder_.requests.size(), 1u);
  EXPECT_EQ(recorder_.requests[0].body, "hello world");
}

TEST_F(Http1ServerSessionTest, PipelinedRequestsAnsweredSynchronously) {
  ASSERT_TRUE(session_
                  .Receive("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"
                           "GET /c HTTP/1.1\r\nHost: a\r\n\r\n",
                           out_)
                  .ok());
  ASSERT_EQ(recorder_.requests.size(), 3u);
  EXPECT_EQ(recorder_.requests[2].target, "/c");
}

TEST_F(Http1ServerSessionTest, PipelinedRequestWaitsForStreamedResponse) {
  recorder_.defer = true;
  ASSERT_TRUE(session_
                  .Receive("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
                           "GET /b HTTP/1.1\r\nHost: a\r\n\r\n",
                           out_)
                  .ok());
  ASSERT_EQ(recorder_.requests.size(), 1u);
  EXPECT_TRUE(session_.has_pending_input());
  ASSERT_TRUE(session_.BeginStream(200, "text/event-stream", out_).ok());
  session_.EncodeStreamData("data: 1\n\n", out_);
  // More bytes during the response are held too.
  ASSERT_TRUE(session_.Receive("GET /c HTTP/1.1\r\nHost: a\r\n\r\n", out_).ok());
  EXPECT_EQ(recorder_.requests.size(), 1u);
  session_.EndStream(out_);
  EXPECT_EQ(out_,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            "Cache-Control: no-cache\r\n\r\n9\r\ndata: 1\n\n\r\n0\r\n\r\n");
  recorder_.defer = false;
  ASSERT_TRUE(session_.Resume(out_).ok());
  ASSERT_EQ(recorder_.requests.size(), 3u);
  EXPECT_EQ(recorder_.requests[1].target, "/b");
  EXPECT_EQ(recorder_.requests[2].target, "/c");
  EXPECT_FALSE(session_.has_pending_input());
}

TEST_F(Http1ServerSessionTest, ExpectContinueGetsInterimResponse) {
  recorder_.defer = true;
  ASSERT_TRUE(session_
                  .Receive("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                           "Expect: 100-continue\r\n\r\n",
                           out_)
                  .ok());
  EXPECT_EQ(out_, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_TRUE(recorder_.requests.empty());
  ASSERT_TRUE(session_.Receive("{}", out_).ok());
  ASSERT_EQ(recorder_.requests.size(), 1u);
}

TEST_F(Http1ServerSessionTest, MalformedRequestIs400AndCloses) {
  const absl::Status status = session_.Receive("GARBAGE\r\n\r\n", out_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(session_.failure_http_status(), 400);
  EXPECT_TRUE(session_.should_close());
  ASSERT_TRUE(session_.EncodeResponse(400, "application/json", "{}", out_).ok());
  EXPECT_NE(out_.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(session_.Receive("GET / HTTP/1.1\r\n\r\n", out_).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(Http1ServerSessionTest, DeclaredBodyTooLargeIs413BeforeTheBody) {
  const absl::Status status =
      session_.Receive("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", out_);
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(session_.failure_http_status(), 413);
}

TEST_F(Http1ServerSessionTest, ChunkedBodyTooLargeIs413) {
  std::string request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 11; ++i) request += "64\r\n" + std::string(100, 'x') + "\r\n";
  EXPECT_EQ(session_.Receive(request, out_).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(session_.failure_http_status(), 413);
}

TEST_F(Http1ServerSessionTest, LongTargetIs414HoweverTheReadsAreCut) {
  const std::string request = "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t split : {size_t{0}, size_t{100}, size_t{5000}, request.size()}) {
    Recorder recorder;
    Http1ServerSession session(&recorder);  // max_target_bytes 8192 by default
    std::string out;
    absl::Status status = session.Receive(std::string_view(request).substr(0, split), out);
    if (status.ok()) status = session.Receive(std::string_view(request).substr(split), out);
    EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange) << split;
    EXPECT_EQ(session.failure_http_status(), 414);
  }
}

TEST_F(Http1ServerSessionTest, Http2RequestLineIs505) {
  EXPECT_EQ(session_.Receive("GET / HTTP/2.0\r\nHost: a\r\n\r\n", out_).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(session_.failure_http_status(), 505);
}

TEST_F(Http1ServerSessionTest, TooMuchPipelinedInputFails) {
  recorder_.defer = true;
  ASSERT_TRUE(session_.Receive("GET / HTTP/1.1\r\nHost: a\r\n\r\n", out_).ok());
  EXPECT_EQ(session_.Receive(std::string(5000, 'x'), out_).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(Http1ServerSessionTest, ConnectionCloseRequestEndsTheConnection) {
  ASSERT_TRUE(
      session_.Receive("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", out_).ok());
  EXPECT_TRUE(session_.should_close());
  EXPECT_NE(out_.find("Connection: close\r\n"), std::string::npos);
}

TEST_F(Http1ServerSessionTest, Http10StreamIsCloseDelimited) {
  recorder_.defer = true;
  ASSERT_TRUE(session_.Receive("GET / HTTP/1.0\r\n\r\n", out_).ok());
  ASSERT_EQ(recorder_.requests.size(), 1u);
  EXPECT_EQ(recorder_.requests[0].http_minor, 0);
  ASSERT_TRUE(session_.BeginStream(200, "text/event-stream", out_).ok());
  session_.EncodeStreamData("abc", out_);
  session_.EndStream(out_);
  EXPECT_EQ(out_.find("Transfer-Encoding"), std::string::npos);
  EXPECT_TRUE(out_.ends_with("\r\n\r\nabc")) << out_;
  EXPECT_TRUE(session_.should_close());
}

TEST_F(Http1ServerSessionTest, Http10KeepAliveIsAcknowledged) {
  ASSERT_TRUE(session_.Receive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", out_).ok());
  EXPECT_NE(out_.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_FALSE(session_.should_close());
}

TEST_F(Http1ServerSessionTest, HeadResponseHasNoBody) {
  ASSERT_TRUE(session_.Receive("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", out_).ok());
  EXPECT_TRUE(out_.ends_with("Content-Length: 2\r\n\r\n")) << out_;
}

TEST_F(Http1ServerSessionTest, EncodeWithoutRequestIsRefused) {
  EXPECT_EQ(session_.EncodeResponse(200, "text/plain", "x", out_).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(session_.BeginStream(200, "text/plain", out_).code(),
            absl::StatusCode::kFailedPrecondition);
}

// The engine's own client parses what the server session writes: a streamed response arrives
// as the same bytes, chunk framing removed, and the connection stays reusable.
class ClientRecorder : public Http1Listener {
 public:
  void OnResponseHeaders(const Http1ResponseHead& head) override {
    status = head.http_status;
    event_stream = head.event_stream;
  }
  void OnResponseData(std::string_view data) override { body.append(data); }
  void OnResponseComplete(bool keep_alive) override {
    complete = true;
    kept_alive = keep_alive;
  }
  int status = 0;
  bool event_stream = false;
  std::string body;
  bool complete = false;
  bool kept_alive = false;
};

TEST_F(Http1ServerSessionTest, EngineClientReadsStreamedResponse) {
  recorder_.defer = true;
  ClientRecorder client_recorder;
  Http1ClientSession client(&client_recorder);
  RequestHead head;
  head.authority = "sim";
  head.path = "/v1/chat/completions";
  std::string wire;
  ASSERT_TRUE(client.EncodeRequest(head, R"({"stream":true})", wire).ok());
  ASSERT_TRUE(session_.Receive(wire, out_).ok());
  ASSERT_EQ(recorder_.requests.size(), 1u);
  EXPECT_EQ(recorder_.requests[0].body, R"({"stream":true})");

  ASSERT_TRUE(session_.BeginStream(200, "text/event-stream; charset=utf-8", out_).ok());
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    const std::string event = "data: " + std::to_string(i) + "\n\n";
    expected += event;
    session_.EncodeStreamData(event, out_);
  }
  session_.EndStream(out_);
  ASSERT_TRUE(client.Receive(out_).ok());
  EXPECT_EQ(client_recorder.status, 200);
  EXPECT_TRUE(client_recorder.event_stream);
  EXPECT_EQ(client_recorder.body, expected);
  EXPECT_TRUE(client_recorder.complete);
  EXPECT_TRUE(client_recorder.kept_alive);
}

}  // namespace
}  // namespace bench::engine
