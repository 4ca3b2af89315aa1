// `bench-controller serve`: the controller daemon. Workers dial its WorkerLink service, clients
// its BenchmarkService (submit, watch, status, list, cancel, fetch), both on one gRPC port that
// is closed by default: TLS plus a bearer token (or mTLS), and a target allow-list that denies
// everything until it is given (SPEC section 8).
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/allocator.h"
#include "common/allow_list.h"
#include "common/duration.h"
#include "common/logging.h"
#include "common/rpc_credentials.h"
#include "controller/cli_flags.h"
#include "controller/commands.h"
#include "controller/coordinator.h"
#include "controller/http_endpoint.h"
#include "controller/metrics_exporter.h"
#include "controller/results.h"
#include "controller/rpc_services.h"
#include "grpcpp/grpcpp.h"

namespace bench::controller {
namespace {

constexpr char kUsage[] =
    "usage: bench-controller serve [options]\n"
    "\n"
    "Runs the controller daemon: bench-worker processes dial it, `bench-controller submit`\n"
    "queues runs on it. One run at a time; the others wait in the queue.\n"
    "  --listen HOST:PORT        gRPC address (default 0.0.0.0:7070; port 0 picks one and the\n"
    "                            log says which)\n"
    "  --tls-cert PATH           server certificate (PEM); required unless --insecure\n"
    "  --tls-key PATH            its private key\n"
    "  --client-ca PATH          require client certificates signed by this CA (mTLS)\n"
    "  --token-file PATH         bearer token every RPC must carry (or BENCH_TOKEN in the env)\n"
    "  --insecure                plaintext gRPC for local development: loopback only, warned\n"
    "  --allow-target CIDR|HOST  targets runs may send to (repeatable); none: every target is\n"
    "                            denied\n"
    "  --results-dir DIR         where run results are written (default results)\n"
    "  --lease D                 a worker unheard of for this long is lost (default 5s)\n"
    "  --max-rate R              per-run caps: requests/s, in-flight requests, warmup +\n"
    "  --max-concurrency N       duration, workers (default: none)\n"
    "  --max-duration D\n"
    "  --max-workers N\n"
    "  --metrics-listen HOST:PORT  plain HTTP for Prometheus and probes: /metrics, /healthz,\n"
    "                            /readyz (default: off; port 0 picks one and the log says which)\n";

int UsageError(const std::string& reason) {
  std::fprintf(stderr, "bench-controller serve: %s\n\n%s", reason.c_str(), kUsage);
  return kExitUsage;
}

}  // namespace

int RunServeCommand(const std::vector<std::string>& args) {
  // SIGINT/SIGTERM are taken by sigwait below; blocked before any thread exists (gRPC starts
  // some), so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  KeepFreedMemoryForReuse();

  std::string listen = "0.0.0.0:7070";
  bool listen_given = false;
  std::string tls_cert, tls_key, client_ca, token_file;
  bool insecure = false;
  std::string metrics_listen;  // empty: no HTTP endpoint
  CoordinatorOptions options;
  options.results_dir = "results";
  options.recover_runs = true;
  options.enforce_allow_list = true;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::optional<std::string> value;
    auto need = [&](const char* what) -> bool {
      if (value.has_value() && !value->empty()) return true;
      UsageError(absl::StrCat(arg, " needs ", what));
      return false;
    };
    auto duration = [&](absl::Duration* out) -> bool {
      absl::StatusOr<absl::Duration> parsed = ParseDuration(*value);
      if (!parsed.ok() || *parsed <= absl::ZeroDuration()) {
        UsageError(absl::StrCat(arg, " must be a positive duration (30s, 5m), got ", *value));
        return false;
      }
      *out = *parsed;
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (arg == "--insecure") {
      insecure = true;
    } else if (MatchFlag(args, &i, "--listen", &value)) {
      if (!need("HOST:PORT")) return kExitUsage;
      listen = *value;
      listen_given = true;
    } else if (MatchFlag(args, &i, "--tls-cert", &value)) {
      if (!need("a path")) return kExitUsage;
      tls_cert = *value;
    } else if (MatchFlag(args, &i, "--tls-key", &value)) {
      if (!need("a path")) return kExitUsage;
      tls_key = *value;
    } else if (MatchFlag(args, &i, "--client-ca", &value)) {
      if (!need("a path")) return kExitUsage;
      client_ca = *value;
    } else if (MatchFlag(args, &i, "--token-file", &value)) {
      if (!need("a path")) return kExitUsage;
      token_file = *value;
    } else if (MatchFlag(args, &i, "--allow-target", &value)) {
      if (!need("a CIDR block or host")) return kExitUsage;
      options.allowed_targets.push_back(*value);
    } else if (MatchFlag(args, &i, "--results-dir", &value)) {
      if (!need("a directory")) return kExitUsage;
      options.results_dir = *value;
    } else if (MatchFlag(args, &i, "--lease", &value)) {
      if (!need("a duration") || !duration(&options.lease)) return kExitUsage;
    } else if (MatchFlag(args, &i, "--max-duration", &value)) {
      if (!need("a duration") || !duration(&options.caps.max_duration)) return kExitUsage;
    } else if (MatchFlag(args, &i, "--max-rate", &value)) {
      if (!need("requests/s") || !absl::SimpleAtod(*value, &options.caps.max_rate) ||
          !(options.caps.max_rate > 0)) {
        return UsageError("--max-rate must be > 0, got " + value.value_or(""));
      }
    } else if (MatchFlag(args, &i, "--max-concurrency", &value)) {
      if (!need("a count") || !absl::SimpleAtoi(*value, &options.caps.max_concurrency) ||
          options.caps.max_concurrency < 1) {
        return UsageError("--max-concurrency must be >= 1, got " + value.value_or(""));
      }
    } else if (MatchFlag(args, &i, "--max-workers", &value)) {
      if (!need("a count") || !absl::SimpleAtoi(*value, &options.caps.max_workers) ||
          options.caps.max_workers < 1) {
        return UsageError("--max-workers must be >= 1, got " + value.value_or(""));
      }
    } else if (MatchFlag(args, &i, "--metrics-listen", &value)) {
      if (!need("HOST:PORT")) return kExitUsage;
      if (absl::Status parsed = ParseListenAddress(*value, "--metrics-listen").status();
          !parsed.ok()) {
        return UsageError(std::string(parsed.message()));
      }
      metrics_listen = *value;
    } else {
      return UsageError(arg.empty() || arg[0] != '-' ? "unexpected argument " + arg
                                                     : "unknown flag " + arg);
    }
  }
  if (absl::Status list = TargetAllowList::Parse(options.allowed_targets).status(); !list.ok()) {
    return UsageError(std::string(list.message()));
  }
  {
    BenchmarkConfig probe;
    probe.output.dir = options.results_dir;
    if (absl::Status writable = CheckResultsWritable(probe); !writable.ok()) {
      // The message names output.dir, which is this flag here.
      std::string message(writable.message());
      if (message.rfind("output.dir: ", 0) == 0) message = message.substr(12);
      return UsageError("--results-dir: " + message);
    }
  }
  std::string token;
  if (!token_file.empty()) {
    absl::StatusOr<std::string> read = ReadWholeFile(token_file, "--token-file");
    if (!read.ok()) return UsageError(std::string(read.status().message()));
    token = std::string(absl::StripAsciiWhitespace(*read));
    if (token.empty()) return UsageError("--token-file " + token_file + " is empty");
  } else if (const char* env = std::getenv("BENCH_TOKEN"); env != nullptr && *env != '\0') {
    token = std::string(absl::StripAsciiWhitespace(env));
  }

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (insecure) {
    if (!tls_cert.empty() || !client_ca.empty()) {
      return UsageError("--insecure turns TLS off: drop --tls-cert, --tls-key and --client-ca");
    }
    if (!listen_given) listen = "127.0.0.1:7070";
    if (!IsLoopbackAddress(listen)) {
      return UsageError("--insecure binds loopback only (127.0.0.1, ::1, localhost), got " +
                        listen);
    }
    credentials = grpc::InsecureServerCredentials();
  } else {
    if (tls_cert.empty() || tls_key.empty()) {
      return UsageError(
          "TLS is required: give --tls-cert and --tls-key (or --insecure for a loopback-only "
          "development controller)");
    }
    if (token.empty() && client_ca.empty()) {
      return UsageError(
          "give --token-file (or BENCH_TOKEN) or --client-ca: every RPC must be "
          "authenticated");
    }
    grpc::SslServerCredentialsOptions ssl(
        client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    absl::StatusOr<std::string> cert = ReadWholeFile(tls_cert, "--tls-cert");
    absl::StatusOr<std::string> key = ReadWholeFile(tls_key, "--tls-key");
    if (!cert.ok()) return UsageError(std::string(cert.status().message()));
    if (!key.ok()) return UsageError(std::string(key.status().message()));
    pair.cert_chain = *cert;
    pair.private_key = *key;
    ssl.pem_key_cert_pairs.push_back(pair);
    if (!client_ca.empty()) {
      absl::StatusOr<std::string> ca = ReadWholeFile(client_ca, "--client-ca");
      if (!ca.ok()) return UsageError(std::string(ca.status().message()));
      ssl.pem_root_certs = *ca;
    }
    credentials = grpc::SslServerCredentials(ssl);
  }
  if (insecure) {
    BENCH_LOG(WARNING) << "serve: --insecure: plaintext gRPC on " << listen
                       << (token.empty() ? " without a token" : " (the token is still checked)")
                       << "; for local development only";
  }
  if (options.allowed_targets.empty()) {
    BENCH_LOG(WARNING) << "serve: no --allow-target: every run will be denied";
  }

  Coordinator coordinator(options);
  coordinator.Start();
  const TokenCheck tokens(token);
  std::unique_ptr<grpc::Service> link = MakeWorkerLinkService(coordinator, tokens);
  std::unique_ptr<grpc::Service> api = MakeBenchmarkService(coordinator, tokens);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, credentials, &port);
  builder.RegisterService(link.get());
  builder.RegisterService(api.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  // Accept the workers' keepalive pings (every 20 s, also between calls).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Worker streams carry small messages at a steady pace: bandwidth-delay probing only adds
  // PING frames (a write each) to every connection.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "bench-controller serve: cannot listen on %s\n", listen.c_str());
    return kExitRunFailed;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  BENCH_LOG(INFO) << "serve: listening on " << host << ":" << port << " ("
                  << (insecure            ? "plaintext"
                      : client_ca.empty() ? "TLS"
                                          : "mTLS")
                  << (token.empty() ? "" : ", token") << "); results in " << options.results_dir;
  // After the gRPC port, so its line comes first in the log. Declared after the coordinator:
  // the endpoint's routes use the exporter, which uses the coordinator.
  MetricsExporter exporter(coordinator);
  HttpEndpoint metrics_endpoint;
  if (!metrics_listen.empty()) {
    exporter.AddRoutes(metrics_endpoint);
    if (absl::Status started = metrics_endpoint.Start(metrics_listen); !started.ok()) {
      std::fprintf(stderr, "bench-controller serve: --metrics-listen: %s\n",
                   std::string(started.message()).c_str());
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      return kExitRunFailed;
    }
    BENCH_LOG(INFO) << "metrics: listening on "
                    << metrics_listen.substr(0, metrics_listen.rfind(':')) << ":"
                    << metrics_endpoint.port() << " (/metrics, /healthz, /readyz)";
  }
  int signal = 0;
  sigwait(&signals, &signal);
  BENCH_LOG(INFO) << "serve: signal " << signal << ", shutting down";
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  metrics_endpoint.Stop();
  return kExitOk;
}

}  // namespace bench::controller
