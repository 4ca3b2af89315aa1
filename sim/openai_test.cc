// Request parsing (openai_request.h) and the answer formats (openai_format.h). Formats are
// checked two ways: byte for byte against vLLM's recorded output in the engine's test data, and
// by decoding with the engine's own SSE and OpenAI decoders.
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "sim/openai_format.h"
#include "sim/openai_request.h"
#include "worker/engine/openai_stream.h"
#include "worker/engine/sse_parser.h"

namespace bench::sim {
namespace {

class RequestParserTest : public ::testing::Test {
 protected:
  bool Parse(ApiKind kind, std::string_view body) {
    ParseOptions options;
    options.want_echo_text = true;
    return parser_.Parse(kind, body, options, request_, error_);
  }
  // Expects a 400 naming `param`.
  void ExpectRejected(ApiKind kind, std::string_view body, std::string_view param) {
    SCOPED_TRACE(std::string(body));
    EXPECT_FALSE(Parse(kind, body));
    EXPECT_EQ(error_.http_status, 400);
    EXPECT_EQ(error_.param, param);
    EXPECT_FALSE(error_.message.empty());
  }
  RequestParser parser_;
  GenerationRequest request_;
  ApiError error_;
};

TEST_F(RequestParserTest, ChatFields) {
  ASSERT_TRUE(Parse(ApiKind::kChat, R"({
      "model": "m", "stream": true, "stream_options": {"include_usage": true},
      "max_tokens": 50, "min_tokens": 2, "ignore_eos": true, "n": 1, "temperature": 0.7,
      "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "assistant", "content": null, "tool_calls": []},
        {"role": "user", "content": [{"type": "text", "text": "Hello, world"},
                                     {"type": "image_url", "image_url": {"url": "x"}},
                                     {"type": "text", "text": "again"}]}]})"))
      << error_.message;
  EXPECT_EQ(request_.kind, ApiKind::kChat);
  EXPECT_EQ(request_.model, "m");
  EXPECT_TRUE(request_.stream);
  EXPECT_TRUE(request_.include_usage);
  EXPECT_EQ(request_.max_tokens, 50);
  EXPECT_EQ(request_.min_tokens, 2);
  EXPECT_TRUE(request_.ignore_eos);
  // "You are terse." = 4, "Hello, world" = 3, "again" = 1.
  EXPECT_EQ(request_.prompt_tokens, 8);
  EXPECT_EQ(request_.echo_text, "Hello, world\nagain");
}

TEST_F(RequestParserTest, MaxCompletionTokensWinsAndIntegralFloatsAreIntegers) {
  ASSERT_TRUE(Parse(ApiKind::kChat, R"({"model":"m","messages":[{"role":"user","content":"a"}],)"
                                    R"("max_tokens":10,"max_completion_tokens":20.0})"));
  EXPECT_EQ(request_.max_tokens, 20);
  EXPECT_FALSE(request_.stream);
  ExpectRejected(ApiKind::kChat,
                 R"({"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":2.5})",
                 "max_tokens");
}

TEST_F(RequestParserTest, CompletionPrompts) {
  ASSERT_TRUE(Parse(ApiKind::kCompletions, R"({"model":"m","prompt":"one two three"})"));
  EXPECT_EQ(request_.prompt_tokens, 3);
  EXPECT_EQ(request_.echo_text, "one two three");
  EXPECT_FALSE(request_.max_tokens.has_value());
  ASSERT_TRUE(Parse(ApiKind::kCompletions, R"({"model":"m","prompt":["a b"]})"));
  EXPECT_EQ(request_.prompt_tokens, 2);
  ASSERT_TRUE(Parse(ApiKind::kCompletions, R"({"model":"m","prompt":[1,2,3,4]})"));
  EXPECT_EQ(request_.prompt_tokens, 4);
  ASSERT_TRUE(Parse(ApiKind::kCompletions, R"({"model":"m","prompt":[[5,6]]})"));
  EXPECT_EQ(request_.prompt_tokens, 2);
}

TEST_F(RequestParserTest, Rejections) {
  const std::string messages = R"("messages":[{"role":"user","content":"hi"}])";
  ExpectRejected(ApiKind::kChat, "{not json", "");
  ExpectRejected(ApiKind::kChat, "", "");
  ExpectRejected(ApiKind::kChat, "[1,2]", "");
  ExpectRejected(ApiKind::kChat, "{" + messages + "}", "model");
  ExpectRejected(ApiKind::kChat, R"({"model":7,)" + messages + "}", "model");
  ExpectRejected(ApiKind::kChat, R"({"model":"m"})", "messages");
  ExpectRejected(ApiKind::kChat, R"({"model":"m","messages":"hi"})", "messages");
  ExpectRejected(ApiKind::kChat, R"({"model":"m","messages":[]})", "messages");
  ExpectRejected(ApiKind::kChat, R"({"model":"m","messages":[{"content":"x"}]})", "messages");
  ExpectRejected(ApiKind::kChat, R"({"model":"m","messages":[{"role":"user","content":5}]})",
                 "messages");
  ExpectRejected(ApiKind::kChat, R"({"model":"m",)" + messages + R"(,"max_tokens":0})",
                 "max_tokens");
  ExpectRejected(ApiKind::kChat, R"({"model":"m",)" + messages + R"(,"max_tokens":"5"})",
                 "max_tokens");
  ExpectRejected(ApiKind::kChat,
                 R"({"model":"m",)" + messages + R"(,"max_tokens":3,"min_tokens":4})",
                 "min_tokens");
  ExpectRejected(ApiKind::kChat, R"({"model":"m",)" + messages + R"(,"n":2})", "n");
  ExpectRejected(ApiKind::kChat, R"({"model":"m",)" + messages + R"(,"stream":"yes"})", "stream");
  ExpectRejected(ApiKind::kChat,
                 R"({"model":"m",)" + messages + R"(,"stream_options":{"include_usage":true}})",
                 "stream_options");
  ExpectRejected(
      ApiKind::kChat,
      R"({"model":"m",)" + messages + R"(,"stream":true,"stream_options":{"include_usage":1}})",
      "stream_options");
  ExpectRejected(ApiKind::kCompletions, R"({"model":"m"})", "prompt");
  ExpectRejected(ApiKind::kCompletions, R"({"model":"m","prompt":["a","b"]})", "prompt");
  ExpectRejected(ApiKind::kCompletions, R"({"model":"m","prompt":[1,"a"]})", "prompt");
  ExpectRejected(ApiKind::kCompletions, R"({"model":"m","prompt":[]})", "prompt");
  ExpectRejected(ApiKind::kCompletions, R"({"model":"m","prompt":[[["a"]]]})", "prompt");
}

// The decode leg as llm-d's P/D sidecar sends it: the prefill leg's kv_transfer_params with
// do_remote_prefill set (vLLM sends integer block ids, llm-d's simulator strings).
TEST_F(RequestParserTest, KvTransferParamsAreRead) {
  ASSERT_TRUE(Parse(ApiKind::kChat, R"({"model":"m","messages":[{"role":"user","content":"a b"}],
      "kv_transfer_params":{"do_remote_decode":false,"do_remote_prefill":true,
        "remote_engine_id":"engine-7","remote_block_ids":[4,5,"x9"],"remote_host":"10.0.0.3",
        "remote_port":5600,"tp_size":2,"remote_request_id":"ignored"}})"))
      << error_.message;
  const KvTransferParams& kv = request_.kv_transfer;
  EXPECT_TRUE(kv.present);
  EXPECT_FALSE(kv.do_remote_decode);
  EXPECT_TRUE(kv.do_remote_prefill);
  EXPECT_EQ(kv.remote_engine_id, "engine-7");
  EXPECT_EQ(kv.remote_block_count, 3);
  EXPECT_EQ(kv.remote_host, "10.0.0.3");
  EXPECT_EQ(kv.remote_port, 5600);
  EXPECT_EQ(kv.tp_size, 2);
  EXPECT_EQ(request_.prompt_tokens, 2);
}

// The prefill leg as the sidecar sends it: do_remote_decode and every remote_* null.
TEST_F(RequestParserTest, KvTransferParamsNullFieldsAreAbsent) {
  ASSERT_TRUE(Parse(ApiKind::kCompletions, R"({"model":"m","prompt":"x","max_tokens":1,
      "kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,
        "remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null}})"))
      << error_.message;
  const KvTransferParams& kv = request_.kv_transfer;
  EXPECT_TRUE(kv.present);
  EXPECT_TRUE(kv.do_remote_decode);
  EXPECT_FALSE(kv.do_remote_prefill);
  EXPECT_EQ(kv.remote_engine_id, "");
  EXPECT_EQ(kv.remote_block_count, 0);
  EXPECT_FALSE(kv.remote_port.has_value());
  EXPECT_FALSE(kv.tp_size.has_value());
  // Absent or null: no P/D at all. The parser object is reused: nothing leaks over.
  const std::vector<std::pair<std::string, bool>> bodies = {
      {R"({"model":"m","prompt":"x"})", false},
      {R"({"model":"m","prompt":"x","kv_transfer_params":null})", false},
      {R"({"model":"m","prompt":"x","kv_transfer_params":{}})", true},
  };
  for (const auto& [body, present] : bodies) {
    ASSERT_TRUE(Parse(ApiKind::kCompletions, body)) << body;
    EXPECT_EQ(request_.kv_transfer.present, present) << body;
    EXPECT_FALSE(request_.kv_transfer.do_remote_decode) << body;
    EXPECT_FALSE(request_.kv_transfer.do_remote_prefill) << body;
  }
}

TEST_F(RequestParserTest, KvTransferParamsTypeErrorsNameTheField) {
  const std::string head = R"({"model":"m","prompt":"x","kv_transfer_params":)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", "'kv_transfer_params' must be an object"},
      {R"("do_remote_prefill")", "'kv_transfer_params' must be an object"},
      {R"({"do_remote_decode":"true"})", "'kv_transfer_params.do_remote_decode' must be a boolean"},
      {R"({"do_remote_prefill":1})", "'kv_transfer_params.do_remote_prefill' must be a boolean"},
      {R"({"remote_engine_id":7})", "'kv_transfer_params.remote_engine_id' must be a string"},
      {R"({"remote_host":["h"]})", "'kv_transfer_params.remote_host' must be a string"},
      {R"({"remote_port":"8000"})", "'kv_transfer_params.remote_port' must be an integer"},
      {R"({"remote_port":80.5})", "'kv_transfer_params.remote_port' must be an integer"},
      {R"({"tp_size":true})", "'kv_transfer_params.tp_size' must be an integer"},
      {R"({"remote_block_ids":"1,2"})",
       "'kv_transfer_params.remote_block_ids' must be an array of block ids (integers or "
       "strings)"},
      {R"({"remote_block_ids":[1,null]})",
       "'kv_transfer_params.remote_block_ids' must be an array of block ids (integers or "
       "strings)"},
      {R"({"remote_block_ids":[1.5]})",
       "'kv_transfer_params.remote_block_ids' must be an array of block ids (integers or "
       "strings)"},
      {R"({"do_remote_decode":true,"do_remote_prefill":true})",
       "'kv_transfer_params' must not set both do_remote_decode and do_remote_prefill"},
  };
  for (const auto& [params, message] : cases) {
    ExpectRejected(ApiKind::kCompletions, head + params + "}", "kv_transfer_params");
    EXPECT_EQ(error_.message, message) << params;
  }
}

