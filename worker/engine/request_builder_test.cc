#include "worker/engine/request_builder.h"

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bench::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace dom = simdjson::dom;

RequestTemplate ChatTemplate() {
  RequestTemplate request_template;
  request_template.chat = true;
  request_template.model = "llama-70b";
  return request_template;
}

RequestBuilder MustCreate(RequestTemplate request_template) {
  absl::StatusOr<RequestBuilder> builder = RequestBuilder::Create(std::move(request_template));
  EXPECT_TRUE(builder.ok()) << builder.status();
  if (!builder.ok()) std::abort();
  return *std::move(builder);
}

Prompt MakePrompt(std::string text, int64_t max_tokens) {
  Prompt prompt;
  prompt.text = std::move(text);
  prompt.max_tokens = max_tokens;
  return prompt;
}

std::string Body(const RequestBuilder& builder, const Prompt& prompt) {
  std::string body;
  builder.BuildBody(prompt, body);
  return body;
}

// The top-level keys of `object`, in order.
std::vector<std::string> Keys(dom::object object) {
  std::vector<std::string> keys;
  for (dom::key_value_pair field : object) keys.emplace_back(field.key);
  return keys;
}

// Parses `body` (which must stay alive) as a JSON object.
dom::object ParseObject(dom::parser& parser, const std::string& body) {
  dom::object object;
  const simdjson::error_code error = parser.parse(body).get_object().get(object);
  EXPECT_EQ(error, simdjson::SUCCESS) << body;
  return object;
}

TEST(RequestBuilderTest, ChatBodyFieldByField) {
  RequestBuilder builder = MustCreate(ChatTemplate());
  EXPECT_TRUE(builder.streaming());
  EXPECT_TRUE(builder.chat());
  const std::string body = Body(builder, MakePrompt("say \"hi\"\nplease", 123));
  dom::parser parser;
  dom::object object = ParseObject(parser, body);
  EXPECT_EQ(Keys(object), (std::vector<std::string>{"model", "messages", "max_tokens", "stream",
                                                    "stream_options", "ignore_eos"}));
  EXPECT_EQ(std::string_view(object["model"]), "llama-70b");
  dom::array messages = object["messages"];
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(Keys(messages.at(0)), (std::vector<std::string>{"role", "content"}));
  EXPECT_EQ(std::string_view(messages.at(0)["role"]), "user");
  EXPECT_EQ(std::string_view(messages.at(0)["content"]), "say \"hi\"\nplease");
  EXPECT_EQ(int64_t(object["max_tokens"]), 123);
  EXPECT_EQ(bool(object["stream"]), true);
  EXPECT_EQ(bool(object["stream_options"]["include_usage"]), true);
  EXPECT_EQ(bool(object["ignore_eos"]), true);
}

TEST(RequestBuilderTest, CompletionsBodyFieldByField) {
  RequestTemplate request_template = ChatTemplate();
  request_template.chat = false;
  RequestBuilder builder = MustCreate(request_template);
  EXPECT_FALSE(builder.chat());
  const std::string body = Body(builder, MakePrompt("once upon a time", 64));
  dom::parser parser;
  dom::object object = ParseObject(parser, body);
  EXPECT_EQ(Keys(object), (std::vector<std::string>{"model", "prompt", "max_tokens", "stream",
                                                    "stream_options", "ignore_eos"}));
  EXPECT_EQ(std::string_view(object["prompt"]), "once upon a time");
  EXPECT_EQ(int64_t(object["max_tokens"]), 64);
}

TEST(RequestBuilderTest, DatasetMessagesAreSentVerbatim) {
  RequestBuilder builder = MustCreate(ChatTemplate());
  Prompt prompt = MakePrompt("be brief\nhi", 5);
  prompt.messages_json =
      R"([{"role":"system","content":"be brief"},{"role":"user","content":"hi"}])";
  const std::string body = Body(builder, prompt);
  EXPECT_THAT(body, HasSubstr("\"messages\":" + prompt.messages_json + ","));
  dom::parser parser;
  dom::object object = ParseObject(parser, body);
  dom::array messages = object["messages"];
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(std::string_view(messages.at(0)["role"]), "system");
}

