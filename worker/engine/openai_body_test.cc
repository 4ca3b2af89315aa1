#include "worker/engine/openai_body.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/engine/openai_stream.h"

namespace bench::engine {
namespace {

using ::testing::HasSubstr;

// What a decoder made of a body: its status, payload and the content it passed on.
struct Decoded {
  absl::Status status;
  OpenAiPayload payload;
  std::string content;
};

// The reference: simdjson over the whole body.
Decoded Whole(std::string_view body) {
  Decoded decoded;
  decoded.payload.content_sink = &decoded.content;
  OpenAiDecoder decoder;
  decoded.status = decoder.DecodeResponse(body, decoded.payload);
  decoded.payload.content_sink = nullptr;
  return decoded;
}

// The body fed in pieces of `piece` bytes (0: whole), through a decoder that decoded
// something else before (it is reused, as the engine reuses it).
Decoded Streamed(std::string_view body, size_t piece) {
  Decoded decoded;
  decoded.payload.content_sink = &decoded.content;
  OpenAiBodyDecoder decoder;
  OpenAiPayload earlier;
  decoder.Reset(&earlier);
  (void)decoder.Feed(R"({"choices":[{"message":{"content":"earlier)");  // left mid-string
  decoder.Reset(&decoded.payload);
  absl::Status status;
  for (size_t at = 0; at < body.size() && status.ok(); at += piece == 0 ? body.size() : piece) {
    status = decoder.Feed(body.substr(at, piece == 0 ? body.size() : piece));
  }
  decoded.status = status.ok() ? decoder.Finish() : status;
  decoded.payload.content_sink = nullptr;
  return decoded;
}

// Bodies of every shape the decoders read: completions, chat, reasoning, tool calls, usage,
// every error form, unknown fields, escapes and UTF-8, and wrong types.
const std::vector<std::string>& Corpus() {
  static const auto* corpus = new std::vector<std::string>{
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello there",)"
      R"("tool_calls":[]},"logprobs":null,"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":10,"total_tokens":12,"completion_tokens":2,)"
      R"("prompt_tokens_details":{"cached_tokens":8}}})",
      R"({"choices":[{"message":{"role":"assistant","content":null,)"
      R"("reasoning_content":"think","tool_calls":[{"id":"c","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})",
      R"({"object":"text_completion","choices":[{"index":0,)"
      R"("text":"four words of text","finish_reason":"length"}],)"
      R"("usage":{"prompt_tokens":4,"completion_tokens":4}})",
      R"({"object":"error","message":"model not found","type":"NotFoundError","param":null,"code":404})",
      R"({"code":"rate_limit","type":"T","message":"slow down","object":"error"})",
      R"({"object":"error","message":"m","code":18446744073709551615})",
      R"({"object":"error","message":"m","code":-3})",
      R"({"object":"error","message":"m","code":null})",
      R"({"object":"error","message":"m","code":1.5})",
      R"({"object":"error","message":"m","code":true})",
      R"({"object":"error","message":"m","code":{"a":1}})",
      R"({"object":"not-error","message":"m","code":1.5})",
      R"({"object":"error","error":{"message":"nested","type":"","code":null},"type":"top"})",
      R"({"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}})",
      R"({"error":{"message":"m","code":500}})",
      R"({"error":{"message":"m","code":2.5}})",
      R"({"error":"Input validation error","error_type":"validation"})",
      R"({"error_type":"first","error":"e","error_type":null})",
      R"({"error":null,"choices":null,"usage":null})",
      R"({"error":{}})",
      R"({"error":5})",
      R"({"error":{"message":7}})",
      R"({"choices":[{"message":{"content":"a"}},{"message":{"content":"bc"}},{"text":"def"}]})",
      R"({"choices":[{"delta":{"content":"x"},"finish_reason":null},{"finish_reason":"stop"},)"
      R"({"finish_reason":"length"}]})",
      R"({"choices":[{"message":{"content":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t"}}]})",
      "{\"choices\":[{\"message\":{\"content\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}}]}",
      R"({"choices":[{"message":{"\u0063ontent":"escaped key","role":null}}]})",
      R"({"choices":[{"message":{"function_call":{"name":"get","arguments":"{\"a\":1}"}}}]})",
      R"({"choices":[{"message":{"tool_calls":[{"function":null},{"function":{"name":null}}]}}]})",
      R"({"choices":[{"message":{"tool_calls":null,"reasoning":"r"}}],"usage":{}})",
      R"({"usage":{"prompt_tokens":null,"completion_tokens":0,"total_tokens":-0,)"
      R"("prompt_tokens_details":null}})",
      R"({"usage":{"prompt_tokens":1,"prompt_tokens":2},"usage":{"completion_tokens":3}})",
      R"({"usage":{"prompt_tokens_details":{"cached_tokens":null,"other":[1,2,{"x":[]}]}}})",
      R"({"unknown":{"deep":[[[{"choices":5}]]],"n":-1.25e+10,"t":true,"f":false},"choices":[]})",
      R"(  {"choices":[]}  )"
      "\r\n\t",
      // Wrong types.
      R"({"choices":{"message":{}}})",
      R"({"choices":[5]})",
      R"({"choices":[{"message":"text"}]})",
      R"({"choices":[{"message":{"content":5}}]})",
      R"({"choices":[{"text":["a"]}]})",
      R"({"choices":[{"finish_reason":1}]})",
      R"({"choices":[{"message":{"role":false}}]})",
      R"({"choices":[{"message":{"tool_calls":{}}}]})",
      R"({"choices":[{"message":{"tool_calls":["x"]}}]})",
      R"({"choices":[{"message":{"tool_calls":[{"function":"f"}]}}]})",
      R"({"choices":[{"message":{"function_call":{"arguments":{}}}}]})",
      R"({"usage":[]})",
      R"({"usage":{"prompt_tokens":-1}})",
      R"({"usage":{"prompt_tokens":1.0}})",
      R"({"usage":{"completion_tokens":"3"}})",
      R"({"usage":{"total_tokens":1e2}})",
      R"({"usage":{"prompt_tokens":9223372036854775808}})",
      R"({"usage":{"prompt_tokens_details":{"cached_tokens":true}}})",
      R"({"usage":{"prompt_tokens_details":3}})",
      R"({"object":5})",
      R"({"error_type":1})",
      // Not JSON, or not an object.
      "",
      "   ",
      "[DONE]",
      "[]",
      "\"text\"",
      "42",
      "null",
      R"({"choices":[})",
      R"({"choices":[{"message":{"content":"cut)",
      R"({"a":1,})",
      R"({"a" 1})",
      R"({a:1})",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":-})",
      R"({"a":1e})",
      R"({"a":tru})",
      R"({"a":nul})",
      R"({"a":truex})",
      R"({"a":"\x"})",
      R"({"a":"\u12"})",
      R"({"a":"\ud83d"})",
      R"({"a":"\ud83dx"})",
      R"({"a":"\ude00"})",
      "{\"a\":\"tab\there\"}",
      "{\"a\":\"\xc3\"}",
      "{\"a\":\"\xc0\xaf\"}",
      "{\"a\":\"\xed\xa0\x80\"}",
      "{\"a\":\"\xf4\x90\x80\x80\"}",
      R"({"a":1} {"b":2})",
      R"({"a":1}x)",
      R"({"a":[1,2,]})",
      R"({"a":[18446744073709551615,-9223372036854775808,1e308,1e-400,-0,-0.0]})",
      R"({"a":18446744073709551616})",
      R"({"a":-9223372036854775809})",
      R"({"a":1.8e308})",
      R"({"a":-1e400})",
      R"({"a":[,1]})",
      R"({"a":{"b":}})",
  };
  return *corpus;
}

