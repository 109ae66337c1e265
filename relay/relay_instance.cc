#include "relay/relay_instance.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/prometheus_text.h"

namespace cascade::relay {
namespace {

// Datagrams read per readiness callback before the timers get a turn.
constexpr int kMaxBatchesPerWakeup = 16;
// A tick this late is logged with its time (the lag histogram has none):
// past the default parent timeout (300 ms), so children may have left us.
constexpr absl::Duration kLoopLateWarning = absl::Milliseconds(500);

template <typename T>
RelayInstance* InstanceOf(T* handle) {
  return static_cast<RelayInstance*>(handle->data);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RelayInstance>> RelayInstance::Create(
    const RelayOptions& options, const FanoutOptions& fanout, uv_loop_t* loop,
    PacketPool* pool, Clock* clock) {
  std::unique_ptr<RelayInstance> relay(
      new RelayInstance(options.node_id, clock));
  absl::StatusOr<std::unique_ptr<UdpSocket>> socket =
      UdpSocket::Open(options.listen, pool, fanout.send_path);
  if (!socket.ok()) {
    return absl::Status(
        socket.status().code(),
        absl::StrCat(options.node_id, ": ", socket.status().message()));
  }
  relay->socket_ = *std::move(socket);
  relay->fanout_ = std::make_unique<FanoutLoops>(relay->socket_.get(), fanout);
  relay->decryptor_ = std::make_unique<StreamDecryptor>(pool);
  relay->decryptor_->Apply(options.streams);
  relay->egress_ = std::make_unique<DecryptingTransport>(
      relay->fanout_.get(), relay->decryptor_.get());
  relay->egress_->Apply(options);
  relay->core_ =
      std::make_unique<RelayCore>(options, clock, pool, relay->egress_.get());
  UvHandle<uv_poll_t> poll = UvHandle<uv_poll_t>::Make();
  if (int err = uv_poll_init(loop, poll.get(), relay->socket_->fd());
      err != 0) {
    delete poll.release_uninitialised();
    return absl::InternalError(
        absl::StrCat(options.node_id, ": uv_poll_init: ", uv_strerror(err)));
  }
  poll.get()->data = relay.get();
  relay->poll_ = std::move(poll);
  relay->timer_ = UvHandle<uv_timer_t>::Make();
  uv_timer_init(loop, relay->timer_.get());  // cannot fail
  relay->timer_.get()->data = relay.get();
  return relay;
}

RelayInstance::RelayInstance(std::string id, Clock* clock)
    : id_(std::move(id)), clock_(clock) {
  batch_.reserve(UdpSocket::kBatch);
}

RelayInstance::~RelayInstance() {
  poll_.Reset();
  timer_.Reset();
  // The edge, core and socket hold pool slots; the pool outlives us.
  edge_.reset();  // before the decryptor it uses
  core_.reset();
  egress_.reset();
  decryptor_.reset();
  fanout_.reset();  // joins its threads before the socket closes
  socket_.reset();
  batch_.clear();
}

absl::Status RelayInstance::EnableEdge(const EdgeOptions& options,
                                       const dtls::Certificate* certificate,
                                       uv_loop_t* loop, PacketPool* pool) {
  absl::StatusOr<std::unique_ptr<RelayEdge>> edge =
      RelayEdge::Create(options, core_->options(), certificate, loop, clock_,
                        pool, socket_.get(), core_.get(), decryptor_.get());
  if (!edge.ok()) return edge.status();
  edge_ = *std::move(edge);
  return absl::OkStatus();
}

void RelayInstance::Start() {
  StartPoll();
  ScheduleTick();
}

void RelayInstance::StartPoll() {
  uv_poll_start(poll_.get(), UV_READABLE | UV_PRIORITIZED,
                [](uv_poll_t* h, int status, int events) {
                  if (h->data == nullptr) return;
                  RelayInstance* relay = InstanceOf(h);
                  if (status < 0) {
                    // A pending socket error libuv took for fatal (it
                    // stopped the handle): read it and what waits behind it
                    // (a receive takes the error), and watch again.
                    relay->ReadErrors();
                    relay->StartPoll();
                    relay->OnReadable();
                    return;
                  }
                  if ((events & UV_PRIORITIZED) != 0) relay->ReadErrors();
                  relay->OnReadable();
                });
}

void RelayInstance::ReadErrors() {
  socket_->ReceiveErrors(&unreachable_);
  for (const media::Endpoint& to : unreachable_) core_->OnUnreachable(to);
}

void RelayInstance::OnReadable() {
  ReadAll();
  // A gap just seen must be NACKed on time.
  ScheduleTick();
}

void RelayInstance::ReadAll() {
  for (int i = 0; i < kMaxBatchesPerWakeup; ++i) {
    bool errors_pending = false;
    if (!socket_->ReceiveBatch(&batch_, &errors_pending)) break;
    if (errors_pending) ReadErrors();
    for (const UdpSocket::Received& r : batch_) {
      if (edge_ != nullptr && edge_->Claims(r.packet.bytes(), r.from)) {
        edge_->OnDatagram(r.packet.bytes(), r.from);
      } else {
        core_->OnDatagram(r.from, r.packet);
      }
    }
    // A short batch emptied the socket: another read would only return
    // EAGAIN (the poll is level-triggered and wakes us for what comes next).
    const bool drained = batch_.size() < UdpSocket::kBatch && !errors_pending;
    batch_.clear();
    // Forward what arrived now; never wait to fill a batch.
    fanout_->Flush();
    if (drained) break;
  }
}

void RelayInstance::OnTick() {
  lag_last_ = std::max(absl::ZeroDuration(), clock_->Now() - expected_tick_);
  lag_.Observe(absl::ToDoubleSeconds(lag_last_));
  if (lag_last_ >= kLoopLateWarning) {
    LOG(WARNING) << id() << ": the event loop ran "
                 << absl::FormatDuration(
                        absl::Trunc(lag_last_, absl::Milliseconds(1)))
                 << " late (the machine busy or the process stopped): "
                    "nothing was forwarded meanwhile";
  }
  expected_tick_ = absl::InfiniteFuture();
  // libuv runs timers before it polls: on a busy machine the parent's
  // packets may be waiting unread while the silence deadline passes. Read
  // them first, so a parent is never judged silent for our own delay.
  ReadAll();
  core_->OnTick();
  fanout_->Flush();
  ScheduleTick();
}

void RelayInstance::ScheduleTick() {
  // Re-armed after every batch, later too: media from the parent moves the
  // silence deadline on, and a timer left at the old one wakes for nothing.
  const absl::Duration next = core_->NextTick();
  expected_tick_ = clock_->Now() + next;
  uv_timer_start(
      timer_.get(),
      [](uv_timer_t* h) {
        if (h->data != nullptr) InstanceOf(h)->OnTick();
      },
      std::max<uint64_t>(1, absl::ToInt64Milliseconds(next)), 0);
}

void RelayInstance::Apply(const RelayOptions& options) {
  RelayOptions applied = options;
  if (options.listen != core_->options().listen) {
    LOG(WARNING) << id() << ": listen address changes need a restart; keeping "
                 << socket_->local().ToString();
    applied.listen = core_->options().listen;
  }
  // New keys and endpoints first: what the core sends as it applies goes
  // out under them.
  decryptor_->Apply(applied.streams);
  egress_->Apply(applied);
  core_->Apply(applied);
  if (edge_ != nullptr) edge_->Apply(applied);
  fanout_->Flush();
  ScheduleTick();
}

void RelayInstance::SayGoodbye() {
  core_->SayGoodbye();
  if (edge_ != nullptr) edge_->CloseAll();
  fanout_->Flush();
}

void RelayInstance::RenderMetrics(std::string* out) const {
  core_->RenderMetrics(out);
  UdpCounters udp = socket_->counters();
  // One socket, however many threads send on it.
  udp.Add(fanout_->own_share_counters());
  udp.Add(fanout_->send_loop_counters());
  AppendCounter(out, "relay_udp_recv_calls_total", "recvmmsg calls.",
                udp.recv_calls);
  AppendCounter(out, "relay_udp_send_calls_total", "sendmmsg calls.",
                udp.send_calls);
  AppendCounter(out, "relay_udp_datagrams_sent_total",
                "Datagrams the kernel took.", udp.datagrams_sent);
  AppendCounter(out, "relay_udp_gso_messages_total",
                "UDP GSO super-packets (several datagrams in one send).",
                udp.gso_messages);
  AppendCounter(out, "relay_udp_send_errors_total",
                "Datagrams the kernel refused.", udp.send_errors);
  AppendCounter(out, "relay_udp_recv_truncated_total",
                "Datagrams larger than a packet slot, dropped.",
                udp.recv_truncated);
  AppendCounter(out, "relay_udp_unreachable_total",
                "ICMP unreachable reports for packets this relay sent.",
                udp.unreachable);
  AppendCounter(out, "relay_udp_recv_pool_empty_total",
                "Datagrams discarded because no packet slot was free.",
                udp.recv_pool_empty);
  AppendGauge(out, "relay_send_threads",
              "Threads sending the fan-out (relayd --threads).",
              absl::StrCat(fanout_->loops()));
  AppendCounter(out, "relay_send_thread_datagrams_total",
                "Datagrams the send threads sent (counted in "
                "relay_udp_datagrams_sent_total too).",
                fanout_->send_loop_counters().datagrams_sent);
  AppendCounter(out, "relay_send_shares_taken_back_total",
                "Fan-out shares the relay's loop sent itself because a send "
                "thread was behind.",
                fanout_->shares_taken_back());
  AppendGauge(out, "relay_loop_lag_seconds",
              "How late the last timer tick fired.",
              absl::StrFormat("%.6f", absl::ToDoubleSeconds(lag_last_)));
  lag_.Append(out, "relay_loop_lag_ticks_seconds",
              "How late each timer tick fired.");
  decryptor_->RenderMetrics(out);
  if (edge_ != nullptr) edge_->RenderMetrics(out);
}

}  // namespace cascade::relay
