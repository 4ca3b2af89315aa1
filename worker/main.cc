// bench-worker: a load-generating worker. It dials a controller, waits for assignments and
// streams report shards back (SPEC section 5). The engine and the controller link are being
// built; today the binary documents its interface.
#include <cstdio>
#include <cstring>

namespace {

constexpr char kUsage[] =
    "usage: bench-worker --controller HOST:PORT [options]\n"
    "\n"
    "A load-generating worker for llm-d-bench. It dials the controller, keeps one gRPC stream\n"
    "open, runs the load it is assigned and reports histogram shards every second.\n"
    "\n"
    "options:\n"
    "  --controller HOST:PORT  controller address to dial (required)\n"
    "  --threads N             engine threads (default: number of cores)\n"
    "  --token-file PATH       bearer token for the controller\n"
    "  --ca-file PATH          CA bundle to verify the controller's TLS certificate\n"
    "  --insecure              plaintext to a loopback controller (development only)\n"
    "  --help                  this text\n"
    "\n"
    "status: the engine and controller link are not implemented yet; only --help works.\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  std::fputs(kUsage, stderr);
  std::fputs("bench-worker: not implemented yet\n", stderr);
  return 2;
}
