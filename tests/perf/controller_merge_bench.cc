// The controller under many workers: starts `bench-controller serve` (the real binary and gRPC
// service), connects N synthetic workers (default 1,000) that answer pings and assignments and
// each send one realistic delta shard a second (7 HdrHistogram V2 encodings, a series point),
// submits a run for all of them and prints the controller process's CPU per second of wall time
// and its RSS while the shards flow. Prints figures, asserts nothing (goal: under 10% of one core).
//   controller_merge_bench BENCH_CONTROLLER [--workers N] [--seconds S] [--no-histograms]
// --no-histograms sends the same shards without their histograms: the difference is the cost of
// decoding and merging them; the rest is gRPC, the kernel and the bookkeeping.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench.grpc.pb.h"
#include "common/rpc_share.h"
#include "common/run_stats.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/subprocess.h"

namespace {

using bench::v1::ControllerMessage;
using bench::v1::WorkerMessage;

// One synthetic worker stream. Writes are queued (one outstanding write at a time).
class FakeWorker final : public grpc::ClientBidiReactor<WorkerMessage, ControllerMessage> {
 public:
  FakeWorker(bench::v1::WorkerLink::Stub* stub, int index, const bench::v1::StageStats* stage)
      : index_(index), stage_(stage) {
    stub->async()->Connect(&context_, this);
    WorkerMessage hello;
    hello.mutable_hello()->set_worker_id(absl::StrCat("fake-", index));
    hello.mutable_hello()->set_hostname(absl::StrCat("fake-", index));
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->set_engine_threads(1);
    Enqueue(std::move(hello));
    StartRead(&incoming_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (incoming_.has_ping()) {
      WorkerMessage pong;
      pong.mutable_pong()->set_nonce(incoming_.ping().nonce());
      pong.mutable_pong()->set_worker_unix_ns(absl::ToUnixNanos(absl::Now()));
      Enqueue(std::move(pong));
    } else if (incoming_.has_assignment()) {
      WorkerMessage ack;
      ack.mutable_assignment_ack()->set_run_id(incoming_.assignment().run_id());
      ack.mutable_assignment_ack()->set_generation(incoming_.assignment().generation());
      ack.mutable_assignment_ack()->set_accepted(true);
      {
        std::lock_guard<std::mutex> lock(mu_);
        run_id_ = incoming_.assignment().run_id();
      }
      Enqueue(std::move(ack));
    } else if (incoming_.has_shard_ack()) {
      acked_.store(incoming_.shard_ack().sequence());
    }
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.pop_front();
    if (ok && !queue_.empty()) StartWrite(&queue_.front());
    if (!ok) queue_.clear();
    writing_ = ok && !queue_.empty();
  }

  void OnDone(const grpc::Status&) override { done_.store(true); }

  // One delta shard for the second that passed.
  void SendShard(int64_t second) {
    std::string run_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      run_id = run_id_;
    }
    if (run_id.empty()) return;
    WorkerMessage message;
    bench::v1::ReportShard* shard = message.mutable_shard();
    shard->set_run_id(run_id);
    shard->set_worker_id(absl::StrCat("fake-", index_));
    shard->set_sequence(++sequence_);
    *shard->add_stages() = *stage_;
    bench::v1::SeriesPoint* point = shard->add_series();
    point->set_index(static_cast<uint32_t>(second));
    point->set_started(20);
    point->set_completed(20);
    point->set_succeeded(20);
    point->set_output_tokens(4000);
    point->set_in_flight(3);
    shard->set_started(static_cast<uint64_t>(20 * (second + 1)));
    Enqueue(std::move(message));
  }

  bool assigned() {
    std::lock_guard<std::mutex> lock(mu_);
    return !run_id_.empty();
  }
  uint64_t acked() const { return acked_.load(); }
  void Cancel() { context_.TryCancel(); }
  bool done() const { return done_.load(); }

 private:
  void Enqueue(WorkerMessage message) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(message));
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  const int index_;
  const bench::v1::StageStats* stage_;
  grpc::ClientContext context_;
  ControllerMessage incoming_;
  std::mutex mu_;
  std::deque<WorkerMessage> queue_;
  bool writing_ = false;
  std::string run_id_;
  uint64_t sequence_ = 0;
  std::atomic<uint64_t> acked_{0};
  std::atomic<bool> done_{false};
};

