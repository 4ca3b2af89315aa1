#include "worker/engine/http1_session.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Records everything the session reports and checks the call order.
class RecordingListener : public Http1Listener {
 public:
  void OnResponseHeaders(const Http1ResponseHead& head) override {
    EXPECT_EQ(headers_calls, 0) << "second OnResponseHeaders for one response";
    ++headers_calls;
    status = head.http_status;
    http_minor = head.http_minor;
    event_stream = head.event_stream;
    content_type = std::string(head.content_type);
    content_encoding = std::string(head.content_encoding);
    content_length = head.content_length;
  }
  void OnResponseData(std::string_view data) override {
    EXPECT_EQ(headers_calls, 1) << "data before headers";
    EXPECT_EQ(complete_calls, 0) << "data after completion";
    EXPECT_FALSE(data.empty());
    body.append(data);
    ++data_calls;
  }
  void OnResponseComplete(bool keep) override {
    EXPECT_EQ(headers_calls, 1) << "completion before headers";
    ++complete_calls;
    keep_alive = keep;
    if (on_complete) on_complete();
  }
  void Clear() { *this = RecordingListener(); }

  int headers_calls = 0;
  int status = 0;
  int http_minor = -1;
  bool event_stream = false;
  std::string content_type;
  std::string content_encoding;
  int64_t content_length = -2;
  std::string body;
  int data_calls = 0;
  int complete_calls = 0;
  bool keep_alive = false;
  std::function<void()> on_complete;
};

RequestHead ChatRequest() {
  RequestHead head;
  head.method = "POST";
  head.authority = "localhost:8000";
  head.path = "/v1/chat/completions";
  head.headers = {{"content-type", "application/json"}, {"accept", "text/event-stream"}};
  return head;
}

RequestHead HeadRequest(std::string method) {
  RequestHead head = ChatRequest();
  head.method = std::move(method);
  head.headers.clear();
  return head;
}

constexpr std::string_view kChatBody = R"({"model":"m","stream":true})";

// A session with one request encoded, ready to receive its response.
struct Fixture {
  explicit Fixture(const RequestHead& head = ChatRequest()) : session(&listener) {
    std::string request;
    EXPECT_TRUE(session.EncodeRequest(head, kChatBody, request).ok());
  }
  RecordingListener listener;
  Http1ClientSession session;
};

// vLLM-style streamed chat completion events (OpenAI chunk objects), one per chunk.
std::vector<std::string> VllmEvents() {
  std::vector<std::string> events;
  const std::string prefix =
      R"(data: {"id":"chatcmpl-7f3a","object":"chat.completion.chunk","created":1700000000,)"
      R"("model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":)";
  events.push_back(prefix + R"({"role":"assistant","content":""},"logprobs":null,)" +
                   R"("finish_reason":null}]})" + "\n\n");
  for (const char* token : {"Hello", ",", " world", "!", " \\u00e9t\\u00e9", "\\n"}) {
    events.push_back(prefix + R"({"content":")" + token +
                     R"("},"logprobs":null,"finish_reason":null}]})" + "\n\n");
  }
  events.push_back(prefix + R"({},"logprobs":null,"finish_reason":"stop"}]})" + "\n\n");
  events.push_back(
      R"(data: {"id":"chatcmpl-7f3a","object":"chat.completion.chunk","created":1700000000,)"
      R"("model":"meta-llama/Llama-3.1-8B-Instruct","choices":[],"usage":{"prompt_tokens":12,)"
      R"("total_tokens":19,"completion_tokens":7}})"
      "\n\n");
  events.push_back("data: [DONE]\n\n");
  return events;
}

std::string Concat(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) out += part;
  return out;
}

