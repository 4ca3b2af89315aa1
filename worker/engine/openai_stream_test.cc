#include "worker/engine/openai_stream.h"

#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench::engine {
namespace {

using ::testing::HasSubstr;

// Decodes one stream event and fails the test if it does not decode.
OpenAiPayload DecodeEvent(std::string_view data) {
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  const absl::Status status = decoder.DecodeStreamEvent(data, payload);
  EXPECT_TRUE(status.ok()) << status << " for " << data;
  return payload;
}

absl::Status DecodeEventStatus(std::string_view data) {
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  return decoder.DecodeStreamEvent(data, payload);
}

TEST(OpenAiStreamTest, Done) {
  const OpenAiPayload p = DecodeEvent("[DONE]");
  EXPECT_TRUE(p.done);
  EXPECT_FALSE(p.has_output);
  EXPECT_EQ(p.output_bytes, 0u);
}

TEST(OpenAiStreamTest, ChatContentDelta) {
  const OpenAiPayload p = DecodeEvent(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1718000000,"model":"m",)"
      R"("choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]})");
  EXPECT_FALSE(p.done);
  EXPECT_TRUE(p.has_output);
  EXPECT_EQ(p.output_bytes, 6u);
  EXPECT_EQ(p.reasoning_bytes, 0u);
  EXPECT_FALSE(p.has_role);
  EXPECT_EQ(p.finish_reason, "");
  EXPECT_FALSE(p.usage.has_value());
  EXPECT_FALSE(p.error.has_value());
}

TEST(OpenAiStreamTest, OutputBytesAreUnescapedUtf8) {
  // "a\n" is 2 bytes, "\u00e9" is 2 bytes of UTF-8, "\ud83d\ude00" (an emoji) is 4, "\"" is 1.
  const OpenAiPayload p =
      DecodeEvent(R"({"choices":[{"delta":{"content":"a\n\u00e9\ud83d\ude00\""}}]})");
  EXPECT_EQ(p.output_bytes, 9u);
}

TEST(OpenAiStreamTest, RoleOnlyDeltaIsNotOutput) {
  const OpenAiPayload p = DecodeEvent(
      R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})");
  EXPECT_TRUE(p.has_role);
  EXPECT_FALSE(p.has_output);
  EXPECT_EQ(p.output_bytes, 0u);
  const OpenAiPayload null_content =
      DecodeEvent(R"({"choices":[{"delta":{"role":"assistant","content":null}}]})");
  EXPECT_TRUE(null_content.has_role);
  EXPECT_FALSE(null_content.has_output);
}

TEST(OpenAiStreamTest, RoleWithContentIsOutput) {
  const OpenAiPayload p =
      DecodeEvent(R"({"choices":[{"delta":{"role":"assistant","content":"Hi"}}]})");
  EXPECT_TRUE(p.has_role);
  EXPECT_TRUE(p.has_output);
  EXPECT_EQ(p.output_bytes, 2u);
}

TEST(OpenAiStreamTest, EmptyDeltaAndEmptyContentAreNotOutput) {
  EXPECT_FALSE(DecodeEvent(R"({"choices":[{"delta":{}}]})").has_output);
  EXPECT_FALSE(DecodeEvent(R"({"choices":[{"delta":{"content":""}}]})").has_output);
  EXPECT_FALSE(DecodeEvent(R"({"choices":[{"delta":null}]})").has_output);
  EXPECT_FALSE(DecodeEvent(R"({"choices":[]})").has_output);
  EXPECT_FALSE(DecodeEvent(R"({})").has_output);
}

TEST(OpenAiStreamTest, FinishChunk) {
  const OpenAiPayload p = DecodeEvent(
      R"({"choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"length",)"
      R"("stop_reason":null}]})");
  EXPECT_FALSE(p.has_output);
  EXPECT_EQ(p.finish_reason, "length");
}