// utime + stime of `pid`, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double RssMb(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: controller_merge_bench BENCH_CONTROLLER [--workers N] "
                 "[--seconds S]\n");
    return 2;
  }
  int workers = 1000, seconds = 20;
  bool histograms = true;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-histograms") histograms = false;
    if (i + 1 >= argc) continue;
    if (flag == "--workers") (void)absl::SimpleAtoi(argv[++i], &workers);
    if (flag == "--seconds") (void)absl::SimpleAtoi(argv[++i], &seconds);
  }
  char dir_template[] = "/tmp/merge-bench-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string log = dir + "/serve.log";
  auto serve = bench::testing::Subprocess::Start(
      {argv[1], "serve", "--insecure", "--listen", "127.0.0.1:0", "--allow-target", "127.0.0.1/32",
       "--results-dir", dir + "/results", "--lease", "30s"},
      log);
  if (!serve.ok()) {
    std::fprintf(stderr, "cannot start the controller: %s\n", serve.status().ToString().c_str());
    return 1;
  }
  int port = 0;
  for (int attempt = 0; attempt < 200 && port == 0; ++attempt) {
    std::ifstream file(log);
    std::string line;
    while (std::getline(file, line)) {
      const size_t at = line.find("listening on 127.0.0.1:");
      if (at != std::string::npos) {
        (void)absl::SimpleAtoi(line.substr(at + 23, line.find(' ', at + 23) - at - 23), &port);
      }
    }
    if (port == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  if (port == 0) {
    std::fprintf(stderr, "the controller did not say its port\n");
    return 1;
  }
  const std::string address = absl::StrCat("127.0.0.1:", port);

  // A realistic one-second shard of a worker at ~20 requests/s, 200 tokens each.
  bench::StatsShard stats;
  std::mt19937_64 random(1);
  std::normal_distribution<double> ttft(50'000, 5'000), itl(10'000, 1'000), e2e(2'000'000, 200'000);
  for (int r = 0; r < 20; ++r) {
    stats.histogram(bench::LatencyMetric::kTtft).Record(static_cast<int64_t>(ttft(random)));
    stats.histogram(bench::LatencyMetric::kTpot).Record(static_cast<int64_t>(itl(random)));
    stats.histogram(bench::LatencyMetric::kNtpot).Record(static_cast<int64_t>(itl(random)));
    stats.histogram(bench::LatencyMetric::kE2eLatency).Record(static_cast<int64_t>(e2e(random)));
    stats.histogram(bench::LatencyMetric::kE2eFromIntended)
        .Record(static_cast<int64_t>(e2e(random)));
    stats.histogram(bench::LatencyMetric::kScheduleLag).Record(50 + r);
    for (int t = 0; t < 200; ++t) {
      stats.histogram(bench::LatencyMetric::kItl).Record(static_cast<int64_t>(itl(random)));
    }
  }
  stats.requests_sent = stats.succeeded = 20;
  stats.input_tokens = 10'000;
  stats.output_tokens = 4'000;
  bench::v1::StageStats stage;
  bench::ToProto(stats, &stage);
  stage.set_stage_index(0);
  if (!histograms) stage.clear_histograms();
  std::printf("shard: %zu bytes (%s)\n", stage.ByteSizeLong(),
              histograms ? "7 histograms, 4,120 samples" : "counters only, no histograms");

  // Several channels, so the streams spread over connections as pods' would.
  std::vector<std::unique_ptr<bench::v1::WorkerLink::Stub>> stubs;
  for (int c = 0; c < 16; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("bench.channel", c);  // Distinct arguments: a channel (connection) each.
    stubs.push_back(bench::v1::WorkerLink::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
  }
  std::vector<std::unique_ptr<FakeWorker>> fakes;
  for (int i = 0; i < workers; ++i) {
    fakes.push_back(std::make_unique<FakeWorker>(stubs[i % stubs.size()].get(), i, &stage));
  }

  auto api = bench::v1::BenchmarkService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  bench::v1::SubmitRequest submit;
  submit.set_config_yaml(
      absl::StrCat("benchmark: {name: merge-bench, duration: ", seconds + 10,
                   "}\ntarget: {endpoint: 'http://127.0.0.1:9/v1/completions', model: m}\n"
                   "load: {type: poisson, rate: 20000}\ncluster: {workers: ",
                   workers, "}\noutput: {formats: [json]}\n"));
  bench::v1::SubmitResponse submitted;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const grpc::Status status = api->Submit(&context, submit, &submitted);
    if (!status.ok()) {
      std::fprintf(stderr, "submit: %s\n", status.error_message().c_str());
      return 1;
    }
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int assigned = 0;
  while (absl::Now() < deadline) {
    assigned = 0;
    for (auto& fake : fakes) assigned += fake->assigned() ? 1 : 0;
    if (assigned == workers) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::printf("%d of %d workers assigned to run %s\n", assigned, workers,
              submitted.run_id().c_str());

  // One shard a second from every worker, spread evenly over the second.
  const pid_t pid = (*serve)->pid();
  const double cpu_before = CpuSeconds(pid);
  const absl::Time start = absl::Now();
  for (int64_t second = 0; second < seconds; ++second) {
    for (int i = 0; i < workers; ++i) {
      absl::SleepFor(start + absl::Seconds(second) + absl::Seconds(1) * i / workers - absl::Now());
      fakes[i]->SendShard(second);
    }
  }
  absl::SleepFor(start + absl::Seconds(seconds) - absl::Now());
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = CpuSeconds(pid) - cpu_before;
  uint64_t acked = 0;
  for (auto& fake : fakes) acked += fake->acked();
  std::printf(
      "controller: %d workers, %llu of %lld shards acknowledged in %.1f s (%.0f shards/s; "
      "acknowledgements are batched, up to 2 s behind); CPU %.1f%% of one core; RSS %.1f MB\n",
      workers, static_cast<unsigned long long>(acked), static_cast<long long>(workers) * seconds,
      wall, static_cast<double>(acked) / wall, 100.0 * cpu / wall, RssMb(pid));
  for (auto& fake : fakes) fake->Cancel();
  for (int i = 0; i < 100; ++i) {
    bool all_done = true;
    for (auto& fake : fakes) all_done = all_done && fake->done();
    if (all_done) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return 0;
}
