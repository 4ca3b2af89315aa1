#include "sim/sim_worker.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <utility>

#include "common/check.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "sim/generation.h"
#include "sim/server_connection.h"

namespace bench::sim {

absl::StatusOr<std::unique_ptr<SimWorker>> SimWorker::Create(SimShared& shared, int index) {
  std::unique_ptr<SimWorker> worker(new SimWorker(shared, index));
  BENCH_RETURN_IF_ERROR(worker->Init());
  return worker;
}

SimWorker::SimWorker(SimShared& shared, int index) : shared_(shared), index_(index) {}

absl::Status SimWorker::Init() {
  BENCH_ASSIGN_OR_RETURN(loop_, engine::EventLoop::Create());
  emitter_ = std::make_unique<Emitter>(
      *loop_, [this] { FlushDirty(); }, shared_.metrics.AddTokenLatenessRecorder(),
      absl::ToInt64Nanoseconds(shared_.config.tick));
  reaper_ = std::make_unique<engine::Timer>(*loop_, [this] { Reap(); });
  sweeper_ = std::make_unique<engine::Timer>(*loop_, [this] { Sweep(); });
  return absl::OkStatus();
}

SimWorker::~SimWorker() { Stop(); }

absl::Status SimWorker::Listen(int fd) {
  engine::UvHandle<uv_tcp_t> listener;
  absl::Status status = listener.Init(loop_->loop(), uv_tcp_init, "uv_tcp_init");
  if (status.ok()) status = engine::UvError(uv_tcp_open(listener.get(), fd), "uv_tcp_open");
  if (!status.ok()) {
    close(fd);  // Not yet the handle's.
    return status;
  }
  listener.get()->data = this;
  BENCH_RETURN_IF_ERROR(
      engine::UvError(uv_listen(reinterpret_cast<uv_stream_t*>(listener.get()), 4096,
                                [](uv_stream_t* server, int status) {
                                  auto* self = static_cast<SimWorker*>(server->data);
                                  if (self != nullptr) self->OnConnection(server, status);
                                }),
                      "uv_listen"));
  listeners_.push_back(std::move(listener));
  return absl::OkStatus();
}

void SimWorker::OnConnection(uv_stream_t* listener, int status) {
  if (status < 0) {
    BENCH_LOG(WARNING) << "bench-sim: accept: " << engine::UvError(status, "listen");
    return;
  }
  engine::UvHandle<uv_tcp_t> client;
  absl::Status init = client.Init(loop_->loop(), uv_tcp_init, "uv_tcp_init");
  if (init.ok()) {
    init = engine::UvError(uv_accept(listener, reinterpret_cast<uv_stream_t*>(client.get())),
                           "uv_accept");
  }
  if (!init.ok()) {
    BENCH_LOG(WARNING) << "bench-sim: " << init;
    return;  // `client` closes itself.
  }
  // --max-connections: accepted (so the kernel's backlog drains) and closed at once.
  if (shared_.open_connections.fetch_add(1) >= shared_.config.max_connections) {
    shared_.open_connections.fetch_sub(1);
    if (rejected_connections_.CountAndWarn()) {
      BENCH_LOG(WARNING) << "bench-sim: --max-connections " << shared_.config.max_connections
                         << " reached: closed " << rejected_connections_.count
                         << " new connections so far";
    }
    return;  // `client` closes itself.
  }
  auto connection = std::make_unique<ServerConnection>(*this, shared_.tls.get());
  const absl::Status started = connection->Start(std::move(client));
  if (!started.ok()) {
    shared_.open_connections.fetch_sub(1);
    BENCH_LOG(WARNING) << "bench-sim: " << started;
    return;
  }
  ServerConnection* raw = connection.get();
  connections_.emplace(raw, std::move(connection));
}

void SimWorker::Start() {
  if (started_) return;
  started_ = true;
  sweeper_->Start(1000, 1000);
  thread_ = std::thread([this] {
    // The default 50 us timer slack would add that much to every token's wake-up.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    loop_->Run();
  });
}

void SimWorker::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_) {
    loop_->Post([this] {
      Shutdown();
      uv_stop(loop_->loop());
    });
    thread_.join();
  } else {
    Shutdown();
  }
  // Everything on the loop is closed now; let the close callbacks run and check for leaks.
  emitter_.reset();
  reaper_.reset();
  sweeper_.reset();
  const absl::Status status = loop_->Close();
  if (!status.ok()) BENCH_LOG(ERROR) << "bench-sim: worker " << index_ << ": " << status;
}

void SimWorker::Shutdown() {
  for (auto& listener : listeners_) listener.Close();
  listeners_.clear();
  std::vector<ServerConnection*> open;
  open.reserve(connections_.size());
  for (auto& [raw, connection] : connections_) open.push_back(raw);
  for (ServerConnection* connection : open) connection->Close();
  dirty_.clear();
  Reap();
}

void SimWorker::MarkDirty(ServerConnection* connection) { dirty_.push_back(connection); }

void SimWorker::FlushDirty() {
  shared_.metrics.Flush(pending_metrics_);
  // Flush() may close a connection (a write failed), which only moves it to the reaper.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    ServerConnection* connection = dirty_[i];
    if (connection->dirty_) connection->Flush();
  }
  dirty_.clear();
}

void SimWorker::Retire(std::unique_ptr<Generation> generation) {
  dead_generations_.push_back(std::move(generation));
  if (!reaper_->active()) reaper_->Start(0);
}

void SimWorker::RetireConnection(ServerConnection* connection) {
  auto it = connections_.find(connection);
  BENCH_CHECK(it != connections_.end()) << "retiring an unknown connection";
  dead_connections_.push_back(std::move(it->second));
  connections_.erase(it);
  shared_.open_connections.fetch_sub(1);
  if (reaper_ != nullptr && !reaper_->active()) reaper_->Start(0);
}

bool SimWorker::CapCloses::CountAndWarn() {
  ++count;
  const int64_t now_ns = MonotonicNowNs();
  if (now_ns - last_warned_ns < 1'000'000'000) return false;
  last_warned_ns = now_ns;
  return true;
}

void SimWorker::NoteBufferedBytesRefusal(int64_t held, int64_t total) {
  if (!buffer_cap_closes_.CountAndWarn()) return;
  BENCH_LOG(WARNING) << "bench-sim: --max-buffered-bytes " << shared_.config.max_buffered_bytes
                     << " reached: requests not yet whole held " << total
                     << " bytes over all connections; closed a connection holding " << held
                     << " of them (" << buffer_cap_closes_.count << " closed so far)";
}

void SimWorker::Sweep() {
  // CheckTimeouts() may close a connection, which takes it out of connections_.
  std::vector<ServerConnection*> open;
  open.reserve(connections_.size());
  for (auto& [raw, connection] : connections_) open.push_back(raw);
  const int64_t now_ns = MonotonicNowNs();
  for (ServerConnection* connection : open) connection->CheckTimeouts(now_ns);
}

void SimWorker::Reap() {
  // Generations first: they point at their connections.
  dead_generations_.clear();
  dead_connections_.clear();
}

}  // namespace bench::sim
