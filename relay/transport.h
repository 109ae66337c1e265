// Where the forwarding core sends packets. The UDP implementation queues them
// and flushes in batches, on one loop or split across several
// (fanout_loops.h); tests use a fake that records every send.
#ifndef CASCADE_RELAY_TRANSPORT_H_
#define CASCADE_RELAY_TRANSPORT_H_

#include <memory>
#include <vector>

#include "media/endpoint.h"
#include "relay/packet_pool.h"

namespace cascade::relay {

// The addresses one packet fans out to, in order. Never changed once made,
// so a transport may share it with other threads.
using FanoutList = std::vector<media::Endpoint>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues `packet` for `to`; it leaves at the next flush at the latest.
  virtual void Send(const media::Endpoint& to, const PacketRef& packet) = 0;
  // Queues `packet` for every address of `to`, in order; a transport with
  // several loops may give each a share of the list.
  virtual void SendToAll(const std::shared_ptr<const FanoutList>& to,
                         const PacketRef& packet) {
    for (const media::Endpoint& address : *to) Send(address, packet);
  }
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_TRANSPORT_H_
