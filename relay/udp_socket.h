// The relay's one UDP socket: non-blocking, received with recvmmsg into pool
// slots, sent in batches by a BatchSender (sendmmsg or io_uring, UDP GSO),
// which other threads may also run on fd() (fanout_loops.h).
#ifndef CASCADE_RELAY_UDP_SOCKET_H_
#define CASCADE_RELAY_UDP_SOCKET_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "media/endpoint.h"
#include "relay/batch_sender.h"
#include "relay/packet_pool.h"
#include "relay/transport.h"
#include "relay/uring_sender.h"

namespace cascade::relay {

struct UdpCounters : SendCounters {
  uint64_t recv_calls = 0;
  uint64_t recv_truncated = 0;   // datagrams larger than a slot
  uint64_t recv_pool_empty = 0;  // receive skipped: no free slot
  uint64_t unreachable = 0;      // ICMP unreachable reports read
};

class UdpSocket : public Transport {
 public:
  static constexpr size_t kBatch = 64;

  // Binds `listen` (port 0: the kernel chooses). Sends through an io_uring
  // for SendPath::kIoUring when the kernel allows it.
  static absl::StatusOr<std::unique_ptr<UdpSocket>> Open(
      const media::Endpoint& listen, PacketPool* pool,
      SendPath send_path = SendPath::kSendmmsg);
  ~UdpSocket() override;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_; }
  const media::Endpoint& local() const { return local_; }

  struct Received {
    media::Endpoint from;
    PacketRef packet;
  };
  // Reads what has already arrived, at most kBatch datagrams, into *out
  // (cleared first). Returns false when nothing was waiting. Sets
  // *errors_pending when the kernel queued an ICMP report instead
  // (ReceiveErrors reads it).
  bool ReceiveBatch(std::vector<Received>* out, bool* errors_pending);
  // Reads the socket's error queue (IP_RECVERR): the destinations that ICMP
  // reported unreachable (port, host or network), at most kBatch, into *out
  // (cleared first). The queue's readiness shows as UV_PRIORITIZED.
  void ReceiveErrors(std::vector<media::Endpoint>* out);

  void Send(const media::Endpoint& to, const PacketRef& packet) override;
  // Hands every queued packet to the kernel.
  void Flush();
  size_t queued() const { return sender_.queued(); }

  void set_gso_enabled(bool enabled) { sender_.set_gso_enabled(enabled); }
  bool gso_enabled() const { return sender_.gso_enabled(); }
  UdpCounters counters() const;
  // The ring of the thread that runs this socket, for the other senders of
  // that thread; null when it sends with sendmmsg.
  UringSender* uring() const { return uring_.get(); }

 private:
  UdpSocket(int fd, const media::Endpoint& local, PacketPool* pool,
            std::unique_ptr<UringSender> uring);

  const int fd_;
  const media::Endpoint local_;
  PacketPool* const pool_;
  UdpCounters counters_;  // the receive side's; the sender keeps its own
  const std::unique_ptr<UringSender> uring_;
  BatchSender sender_;
  // What the sender's queue points into, until the flush.
  std::vector<PacketRef> queued_packets_;

  // Receive scratch reused by every call, so the hot path does not allocate.
  std::vector<PacketRef> recv_slots_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_in> addrs_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_UDP_SOCKET_H_
