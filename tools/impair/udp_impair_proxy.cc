#include "tools/impair/udp_impair_proxy.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cascade {
namespace {

// Largest UDP payload: any datagram fits whole.
constexpr size_t kMaxDatagram = 65536;

absl::Status UvError(absl::string_view what, int code) {
  return absl::UnavailableError(absl::StrCat(what, ": ", uv_strerror(code)));
}

void Bump(std::atomic<uint64_t>& counter) {
  counter.fetch_add(1, std::memory_order_relaxed);
}

std::string FormatDirection(absl::string_view name,
                            const DirectionCounters& c) {
  return absl::StrCat(
      name, ": received=", c.received, " forwarded=", c.forwarded,
      " lost=", c.dropped_loss, " cut=", c.dropped_cut,
      " overflow=", c.dropped_overflow, " foreign=", c.dropped_foreign,
      " send_errors=", c.send_errors, " duplicated=", c.duplicated,
      " reordered=", c.reordered, "\n");
}

// The address to bind a client's upstream socket to: the listen IP (so a
// loopback proxy stays on loopback) when the families match, else the
// wildcard of the forward address's family. Port 0: the kernel chooses.
SocketAddress UpstreamBindAddress(const SocketAddress& listen,
                                  const SocketAddress& forward) {
  SocketAddress bind_to;
  if (listen.storage.ss_family == forward.storage.ss_family) {
    bind_to = listen;
  } else {
    bind_to.storage.ss_family = forward.storage.ss_family;
  }
  if (bind_to.storage.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&bind_to.storage)->sin6_port = 0;
  } else {
    reinterpret_cast<sockaddr_in*>(&bind_to.storage)->sin_port = 0;
  }
  return bind_to;
}

}  // namespace

std::string FormatCounters(const ImpairCounters& counters) {
  return absl::StrCat(FormatDirection("to_forward", counters.to_forward),
                      FormatDirection("to_client", counters.to_client),
                      "clients: ", counters.clients, "\n");
}

struct UdpImpairProxy::Client {
  UdpImpairProxy* proxy;
  SocketAddress address;
  UvHandle<uv_udp_t> upstream;
};

struct UdpImpairProxy::AtomicCounters {
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> dropped_loss{0};
  std::atomic<uint64_t> dropped_cut{0};
  std::atomic<uint64_t> dropped_overflow{0};
  std::atomic<uint64_t> dropped_foreign{0};
  std::atomic<uint64_t> send_errors{0};
  std::atomic<uint64_t> duplicated{0};
  std::atomic<uint64_t> reordered{0};

  DirectionCounters Snapshot() const {
    DirectionCounters c;
    c.received = received.load(std::memory_order_relaxed);
    c.forwarded = forwarded.load(std::memory_order_relaxed);
    c.dropped_loss = dropped_loss.load(std::memory_order_relaxed);
    c.dropped_cut = dropped_cut.load(std::memory_order_relaxed);
    c.dropped_overflow = dropped_overflow.load(std::memory_order_relaxed);
    c.dropped_foreign = dropped_foreign.load(std::memory_order_relaxed);
    c.send_errors = send_errors.load(std::memory_order_relaxed);
    c.duplicated = duplicated.load(std::memory_order_relaxed);
    c.reordered = reordered.load(std::memory_order_relaxed);
    return c;
  }
};

// A datagram on its way out: waiting for its delay, or held for reordering.
struct UdpImpairProxy::Pending {
  uint64_t due_ns;
  uint64_t order;  // arrival order breaks ties between equal due times
  Client* client;
  std::string data;
  bool hold;
};

struct UdpImpairProxy::Direction {
  Direction(const ImpairmentOptions& options, uint64_t seed,
            bool toward_forward)
      : impairer(options, seed),
        reorder_hold_ns(absl::ToInt64Nanoseconds(options.reorder_hold)),
        toward_forward(toward_forward) {}

  // Orders the heap so the earliest due datagram is at the front.
  static bool Later(const Pending& a, const Pending& b) {
    return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.order > b.order;
  }

  Impairer impairer;
  const uint64_t reorder_hold_ns;
  const bool toward_forward;
  AtomicCounters counters;
  std::vector<Pending> queue;  // a heap under Later
  uint64_t next_order = 0;
  std::optional<Pending> held;
  uint64_t held_until_ns = 0;
  UvHandle<uv_timer_t> timer;
  UdpImpairProxy* proxy = nullptr;
};

UdpImpairProxy::UdpImpairProxy(uv_loop_t* loop,
                               const ImpairProxyOptions& options)
    : loop_(loop),
      options_(options),
      to_forward_(std::make_unique<Direction>(options.to_forward, options.seed,
                                              /*toward_forward=*/true)),
      // A different stream per direction keeps them independent.
      to_client_(std::make_unique<Direction>(
          options.to_client, options.seed ^ 0x9e3779b97f4a7c15ULL,
          /*toward_forward=*/false)),
      receive_buffer_(kMaxDatagram) {}

