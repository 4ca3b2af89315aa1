// Bytes/s of decoding a non-streaming (stream: false) completion body: the engine's decoder, fed
// the body in 64 KiB pieces as it arrives (OpenAiBodyDecoder), beside simdjson over the whole
// body (OpenAiDecoder::DecodeResponse, what the engine did before, less the body's copy).
// Bodies: a typical chat completion (200 tokens), and 4 MiB of content in ASCII, in UTF-8
// (CJK), and full of escapes.
// Run: build/tests/perf/openai_body_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "worker/engine/openai_body.h"
#include "worker/engine/openai_stream.h"

namespace bench::engine {
namespace {

std::string Completion(std::string_view content) {
  return "{\"id\":\"chatcmpl-8f3c2a1b9d4e4f6a8b7c6d5e4f3a2b1c\",\"object\":\"chat.completion\","
         "\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{"
         "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" +
         std::string(content) +
         "\",\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":\"length\","
         "\"stop_reason\":null}],\"usage\":{\"prompt_tokens\":512,\"total_tokens\":712,"
         "\"completion_tokens\":200,\"prompt_tokens_details\":null},\"prompt_logprobs\":null}";
}

std::string Repeat(std::string_view piece, size_t bytes) {
  std::string out;
  while (out.size() < bytes) out += piece;
  return out;
}

std::string Body(int kind) {
  switch (kind) {
    case 0:
      return Completion(Repeat(" the model writes one word per token, and more.", 1200));
    case 1:
      return Completion(Repeat(" the model writes one word per token, and more.", 4 << 20));
    case 2:
      return Completion(
          Repeat("\xe6\xa8\xa1\xe5\x9e\x8b\xe6\xaf\x8f\xe6\xac\xa1\xe5\x86\x99 ", 4 << 20));
    default:
      return Completion(Repeat("line \\\"quoted\\\" caf\\u00e9\\n", 4 << 20));
  }
}

const char* const kKinds[] = {"chat 1.2 KB", "ASCII 4 MiB", "UTF-8 4 MiB", "escapes 4 MiB"};

void BM_Streaming(benchmark::State& state) {
  const std::string body = Body(static_cast<int>(state.range(0)));
  OpenAiBodyDecoder decoder;
  OpenAiPayload payload;
  constexpr size_t kPiece = 64 << 10;
  for (auto _ : state) {
    decoder.Reset(&payload);
    for (size_t at = 0; at < body.size(); at += kPiece) {
      (void)decoder.Feed(std::string_view(body).substr(at, kPiece));
    }
    if (!decoder.Finish().ok()) state.SkipWithError("does not decode");
    benchmark::DoNotOptimize(payload.output_bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetLabel(kKinds[state.range(0)]);
}
BENCHMARK(BM_Streaming)->DenseRange(0, 3);

void BM_SimdjsonWhole(benchmark::State& state) {
  const std::string body = Body(static_cast<int>(state.range(0)));
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  for (auto _ : state) {
    if (!decoder.DecodeResponse(body, payload).ok()) state.SkipWithError("does not decode");
    benchmark::DoNotOptimize(payload.output_bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetLabel(kKinds[state.range(0)]);
}
BENCHMARK(BM_SimdjsonWhole)->DenseRange(0, 3);

}  // namespace
}  // namespace bench::engine

BENCHMARK_MAIN();
