#ifndef CASCADE_TOOLS_IMPAIR_UDP_IMPAIR_PROXY_H_
#define CASCADE_TOOLS_IMPAIR_UDP_IMPAIR_PROXY_H_

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "base/uv_handle.h"
#include "tools/impair/impairment.h"
#include "tools/impair/socket_address.h"

namespace cascade {

struct ImpairProxyOptions {
  SocketAddress listen;   // where clients send; port 0 lets the kernel choose
  SocketAddress forward;  // the far side
  ImpairmentOptions to_forward;  // client -> forward address
  ImpairmentOptions to_client;   // forward address -> client
  uint64_t seed = 1;
  // Each client (by source address) gets its own upstream socket, so the far
  // side sees distinct peers; datagrams from further clients are dropped.
  int max_clients = 64;
  // Datagrams waiting for their delay, per direction; beyond it they drop.
  size_t max_queued = 100000;
  // Kernel receive buffer asked for each socket (capped by rmem_max).
  int receive_buffer_bytes = 4 << 20;
};

// Counts for one direction. "forwarded" counts datagrams sent, duplicates
// included.
struct DirectionCounters {
  uint64_t received = 0;
  uint64_t forwarded = 0;
  uint64_t dropped_loss = 0;
  uint64_t dropped_cut = 0;
  uint64_t dropped_overflow = 0;  // queue full, client table full
  uint64_t dropped_foreign = 0;   // upstream datagram not from forward address
  uint64_t send_errors = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;  // held back and sent after a later datagram
};

struct ImpairCounters {
  DirectionCounters to_forward;
  DirectionCounters to_client;
  int clients = 0;
};

// "to_forward: received=... forwarded=..." lines, one per direction.
std::string FormatCounters(const ImpairCounters& counters);

// A userspace UDP impairment proxy on a libuv loop (netem is not available on
// every kernel). Datagrams from a client go to the forward address through
// that client's upstream socket; replies go back to the client. Each direction
// applies its own ImpairmentOptions. SetCut() and counters() are safe from any
// thread; everything else runs on the loop's thread.
class UdpImpairProxy {
 public:
  static absl::StatusOr<std::unique_ptr<UdpImpairProxy>> Create(
      uv_loop_t* loop, const ImpairProxyOptions& options);
  // Closes every handle; the loop frees them on its next iteration.
  ~UdpImpairProxy();

  UdpImpairProxy(const UdpImpairProxy&) = delete;
  UdpImpairProxy& operator=(const UdpImpairProxy&) = delete;

  // The bound listen address (with the kernel's port when 0 was asked).
  const SocketAddress& listen_address() const { return listen_address_; }

  // While cut, datagrams arriving in either direction are dropped (those
  // already delayed still leave): a link that went dead.
  void SetCut(bool cut) { cut_.store(cut, std::memory_order_relaxed); }
  bool cut() const { return cut_.load(std::memory_order_relaxed); }
  // While bypassed, datagrams pass unimpaired (a cut still applies): lets a
  // stream start cleanly before its impairment begins.
  void SetBypass(bool bypass) {
    bypass_.store(bypass, std::memory_order_relaxed);
  }
  bool bypass() const { return bypass_.load(std::memory_order_relaxed); }

  ImpairCounters counters() const;

 private:
  struct Client;
  struct AtomicCounters;
  struct Direction;
  struct Pending;

  UdpImpairProxy(uv_loop_t* loop, const ImpairProxyOptions& options);
  absl::Status Start();
  absl::StatusOr<UvHandle<uv_udp_t>> OpenSocket(const SocketAddress& bind_to);
  absl::StatusOr<Client*> FindOrAddClient(const SocketAddress& from);

  static void OnListenRead(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf,
                           const sockaddr* from, unsigned flags);
  static void OnUpstreamRead(uv_udp_t* handle, ssize_t nread,
                             const uv_buf_t* buf, const sockaddr* from,
                             unsigned flags);
  static void OnTimer(uv_timer_t* timer);

  void Ingress(Direction& direction, Client* client, const char* data,
               size_t size);
  void Emit(Direction& direction, Pending&& pending);
  void Send(Direction& direction, const Pending& pending);
  void Release(Direction& direction);
  void ArmTimer(Direction& direction);

  uv_loop_t* loop_;
  ImpairProxyOptions options_;
  SocketAddress listen_address_;
  UvHandle<uv_udp_t> listen_socket_;
  std::unique_ptr<Direction> to_forward_;
  std::unique_ptr<Direction> to_client_;
  absl::flat_hash_map<std::string, std::unique_ptr<Client>> clients_;
  std::atomic<int> client_count_{0};
  std::atomic<bool> cut_{false};
  std::atomic<bool> bypass_{false};
  std::vector<char> receive_buffer_;
};

}  // namespace cascade

#endif  // CASCADE_TOOLS_IMPAIR_UDP_IMPAIR_PROXY_H_