TEST(OpenAiStreamTest, ReasoningContentAndReasoningAreOutput) {
  const OpenAiPayload old_style =
      DecodeEvent(R"({"choices":[{"delta":{"reasoning_content":"Hmm","content":null}}]})");
  EXPECT_TRUE(old_style.has_output);
  EXPECT_EQ(old_style.output_bytes, 3u);
  EXPECT_EQ(old_style.reasoning_bytes, 3u);
  const OpenAiPayload new_style = DecodeEvent(R"({"choices":[{"delta":{"reasoning":"so,"}}]})");
  EXPECT_TRUE(new_style.has_output);
  EXPECT_EQ(new_style.reasoning_bytes, 3u);
  EXPECT_FALSE(DecodeEvent(R"({"choices":[{"delta":{"reasoning_content":""}}]})").has_output);
}

TEST(OpenAiStreamTest, ToolCallDeltas) {
  const OpenAiPayload name = DecodeEvent(
      R"({"choices":[{"delta":{"tool_calls":[{"id":"call_1","type":"function","index":0,)"
      R"("function":{"name":"get_weather","arguments":""}}]}}]})");
  EXPECT_TRUE(name.has_output);
  EXPECT_EQ(name.tool_call_bytes, 11u);
  const OpenAiPayload args = DecodeEvent(
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\": 1}"}}]}}]})");
  EXPECT_TRUE(args.has_output);
  EXPECT_EQ(args.output_bytes, 8u);
  EXPECT_EQ(args.tool_call_bytes, 8u);
  const OpenAiPayload empty = DecodeEvent(
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":""}}]}}]})");
  EXPECT_FALSE(empty.has_output);
  const OpenAiPayload legacy =
      DecodeEvent(R"({"choices":[{"delta":{"function_call":{"arguments":"xy"}}}]})");
  EXPECT_EQ(legacy.tool_call_bytes, 2u);
}

TEST(OpenAiStreamTest, CompletionsText) {
  const OpenAiPayload p = DecodeEvent(
      R"({"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,)"
      R"("text":" Paris","logprobs":null,"finish_reason":null,"stop_reason":null}],"usage":null})");
  EXPECT_TRUE(p.has_output);
  EXPECT_EQ(p.output_bytes, 6u);
  EXPECT_FALSE(p.usage.has_value());  // "usage": null is no usage.
  EXPECT_FALSE(DecodeEvent(R"({"choices":[{"text":"","finish_reason":"stop"}]})").has_output);
}

TEST(OpenAiStreamTest, MultipleChoicesAreSummed) {
  const OpenAiPayload p = DecodeEvent(R"({"choices":[{"index":0,"text":"ab","finish_reason":null},)"
                                      R"({"index":1,"text":"cde","finish_reason":"stop"}]})");
  EXPECT_EQ(p.output_bytes, 5u);
  EXPECT_EQ(p.finish_reason, "stop");
}

TEST(OpenAiStreamTest, UsageOnlyChunkWithEmptyChoices) {
  const OpenAiPayload p = DecodeEvent(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],)"
      R"("usage":{"prompt_tokens":17,"total_tokens":28,"completion_tokens":11}})");
  EXPECT_FALSE(p.has_output);
  ASSERT_TRUE(p.usage.has_value());
  EXPECT_EQ(p.usage->prompt_tokens, 17);
  EXPECT_EQ(p.usage->completion_tokens, 11);
  EXPECT_EQ(p.usage->total_tokens, 28);
  EXPECT_EQ(p.usage->cached_tokens, std::nullopt);
}

TEST(OpenAiStreamTest, UsageWithCachedTokens) {
  const OpenAiPayload p = DecodeEvent(
      R"({"choices":[],"usage":{"prompt_tokens_details":{"cached_tokens":96},"prompt_tokens":128,)"
      R"("completion_tokens":5}})");
  ASSERT_TRUE(p.usage.has_value());
  EXPECT_EQ(p.usage->prompt_tokens, 128);
  EXPECT_EQ(p.usage->cached_tokens, 96);
  EXPECT_EQ(p.usage->total_tokens, std::nullopt);
}