absl::StatusOr<std::unique_ptr<UdpImpairProxy>> UdpImpairProxy::Create(
    uv_loop_t* loop, const ImpairProxyOptions& options) {
  if (absl::Status status = ValidateImpairment(options.to_forward);
      !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("to_forward: ", status.message()));
  }
  if (absl::Status status = ValidateImpairment(options.to_client);
      !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("to_client: ", status.message()));
  }
  if (options.max_clients < 1) {
    return absl::InvalidArgumentError("max_clients must be at least 1");
  }
  if (options.forward.port() == 0) {
    return absl::InvalidArgumentError("forward address needs a port");
  }
  std::unique_ptr<UdpImpairProxy> proxy(new UdpImpairProxy(loop, options));
  if (absl::Status status = proxy->Start(); !status.ok()) return status;
  return proxy;
}

UdpImpairProxy::~UdpImpairProxy() = default;

absl::StatusOr<UvHandle<uv_udp_t>> UdpImpairProxy::OpenSocket(
    const SocketAddress& bind_to) {
  UvHandle<uv_udp_t> socket = UvHandle<uv_udp_t>::Make();
  if (int rc = uv_udp_init(loop_, socket.get()); rc != 0) {
    delete socket.release_uninitialised();
    return UvError("uv_udp_init", rc);
  }
  if (int rc = uv_udp_bind(socket.get(), bind_to.get(), 0); rc != 0) {
    return UvError(absl::StrCat("bind ", bind_to.ToString()), rc);
  }
  // Best effort: a small buffer only means more kernel drops under load.
  int size = options_.receive_buffer_bytes;
  uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(socket.get()), &size);
  size = options_.receive_buffer_bytes;
  uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(socket.get()), &size);
  return socket;
}

absl::Status UdpImpairProxy::Start() {
  absl::StatusOr<UvHandle<uv_udp_t>> socket = OpenSocket(options_.listen);
  if (!socket.ok()) return socket.status();
  listen_socket_ = *std::move(socket);
  listen_socket_.get()->data = this;
  sockaddr_storage bound;
  int length = sizeof(bound);
  if (int rc = uv_udp_getsockname(listen_socket_.get(),
                                  reinterpret_cast<sockaddr*>(&bound), &length);
      rc != 0) {
    return UvError("getsockname", rc);
  }
  listen_address_ =
      SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&bound));
  for (Direction* direction : {to_forward_.get(), to_client_.get()}) {
    direction->proxy = this;
    direction->timer = UvHandle<uv_timer_t>::Make();
    uv_timer_init(loop_, direction->timer.get());
    direction->timer.get()->data = direction;
  }
  int rc = uv_udp_recv_start(
      listen_socket_.get(),
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        auto* proxy = static_cast<UdpImpairProxy*>(handle->data);
        *buf = uv_buf_init(proxy->receive_buffer_.data(),
                           proxy->receive_buffer_.size());
      },
      &UdpImpairProxy::OnListenRead);
  if (rc != 0) return UvError("uv_udp_recv_start", rc);
  return absl::OkStatus();
}

absl::StatusOr<UdpImpairProxy::Client*> UdpImpairProxy::FindOrAddClient(
    const SocketAddress& from) {
  std::string key = from.Key();
  auto it = clients_.find(key);
  if (it != clients_.end()) return it->second.get();
  if (static_cast<int>(clients_.size()) >= options_.max_clients) {
    return absl::ResourceExhaustedError("client table full");
  }
  absl::StatusOr<UvHandle<uv_udp_t>> socket =
      OpenSocket(UpstreamBindAddress(listen_address_, options_.forward));
  if (!socket.ok()) return socket.status();
  auto client = std::make_unique<Client>();
  client->proxy = this;
  client->address = from;
  client->upstream = *std::move(socket);
  client->upstream.get()->data = client.get();
  int rc = uv_udp_recv_start(
      client->upstream.get(),
      [](uv_handle_t* handle, size_t, uv_buf_t* buf) {
        UdpImpairProxy* proxy = static_cast<Client*>(handle->data)->proxy;
        *buf = uv_buf_init(proxy->receive_buffer_.data(),
                           proxy->receive_buffer_.size());
      },
      &UdpImpairProxy::OnUpstreamRead);
  if (rc != 0) return UvError("uv_udp_recv_start", rc);
  Client* result = client.get();
  clients_.emplace(std::move(key), std::move(client));
  client_count_.store(static_cast<int>(clients_.size()),
                      std::memory_order_relaxed);
  return result;
}

void UdpImpairProxy::OnListenRead(uv_udp_t* handle, ssize_t nread,
                                  const uv_buf_t* buf, const sockaddr* from,
                                  unsigned) {
  // nread < 0 is a socket error (nothing to forward); from == nullptr with
  // nread == 0 means "nothing more to read".
  if (nread < 0 || from == nullptr) return;
  auto* proxy = static_cast<UdpImpairProxy*>(handle->data);
  Direction& direction = *proxy->to_forward_;
  absl::StatusOr<Client*> client =
      proxy->FindOrAddClient(SocketAddress::FromSockaddr(from));
  if (!client.ok()) {
    Bump(direction.counters.received);
    Bump(direction.counters.dropped_overflow);
    return;
  }
  proxy->Ingress(direction, *client, buf->base, static_cast<size_t>(nread));
}

