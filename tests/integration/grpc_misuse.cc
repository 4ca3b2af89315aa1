// A misbehaving gRPC peer of a controller daemon (bench-controller serve --insecure on loopback,
// no token), for tests/integration/grpc_misuse_test.sh. Each case prints the status the daemon
// answered and fails (exit 1) when it is not the right one:
//   unknown-run     GetRun, Cancel, Watch, FetchResults of a run that does not exist: NOT_FOUND
//   missing-fields  Submit without a config: INVALID_ARGUMENT; a worker stream whose first
//                   message is not hello, or whose hello has no worker_id: INVALID_ARGUMENT
//   oversized       a Submit of 65 MiB (the daemon takes 64): RESOURCE_EXHAUSTED
//   never-reads     a worker that sends 20,000 shards of an unknown run (each acknowledged) and
//                   reads nothing: the daemon ends the stream instead of queueing the acks
//   healthy         GetController still answers
// Usage: grpc_misuse HOST:PORT CASE...
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench.grpc.pb.h"
#include "bench.pb.h"
#include "common/rpc_share.h"
#include "grpcpp/grpcpp.h"

namespace {

using bench::v1::BenchmarkService;
using bench::v1::ControllerMessage;
using bench::v1::WorkerLink;
using bench::v1::WorkerMessage;

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return "OTHER";
  }
}

int failures = 0;

void Expect(const std::string& what, const grpc::Status& status,
            std::initializer_list<grpc::StatusCode> wanted) {
  bool ok = false;
  for (const grpc::StatusCode code : wanted) ok = ok || status.error_code() == code;
  std::printf("%-44s %s (%s)%s\n", what.c_str(), CodeName(status.error_code()),
              status.error_message().substr(0, 100).c_str(), ok ? "" : "  <- WRONG");
  if (!ok) ++failures;
}