// A chunked response with each event in its own chunk; `extensions` adds chunk extensions and
// trailer fields.
std::string ChunkedSseResponse(const std::vector<std::string>& events, bool extensions = false) {
  std::string out =
      "HTTP/1.1 200 OK\r\n"
      "date: Tue, 28 Nov 2023 20:51:00 GMT\r\n"
      "server: uvicorn\r\n"
      "content-type: text/event-stream; charset=utf-8\r\n"
      "transfer-encoding: chunked\r\n"
      "\r\n";
  for (size_t i = 0; i < events.size(); ++i) {
    absl::StrAppend(&out, absl::Hex(events[i].size()));
    if (extensions && i % 2 == 1) out += ";name=value;flag";
    absl::StrAppend(&out, "\r\n", events[i], "\r\n");
  }
  out += extensions ? "0;last\r\nx-trailer: done\r\nx-checksum: 1234\r\n\r\n" : "0\r\n\r\n";
  return out;
}

std::string ContentLengthResponse(int status, std::string_view reason,
                                  std::string_view content_type, std::string_view body) {
  return absl::StrCat("HTTP/1.1 ", status, " ", std::string(reason),
                      "\r\ncontent-type: ", std::string(content_type),
                      "\r\ncontent-length: ", body.size(), "\r\n\r\n", std::string(body));
}

// ---------------------------------------------------------------------------------------------
// Request encoding

TEST(Http1EncodeTest, PostWithBodyExactBytes) {
  RecordingListener listener;
  Http1ClientSession session(&listener);
  RequestHead head = ChatRequest();
  head.headers.push_back({"authorization", "Bearer sk-test"});
  std::string out = "previous|";
  ASSERT_TRUE(session.EncodeRequest(head, R"({"a":1})", out).ok());
  EXPECT_EQ(out,
            "previous|"
            "POST /v1/chat/completions HTTP/1.1\r\n"
            "Host: localhost:8000\r\n"
            "content-type: application/json\r\n"
            "accept: text/event-stream\r\n"
            "authorization: Bearer sk-test\r\n"
            "Content-Length: 7\r\n"
            "\r\n"
            R"({"a":1})");
  EXPECT_TRUE(session.request_in_progress());
  EXPECT_FALSE(session.response_started());
}

TEST(Http1EncodeTest, ContentLengthOnlyWhenBodyOrMethodExpectsOne) {
  RecordingListener listener;
  {
    Http1ClientSession session(&listener);
    std::string out;
    RequestHead head = HeadRequest("GET");
    head.path = "/v1/models?limit=5";
    ASSERT_TRUE(session.EncodeRequest(head, "", out).ok());
    EXPECT_EQ(out, "GET /v1/models?limit=5 HTTP/1.1\r\nHost: localhost:8000\r\n\r\n");
  }
  {
    Http1ClientSession session(&listener);
    std::string out;
    ASSERT_TRUE(session.EncodeRequest(HeadRequest("POST"), "", out).ok());
    EXPECT_EQ(out,
              "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8000\r\n"
              "Content-Length: 0\r\n\r\n");
  }
}

TEST(Http1EncodeTest, RejectsCrLfNulInHeaderValueWithoutEchoingIt) {
  for (const std::string& bad :
       {std::string("Bearer sk-secret\r\nx-injected: 1"), std::string("Bearer sk-secret\n"),
        std::string("sk-secret\r"), std::string("sk-secret\0x", 11)}) {
    RecordingListener listener;
    Http1ClientSession session(&listener);
    RequestHead head = ChatRequest();
    head.headers.push_back({"authorization", bad});
    std::string out = "keep";
    const absl::Status status = session.EncodeRequest(head, kChatBody, out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("authorization"));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("sk-secret")));
    EXPECT_EQ(out, "keep") << "nothing may be appended on rejection";
    EXPECT_TRUE(session.ready_for_request());
  }
}

