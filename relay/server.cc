#include "relay/server.h"

#include <glog/logging.h>
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cascade::relay {
namespace {

// Datagrams read per readiness callback before the timers get a turn.
constexpr int kMaxBatchesPerWakeup = 16;
constexpr absl::Duration kMetricsTimeout = absl::Seconds(2);

template <typename T>
RelayServer* ServerOf(T* handle) {
  return static_cast<RelayServer*>(handle->data);
}

absl::Status WritePortFile(const std::string& path, int udp, int metrics) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << "udp=" << udp << "\nmetrics=" << metrics << "\n";
    if (!out) return absl::InternalError(absl::StrCat(tmp, ": cannot write"));
  }
  // Atomic: a reader never sees half a file.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat(path, ": cannot rename"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RelayServer>> RelayServer::Create(
    ServerOptions options) {
  std::unique_ptr<RelayServer> server(new RelayServer(std::move(options)));
  if (absl::Status s = server->Start(); !s.ok()) return s;
  return server;
}

RelayServer::RelayServer(ServerOptions options)
    : options_(std::move(options)), pool_(options_.pool_slots) {}

absl::Status RelayServer::Start() {
  absl::StatusOr<std::unique_ptr<UdpSocket>> socket =
      UdpSocket::Open(options_.relay.listen, &pool_);
  if (!socket.ok()) return socket.status();
  socket_ = std::move(*socket);
  core_ = std::make_unique<RelayCore>(options_.relay, &clock_, &pool_,
                                      socket_.get());
  batch_.reserve(UdpSocket::kBatch);

  if (options_.metrics) {
    http_ = std::make_unique<httplib::Server>();
    http_->Get("/metrics",
               [this](const httplib::Request&, httplib::Response& res) {
                 std::optional<std::string> text = RequestMetrics();
                 if (!text) {
                   res.status = 503;
                   return;
                 }
                 res.set_content(*text, "text/plain; version=0.0.4");
               });
    const std::string host = options_.metrics->IpString();
    if (options_.metrics->port == 0) {
      metrics_port_ = http_->bind_to_any_port(host);
    } else if (http_->bind_to_port(host, options_.metrics->port)) {
      metrics_port_ = options_.metrics->port;
    }
    if (metrics_port_ <= 0) {
      return absl::UnavailableError(
          absl::StrCat("metrics: cannot bind ", options_.metrics->ToString()));
    }
  }

  uv_loop_init(&loop_);
  uv_poll_init(&loop_, &poll_, socket_->fd());
  uv_timer_init(&loop_, &timer_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  uv_signal_init(&loop_, &sighup_);
  uv_async_init(&loop_, &loop_async_,
                [](uv_async_t* h) { ServerOf(h)->ServeLoopRequests(); });
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&poll_),
                         reinterpret_cast<uv_handle_t*>(&timer_),
                         reinterpret_cast<uv_handle_t*>(&sigterm_),
                         reinterpret_cast<uv_handle_t*>(&sigint_),
                         reinterpret_cast<uv_handle_t*>(&sighup_),
                         reinterpret_cast<uv_handle_t*>(&loop_async_)}) {
    h->data = this;
  }
  loop_ready_ = true;

  if (!options_.port_file.empty()) {
    if (absl::Status s = WritePortFile(options_.port_file,
                                       socket_->local().port, metrics_port_);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

RelayServer::~RelayServer() {
  if (http_ != nullptr) {
    http_->stop();
    if (http_thread_.joinable()) http_thread_.join();
  }
  if (loop_ready_) {
    // Handles are members: close them and let the loop finish with them.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  // The core and socket hold pool slots: release them before the pool.
  core_.reset();
  socket_.reset();
  batch_.clear();
}

void RelayServer::Run() {
  uv_poll_start(&poll_, UV_READABLE, [](uv_poll_t* h, int status, int) {
    if (status == 0) ServerOf(h)->OnReadable();
  });
  ScheduleTick();
  auto on_signal = [](uv_signal_t* h, int signum) {
    ServerOf(h)->OnSignal(signum);
  };
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_start(&sighup_, on_signal, SIGHUP);
  if (http_ != nullptr) {
    http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  }
  LOG(INFO) << "relayd " << options_.relay.node_id << " on "
            << socket_->local().ToString() << ", metrics port "
            << metrics_port_;
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void RelayServer::OnReadable() {
  ReadAll();
  // A gap just seen must be NACKed on time.
  ScheduleTick();
}

void RelayServer::ReadAll() {
  for (int i = 0; i < kMaxBatchesPerWakeup; ++i) {
    if (!socket_->ReceiveBatch(&batch_)) break;
    for (const UdpSocket::Received& r : batch_) {
      core_->OnDatagram(r.from, r.packet);
    }
    batch_.clear();
    // Forward what arrived now; never wait to fill a batch.
    socket_->Flush();
  }
}

void RelayServer::OnTick() {
  lag_last_ = std::max(absl::ZeroDuration(), clock_.Now() - expected_tick_);
  lag_max_ = std::max(lag_max_, lag_last_);
  expected_tick_ = absl::InfiniteFuture();
  // libuv runs timers before it polls: on a busy machine the parent's
  // packets may be waiting unread while the silence deadline passes. Read
  // them first, so a parent is never judged silent for our own delay.
  ReadAll();
  core_->OnTick();
  socket_->Flush();
  ScheduleTick();
}

void RelayServer::ScheduleTick() {
  // Re-armed after every batch, later too: media from the parent moves the
  // silence deadline on, and a timer left at the old one wakes for nothing.
  const absl::Duration next = core_->NextTick();
  expected_tick_ = clock_.Now() + next;
  uv_timer_start(
      &timer_, [](uv_timer_t* h) { ServerOf(h)->OnTick(); },
      std::max<uint64_t>(1, absl::ToInt64Milliseconds(next)), 0);
}

void RelayServer::Apply(const RelayOptions& options) {
  if (options.listen != options_.relay.listen) {
    LOG(WARNING) << "listen address changes need a restart; keeping "
                 << socket_->local().ToString();
  }
  RelayOptions applied = options;
  applied.listen = options_.relay.listen;
  options_.relay = applied;
  core_->Apply(applied);
  socket_->Flush();
  ScheduleTick();
}

void RelayServer::OnSignal(int signum) {
  if (signum == SIGHUP) {
    if (!options_.reload) {
      LOG(INFO) << "SIGHUP: nothing to reload";
      return;
    }
    absl::StatusOr<RelayOptions> options = options_.reload();
    if (!options.ok()) {
      ++reload_failures_;
      LOG(ERROR) << "reload failed, keeping the running config: "
                 << options.status();
      return;
    }
    ++reloads_;
    Apply(*options);
    LOG(INFO) << "reloaded: " << core_->ActiveChildren().size()
              << " children active";
    return;
  }
  LOG(INFO) << "signal " << signum << ": saying goodbye to "
            << core_->ActiveChildren().size() << " children";
  core_->SayGoodbye();
  socket_->Flush();
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (http_ != nullptr) http_->stop();
  uv_stop(&loop_);
}

std::optional<std::string> RelayServer::RequestMetrics() {
  auto text = std::make_shared<std::string>();
  if (!RunOnLoop([this, text] { *text = RenderMetrics(); }, kMetricsTimeout)) {
    return std::nullopt;
  }
  return std::move(*text);
}

bool RelayServer::RunOnLoop(std::function<void()> work,
                            absl::Duration timeout) {
  auto request = std::make_shared<LoopRequest>();
  request->work = std::move(work);
  std::unique_lock<std::mutex> lock(loop_mu_);
  if (stopping_) return false;
  loop_pending_.push_back(request);
  uv_async_send(&loop_async_);
  loop_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                    [&] { return request->done || stopping_; });
  return request->done;
}

void RelayServer::ServeLoopRequests() {
  std::vector<std::shared_ptr<LoopRequest>> pending;
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    pending.swap(loop_pending_);
  }
  if (pending.empty()) return;
  for (auto& r : pending) r->work();
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    for (auto& r : pending) r->done = true;
  }
  loop_cv_.notify_all();
}

std::string RelayServer::RenderMetrics() {
  std::string out;
  core_->RenderMetrics(&out);
  const UdpCounters& udp = socket_->counters();
  auto counter = [&](absl::string_view name, absl::string_view help,
                     uint64_t value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " counter\n", name, " ", value, "\n");
  };
  auto gauge = [&](absl::string_view name, absl::string_view help,
                   absl::string_view value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " gauge\n", name, " ", value, "\n");
  };
  counter("relay_udp_recv_calls_total", "recvmmsg calls.", udp.recv_calls);
  counter("relay_udp_send_calls_total", "sendmmsg calls.", udp.send_calls);
  counter("relay_udp_datagrams_sent_total", "Datagrams the kernel took.",
          udp.datagrams_sent);
  counter("relay_udp_gso_messages_total",
          "UDP GSO super-packets (several datagrams in one send).",
          udp.gso_messages);
  counter("relay_udp_send_errors_total", "Datagrams the kernel refused.",
          udp.send_errors);
  counter("relay_udp_recv_truncated_total",
          "Datagrams larger than a packet slot, dropped.", udp.recv_truncated);
  counter("relay_udp_recv_pool_empty_total",
          "Datagrams discarded because no packet slot was free.",
          udp.recv_pool_empty);
  counter("relay_reloads_total", "Configurations applied on SIGHUP.", reloads_);
  counter("relay_reload_failures_total", "SIGHUP reloads refused.",
          reload_failures_);
  gauge("relay_loop_lag_seconds", "How late the last timer tick fired.",
        absl::StrFormat("%.6f", absl::ToDoubleSeconds(lag_last_)));
  gauge("relay_loop_lag_max_seconds",
        "Worst tick lateness since the previous scrape.",
        absl::StrFormat("%.6f", absl::ToDoubleSeconds(lag_max_)));
  lag_max_ = absl::ZeroDuration();
  gauge("relay_packet_slots_allocated", "Packet buffers allocated.",
        absl::StrCat(pool_.allocated_slots()));
  gauge("relay_packet_slots_free", "Packet buffers free.",
        absl::StrCat(pool_.free_slots()));
  return out;
}

}  // namespace cascade::relay
