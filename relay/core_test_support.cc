#include "relay/core_test_support.h"

#include "media/rtp/rtp.h"

namespace cascade::relay {

void FakeTransport::Send(const media::Endpoint& to, const PacketRef& packet) {
  sent.push_back({to, {packet.bytes().begin(), packet.bytes().end()}});
}

std::vector<Sent> FakeTransport::To(const media::Endpoint& e) const {
  std::vector<Sent> out;
  for (const Sent& s : sent) {
    if (s.to == e) out.push_back(s);
  }
  return out;
}

media::Endpoint Ep(const char* text) { return *media::Endpoint::Parse(text); }

std::vector<uint8_t> RtpPacket(uint32_t ssrc, uint16_t seq, uint32_t ts,
                               std::vector<uint8_t> payload,
                               uint8_t payload_type) {
  rtp::RtpHeader h;
  h.payload_type = payload_type;
  h.sequence_number = seq;
  h.timestamp = ts;
  h.ssrc = ssrc;
  std::vector<uint8_t> out(1500);
  out.resize(rtp::WriteRtpPacket(h, payload, absl::MakeSpan(out)));
  return out;
}

}  // namespace cascade::relay