void ExpectSame(const std::string& body, const Decoded& expected, const Decoded& got,
                size_t piece) {
  SCOPED_TRACE(absl::StrCat("body ", body, " in pieces of ", piece));
  EXPECT_EQ(got.status.ok(), expected.status.ok())
      << "streamed: " << got.status << ", whole: " << expected.status;
  if (!got.status.ok()) {
    EXPECT_EQ(got.status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(got.payload, OpenAiPayload{}) << "a failed body leaves the payload cleared";
    return;
  }
  if (!expected.status.ok()) return;
  EXPECT_EQ(got.payload, expected.payload);
  EXPECT_EQ(got.content, expected.content);
}

TEST(OpenAiBodyDecoderTest, DecodesAsTheWholeBodyDecoderDoesInAnyPieces) {
  int ok = 0;
  for (const std::string& body : Corpus()) {
    const Decoded expected = Whole(body);
    ok += expected.status.ok();
    for (size_t piece : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{7}}) {
      ExpectSame(body, expected, Streamed(body, piece), piece);
    }
  }
  EXPECT_GT(ok, 25);  // the corpus exercises both sides
  EXPECT_GT(static_cast<int>(Corpus().size()) - ok, 50);
}

// Random damage to the corpus (bytes changed, inserted, removed; bodies cut): both decoders
// accept and refuse the same bodies, and agree on what the accepted ones hold.
TEST(OpenAiBodyDecoderTest, DamagedBodiesAgreeWithTheWholeBodyDecoder) {
  std::mt19937 random(20261208);
  const std::string alphabet = "{}[]\":,\\u0123456789.eE+-tfnrl x\xc3\xa9\x80";
  int compared = 0;
  int accepted = 0;
  for (int round = 0; round < 20; ++round) {
    for (const std::string& original : Corpus()) {
      if (original.empty()) continue;
      std::string body = original;
      const int edits = 1 + static_cast<int>(random() % 3);
      for (int e = 0; e < edits && !body.empty(); ++e) {
        const size_t at = random() % body.size();
        const char c = alphabet[random() % alphabet.size()];
        switch (random() % 4) {
          case 0:
            body[at] = c;
            break;
          case 1:
            body.insert(at, 1, c);
            break;
          case 2:
            body.erase(at, 1);
            break;
          default:
            body.resize(at);
            break;
        }
      }
      const Decoded expected = Whole(body);
      ExpectSame(body, expected, Streamed(body, 1 + random() % 5), 0);
      ++compared;
      accepted += expected.status.ok();
    }
  }
  EXPECT_GT(compared, 1000);
  EXPECT_GT(accepted, 100);
  EXPECT_GT(compared - accepted, 100);
}

