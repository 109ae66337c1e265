// One relay on an event loop it shares with others: its UDP socket (watched
// with uv_poll so it can use recvmmsg/sendmmsg), its forwarding core and its
// tick timer. The loop, the packet pool and the clock belong to the server
// (server.h), which may run several instances on one loop: a machine that
// hosts hundreds of relays (relay-sim) then pays for one thread and one epoll
// wakeup per batch of ready sockets instead of one process per relay.
//
// Loop thread only, apart from construction.
#ifndef CASCADE_RELAY_RELAY_INSTANCE_H_
#define CASCADE_RELAY_RELAY_INSTANCE_H_

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/prometheus_text.h"
#include "base/uv_handle.h"
#include "media/endpoint.h"
#include "relay/decrypting_transport.h"
#include "relay/edge.h"
#include "relay/fanout_loops.h"
#include "relay/packet_pool.h"
#include "relay/relay_core.h"
#include "relay/relay_options.h"
#include "relay/stream_decryptor.h"
#include "relay/udp_socket.h"
#include "webrtc/dtls/certificate.h"

namespace cascade::relay {

class RelayInstance {
 public:
  // Binds the socket; nothing runs until Start(). `loop`, `pool` and `clock`
  // must outlive the instance.
  static absl::StatusOr<std::unique_ptr<RelayInstance>> Create(
      const RelayOptions& options, const FanoutOptions& fanout, uv_loop_t* loop,
      PacketPool* pool, Clock* clock);
  // Closes the handles; the loop must run once more to free them.
  ~RelayInstance();
  RelayInstance(const RelayInstance&) = delete;
  RelayInstance& operator=(const RelayInstance&) = delete;

  // Serves browsers on this relay's socket (edge.h); before Start().
  // `certificate`, `loop` and `pool` must outlive the instance.
  absl::Status EnableEdge(const EdgeOptions& options,
                          const dtls::Certificate* certificate, uv_loop_t* loop,
                          PacketPool* pool);
  // Starts reading and ticking.
  void Start();
  // Applies new settings (the listen address stays).
  void Apply(const RelayOptions& options);
  // Tells the children we are going, before the loop stops.
  void SayGoodbye();
  // Prometheus text of the core and the socket.
  void RenderMetrics(std::string* out) const;

  const RelayCore& core() const { return *core_; }
  // The browser edge, or null.
  RelayEdge* edge() { return edge_.get(); }
  // Any thread: fixed for the instance's life.
  const std::string& id() const { return id_; }
  // Any thread.
  const media::Endpoint& local() const { return socket_->local(); }

 private:
  RelayInstance(std::string id, Clock* clock);
  void StartPoll();
  void OnReadable();
  // The socket's ICMP reports, handed to the core.
  void ReadErrors();
  // Everything waiting in the socket, up to kMaxBatchesPerWakeup batches.
  void ReadAll();
  void OnTick();
  // Arms the tick timer for the core's NextTick().
  void ScheduleTick();

  const std::string id_;
  Clock* const clock_;
  std::unique_ptr<UdpSocket> socket_;
  // The socket, on this loop and on send threads.
  std::unique_ptr<FanoutLoops> fanout_;
  // The core's transport: the fan-out, with what goes to plain endpoints
  // decrypted when the relay holds stream keys (an edge relay).
  std::unique_ptr<StreamDecryptor> decryptor_;
  std::unique_ptr<DecryptingTransport> egress_;
  std::unique_ptr<RelayCore> core_;
  std::unique_ptr<RelayEdge> edge_;
  std::vector<UdpSocket::Received> batch_;
  std::vector<media::Endpoint> unreachable_;
  UvHandle<uv_poll_t> poll_;
  UvHandle<uv_timer_t> timer_;

  // Loop lag: how late the tick timer fires.
  absl::Time expected_tick_ = absl::InfiniteFuture();
  absl::Duration lag_last_;
  DurationHistogram lag_{{0.001, 0.005, 0.01, 0.05, 0.1, 0.3, 1, 5}};
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_RELAY_INSTANCE_H_
