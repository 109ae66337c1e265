// Where the forwarding core sends packets. The UDP implementation queues them
// and flushes in batches; tests use a fake that records every send.
#ifndef CASCADE_RELAY_TRANSPORT_H_
#define CASCADE_RELAY_TRANSPORT_H_

#include "media/endpoint.h"
#include "relay/packet_pool.h"

namespace cascade::relay {

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues `packet` for `to`; it leaves at the next flush at the latest.
  virtual void Send(const media::Endpoint& to, const PacketRef& packet) = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_TRANSPORT_H_
