// bench-worker: a load-generating worker. It dials a controller, waits for assignments and
// streams report shards back (SPEC section 5). It opens no listening port.
#include <signal.h>

#include <cstdio>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/allocator.h"
#include "common/logging.h"
#include "common/rpc_credentials.h"
#include "worker/rpc_agent.h"

namespace {

constexpr char kUsage[] =
    "usage: bench-worker --controller HOST:PORT [options]\n"
    "\n"
    "A load-generating worker for llm-d-bench. It dials the controller, keeps one gRPC stream\n"
    "open, runs the share of each benchmark it is assigned and reports histogram shards every\n"
    "interval. It opens no listening port; scale by starting more workers.\n"
    "\n"
    "options:\n"
    "  --controller HOST:PORT  controller address to dial (required)\n"
    "  --threads N             engine threads (default: number of cores); its capacity weight\n"
    "  --name NAME             name shown by the controller (default: the host name)\n"
    "  --token-file PATH       bearer token for the controller (or BENCH_TOKEN in the env)\n"
    "  --ca-file PATH          CA bundle that signed the controller's TLS certificate\n"
    "  --cert-file PATH        client certificate for mTLS (with --key-file)\n"
    "  --key-file PATH         client private key for mTLS\n"
    "  --insecure              plaintext gRPC (development; a token is then only sent to a\n"
    "                          loopback controller)\n"
    "  --record-shards PATH    append every shard sent to PATH (length-prefixed bench.v1\n"
    "                          ReportShard), for checking a controller's merge\n"
    "  --help                  this text\n"
    "\n"
    "Exit codes: 0 stopped by SIGTERM/SIGINT, 2 invalid usage, 6 the controller refused the\n"
    "credentials.\n";

int Usage(const std::string& reason) {
  std::fprintf(stderr, "bench-worker: %s\n\n%s", reason.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by one thread with sigwait, so no handler runs inside gRPC or the engine.
  // Blocked before any thread exists (gRPC starts some), so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  bench::KeepFreedMemoryForReuse();

  std::string controller, name, token_file, ca_file, cert_file, key_file, record_shards;
  int threads = 0;
  bool insecure = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    const size_t eq = arg.find('=');
    bool has_inline = false;
    if (absl::StartsWith(arg, "--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline = true;
    }
    auto take = [&](const char* what) -> bool {
      if (has_inline) return !value.empty();
      if (i + 1 >= argc) return false;
      value = argv[++i];
      (void)what;
      return !value.empty();
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--insecure") {
      insecure = true;
    } else if (arg == "--controller") {
      if (!take("HOST:PORT")) return Usage("--controller needs HOST:PORT");
      controller = value;
    } else if (arg == "--name") {
      if (!take("a name")) return Usage("--name needs a name");
      name = value;
    } else if (arg == "--threads") {
      if (!take("a count") || !absl::SimpleAtoi(value, &threads) || threads < 1 || threads > 1024) {
        return Usage("--threads must be 1..1024, got " + value);
      }
    } else if (arg == "--token-file") {
      if (!take("a path")) return Usage("--token-file needs a path");
      token_file = value;
    } else if (arg == "--ca-file") {
      if (!take("a path")) return Usage("--ca-file needs a path");
      ca_file = value;
    } else if (arg == "--cert-file") {
      if (!take("a path")) return Usage("--cert-file needs a path");
      cert_file = value;
    } else if (arg == "--key-file") {
      if (!take("a path")) return Usage("--key-file needs a path");
      key_file = value;
    } else if (arg == "--record-shards") {
      if (!take("a path")) return Usage("--record-shards needs a path");
      record_shards = value;
    } else {
      return Usage((arg.empty() || arg[0] != '-' ? "unexpected argument " : "unknown flag ") + arg);
    }
  }
  if (controller.empty()) return Usage("--controller HOST:PORT is required");
  if (controller.find(':') == std::string::npos) {
    return Usage("--controller must be HOST:PORT, got " + controller);
  }
  bench::DialOptions dial_options{controller, insecure, ca_file, cert_file, key_file, token_file};
  absl::StatusOr<bench::Dial> dial = bench::MakeDial(dial_options);
  if (!dial.ok()) return Usage(std::string(dial.status().message()));

  bench::worker::AgentOptions options;
  options.name = name;
  options.threads = threads;
  options.token = dial->token;
  options.record_shards_path = record_shards;
  bench::worker::WorkerAgent agent(controller, *dial, options);
  BENCH_LOG(INFO) << "bench-worker " << agent.worker_id() << ": dialing " << controller
                  << (insecure ? " (plaintext)" : " (TLS)");
  agent.Start();
  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    BENCH_LOG(INFO) << "bench-worker: signal " << signal << ", stopping";
    agent.Shutdown();
  });
  signal_thread.detach();
  const int code = agent.Wait();
  agent.Shutdown();
  return code;
}