TEST(Http1EncodeTest, RejectsBadNamesRequestLineAndOwnedHeaders) {
  struct Case {
    std::string what;
    std::function<void(RequestHead&)> mutate;
  };
  const std::vector<Case> cases = {
      {"name with CRLF",
       [](RequestHead& h) {
         h.headers.push_back({"x-a\r\nx-b", "1"});
       }},
      {"name with colon",
       [](RequestHead& h) {
         h.headers.push_back({"x:a", "1"});
       }},
      {"empty name",
       [](RequestHead& h) {
         h.headers.push_back({"", "1"});
       }},
      {"host header",
       [](RequestHead& h) {
         h.headers.push_back({"host", "evil"});
       }},
      {"content-length",
       [](RequestHead& h) {
         h.headers.push_back({"Content-Length", "9"});
       }},
      {"transfer-encoding",
       [](RequestHead& h) {
         h.headers.push_back({"transfer-encoding", "chunked"});
       }},
      {"path with space", [](RequestHead& h) { h.path = "/v1/chat completions"; }},
      {"path with LF", [](RequestHead& h) { h.path = "/v1\nx"; }},
      {"empty path", [](RequestHead& h) { h.path.clear(); }},
      {"authority with CR", [](RequestHead& h) { h.authority = "a\rb"; }},
      {"empty authority", [](RequestHead& h) { h.authority.clear(); }},
      {"method with space", [](RequestHead& h) { h.method = "PO ST"; }},
  };
  for (const Case& c : cases) {
    RecordingListener listener;
    Http1ClientSession session(&listener);
    RequestHead head = ChatRequest();
    c.mutate(head);
    std::string out;
    EXPECT_EQ(session.EncodeRequest(head, kChatBody, out).code(),
              absl::StatusCode::kInvalidArgument)
        << c.what;
    EXPECT_TRUE(out.empty()) << c.what;
  }
}