TEST(OpenAiBodyDecoderTest, HugeContentIsCountedNotKept) {
  // 8 MiB of content with escapes and multi-byte characters, in 64 KiB pieces: the count is
  // exact and nothing of it is kept (no content sink).
  std::string content;
  while (content.size() < (8u << 20)) content += "token \\u00e9\\n ";
  const std::string body = absl::StrCat(R"({"choices":[{"message":{"content":")", content,
                                        R"("},"finish_reason":"length"}],)",
                                        R"("usage":{"prompt_tokens":3,"completion_tokens":7}})");
  OpenAiBodyDecoder decoder;
  OpenAiPayload payload;
  decoder.Reset(&payload);
  for (size_t at = 0; at < body.size(); at += 65536) {
    ASSERT_TRUE(decoder.Feed(std::string_view(body).substr(at, 65536)).ok());
  }
  ASSERT_TRUE(decoder.Finish().ok());
  const size_t pieces = content.size() / std::string_view("token \\u00e9\\n ").size();
  EXPECT_EQ(payload.output_bytes, pieces * std::string_view("token \xc3\xa9\n ").size());
  EXPECT_EQ(payload.finish_reason, "length");
  ASSERT_TRUE(payload.usage.has_value());
  EXPECT_EQ(payload.usage->completion_tokens, 7);
}

TEST(OpenAiBodyDecoderTest, KeptStringsAreCut) {
  const std::string message(OpenAiBodyDecoder::kMaxKeptStringBytes + 100, 'm');
  OpenAiBodyDecoder decoder;
  OpenAiPayload payload;
  decoder.Reset(&payload);
  ASSERT_TRUE(decoder.Feed(absl::StrCat(R"({"error":{"message":")", message, R"("}})")).ok());
  ASSERT_TRUE(decoder.Finish().ok());
  ASSERT_TRUE(payload.error.has_value());
  EXPECT_EQ(payload.error->message, message.substr(0, OpenAiBodyDecoder::kMaxKeptStringBytes));
}

TEST(OpenAiBodyDecoderTest, ErrorsSayWhatWasWrong) {
  const auto error = [](std::string_view body) {
    OpenAiBodyDecoder decoder;
    OpenAiPayload payload;
    decoder.Reset(&payload);
    absl::Status status = decoder.Feed(body);
    if (status.ok()) status = decoder.Finish();
    return std::string(status.message());
  };
  EXPECT_EQ(error(R"({"usage":{"prompt_tokens":-1}})"),
            "usage.prompt_tokens must be a non-negative integer or null");
  EXPECT_EQ(error(R"({"choices":[{"message":{"content":5}}]})"),
            "choices[].delta.content must be a string or null");
  EXPECT_EQ(error("[]"), "payload is not a JSON object");
  EXPECT_EQ(error(R"({"a":1} x)"), "more after the JSON object");
  EXPECT_EQ(error(R"({"choices":[{"message":{"content":"cut)"), "the body ended inside its JSON");
  EXPECT_EQ(error(""), "no JSON in the body");
  EXPECT_EQ(error(R"({"a":"\ud83d"})"), "a UTF-16 high surrogate without its low half");
  EXPECT_EQ(error(std::string(2000, '[').insert(0, R"({"a":)")), "nested deeper than 1024");
}

TEST(OpenAiBodyDecoderTest, AfterAnErrorLaterBytesAreIgnored) {
  OpenAiBodyDecoder decoder;
  OpenAiPayload payload;
  decoder.Reset(&payload);
  EXPECT_FALSE(decoder.Feed(R"({"usage":{"prompt_tokens":"x"}})").ok());
  const absl::Status again = decoder.Feed(R"(,"choices":[]})");
  EXPECT_THAT(std::string(again.message()), HasSubstr("usage.prompt_tokens"));
  EXPECT_FALSE(decoder.Finish().ok());
  EXPECT_EQ(payload, OpenAiPayload{});
}

}  // namespace
}  // namespace bench::engine
