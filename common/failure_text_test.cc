#include "common/failure_text.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bench {
namespace {

TEST(FailureTextTest, ExcerptIsOneLineOfPrintableAscii) {
  EXPECT_EQ(PrintableExcerpt("  {\"error\":\n\t\"overloaded\"}\r\n", 100),
            "{\"error\": \"overloaded\"}");
  EXPECT_EQ(PrintableExcerpt("caf\xc3\xa9 \x01\x02 ok", 100), "caf ok");
  EXPECT_EQ(PrintableExcerpt(std::string(300, 'a'), 10), "aaaaaaa...");
  EXPECT_EQ(PrintableExcerpt("", 10), "");
  EXPECT_EQ(PrintableExcerpt("exactly10!", 10), "exactly10!");
}

TEST(FailureTextTest, SecretsAreMasked) {
  const std::vector<std::string> secrets = {"s3cr3t-value-123", "abc"};  // "abc": too short
  std::string text = "invalid key s3cr3t-value-123 (abc), again s3cr3t-value-123";
  MaskSecrets(text, secrets);
  EXPECT_EQ(text, "invalid key <redacted> (abc), again <redacted>");

  text = "header was Authorization: Bearer eyJhbGciOi.x-y_z and more";
  MaskSecrets(text, {});
  EXPECT_EQ(text, "header was Authorization: Bearer <redacted> and more");

  text = "Incorrect API key provided: sk-proj-ABCDEFGH1234. You can find";
  MaskSecrets(text, {});
  EXPECT_EQ(text, "Incorrect API key provided: <redacted>. You can find");
  text = "task-id 12";  // "sk-" inside a word with a short tail: not a key
  MaskSecrets(text, {});
  EXPECT_EQ(text, "task-id 12");

  // A captured body cut inside a secret does not keep its start.
  text = "echo: s3cr3t-val";
  MaskSecrets(text, secrets);
  EXPECT_EQ(text, "echo: <redacted>");
}

}  // namespace
}  // namespace bench
