// bench-sim: an OpenAI-compatible LLM server simulator with a vLLM-like latency and prefix-cache
// model (SPEC section 9). Being built; today the binary documents its interface.
#include <cstdio>
#include <cstring>

namespace {

constexpr char kUsage[] =
    "usage: bench-sim [--config sim.yaml] [options]\n"
    "\n"
    "An OpenAI-compatible LLM server simulator (/v1/chat/completions, /v1/completions,\n"
    "/v1/models, /health, /metrics) over HTTP/1.1 and h2c on one port, TLS optional.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT        address to listen on (repeatable; port 0 picks a free port)\n"
    "  --model NAME              model name served\n"
    "  --ttft DURATION           fixed time to first token (overrides the prefill model)\n"
    "  --itl DURATION            inter-token latency\n"
    "  --prefill-overhead DUR    fixed prefill cost per request\n"
    "  --prefill-per-token DUR   prefill cost per uncached prompt token\n"
    "  --max-num-seqs N          sequences decoded at once (continuous batching)\n"
    "  --max-queue N             waiting queue length; 429 when full\n"
    "  --kv-cache-blocks N       prefix cache capacity in blocks (LRU)\n"
    "  --block-size N            tokens per cache block (default 16)\n"
    "  --failure-rate R          share of requests that fail on purpose\n"
    "  --failure-kinds LIST      429,500,503,reset,truncate,rst_stream,goaway,stall\n"
    "  --seed N                  seed for outputs, jitter and failures\n"
    "  --tls-cert PATH           serve TLS with this certificate (ALPN h2, http/1.1)\n"
    "  --tls-key PATH            the certificate's key\n"
    "  --threads N               event-loop threads\n"
    "  --help                    this text\n"
    "\n"
    "status: the server is not implemented yet; only --help works.\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  std::fputs(kUsage, stderr);
  std::fputs("bench-sim: not implemented yet\n", stderr);
  return 2;
}
