// Events/s and ns per event of SSE parsing plus OpenAI chunk decoding, the per-token work of the
// engine, on a typical vLLM chat stream (about 200 content chunks) fed as frames arrive.
// Run: build/tests/perf/sse_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

#include "worker/engine/openai_stream.h"
#include "worker/engine/sse_parser.h"

namespace bench::engine {
namespace {

constexpr int kContentEvents = 200;

std::string Chunk(std::string_view delta, std::string_view finish_reason) {
  return "data: {\"id\":\"chatcmpl-8f3c2a1b9d4e4f6a8b7c6d5e4f3a2b1c\",\"object\":"
         "\"chat.completion.chunk\",\"created\":1718000000,\"model\":"
         "\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[{\"index\":0,\"delta\":" +
         std::string(delta) + ",\"logprobs\":null,\"finish_reason\":" + std::string(finish_reason) +
         "}]}\n\n";
}

// One string per event, as each arrives in its own DATA frame or HTTP/1.1 chunk.
std::vector<std::string> VllmChatStream() {
  static const char* const kWords[] = {" the", " model", " writes", " one", " word",
                                       " per", " token", ",",       " and", " more."};
  std::vector<std::string> events;
  events.push_back(Chunk(R"({"role":"assistant","content":""})", "null"));
  for (int i = 0; i < kContentEvents; ++i) {
    events.push_back(Chunk(std::string(R"({"content":")") + kWords[i % 10] + "\"}", "null"));
  }
  events.push_back(Chunk(R"({"content":""})", "\"stop\""));
  events.push_back(
      "data: {\"id\":\"chatcmpl-8f3c2a1b9d4e4f6a8b7c6d5e4f3a2b1c\",\"object\":"
      "\"chat.completion.chunk\",\"created\":1718000000,\"model\":"
      "\"meta-llama/Llama-3.1-8B-Instruct\",\"choices\":[],\"usage\":{\"prompt_tokens\":512,"
      "\"total_tokens\":712,\"completion_tokens\":200}}\n\n");
  events.push_back("data: [DONE]\n\n");
  return events;
}

std::string Concatenate(const std::vector<std::string>& events) {
  std::string all;
  for (const auto& e : events) all += e;
  return all;
}

void ReportEvents(benchmark::State& state, size_t events_per_iteration) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events_per_iteration));
  state.counters["ns_per_event"] =
      benchmark::Counter(static_cast<double>(state.iterations() * events_per_iteration),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The engine's path: one Feed per frame, every event decoded.
void BM_ParseAndDecode_EventPerFeed(benchmark::State& state) {
  const std::vector<std::string> events = VllmChatStream();
  SseParser parser;
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  int64_t chunks = 0;
  for (auto _ : state) {
    parser.Reset();
    for (const std::string& frame : events) {
      const absl::Status status = parser.Feed(frame, [&](const SseEvent& e) {
        if (decoder.DecodeStreamEvent(e.data, payload).ok() && payload.has_output) ++chunks;
      });
      if (!status.ok()) state.SkipWithError("parse failed");
    }
  }
  benchmark::DoNotOptimize(chunks);
  if (chunks != static_cast<int64_t>(state.iterations()) * kContentEvents) {
    state.SkipWithError("wrong chunk count");
  }
  ReportEvents(state, events.size());
}
BENCHMARK(BM_ParseAndDecode_EventPerFeed);

// The whole response in one buffer (a fast server that batches frames).
void BM_ParseAndDecode_WholeStream(benchmark::State& state) {
  const std::vector<std::string> events = VllmChatStream();
  const std::string all = Concatenate(events);
  SseParser parser;
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  int64_t chunks = 0;
  for (auto _ : state) {
    parser.Reset();
    const absl::Status status = parser.Feed(all, [&](const SseEvent& e) {
      if (decoder.DecodeStreamEvent(e.data, payload).ok() && payload.has_output) ++chunks;
    });
    if (!status.ok()) state.SkipWithError("parse failed");
  }
  benchmark::DoNotOptimize(chunks);
  ReportEvents(state, events.size());
}
BENCHMARK(BM_ParseAndDecode_WholeStream);

// Frames cut at arbitrary points (TLS records, small reads): partial lines are copied.
void BM_ParseAndDecode_UnalignedPieces(benchmark::State& state) {
  const std::vector<std::string> events = VllmChatStream();
  const std::string all = Concatenate(events);
  const size_t piece = static_cast<size_t>(state.range(0));
  SseParser parser;
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  int64_t chunks = 0;
  for (auto _ : state) {
    parser.Reset();
    for (size_t pos = 0; pos < all.size(); pos += piece) {
      const absl::Status status =
          parser.Feed(std::string_view(all).substr(pos, piece), [&](const SseEvent& e) {
            if (decoder.DecodeStreamEvent(e.data, payload).ok() && payload.has_output) ++chunks;
          });
      if (!status.ok()) state.SkipWithError("parse failed");
    }
  }
  benchmark::DoNotOptimize(chunks);
  ReportEvents(state, events.size());
}
BENCHMARK(BM_ParseAndDecode_UnalignedPieces)->Arg(100)->Arg(1000);

// The two halves on their own.
void BM_ParseOnly_EventPerFeed(benchmark::State& state) {
  const std::vector<std::string> events = VllmChatStream();
  SseParser parser;
  size_t data_bytes = 0;
  for (auto _ : state) {
    parser.Reset();
    for (const std::string& frame : events) {
      const absl::Status status =
          parser.Feed(frame, [&](const SseEvent& e) { data_bytes += e.data.size(); });
      if (!status.ok()) state.SkipWithError("parse failed");
    }
  }
  benchmark::DoNotOptimize(data_bytes);
  ReportEvents(state, events.size());
}
BENCHMARK(BM_ParseOnly_EventPerFeed);

void BM_DecodeOnly(benchmark::State& state) {
  const std::vector<std::string> events = VllmChatStream();
  std::vector<std::string_view> data;
  data.reserve(events.size());
  for (const std::string& e : events) {
    data.push_back(std::string_view(e).substr(6, e.size() - 8));  // Drop "data: " and "\n\n".
  }
  OpenAiDecoder decoder;
  OpenAiPayload payload;
  int64_t chunks = 0;
  for (auto _ : state) {
    for (std::string_view d : data) {
      if (decoder.DecodeStreamEvent(d, payload).ok() && payload.has_output) ++chunks;
    }
  }
  benchmark::DoNotOptimize(chunks);
  ReportEvents(state, events.size());
}
BENCHMARK(BM_DecodeOnly);

}  // namespace
}  // namespace bench::engine

BENCHMARK_MAIN();