TEST(RequestBuilderTest, TemplateSwitches) {
  RequestTemplate request_template = ChatTemplate();
  request_template.stream = false;
  request_template.ignore_eos = false;
  RequestBuilder builder = MustCreate(request_template);
  EXPECT_FALSE(builder.streaming());
  dom::parser parser;
  const std::string body = Body(builder, MakePrompt("x", 0));  // 0: no max_tokens.
  dom::object object = ParseObject(parser, body);
  EXPECT_EQ(Keys(object), (std::vector<std::string>{"model", "messages", "stream"}));
  EXPECT_EQ(bool(object["stream"]), false);

  request_template = ChatTemplate();
  request_template.include_usage = false;
  const std::string no_usage = Body(MustCreate(request_template), MakePrompt("x", 3));
  object = ParseObject(parser, no_usage);
  EXPECT_EQ(Keys(object),
            (std::vector<std::string>{"model", "messages", "max_tokens", "stream", "ignore_eos"}));
}

TEST(RequestBuilderTest, ExtraBodyOverridesAndAdds) {
  RequestTemplate request_template = ChatTemplate();
  request_template.extra_body_json = R"({"ignore_eos": false, "temperature": 0,
      "top_p": 1.50, "nested": {"a": [1, 2, {"b": "c d"}]}, "max_tokens": 9})";
  RequestBuilder builder = MustCreate(request_template);
  EXPECT_TRUE(builder.streaming());
  const std::string body = Body(builder, MakePrompt("hello", 100));
  dom::parser parser;
  dom::object object = ParseObject(parser, body);
  EXPECT_EQ(Keys(object),
            (std::vector<std::string>{"model", "messages", "stream", "stream_options", "ignore_eos",
                                      "temperature", "top_p", "nested", "max_tokens"}));
  EXPECT_EQ(bool(object["ignore_eos"]), false);
  EXPECT_EQ(int64_t(object["temperature"]), 0);
  EXPECT_EQ(int64_t(object["max_tokens"]), 9);  // extraBody wins over the prompt's 100.
  // Values are copied as written, minified.
  EXPECT_THAT(body, HasSubstr(R"("top_p":1.50)"));
  EXPECT_THAT(body, HasSubstr(R"("nested":{"a":[1,2,{"b":"c d"}]})"));
}

TEST(RequestBuilderTest, ExtraBodyStreamFalseTurnsStreamingOff) {
  RequestTemplate request_template = ChatTemplate();
  request_template.extra_body_json = R"({"stream": false})";
  RequestBuilder builder = MustCreate(request_template);
  EXPECT_FALSE(builder.streaming());
  dom::parser parser;
  const std::string body = Body(builder, MakePrompt("x", 3));
  dom::object object = ParseObject(parser, body);
  EXPECT_EQ(Keys(object),
            (std::vector<std::string>{"model", "messages", "max_tokens", "ignore_eos", "stream"}));
  EXPECT_EQ(bool(object["stream"]), false);
}

TEST(RequestBuilderTest, ExtraBodyMayReplaceModelAndContent) {
  RequestTemplate request_template;
  request_template.chat = false;
  request_template.extra_body_json =
      R"({"model": "other", "prompt": "fixed", "model": "last wins", "echo": true})";
  RequestBuilder builder = MustCreate(request_template);
  const std::string body = Body(builder, MakePrompt("ignored", 4));
  dom::parser parser;
  dom::object object = ParseObject(parser, body);
  EXPECT_EQ(Keys(object), (std::vector<std::string>{"max_tokens", "stream", "stream_options",
                                                    "ignore_eos", "prompt", "model", "echo"}));
  EXPECT_EQ(std::string_view(object["model"]), "last wins");
  EXPECT_EQ(std::string_view(object["prompt"]), "fixed");
}

