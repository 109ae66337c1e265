// A TCP proxy that delays what it forwards: a slow link or a slow server
// (relay-sim's --store-delay puts it between topologyd and etcd).
//
// Each accepted connection gets its own connection to the target. Every
// chunk read from the client is held for `to_target_delay` (from the moment
// it was read) and then written to the target, in order; what the target
// sends back is held for `to_client_delay` (0: passed on at once). An end of
// stream is passed on the same way, after the data before it. Since each
// chunk is timed from its own read, the delay adds to every request once; it
// does not accumulate (a stream of requests arrives as fast as it was sent,
// `delay` later).
//
// Memory is bounded: the bytes a connection holds (waiting for their time,
// or written and not yet taken by the kernel) are counted in both
// directions, and a connection that would hold more than `max_held_bytes`
// is closed (both sides) and counted; so is a connection beyond
// `max_connections` (refused at accept). A target that cannot be connected
// closes its client's connection.
//
// Runs on one libuv loop; everything but counters() on its thread.
#ifndef CASCADE_TOOLS_IMPAIR_TCP_DELAY_TCP_DELAY_PROXY_H_
#define CASCADE_TOOLS_IMPAIR_TCP_DELAY_TCP_DELAY_PROXY_H_

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/uv_handle.h"
#include "tools/impair/socket_address.h"

namespace cascade {

struct TcpDelayOptions {
  SocketAddress listen;  // port 0 lets the kernel choose
  SocketAddress target;
  // How long each chunk is held, client to target and target to client.
  absl::Duration to_target_delay = absl::ZeroDuration();
  absl::Duration to_client_delay = absl::ZeroDuration();
  // Per connection, both directions together.
  size_t max_held_bytes = 64 << 20;
  int max_connections = 1024;
  // Told (on the loop's thread) why a connection ended other than by both
  // sides ending their streams: the target refused, a side failed, the cap.
  std::function<void(const std::string&)> log;
};

// Validates the options (delays within 0..1 h, limits positive).
absl::Status ValidateTcpDelayOptions(const TcpDelayOptions& options);

struct TcpDelayCounters {
  uint64_t accepted = 0;
  uint64_t open = 0;  // connections open now
  // Client connections closed because the target could not be connected.
  uint64_t target_unreachable = 0;
  uint64_t closed_over_limit = 0;    // more than max_held_bytes held
  uint64_t refused_connections = 0;  // beyond max_connections
  uint64_t errors = 0;               // a read or write failed on one side
  uint64_t bytes_to_target = 0;      // written to the target
  uint64_t bytes_to_client = 0;      // written to the clients
  uint64_t max_held_bytes = 0;       // the most one connection held
};

// "accepted=... open=... ..." on one line.
std::string FormatCounters(const TcpDelayCounters& counters);

class TcpDelayProxy {
 public:
  // Binds and listens on `options.listen`.
  static absl::StatusOr<std::unique_ptr<TcpDelayProxy>> Create(
      uv_loop_t* loop, const TcpDelayOptions& options);
  // Closes the listener and every connection; the loop frees the handles on
  // its next turn.
  ~TcpDelayProxy();
  TcpDelayProxy(const TcpDelayProxy&) = delete;
  TcpDelayProxy& operator=(const TcpDelayProxy&) = delete;

  // The bound address (with the kernel's port when 0 was asked).
  const SocketAddress& listen_address() const { return listen_address_; }
  // Safe from any thread.
  TcpDelayCounters counters() const;

 private:
  class Connection;
  struct AtomicCounters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> open{0};
    std::atomic<uint64_t> target_unreachable{0};
    std::atomic<uint64_t> closed_over_limit{0};
    std::atomic<uint64_t> refused_connections{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<uint64_t> bytes_to_target{0};
    std::atomic<uint64_t> bytes_to_client{0};
    std::atomic<uint64_t> max_held_bytes{0};
  };

  TcpDelayProxy(uv_loop_t* loop, const TcpDelayOptions& options);
  void OnConnection();
  // Destroys `connection` (closing its handles).
  void Remove(Connection* connection);

  uv_loop_t* const loop_;
  const TcpDelayOptions options_;
  UvHandle<uv_tcp_t> listener_;
  SocketAddress listen_address_;
  absl::flat_hash_map<Connection*, std::unique_ptr<Connection>> connections_;
  AtomicCounters counters_;
};

}  // namespace cascade

#endif  // CASCADE_TOOLS_IMPAIR_TCP_DELAY_TCP_DELAY_PROXY_H_