TEST(OpenAiStreamTest, NullUsageFields) {
  const OpenAiPayload p = DecodeEvent(
      R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":null,"total_tokens":null,)"
      R"("prompt_tokens_details":null}})");
  ASSERT_TRUE(p.usage.has_value());
  EXPECT_EQ(p.usage->prompt_tokens, 3);
  EXPECT_EQ(p.usage->completion_tokens, std::nullopt);
  EXPECT_EQ(p.usage->cached_tokens, std::nullopt);
  const OpenAiPayload null_cached = DecodeEvent(
      R"({"choices":[],"usage":{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":null}}})");
  EXPECT_EQ(null_cached.usage->cached_tokens, std::nullopt);
}

TEST(OpenAiStreamTest, UsageOnTheLastContentChunk) {
  const OpenAiPayload p =
      DecodeEvent(R"({"choices":[{"index":0,"delta":{"content":"."},"finish_reason":"stop"}],)"
                  R"("usage":{"prompt_tokens":9,"completion_tokens":8,"total_tokens":17}})");
  EXPECT_TRUE(p.has_output);
  EXPECT_EQ(p.finish_reason, "stop");
  ASSERT_TRUE(p.usage.has_value());
  EXPECT_EQ(p.usage->completion_tokens, 8);
}

TEST(OpenAiStreamTest, OpenAiErrorObject) {
  const OpenAiPayload p =
      DecodeEvent(R"({"error":{"message":"Rate limit reached","type":"requests","param":null,)"
                  R"("code":"rate_limit_exceeded"}})");
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->message, "Rate limit reached");
  EXPECT_EQ(p.error->type, "requests");
  EXPECT_EQ(p.error->code, "rate_limit_exceeded");
  EXPECT_FALSE(p.has_output);
}

TEST(OpenAiStreamTest, VllmMidStreamErrorWithNumericCode) {
  const OpenAiPayload p = DecodeEvent(
      R"({"error":{"object":"error","message":"The engine is dead.","type":"InternalServerError",)"
      R"("param":null,"code":500}})");
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->message, "The engine is dead.");
  EXPECT_EQ(p.error->type, "InternalServerError");
  EXPECT_EQ(p.error->code, "500");
}

TEST(OpenAiStreamTest, VllmTopLevelErrorObject) {
  // Fields in an unusual order: "object" after the others.
  const OpenAiPayload p = DecodeEvent(
      R"({"message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400,)"
      R"("object":"error"})");
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->message, "max_tokens is too large");
  EXPECT_EQ(p.error->type, "BadRequestError");
  EXPECT_EQ(p.error->code, "400");
}

TEST(OpenAiStreamTest, NestedErrorWinsOverTopLevelFields) {
  const OpenAiPayload p = DecodeEvent(
      R"({"object":"error","error":{"message":"nested"},"message":"top","type":"T","code":7})");
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->message, "nested");
  EXPECT_EQ(p.error->type, "T");  // The nested error left it empty.
  EXPECT_EQ(p.error->code, "7");
}

TEST(OpenAiStreamTest, TgiErrorString) {
  const OpenAiPayload p =
      DecodeEvent(R"({"error":"Input validation error: too long","error_type":"validation"})");
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->message, "Input validation error: too long");
  EXPECT_EQ(p.error->type, "validation");
}

TEST(OpenAiStreamTest, NullErrorIsNoError) {
  EXPECT_FALSE(DecodeEvent(R"({"error":null,"choices":[]})").error.has_value());
}

