// What tests of RelayCore share: a transport that records every send, and
// RTP packets to feed it.
#ifndef CASCADE_RELAY_CORE_TEST_SUPPORT_H_
#define CASCADE_RELAY_CORE_TEST_SUPPORT_H_

#include <cstdint>
#include <vector>

#include "media/endpoint.h"
#include "relay/packet_pool.h"
#include "relay/transport.h"

namespace cascade::relay {

struct Sent {
  media::Endpoint to;
  std::vector<uint8_t> bytes;
};

class FakeTransport : public Transport {
 public:
  void Send(const media::Endpoint& to, const PacketRef& packet) override;
  // What went to `e`, in order.
  std::vector<Sent> To(const media::Endpoint& e) const;
  std::vector<Sent> sent;
};

media::Endpoint Ep(const char* text);

// One RTP packet (payload type 96 unless given).
std::vector<uint8_t> RtpPacket(uint32_t ssrc, uint16_t seq, uint32_t ts,
                               std::vector<uint8_t> payload,
                               uint8_t payload_type = 96);

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_CORE_TEST_SUPPORT_H_