TEST(Http1EncodeTest, SecondRequestWhileOneInProgressIsRejected) {
  Fixture f;
  std::string out;
  EXPECT_EQ(f.session.EncodeRequest(ChatRequest(), kChatBody, out).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(out.empty());
  // Still rejected once the response has started.
  ASSERT_TRUE(f.session.Receive("HTTP/1.1 200 OK\r\n").ok());
  EXPECT_EQ(f.session.EncodeRequest(ChatRequest(), kChatBody, out).code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---------------------------------------------------------------------------------------------
// Responses

// Feeds `response` split once at every position (and once byte by byte) and expects the same
// result each time.
void ExpectSameAtEverySplit(const RequestHead& request, const std::string& response,
                            int expected_status, const std::string& expected_body,
                            bool expected_event_stream, bool expected_keep_alive) {
  for (size_t split = 0; split <= response.size() + 1; ++split) {
    Fixture f(request);
    absl::Status first, second = absl::OkStatus();
    if (split <= response.size()) {
      first = f.session.Receive(std::string_view(response).substr(0, split));
      second = f.session.Receive(std::string_view(response).substr(split));
    } else {
      for (char c : response) {
        first = f.session.Receive(std::string_view(&c, 1));
        if (!first.ok()) break;
      }
    }
    const std::string where =
        split <= response.size() ? absl::StrCat("split at ", split) : std::string("byte by byte");
    ASSERT_TRUE(first.ok()) << where << ": " << first;
    ASSERT_TRUE(second.ok()) << where << ": " << second;
    EXPECT_EQ(f.listener.status, expected_status) << where;
    EXPECT_EQ(f.listener.body, expected_body) << where;
    EXPECT_EQ(f.listener.event_stream, expected_event_stream) << where;
    EXPECT_EQ(f.listener.complete_calls, 1) << where;
    EXPECT_EQ(f.listener.keep_alive, expected_keep_alive) << where;
    EXPECT_FALSE(f.session.request_in_progress()) << where;
  }
}

TEST(Http1ResponseTest, ContentLengthBodyAtEverySplit) {
  const std::string body = R"({"id":"cmpl-1","object":"text_completion","choices":[]})";
  ExpectSameAtEverySplit(ChatRequest(), ContentLengthResponse(200, "OK", "application/json", body),
                         200, body,
                         /*expected_event_stream=*/false, /*expected_keep_alive=*/true);
}

TEST(Http1ResponseTest, ChunkedSseStreamAtEverySplit) {
  const std::vector<std::string> events = VllmEvents();
  ExpectSameAtEverySplit(ChatRequest(), ChunkedSseResponse(events), 200, Concat(events),
                         /*expected_event_stream=*/true, /*expected_keep_alive=*/true);
}

TEST(Http1ResponseTest, ChunkExtensionsAndTrailersAtEverySplit) {
  const std::vector<std::string> events = VllmEvents();
  ExpectSameAtEverySplit(ChatRequest(), ChunkedSseResponse(events, /*extensions=*/true), 200,
                         Concat(events), /*expected_event_stream=*/true,
                         /*expected_keep_alive=*/true);
}

TEST(Http1ResponseTest, ContinueIsSkippedAtEverySplit) {
  const std::string response =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n" +
      ContentLengthResponse(200, "OK", "text/event-stream", "data: x\n\n");
  ExpectSameAtEverySplit(ChatRequest(), response, 200, "data: x\n\n",
                         /*expected_event_stream=*/true, /*expected_keep_alive=*/true);
}

TEST(Http1ResponseTest, BodyIsDeliveredAsItArrives) {
  const std::vector<std::string> events = VllmEvents();
  const std::string response = ChunkedSseResponse(events);
  Fixture f;
  // Everything up to and including the first chunk's data and half of the second chunk's data.
  const size_t first_chunk_end = response.find(events[0]) + events[0].size();
  const size_t second_data_start = response.find(events[1]);
  const size_t half = events[1].size() / 2;
  ASSERT_TRUE(f.session.Receive(std::string_view(response).substr(0, first_chunk_end)).ok());
  EXPECT_EQ(f.listener.body, events[0]);
  ASSERT_TRUE(f.session
                  .Receive(std::string_view(response).substr(
                      first_chunk_end, second_data_start + half - first_chunk_end))
                  .ok());
  EXPECT_EQ(f.listener.body, events[0] + events[1].substr(0, half));
  EXPECT_EQ(f.listener.complete_calls, 0);
  EXPECT_TRUE(f.session.response_started());
  ASSERT_TRUE(f.session.Receive(std::string_view(response).substr(second_data_start + half)).ok());
  EXPECT_EQ(f.listener.body, Concat(events));
  EXPECT_EQ(f.listener.complete_calls, 1);
}

TEST(Http1ResponseTest, ReadUntilClose) {
  Fixture f;
  ASSERT_TRUE(f.session
                  .Receive("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
                           "data: a\n\n")
                  .ok());
  ASSERT_TRUE(f.session.Receive("data: b\n\n").ok());
  EXPECT_EQ(f.listener.body, "data: a\n\ndata: b\n\n");
  EXPECT_EQ(f.listener.complete_calls, 0) << "a close-delimited body ends only at EOF";
  ASSERT_TRUE(f.session.OnPeerClosed().ok());
  EXPECT_EQ(f.listener.complete_calls, 1);
  EXPECT_FALSE(f.listener.keep_alive);
  EXPECT_EQ(f.listener.body, "data: a\n\ndata: b\n\n");
}

TEST(Http1ResponseTest, KeepAliveReuseForSeveralRequests) {
  RecordingListener listener;
  Http1ClientSession session(&listener);
  const std::vector<std::string> events = VllmEvents();
  struct Step {
    RequestHead request;
    std::string response;
    int status;
    std::string body;
  };
  const std::vector<Step> steps = {
      {ChatRequest(), ContentLengthResponse(200, "OK", "application/json", "{}"), 200, "{}"},
      {ChatRequest(), ChunkedSseResponse(events), 200, Concat(events)},
      {HeadRequest("HEAD"),
       "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 42\r\n\r\n", 200, ""},
      {HeadRequest("GET"), "HTTP/1.1 204 No Content\r\n\r\n", 204, ""},
      {ChatRequest(), "HTTP/1.1 304 Not Modified\r\ncontent-length: 100\r\n\r\n", 304, ""},
      {ChatRequest(), ChunkedSseResponse(events, /*extensions=*/true), 200, Concat(events)},
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    listener.Clear();
    ASSERT_TRUE(session.ready_for_request()) << i;
    std::string out;
    ASSERT_TRUE(session.EncodeRequest(steps[i].request, "", out).ok()) << i;
    ASSERT_TRUE(session.Receive(steps[i].response).ok()) << i;
    EXPECT_EQ(listener.status, steps[i].status) << i;
    EXPECT_EQ(listener.body, steps[i].body) << i;
    EXPECT_EQ(listener.complete_calls, 1) << i;
    EXPECT_TRUE(listener.keep_alive) << i;
  }
  EXPECT_EQ(session.OnPeerClosed().code(), absl::StatusCode::kUnavailable)
      << "an idle keep-alive connection closed by the server";
}

TEST(Http1ResponseTest, NextResponseInSameReadIsParsedWhenListenerQueuesARequest) {
  RecordingListener listener;
  Http1ClientSession session(&listener);
  std::vector<std::string> bodies;
  listener.on_complete = [&] {
    bodies.push_back(listener.body);
    listener.body.clear();
    listener.headers_calls = 0;
    listener.complete_calls = 0;
    if (bodies.size() < 3) {
      std::string out;
      EXPECT_TRUE(session.EncodeRequest(ChatRequest(), kChatBody, out).ok());
    }
  };
  std::string out;
  ASSERT_TRUE(session.EncodeRequest(HeadRequest("HEAD"), "", out).ok());
  // HEAD's Content-Length must not swallow the next response.
  const std::string bytes = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n" +
                            ContentLengthResponse(200, "OK", "text/plain", "hello") +
                            ChunkedSseResponse({"data: 1\n\n", "data: 2\n\n"});
  ASSERT_TRUE(session.Receive(bytes).ok());
  EXPECT_EQ(bodies, (std::vector<std::string>{"", "hello", "data: 1\n\ndata: 2\n\n"}));
}

TEST(Http1ResponseTest, DataWithNoRequestPendingIsAnError) {
  {
    RecordingListener listener;
    Http1ClientSession session(&listener);
    const absl::Status status = session.Receive("HTTP/1.1 200 OK\r\n\r\n");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("unexpected data after response"));
    EXPECT_EQ(listener.headers_calls, 0);
  }
  {
    Fixture f;
    const absl::Status status =
        f.session.Receive(ContentLengthResponse(200, "OK", "text/plain", "hello") +
                          ContentLengthResponse(200, "OK", "text/plain", "again"));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("unexpected data after response"));
    EXPECT_EQ(f.listener.body, "hello") << "the first response is not lost";
    EXPECT_EQ(f.listener.complete_calls, 1);
    EXPECT_EQ(f.session.Receive("x").code(), absl::StatusCode::kFailedPrecondition);
  }
  {
    Fixture f;  // A stray empty line after a body is tolerated.
    ASSERT_TRUE(
        f.session.Receive(ContentLengthResponse(200, "OK", "text/plain", "hi") + "\r\n").ok());
    EXPECT_TRUE(f.session.Receive("\r\n").ok());
    EXPECT_TRUE(f.session.ready_for_request());
  }
}

TEST(Http1ResponseTest, ConnectionCloseEndsTheConnection) {
  Fixture f;
  ASSERT_TRUE(
      f.session.Receive("HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok")
          .ok());
  EXPECT_EQ(f.listener.complete_calls, 1);
  EXPECT_FALSE(f.listener.keep_alive);
  EXPECT_FALSE(f.session.ready_for_request());
  std::string out;
  EXPECT_EQ(f.session.EncodeRequest(ChatRequest(), kChatBody, out).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(f.session.OnPeerClosed().ok()) << "the close was announced";
}

TEST(Http1ResponseTest, RequestConnectionCloseMeansNoKeepAlive) {
  RequestHead head = ChatRequest();
  head.headers.push_back({"connection", "Keep-Alive, Close"});
  Fixture f(head);
  ASSERT_TRUE(f.session.Receive("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").ok());
  EXPECT_EQ(f.listener.complete_calls, 1);
  EXPECT_FALSE(f.listener.keep_alive);
}

TEST(Http1ResponseTest, Http10Responses) {
  {
    Fixture f;
    ASSERT_TRUE(f.session.Receive("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nhi").ok());
    EXPECT_EQ(f.listener.http_minor, 0);
    EXPECT_EQ(f.listener.body, "hi");
    EXPECT_EQ(f.listener.complete_calls, 1);
    EXPECT_FALSE(f.listener.keep_alive) << "HTTP/1.0 closes unless it says keep-alive";
  }
  {
    Fixture f;
    ASSERT_TRUE(f.session
                    .Receive("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                             "content-length: 2\r\n\r\nhi")
                    .ok());
    EXPECT_TRUE(f.listener.keep_alive);
  }
  {
    Fixture f;
    ASSERT_TRUE(f.session.Receive("HTTP/1.0 200 OK\r\n\r\nuntil close").ok());
    EXPECT_EQ(f.listener.complete_calls, 0);
    ASSERT_TRUE(f.session.OnPeerClosed().ok());
    EXPECT_EQ(f.listener.body, "until close");
    EXPECT_EQ(f.listener.complete_calls, 1);
  }
}

TEST(Http1ResponseTest, ErrorStatusWithOpenAiErrorBody) {
  const std::string rate_limited =
      R"({"error":{"message":"Rate limit reached for requests","type":"requests",)"
      R"("param":null,"code":"rate_limit_exceeded"}})";
  ExpectSameAtEverySplit(
      ChatRequest(),
      ContentLengthResponse(429, "Too Many Requests", "application/json", rate_limited), 429,
      rate_limited, /*expected_event_stream=*/false,
      /*expected_keep_alive=*/true);

  const std::string server_error =
      R"({"object":"error","message":"The model `m` does not exist.","type":"NotFoundError",)"
      R"("param":null,"code":404})";
  Fixture f;
  ASSERT_TRUE(f.session
                  .Receive(absl::StrCat("HTTP/1.1 500 Internal Server Error\r\n"
                                        "content-type: application/json\r\n"
                                        "transfer-encoding: chunked\r\n\r\n",
                                        absl::Hex(server_error.size()), "\r\n", server_error,
                                        "\r\n0\r\n\r\n"))
                  .ok());
  EXPECT_EQ(f.listener.status, 500);
  EXPECT_EQ(f.listener.content_type, "application/json");
  EXPECT_FALSE(f.listener.event_stream);
  EXPECT_EQ(f.listener.body, server_error);
  EXPECT_EQ(f.listener.complete_calls, 1);
}

TEST(Http1ResponseTest, ContentTypeDetection) {
  struct Case {
    std::string headers;
    bool event_stream;
    std::string content_type;
  };
  const std::vector<Case> cases = {
      {"content-type: text/event-stream\r\n", true, "text/event-stream"},
      {"Content-Type: Text/Event-Stream; charset=utf-8\r\n", true,
       "Text/Event-Stream; charset=utf-8"},
      {"CONTENT-TYPE:text/event-stream\r\n", true, "text/event-stream"},
      {"x-empty:\r\ncontent-type: text/event-stream\r\n", true, "text/event-stream"},
      {"content-type: text/event-streams\r\n", false, "text/event-streams"},
      {"content-types: text/event-stream\r\n", false, ""},
      {"x-content-type: text/event-stream\r\n", false, ""},
      {"content-type: application/json\r\n", false, "application/json"},
      {"content-type: text/plain\r\ncontent-type: text/event-stream\r\n", true,
       "text/event-stream"},
      {"", false, ""},
  };
  for (const Case& c : cases) {
    Fixture f;
    ASSERT_TRUE(
        f.session.Receive("HTTP/1.1 200 OK\r\n" + c.headers + "content-length: 0\r\n\r\n").ok())
        << c.headers;
    EXPECT_EQ(f.listener.event_stream, c.event_stream) << c.headers;
    EXPECT_EQ(f.listener.content_type, c.content_type) << c.headers;
  }
  // A long value is cut, not stored whole.
  Fixture f;
  const std::string long_value = "text/event-stream; " + std::string(500, 'p');
  ASSERT_TRUE(f.session
                  .Receive("HTTP/1.1 200 OK\r\ncontent-type: " + long_value +
                           "\r\ncontent-length: 0\r\n\r\n")
                  .ok());
  EXPECT_TRUE(f.listener.event_stream);
  EXPECT_EQ(f.listener.content_type,
            long_value.substr(0, Http1ClientSession::kMaxContentTypeBytes));
}

TEST(Http1ResponseTest, DeclaredContentLengthIsReported) {
  struct Case {
    std::string framing;
    std::string body;
    int64_t content_length;
  };
  const std::vector<Case> cases = {
      {"content-length: 5\r\n", "hello", 5},
      {"Content-Length: 0\r\n", "", 0},
      {"transfer-encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", -1},
      {"connection: close\r\n", "hello", -1},  // delimited by the close
  };
  for (const Case& c : cases) {
    Fixture f;
    ASSERT_TRUE(f.session.Receive("HTTP/1.1 200 OK\r\n" + c.framing + "\r\n" + c.body).ok())
        << c.framing;
    EXPECT_EQ(f.listener.content_length, c.content_length) << c.framing;
  }
}

TEST(Http1ResponseTest, ContentEncodingIsCapturedAcrossSplitReads) {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
      "content-length: 0\r\n\r\n";
  for (size_t split = 1; split < response.size(); ++split) {
    Fixture f;
    ASSERT_TRUE(f.session.Receive(response.substr(0, split)).ok()) << split;
    ASSERT_TRUE(f.session.Receive(response.substr(split)).ok()) << split;
    EXPECT_EQ(f.listener.content_encoding, "gzip") << split;
    EXPECT_EQ(f.listener.content_type, "text/event-stream") << split;
  }
  Fixture plain;
  ASSERT_TRUE(plain.session.Receive("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").ok());
  EXPECT_EQ(plain.listener.content_encoding, "");
}

TEST(ResponseHeadTest, IdentityEncoding) {
  EXPECT_TRUE(IsIdentityEncoding(""));
  EXPECT_TRUE(IsIdentityEncoding(" Identity "));
  EXPECT_FALSE(IsIdentityEncoding("gzip"));
  EXPECT_FALSE(IsIdentityEncoding("identity, gzip"));
}

// ---------------------------------------------------------------------------------------------
// EOF and errors

TEST(Http1ResponseTest, EofMidResponseIsTruncated) {
  const std::string chunked_head =
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
  struct Case {
    std::string what;
    std::string bytes;
    std::string body_before_eof;
  };
  const std::vector<Case> cases = {
      {"mid status line", "HTTP/1.", ""},
      {"after status line", "HTTP/1.1 200 OK\r\n", ""},
      {"mid headers", "HTTP/1.1 200 OK\r\ncontent-type: text/ev", ""},
      {"after 100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", ""},
      {"mid body", "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello", "hello"},
      {"mid chunk", chunked_head + "10\r\ndata: abc", "data: abc"},
      {"between chunks", chunked_head + "9\r\ndata: a\n\n\r\n", "data: a\n\n"},
      {"mid chunk size", chunked_head + "9\r\ndata: a\n\n\r\n1", "data: a\n\n"},
      {"before the last chunk's CRLF", chunked_head + "9\r\ndata: a\n\n\r\n0\r\n", "data: a\n\n"},
      {"mid trailers", chunked_head + "0\r\nx-trailer: 1\r\n", ""},
  };
  for (const Case& c : cases) {
    Fixture f;
    ASSERT_TRUE(f.session.Receive(c.bytes).ok()) << c.what;
    EXPECT_TRUE(f.session.response_started()) << c.what;
    EXPECT_EQ(f.session.OnPeerClosed().code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_EQ(f.listener.body, c.body_before_eof) << c.what;
    EXPECT_EQ(f.listener.complete_calls, 0) << c.what;
  }
}

TEST(Http1ResponseTest, EofBeforeAnyResponseByteIsUnavailable) {
  {
    Fixture f;  // Request sent, nothing came back.
    EXPECT_EQ(f.session.OnPeerClosed().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(f.listener.headers_calls, 0);
  }
  {
    RecordingListener listener;  // Idle connection closed before we sent anything.
    Http1ClientSession session(&listener);
    EXPECT_EQ(session.OnPeerClosed().code(), absl::StatusCode::kUnavailable);
    std::string out;
    EXPECT_EQ(session.EncodeRequest(ChatRequest(), kChatBody, out).code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(session.Receive("HTTP/1.1").code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(Http1ResponseTest, MalformedResponsesAreProtocolErrors) {
  struct Case {
    std::string what;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"not HTTP", "SSH-2.0-OpenSSH_9.2p1\r\n"},
      {"HTTP/2 preface from server", std::string("\0\0\x12\x04\0\0\0\0\0", 9)},
      {"bad version", "HTTP/x.1 200 OK\r\n\r\n"},
      {"HTTP/2 in text", "HTTP/2.0 200 OK\r\ncontent-length: 0\r\n\r\n"},
      {"HTTP/0.9", "HTTP/0.9 200 OK\r\ncontent-length: 0\r\n\r\n"},
      {"bad status", "HTTP/1.1 2x0 OK\r\n\r\n"},
      {"status below 100", "HTTP/1.1 42 Odd\r\ncontent-length: 0\r\n\r\n"},
      {"101 without upgrade request",
       "HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n"},
      {"bad chunk size", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"},
      {"chunk without CRLF",
       "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n"},
      {"bad content-length", "HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n"},
      {"two content-lengths",
       "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab"},
      {"content-length and chunked",
       "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"},
      // Debian builds http-parser with HTTP_PARSER_STRICT=0, so e.g. a space inside a header
      // name passes; these fail in either mode.
      {"header line without colon", "HTTP/1.1 200 OK\r\nnocolon\r\ncontent-length: 0\r\n\r\n"},
      {"control byte in header value", "HTTP/1.1 200 OK\r\nx: a\x01\r\n\r\n"},
      {"overlong reason phrase", "HTTP/1.1 200 " + std::string(2000, 'K') + "\r\n\r\n"},
      {"header section over 80 KiB",
       "HTTP/1.1 200 OK\r\nx-big: " + std::string(90 * 1024, 'a') + "\r\n\r\n"},
  };
  for (const Case& c : cases) {
    Fixture f;
    const absl::Status status = f.session.Receive(c.bytes);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("malformed HTTP/1.1 response")) << c.what;
    EXPECT_EQ(f.listener.complete_calls, 0) << c.what;
    // The session is finished: no second chance, no reuse.
    EXPECT_EQ(f.session.Receive("HTTP/1.1 200 OK\r\n\r\n").code(),
              absl::StatusCode::kFailedPrecondition)
        << c.what;
    EXPECT_FALSE(f.session.ready_for_request()) << c.what;
  }
}

TEST(Http1ResponseTest, ParserErrorNamesHttpParserError) {
  Fixture f;
  const absl::Status status = f.session.Receive("HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("HPE_INVALID_CONTENT_LENGTH"));
}

}  // namespace
}  // namespace bench::engine