TEST(OpenAiStreamTest, UnknownFieldsAreIgnored) {
  const OpenAiPayload p = DecodeEvent(
      R"({"system_fingerprint":"fp","x":{"deep":[1,2,{"content":"no"}]},"choices":[{"index":0,)"
      R"("delta":{"content":"ok","extra":[true]},"logprobs":{"content":[{"token":"ok"}]}}]})");
  EXPECT_EQ(p.output_bytes, 2u);
}

TEST(OpenAiStreamTest, MalformedJsonIsInvalidArgument) {
  for (std::string_view bad :
       {"", "{", R"({"choices":[})", R"({"choices":[{"delta":{"content":"x"}}])", "{\"a\":1,}",
        "{'a':1}", "{\"a\":1} trailing", "data: {}", "{\"a\":\"\xff\"}", "[DONE"}) {
    const absl::Status status = DecodeEventStatus(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  // Malformed JSON inside a field the decoder does not read is still malformed.
  EXPECT_EQ(DecodeEventStatus(R"({"x":[1,,2],"choices":[]})").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OpenAiStreamTest, NonObjectIsInvalidArgument) {
  for (std::string_view bad : {"[]", "1", "\"text\"", "null", "true"}) {
    const absl::Status status = DecodeEventStatus(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()), HasSubstr("not a JSON object")) << bad;
  }
}

TEST(OpenAiStreamTest, WrongFieldTypesAreInvalidArgument) {
  struct Case {
    const char* json;
    const char* field;
  };
  for (const Case& c : {
           Case{R"({"choices":{}})", "choices"},
           Case{R"({"choices":[1]})", "choices[]"},
           Case{R"({"choices":[{"delta":"x"}]})", "choices[].delta"},
           Case{R"({"choices":[{"delta":{"content":5}}]})", "choices[].delta.content"},
           Case{R"({"choices":[{"delta":{"content":["a"]}}]})", "choices[].delta.content"},
           Case{R"({"choices":[{"text":false}]})", "choices[].text"},
           Case{R"({"choices":[{"finish_reason":1}]})", "choices[].finish_reason"},
           Case{R"({"choices":[{"delta":{"tool_calls":{}}}]})", "tool_calls"},
           Case{R"({"choices":[{"delta":{"tool_calls":[{"function":{"arguments":{}}}]}}]})",
                "function"},
           Case{R"({"usage":[]})", "usage"},
           Case{R"({"usage":{"prompt_tokens":"3"}})", "usage.prompt_tokens"},
           Case{R"({"usage":{"completion_tokens":1.5}})", "usage.completion_tokens"},
           Case{R"({"usage":{"completion_tokens":-1}})", "usage.completion_tokens"},
           Case{R"({"usage":{"prompt_tokens":18446744073709551615}})", "usage.prompt_tokens"},
           Case{R"({"usage":{"prompt_tokens_details":{"cached_tokens":"x"}}})", "cached_tokens"},
           Case{R"({"error":5})", "error"},
           Case{R"({"error":{"message":5}})", "error.message"},
           Case{R"({"error":{"code":[]}})", "error.code"},
       }) {
    const absl::Status status = DecodeEventStatus(c.json);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.field)) << c.json;
  }
}

TEST(OpenAiStreamTest, ErrorLeavesPayloadCleared) {
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  ASSERT_TRUE(
      decoder.DecodeStreamEvent(R"({"choices":[{"text":"abc","finish_reason":"stop"}]})", payload)
          .ok());
  EXPECT_EQ(payload.output_bytes, 3u);
  EXPECT_EQ(decoder.DecodeStreamEvent(R"({"choices":[{"text":"abc"},{"text":7}]})", payload).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(payload, OpenAiPayload{});
}

TEST(OpenAiStreamTest, DecoderIsReusableAndBufferGrows) {
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  const std::string big_text(100000, 'x');
  const std::string big = R"({"choices":[{"delta":{"content":")" + big_text + R"("}}]})";
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(
        decoder.DecodeStreamEvent(R"({"choices":[{"delta":{"content":"ab"}}]})", payload).ok());
    EXPECT_EQ(payload.output_bytes, 2u);
    ASSERT_TRUE(decoder.DecodeStreamEvent(big, payload).ok());
    EXPECT_EQ(payload.output_bytes, big_text.size());
    ASSERT_TRUE(decoder.DecodeStreamEvent("[DONE]", payload).ok());
    EXPECT_TRUE(payload.done);
    EXPECT_EQ(payload.output_bytes, 0u);
  }
}