std::unique_ptr<grpc::ClientContext> Context(int seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

WorkerMessage Hello(const std::string& id) {
  WorkerMessage message;
  bench::v1::Hello* hello = message.mutable_hello();
  hello->set_worker_id(id);
  hello->set_hostname(id);
  hello->set_protocol_version(bench::kProtocolVersion);
  hello->set_engine_threads(1);
  return message;
}

// Writes `first`, closes the sending side and reads until the daemon ends the stream.
grpc::Status StreamAfter(WorkerLink::Stub& stub, const WorkerMessage& first) {
  auto context = Context(10);
  auto stream = stub.Connect(context.get());
  stream->Write(first);
  stream->WritesDone();
  ControllerMessage ignored;
  while (stream->Read(&ignored)) {
  }
  return stream->Finish();
}

void UnknownRun(BenchmarkService::Stub& api) {
  bench::v1::GetRunRequest get;
  get.set_run_id("no-such-run");
  bench::v1::Run run;
  Expect("GetRun of an unknown run", api.GetRun(Context(5).get(), get, &run),
         {grpc::StatusCode::NOT_FOUND});
  bench::v1::CancelRequest cancel;
  cancel.set_run_id("no-such-run");
  bench::v1::CancelResponse cancelled;
  Expect("Cancel of an unknown run", api.Cancel(Context(5).get(), cancel, &cancelled),
         {grpc::StatusCode::NOT_FOUND});
  {
    bench::v1::WatchRequest watch;
    watch.set_run_id("no-such-run");
    auto context = Context(5);
    auto reader = api.Watch(context.get(), watch);
    bench::v1::Progress progress;
    while (reader->Read(&progress)) {
    }
    Expect("Watch of an unknown run", reader->Finish(), {grpc::StatusCode::NOT_FOUND});
  }
  {
    bench::v1::FetchResultsRequest fetch;
    fetch.set_run_id("no-such-run");
    auto context = Context(5);
    auto reader = api.FetchResults(context.get(), fetch);
    bench::v1::ResultFile file;
    while (reader->Read(&file)) {
    }
    Expect("FetchResults of an unknown run", reader->Finish(), {grpc::StatusCode::NOT_FOUND});
  }
}

void MissingFields(BenchmarkService::Stub& api, WorkerLink::Stub& link) {
  bench::v1::SubmitRequest submit;  // no config_yaml
  bench::v1::SubmitResponse response;
  Expect("Submit without a config", api.Submit(Context(5).get(), submit, &response),
         {grpc::StatusCode::INVALID_ARGUMENT});
  WorkerMessage heartbeat;
  heartbeat.mutable_heartbeat()->set_in_flight(1);
  Expect("worker stream without hello", StreamAfter(link, heartbeat),
         {grpc::StatusCode::INVALID_ARGUMENT});
  Expect("hello without a worker_id", StreamAfter(link, Hello("")),
         {grpc::StatusCode::INVALID_ARGUMENT});
  WorkerMessage empty;  // no kind at all
  Expect("a message of no kind", StreamAfter(link, empty), {grpc::StatusCode::INVALID_ARGUMENT});
}

void Oversized(BenchmarkService::Stub& api) {
  bench::v1::SubmitRequest submit;
  submit.set_config_yaml(std::string(65 << 20, '#'));
  bench::v1::SubmitResponse response;
  Expect("Submit of 65 MiB", api.Submit(Context(30).get(), submit, &response),
         {grpc::StatusCode::RESOURCE_EXHAUSTED});
}

void NeverReads(const std::string& address) {
  // A small receive window that does not grow (no BDP probing), as a peer that stopped reading
  // would leave it: the daemon's acknowledgements fill it after a few thousand.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  arguments.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  auto link = WorkerLink::NewStub(channel);
  auto context = Context(60);
  auto stream = link->Connect(context.get());
  stream->Write(Hello("misuse-never-reads"));
  WorkerMessage shard;
  shard.mutable_shard()->set_run_id("no-such-run");
  shard.mutable_shard()->set_worker_id("misuse-never-reads");
  int written = 0;
  for (int i = 1; i <= 20'000; ++i) {
    shard.mutable_shard()->set_sequence(static_cast<uint64_t>(i));
    if (!stream->Write(shard)) break;  // the daemon ended the stream
    ++written;
  }
  stream->WritesDone();
  // Only now read: what the daemon had sent before it gave up, then its status.
  ControllerMessage message;
  int read = 0;
  while (stream->Read(&message)) ++read;
  const grpc::Status status = stream->Finish();
  std::printf("never-reads: wrote %d shards, then read %d acknowledgements\n", written, read);
  // The daemon cancels the call (its writes are stuck behind the full window), so the client
  // sees CANCELLED; RESOURCE_EXHAUSTED when the status got through first.
  Expect("a worker that reads nothing", status,
         {grpc::StatusCode::CANCELLED, grpc::StatusCode::RESOURCE_EXHAUSTED});
  if (read >= 20'000) {
    std::printf("never-reads: every acknowledgement was kept for it  <- WRONG\n");
    ++failures;
  }
}

void Healthy(BenchmarkService::Stub& api) {
  bench::v1::GetControllerRequest request;
  bench::v1::ControllerStatus status;
  Expect("GetController afterwards", api.GetController(Context(5).get(), request, &status),
         {grpc::StatusCode::OK});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: grpc_misuse HOST:PORT CASE...\n");
    return 2;
  }
  const std::string address = argv[1];
  grpc::ChannelArguments arguments;
  arguments.SetMaxSendMessageSize(-1);  // the oversized case must reach the daemon
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments);
  auto api = BenchmarkService::NewStub(channel);
  auto link = WorkerLink::NewStub(channel);
  for (int i = 2; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "unknown-run") {
      UnknownRun(*api);
    } else if (name == "missing-fields") {
      MissingFields(*api, *link);
    } else if (name == "oversized") {
      Oversized(*api);
    } else if (name == "never-reads") {
      NeverReads(address);
    } else if (name == "healthy") {
      Healthy(*api);
    } else {
      std::fprintf(stderr, "grpc_misuse: unknown case %s\n", name.c_str());
      return 2;
    }
  }
  return failures == 0 ? 0 : 1;
}
