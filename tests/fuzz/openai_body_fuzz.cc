// Fuzzes the non-streaming body decoder differentially: the input fed whole, byte by byte and in
// pieces of a size taken from its first byte must give the same status and payload, and the
// same as simdjson's whole-document decoder (OpenAiDecoder::DecodeResponse) wherever both
// accept it; both must accept and refuse the same bodies.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "worker/engine/openai_body.h"
#include "worker/engine/openai_stream.h"

namespace {

using bench::engine::OpenAiBodyDecoder;
using bench::engine::OpenAiDecoder;
using bench::engine::OpenAiPayload;

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "openai_body_fuzz: %s\n", what);
  std::abort();
}

struct Result {
  bool ok = false;
  OpenAiPayload payload;
  std::string content;
};

Result Streamed(std::string_view body, size_t piece) {
  static OpenAiBodyDecoder* decoder = new OpenAiBodyDecoder;  // reused, as the engine does
  Result result;
  result.payload.content_sink = &result.content;
  decoder->Reset(&result.payload);
  bool ok = true;
  for (size_t at = 0; at < body.size() && ok; at += piece)
    ok = decoder->Feed(body.substr(at, piece)).ok();
  result.ok = ok && decoder->Finish().ok();
  result.payload.content_sink = nullptr;
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const size_t piece = size == 0 ? 1 : 1 + data[0] % 16;
  const Result whole = Streamed(body, body.empty() ? 1 : body.size());
  const Result bytes = Streamed(body, 1);
  const Result pieces = Streamed(body, piece);
  Require(whole.ok == bytes.ok && whole.ok == pieces.ok, "status depends on how the body was cut");
  Require(whole.payload == bytes.payload && whole.payload == pieces.payload,
          "payload depends on how the body was cut");
  Require(whole.content == bytes.content && whole.content == pieces.content,
          "content depends on how the body was cut");

  static OpenAiDecoder* reference = new OpenAiDecoder;
  Result expected;
  expected.payload.content_sink = &expected.content;
  expected.ok = reference->DecodeResponse(body, expected.payload).ok();
  expected.payload.content_sink = nullptr;
  Require(whole.ok == expected.ok, "accepted by one decoder and refused by the other");
  if (whole.ok) {
    // Kept strings are cut at kMaxKeptStringBytes: compare only bodies that keep none longer.
    const bool cut = body.size() > OpenAiBodyDecoder::kMaxKeptStringBytes;
    Require(cut || whole.payload == expected.payload, "a payload unlike simdjson's");
    Require(whole.content == expected.content, "content unlike simdjson's");
  }
  return 0;
}