TEST(RequestBuilderTest, RejectsBadTemplates) {
  for (const char* extra : {"[1, 2]", "\"text\"", "{", "{\"a\": 1} x", "null"}) {
    RequestTemplate request_template = ChatTemplate();
    request_template.extra_body_json = extra;
    absl::Status status = RequestBuilder::Create(request_template).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << extra;
    EXPECT_THAT(status.message(), HasSubstr("target.extraBody")) << extra;
  }
  RequestTemplate request_template = ChatTemplate();
  request_template.extra_body_json = R"({"stream": "yes"})";
  absl::Status status = RequestBuilder::Create(request_template).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("target.extraBody.stream"));

  request_template = ChatTemplate();
  request_template.model.clear();
  status = RequestBuilder::Create(request_template).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("target.model"));

  request_template.extra_body_json = "  ";  // Blank: no extraBody.
  request_template.model = "m";
  EXPECT_TRUE(RequestBuilder::Create(request_template).ok());
}

TEST(RequestBuilderTest, AppendsWithoutAllocatingWhenCapacitySuffices) {
  RequestBuilder builder = MustCreate(ChatTemplate());
  const Prompt prompt = MakePrompt(std::string(1000, 'w'), 10);
  std::string out = "prefix:";
  out.reserve(4096);
  const char* data = out.data();
  const size_t capacity = out.capacity();
  builder.BuildBody(prompt, out);
  EXPECT_EQ(out.data(), data);
  EXPECT_EQ(out.capacity(), capacity);
  EXPECT_EQ(out.substr(0, 7), "prefix:");
  EXPECT_EQ(out.substr(7), Body(builder, prompt));
}

// ---- escaping -----------------------------------------------------------------------------

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonString(text, out);
  return out;
}

// Parses a JSON string literal back, checking it is valid JSON and valid UTF-8.
std::string ParseBack(const std::string& literal) {
  dom::parser parser;
  std::string_view value;
  const simdjson::error_code error = parser.parse(literal).get_string().get(value);
  EXPECT_EQ(error, simdjson::SUCCESS) << literal;
  return std::string(value);
}

TEST(AppendJsonStringTest, EscapesExactly) {
  EXPECT_EQ(Escaped(""), R"("")");
  EXPECT_EQ(Escaped("plain / text"), R"("plain / text")");
  EXPECT_EQ(Escaped("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Escaped("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(Escaped(std::string_view("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
}

TEST(AppendJsonStringTest, EveryControlCharacterRoundTrips) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(ParseBack(Escaped(all)), all);
}

TEST(AppendJsonStringTest, ValidUtf8PassesThrough) {
  // 2-, 3- and 4-byte sequences at the edges of their ranges, U+2028, an emoji.
  const std::string text =
      "caf\xC3\xA9 \xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xEF\xBF\xBF "
      "\xE2\x80\xA8 \xF0\x90\x80\x80 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xE4\xBD\xA0\xE5\xA5\xBD";
  EXPECT_EQ(Escaped(text), "\"" + text + "\"");
  EXPECT_EQ(ParseBack(Escaped(text)), text);
}

TEST(AppendJsonStringTest, InvalidUtf8BecomesReplacementCharacters) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  // Expected per the Unicode standard's "maximal subpart" practice (chapter 3, table 3-8).
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a\x80z", "a" + r + "z"},             // Lone continuation byte.
      {"\xC0\xAF", r + r},                   // Overlong: C0 is never valid.
      {"\xC1\xBF", r + r},                   // Overlong.
      {"\xE0\x80\xAF", r + r + r},           // Overlong 3-byte.
      {"\xED\xA0\x80", r + r + r},           // Surrogate D800.
      {"\xF4\x90\x80\x80", r + r + r + r},   // Above U+10FFFF.
      {"\xF5\x80", r + r},                   // F5 is never valid.
      {"\xFF", r},                           //
      {"x\xE2\x82", "x" + r},                // Truncated at the end.
      {"\xE2\x82z", r + "z"},                // Truncated before ASCII.
      {"\xF0\x9F\x98\"", r + "\""},          // Truncated 4-byte before a quote.
      {"\xF0\x9F\xC3\xA9", r + "\xC3\xA9"},  // Truncated before a valid sequence.
      {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",  // Table 3-8's example.
       "a" + r + r + r + "b" + r + "c" + r + r + "d"},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(ParseBack(Escaped(input)), expected) << Escaped(input);
  }
}

TEST(AppendJsonStringTest, RandomBytesAlwaysGiveValidJson) {
  uint64_t state = 0x1234;  // Fixed seed.
  const auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint8_t>(state >> 56);
  };
  dom::parser parser;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int length = next() % 64;
    for (int i = 0; i < length; ++i) text.push_back(static_cast<char>(next()));
    const std::string literal = Escaped(text);
    std::string_view value;
    ASSERT_EQ(parser.parse(literal).get_string().get(value), simdjson::SUCCESS) << literal;
    // Valid input round-trips exactly; invalid input gets replacements, never loses ASCII.
    if (simdjson::validate_utf8(text.data(), text.size())) {
      EXPECT_EQ(value, text);
    } else {
      EXPECT_THAT(std::string(value), HasSubstr("\xEF\xBF\xBD"));
    }
  }
}