TEST(OpenAiStreamTest, MovedDecoderStillWorks) {
  OpenAiDecoder first;
  OpenAiDecoder second = std::move(first);
  OpenAiPayload payload;
  ASSERT_TRUE(second.DecodeStreamEvent(R"({"choices":[{"text":"z"}]})", payload).ok());
  EXPECT_EQ(payload.output_bytes, 1u);
}

// Non-streaming bodies (`stream: false`).

TEST(OpenAiResponseTest, ChatCompletion) {
  OpenAiDecoder decoder;
  OpenAiPayload p;
  ASSERT_TRUE(
      decoder
          .DecodeResponse(
              R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",)"
              R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello there",)"
              R"("tool_calls":[]},"logprobs":null,"finish_reason":"stop"}],)"
              R"("usage":{"prompt_tokens":10,"total_tokens":12,"completion_tokens":2,)"
              R"("prompt_tokens_details":{"cached_tokens":8}}})",
              p)
          .ok());
  EXPECT_TRUE(p.has_output);
  EXPECT_EQ(p.output_bytes, 11u);
  EXPECT_TRUE(p.has_role);
  EXPECT_EQ(p.finish_reason, "stop");
  ASSERT_TRUE(p.usage.has_value());
  EXPECT_EQ(*p.usage, (OpenAiUsage{10, 2, 12, 8}));
  EXPECT_FALSE(p.done);
}

TEST(OpenAiResponseTest, ChatWithReasoningAndToolCall) {
  OpenAiDecoder decoder;
  OpenAiPayload p;
  ASSERT_TRUE(
      decoder
          .DecodeResponse(
              R"({"choices":[{"message":{"role":"assistant","content":null,)"
              R"("reasoning_content":"think","tool_calls":[{"id":"c","type":"function",)"
              R"("function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})",
              p)
          .ok());
  EXPECT_EQ(p.reasoning_bytes, 5u);
  EXPECT_EQ(p.tool_call_bytes, 3u);
  EXPECT_EQ(p.output_bytes, 8u);
  EXPECT_EQ(p.finish_reason, "tool_calls");
}

TEST(OpenAiResponseTest, Completion) {
  OpenAiDecoder decoder;
  OpenAiPayload p;
  ASSERT_TRUE(decoder
                  .DecodeResponse(R"({"object":"text_completion","choices":[{"index":0,)"
                                  R"("text":"four words of text","finish_reason":"length"}],)"
                                  R"("usage":{"prompt_tokens":4,"completion_tokens":4}})",
                                  p)
                  .ok());
  EXPECT_EQ(p.output_bytes, 18u);
  EXPECT_EQ(p.finish_reason, "length");
  EXPECT_EQ(p.usage->completion_tokens, 4);
}

TEST(OpenAiResponseTest, ErrorBody) {
  OpenAiDecoder decoder;
  OpenAiPayload p;
  ASSERT_TRUE(decoder
                  .DecodeResponse(R"({"object":"error","message":"model not found",)"
                                  R"("type":"NotFoundError","param":null,"code":404})",
                                  p)
                  .ok());
  ASSERT_TRUE(p.error.has_value());
  EXPECT_EQ(p.error->code, "404");
  EXPECT_EQ(p.error->message, "model not found");
}

TEST(OpenAiResponseTest, DoneIsNotAResponse) {
  OpenAiDecoder decoder;
  OpenAiPayload p;
  EXPECT_EQ(decoder.DecodeResponse("[DONE]", p).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bench::engine
