// bench-sim: an OpenAI-compatible LLM server simulator with a vLLM-like latency and capacity
// model (SPEC section 9, sim/README.md). Runs until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/logging.h"
#include "sim/server.h"
#include "sim/sim_config.h"

namespace {

constexpr char kUsage[] =
    "usage: bench-sim [--config sim.yaml] [options]\n"
    "\n"
    "An OpenAI-compatible LLM server simulator (/v1/chat/completions, /v1/completions,\n"
    "/v1/models, /health, /metrics) over HTTP/1.1 and h2c on one port, TLS optional (ALPN h2,\n"
    "http/1.1). Streams tokens as vLLM does (SSE chat.completion.chunk / text_completion\n"
    "events, usage chunk, data: [DONE]) on a precise schedule. See sim/README.md.\n"
    "\n"
    "Every option is also a key of the --config YAML file (same name, e.g. `max-num-seqs: 8`;\n"
    "lists for listen and failure-kinds). Flags override the file. DURATION is e.g. 50ms,\n"
    "1.5s, 200us.\n"
    "\n"
    "server:\n"
    "  --listen HOST:PORT        address to listen on; repeatable (default 0.0.0.0:8000). Port 0\n"
    "                            picks a free port; a line 'bench-sim listening on ADDR:PORT'\n"
    "                            per address says which. IPv6 as [::1]:8000.\n"
    "  --threads N               event-loop threads sharing the ports (SO_REUSEPORT; default 1)\n"
    "  --tls-cert PATH           serve TLS with this PEM certificate chain (ALPN h2, http/1.1)\n"
    "  --tls-key PATH            the certificate's PEM private key\n"
    "  --max-body-bytes N        larger request bodies get 413 (default 8388608)\n"
    "  --header-timeout DUR      a request must arrive whole this soon after its first byte,\n"
    "                            TLS handshake included, or the connection closes (default 10s)\n"
    "  --idle-timeout DUR        a connection with nothing in flight closes after this long\n"
    "                            without a byte (default 120s)\n"
    "  --max-connections N       connections beyond N (all threads) are closed as accepted, with\n"
    "                            a warning (default 20000)\n"
    "  --max-buffered-bytes N    requests not yet whole may hold N bytes over all connections;\n"
    "                            the connection whose read goes beyond is closed, with a\n"
    "                            warning (default 268435456)\n"
    "\n"
    "model:\n"
    "  --model NAME              model name served; others get 404 (default sim-model)\n"
    "  --mode random|echo        output words: seeded random words, or the prompt's tokens\n"
    "                            (the last message for chat) repeated (default random)\n"
    "  --seed N                  seed of output lengths, words and jitter (default 0); the same\n"
    "                            request body gives the same output\n"
    "  --max-model-len N         prompt + output tokens limit; longer prompts get 400\n"
    "                            (default 8192)\n"
    "\n"
    "latency (TTFT = queue wait + prefill; token i is due ITL after token i-1, on schedule):\n"
    "  --ttft DURATION           fixed prefill time, replacing the prefill model below\n"
    "  --prefill-overhead DUR    fixed prefill cost per request (default 0)\n"
    "  --prefill-per-token DUR   prefill cost per uncached prompt token (default 0)\n"
    "  --itl DURATION            inter-token latency (default 0)\n"
    "  --itl-jitter DURATION     uniform jitter of each gap in +-DURATION, <= --itl (default 0)\n"
    "  --itl-slowdown F          ITL grows by F x itl per running sequence beyond the first\n"
    "                            (default 0)\n"
    "  --tick DURATION           the sim's clock: tokens due within one tick are sent together\n"
    "                            at its end, one write per connection, as a server's decode\n"
    "                            step emits them; up to one tick late, never early, and\n"
    "                            counted in bench_sim:token_lateness_seconds. 0: each at its\n"
    "                            own time (default 250us, at most 1ms)\n"
    "\n"
    "capacity (continuous batching):\n"
    "  --max-num-seqs N          sequences running at once (default 256)\n"
    "  --max-queue N             requests waiting for a slot; beyond it 429 (default 1024)\n"
    "\n"
    "prefix cache (cached prompt blocks skip prefill; usage reports cached_tokens):\n"
    "  --kv-cache-blocks N       capacity in blocks, least recently used evicted (default 0:\n"
    "                            no cache)\n"
    "  --block-size N            tokens per block; prompts are hashed in full blocks with\n"
    "                            chained hashes (default 16)\n"
    "\n"
    "disaggregated prefill/decode (TTFT = prefill wait + prefill + KV transfer + decode wait;\n"
    "ITL slowdown counts decoding sequences only):\n"
    "  --disagg true|false       split prefill and decode capacity (default false)\n"
    "  --prefill-max-num-seqs N  prefill slots (default --max-num-seqs); new requests queue for\n"
    "                            them in --max-queue; decode keeps --max-num-seqs (needs\n"
    "                            --disagg true)\n"
    "  --kv-transfer-latency DUR fixed KV transfer time per request (default 0)\n"
    "  --kv-transfer-per-token DUR\n"
    "                            KV transfer time per prompt token (default 0)\n"
    "  The KV transfer settings work without --disagg too: a request with llm-d's\n"
    "  kv_transfer_params.do_remote_prefill waits the transfer instead of its prefill (and\n"
    "  instead of --ttft); one with do_remote_decode is prefilled and answered with one token,\n"
    "  finish_reason remote_decode and kv_transfer_params for the decode side.\n"
    "\n"
    "failure injection (counted per kind in bench_sim:injected_failures_total):\n"
    "  --failure-rate R          share of requests that fail on purpose, 0..1 (default 0)\n"
    "  --failure-kinds LIST      kinds to draw from, uniformly (default: all):\n"
    "                            429, 500, 503   answered at once with that status\n"
    "                            reset           TCP reset after half the tokens\n"
    "                            truncate        clean end after half the tokens, no [DONE]\n"
    "                            rst_stream      HTTP/2 RST_STREAM (a reset over HTTP/1.1)\n"
    "                            goaway          HTTP/2 GOAWAY + close (a reset over HTTP/1.1)\n"
    "                            stall           no bytes for --failure-stall, then go on\n"
    "  --failure-stall DURATION  length of a stall (default 10s)\n"
    "                            A request header 'x-sim-failure: KIND' (or 'none') forces a\n"
    "                            kind for that request whatever the rate.\n"
    "\n"
    "  --config PATH             YAML file with any of the settings above\n"
    "  --help                    this text\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto command_line = bench::sim::ParseCommandLine(args);
  if (!command_line.ok()) {
    std::fprintf(stderr, "bench-sim: %s\n(bench-sim --help lists the options)\n",
                 std::string(command_line.status().message()).c_str());
    return 2;
  }
  if (command_line->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }

  // Signals are taken by sigwait() below: block them before any thread starts, so every worker
  // inherits the mask. A peer that closes early must not kill us with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = bench::sim::SimServer::Create(command_line->config);
  if (!server.ok()) {
    std::fprintf(stderr, "bench-sim: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  (*server)->Start();
  for (const auto& address : (*server)->addresses()) {
    BENCH_LOG(INFO) << "bench-sim listening on " << address.Describe();
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  BENCH_LOG(INFO) << "bench-sim: signal " << signal_number << ", stopping";
  (*server)->Stop();
  return 0;
}