// ---- headers ------------------------------------------------------------------------------

class ResolveHeadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("BENCH_RB_TEST_TOKEN", "s3cr3t-value", 1);
    unsetenv("BENCH_RB_TEST_UNSET");
  }
  void TearDown() override { unsetenv("BENCH_RB_TEST_TOKEN"); }
};

TEST_F(ResolveHeadersTest, ExpandsLowerCasesAndAddsDefaults) {
  const HeaderList headers = {{"Authorization", "Bearer ${env:BENCH_RB_TEST_TOKEN}"},
                              {"X-Trace", "plain"}};
  absl::StatusOr<HeaderList> resolved = ResolveHeaders(headers, /*streaming=*/true);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, (HeaderList{{"authorization", "Bearer s3cr3t-value"},
                                   {"x-trace", "plain"},
                                   {"content-type", "application/json"},
                                   {"accept", "text/event-stream"},
                                   {"accept-encoding", "identity"}}));

  resolved = ResolveHeaders(headers, /*streaming=*/false);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, (HeaderList{{"authorization", "Bearer s3cr3t-value"},
                                   {"x-trace", "plain"},
                                   {"content-type", "application/json"},
                                   {"accept-encoding", "identity"}}));
}

TEST_F(ResolveHeadersTest, KeepsTheUsersContentTypeAndAccept) {
  absl::StatusOr<HeaderList> resolved =
      ResolveHeaders({{"Content-Type", "application/json; charset=utf-8"},
                      {"ACCEPT", "*/*"},
                      {"Accept-Encoding", "br"}},
                     /*streaming=*/true);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, (HeaderList{{"content-type", "application/json; charset=utf-8"},
                                   {"accept", "*/*"},
                                   {"accept-encoding", "br"}}));
}

TEST_F(ResolveHeadersTest, MissingVariableNamesItButNoValue) {
  absl::Status status = ResolveHeaders({{"Authorization", "Bearer ${env:BENCH_RB_TEST_TOKEN}"},
                                        {"X-Api-Key", "prefix-secret-${env:BENCH_RB_TEST_UNSET}"}},
                                       /*streaming=*/true)
                            .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("BENCH_RB_TEST_UNSET"));
  EXPECT_THAT(status.message(), HasSubstr("x-api-key"));
  EXPECT_THAT(status.message(), Not(HasSubstr("prefix-secret")));
  EXPECT_THAT(status.message(), Not(HasSubstr("s3cr3t")));
}

TEST_F(ResolveHeadersTest, RejectsMalformedValuesWithoutShowingThem) {
  absl::Status status =
      ResolveHeaders({{"Authorization", "Bearer hidden-part ${BENCH_RB_TEST_TOKEN}"}}, true)
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("authorization"));
  EXPECT_THAT(status.message(), Not(HasSubstr("hidden-part")));

  setenv("BENCH_RB_TEST_TOKEN", "evil\r\nx-injected: 1", 1);
  status = ResolveHeaders({{"X-Token", "${env:BENCH_RB_TEST_TOKEN}"}}, true).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("x-token"));
  EXPECT_THAT(status.message(), Not(HasSubstr("evil")));

  status = ResolveHeaders({{"", "v"}}, true).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bench::engine