TEST_F(RequestParserTest, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  ExpectRejected(ApiKind::kChat, deep, "");
}

// Lines of a recorded vLLM stream, each "data: ...\n\n".
std::vector<std::string> RecordedEvents(const std::string& name) {
  const char* root = std::getenv("BENCH_SOURCE_DIR");
  std::ifstream in(std::string(root != nullptr ? root : ".") + "/worker/engine/testdata/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<std::string> events;
  std::string all = text.str();
  size_t start = 0;
  for (size_t end; (end = all.find("\n\n", start)) != std::string::npos; start = end + 2) {
    events.push_back(all.substr(start, end + 2 - start));
  }
  return events;
}

TEST(ResponseFormatterTest, ChatEventsMatchVllmByteForByte) {
  const std::vector<std::string> recorded = RecordedEvents("vllm_chat_usage.sse");
  ASSERT_GE(recorded.size(), 4u);
  const ResponseFormatter formatter(ApiKind::kChat, "chatcmpl-6c1b0f6e2d7a4b9c8e5f3a2b1c0d9e8f",
                                    1718000000, "meta-llama/Llama-3.1-8B-Instruct");
  std::string out;
  formatter.AppendRoleEvent(out);
  EXPECT_EQ(out, recorded[0]);
  out.clear();
  formatter.AppendTokenEvent(" quick", nullptr, out);
  EXPECT_EQ(out, recorded[2]);
  out.clear();
  formatter.AppendFinishEvent("stop", out);
  EXPECT_EQ(out, recorded[recorded.size() - 3]);
  out.clear();
  ResponseFormatter::AppendDoneEvent(out);
  EXPECT_EQ(out, recorded.back());
}

TEST(ResponseFormatterTest, CompletionEventsMatchVllmByteForByte) {
  const std::vector<std::string> recorded = RecordedEvents("completions.sse");
  ASSERT_EQ(recorded.size(), 10u);
  const ResponseFormatter formatter(ApiKind::kCompletions, "cmpl-3f9a0c2e7b1d4e5f8a6b9c0d1e2f3a4b",
                                    1718000100, "meta-llama/Llama-3.1-8B-Instruct");
  std::string out;
  formatter.AppendTokenEvent(" Paris", nullptr, out);
  EXPECT_EQ(out, recorded[0]);
  out.clear();
  formatter.AppendTokenEvent(" and", "length", out);
  EXPECT_EQ(out, recorded[7]);
  out.clear();
  formatter.AppendUsageEvent({5, 8, 4}, out);
  EXPECT_EQ(out, recorded[8]);
}

// Decodes a whole stream with the engine's SSE parser and OpenAI decoder.
std::vector<engine::OpenAiPayload> Decode(const std::string& stream) {
  engine::SseParser sse;
  engine::OpenAiDecoder decoder;
  std::vector<engine::OpenAiPayload> payloads;
  EXPECT_TRUE(sse.Feed(stream,
                       [&](const engine::SseEvent& event) {
                         engine::OpenAiPayload payload;
                         EXPECT_TRUE(decoder.DecodeStreamEvent(event.data, payload).ok())
                             << event.data;
                         payloads.push_back(payload);
                       })
                  .ok());
  EXPECT_FALSE(sse.EndedMidEvent());
  return payloads;
}

TEST(ResponseFormatterTest, StreamDecodesWithTheEngine) {
  const ResponseFormatter formatter(ApiKind::kChat, "chatcmpl-1", 1, "a \"quoted\" model");
  std::string stream;
  formatter.AppendRoleEvent(stream);
  formatter.AppendTokenEvent("tab\there", nullptr, stream);
  formatter.AppendTokenEvent(" \"q\" \\", nullptr, stream);
  formatter.AppendFinishEvent("length", stream);
  formatter.AppendUsageEvent({10, 2, 3}, stream);
  ResponseFormatter::AppendDoneEvent(stream);
  const std::vector<engine::OpenAiPayload> payloads = Decode(stream);
  ASSERT_EQ(payloads.size(), 6u);
  EXPECT_TRUE(payloads[0].has_role);
  EXPECT_FALSE(payloads[0].has_output);
  EXPECT_TRUE(payloads[1].has_output);
  EXPECT_EQ(payloads[1].output_bytes, 8u);
  EXPECT_EQ(payloads[2].output_bytes, 6u);
  EXPECT_EQ(payloads[3].finish_reason, "length");
  EXPECT_FALSE(payloads[3].has_output);
  ASSERT_TRUE(payloads[4].usage.has_value());
  EXPECT_EQ(payloads[4].usage->prompt_tokens, 10);
  EXPECT_EQ(payloads[4].usage->completion_tokens, 2);
  EXPECT_EQ(payloads[4].usage->total_tokens, 12);
  EXPECT_EQ(payloads[4].usage->cached_tokens, 3);
  EXPECT_TRUE(payloads[5].done);
}

TEST(ResponseFormatterTest, FullResponsesDecodeWithTheEngine) {
  for (ApiKind kind : {ApiKind::kChat, ApiKind::kCompletions}) {
    const ResponseFormatter formatter(kind, "id-1", 1, "m");
    std::string body;
    formatter.AppendFullResponse("one two three", "stop", {4, 3, 0}, body);
    engine::OpenAiDecoder decoder;
    engine::OpenAiPayload payload;
    ASSERT_TRUE(decoder.DecodeResponse(body, payload).ok()) << body;
    EXPECT_EQ(payload.output_bytes, 13u);
    EXPECT_EQ(payload.finish_reason, "stop");
    ASSERT_TRUE(payload.usage.has_value());
    EXPECT_EQ(payload.usage->total_tokens, 7);
    const std::string object = kind == ApiKind::kChat ? R"("object":"chat.completion",)"
                                                      : R"("object":"text_completion",)";
    EXPECT_NE(body.find(object), std::string::npos) << body;
  }
}

// A prefill leg's answer: vLLM's kv_transfer_params beside the usage, readable by a JSON parser
// and still an ordinary response for the engine's decoder.
TEST(ResponseFormatterTest, FullResponseCarriesKvTransferParams) {
  const ResponseFormatter formatter(ApiKind::kChat, "id-1", 1, "m");
  RemoteKvSource source;
  source.engine_id = "bench-sim-00ff";
  source.block_count = 3;
  source.host = "10.1.2.3";
  source.port = 8200;
  std::string body;
  formatter.AppendFullResponse("one", "remote_decode", {40, 1, 0}, body, &source);
  engine::OpenAiDecoder decoder;
  engine::OpenAiPayload payload;
  ASSERT_TRUE(decoder.DecodeResponse(body, payload).ok()) << body;
  EXPECT_EQ(payload.finish_reason, "remote_decode");
  ASSERT_TRUE(payload.usage.has_value());
  EXPECT_EQ(payload.usage->completion_tokens, 1);

  // vLLM's field order; the engine's decoder above has checked that the whole body is JSON.
  EXPECT_NE(body.find(R"("usage":{"prompt_tokens":40,)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(}},"kv_transfer_params":{"do_remote_decode":false,)"
                      R"("do_remote_prefill":true,"remote_engine_id":"bench-sim-00ff",)"
                      R"("remote_block_ids":[0,1,2],"remote_host":"10.1.2.3",)"
                      R"("remote_port":8200,"tp_size":1}})"),
            std::string::npos)
      << body;
  EXPECT_EQ(body.back(), '}');

  // Without a source the body has no kv_transfer_params at all.
  std::string plain;
  formatter.AppendFullResponse("one", "stop", {40, 1, 0}, plain);
  ASSERT_TRUE(decoder.DecodeResponse(plain, payload).ok()) << plain;
  EXPECT_EQ(plain.find("kv_transfer_params"), std::string::npos) << plain;
}

TEST(ErrorBodyTest, OpenAiShape) {
  ApiError error;
  error.http_status = 404;
  error.message = "The model `x` does not exist.";
  error.param = "model";
  std::string body;
  AppendErrorBody(error, body);
  EXPECT_EQ(body, R"({"error":{"message":"The model `x` does not exist.","type":"NotFoundError",)"
                  R"("param":"model","code":404}})");
  engine::OpenAiDecoder decoder;
  engine::OpenAiPayload payload;
  ASSERT_TRUE(decoder.DecodeResponse(body, payload).ok());
  ASSERT_TRUE(payload.error.has_value());
  EXPECT_EQ(payload.error->code, "404");
  body.clear();
  error.http_status = 429;
  error.param.clear();
  AppendErrorBody(error, body);
  EXPECT_NE(body.find(R"("type":"TooManyRequestsError","param":null,"code":429)"),
            std::string::npos);
}

TEST(ResponseIdTest, PrefixAnd32HexDigits) {
  const std::string chat = MakeResponseId(ApiKind::kChat, 0x0123456789abcdefULL, 1);
  EXPECT_EQ(chat, "chatcmpl-0123456789abcdef0000000000000001");
  EXPECT_EQ(MakeResponseId(ApiKind::kCompletions, 0, 0).substr(0, 5), "cmpl-");
}

TEST(ModelsBodyTest, ListsTheModel) {
  const std::string body = ModelsBody("sim-model", 100, 8192);
  EXPECT_EQ(body,
            R"({"object":"list","data":[{"id":"sim-model","object":"model","created":100,)"
            R"("owned_by":"bench-sim","root":"sim-model","parent":null,"max_model_len":8192}]})");
}

}  // namespace
}  // namespace bench::sim