void UdpImpairProxy::OnUpstreamRead(uv_udp_t* handle, ssize_t nread,
                                    const uv_buf_t* buf, const sockaddr* from,
                                    unsigned) {
  if (nread < 0 || from == nullptr) return;
  auto* client = static_cast<Client*>(handle->data);
  UdpImpairProxy* proxy = client->proxy;
  Direction& direction = *proxy->to_client_;
  if (!(SocketAddress::FromSockaddr(from) == proxy->options_.forward)) {
    Bump(direction.counters.received);
    Bump(direction.counters.dropped_foreign);
    return;
  }
  proxy->Ingress(direction, client, buf->base, static_cast<size_t>(nread));
}

void UdpImpairProxy::Ingress(Direction& direction, Client* client,
                             const char* data, size_t size) {
  Bump(direction.counters.received);
  if (cut()) {
    Bump(direction.counters.dropped_cut);
    return;
  }
  const Verdict verdict = bypass() ? Verdict{} : direction.impairer.Next();
  if (verdict.lost) {
    Bump(direction.counters.dropped_loss);
    return;
  }
  if (verdict.copies > 1) Bump(direction.counters.duplicated);
  const uint64_t now = uv_hrtime();
  for (int copy = 0; copy < verdict.copies; ++copy) {
    const absl::Duration delay =
        copy == 0 ? verdict.delay : direction.impairer.DrawDelay();
    Pending pending{now + absl::ToInt64Nanoseconds(delay),
                    direction.next_order++, client, std::string(data, size),
                    /*hold=*/copy == 0 && verdict.hold};
    if (delay == absl::ZeroDuration()) {
      Emit(direction, std::move(pending));
    } else if (direction.queue.size() >= options_.max_queued) {
      Bump(direction.counters.dropped_overflow);
    } else {
      direction.queue.push_back(std::move(pending));
      std::push_heap(direction.queue.begin(), direction.queue.end(),
                     &Direction::Later);
    }
  }
  ArmTimer(direction);
}

void UdpImpairProxy::Emit(Direction& direction, Pending&& pending) {
  if (pending.hold && !direction.held.has_value()) {
    direction.held = std::move(pending);
    direction.held_until_ns = uv_hrtime() + direction.reorder_hold_ns;
    return;
  }
  Send(direction, pending);
  if (direction.held.has_value()) {
    Bump(direction.counters.reordered);
    Release(direction);
  }
}

void UdpImpairProxy::Release(Direction& direction) {
  Send(direction, *direction.held);
  direction.held.reset();
}

void UdpImpairProxy::Send(Direction& direction, const Pending& pending) {
  uv_buf_t buf =
      uv_buf_init(const_cast<char*>(pending.data.data()), pending.data.size());
  uv_udp_t* socket = direction.toward_forward ? pending.client->upstream.get()
                                              : listen_socket_.get();
  const SocketAddress& to =
      direction.toward_forward ? options_.forward : pending.client->address;
  if (uv_udp_try_send(socket, &buf, 1, to.get()) < 0) {
    Bump(direction.counters.send_errors);
  } else {
    Bump(direction.counters.forwarded);
  }
}

void UdpImpairProxy::OnTimer(uv_timer_t* timer) {
  auto* direction = static_cast<Direction*>(timer->data);
  UdpImpairProxy* proxy = direction->proxy;
  const uint64_t now = uv_hrtime();
  while (!direction->queue.empty() && direction->queue.front().due_ns <= now) {
    std::pop_heap(direction->queue.begin(), direction->queue.end(),
                  &Direction::Later);
    Pending pending = std::move(direction->queue.back());
    direction->queue.pop_back();
    proxy->Emit(*direction, std::move(pending));
  }
  if (direction->held.has_value() && direction->held_until_ns <= now) {
    proxy->Release(*direction);
  }
  proxy->ArmTimer(*direction);
}

void UdpImpairProxy::ArmTimer(Direction& direction) {
  std::optional<uint64_t> next;
  if (!direction.queue.empty()) next = direction.queue.front().due_ns;
  if (direction.held.has_value()) {
    next = std::min(next.value_or(direction.held_until_ns),
                    direction.held_until_ns);
  }
  if (!next.has_value()) {
    uv_timer_stop(direction.timer.get());
    return;
  }
  const uint64_t now = uv_hrtime();
  // libuv timers count whole milliseconds: round up so nothing leaves early.
  const uint64_t wait_ms = *next > now ? (*next - now + 999999) / 1000000 : 0;
  uv_timer_start(direction.timer.get(), &UdpImpairProxy::OnTimer, wait_ms, 0);
}

ImpairCounters UdpImpairProxy::counters() const {
  ImpairCounters counters;
  counters.to_forward = to_forward_->counters.Snapshot();
  counters.to_client = to_client_->counters.Snapshot();
  counters.clients = client_count_.load(std::memory_order_relaxed);
  return counters;
}

}  // namespace cascade
