#include "tools/probe/site_test_support.h"

#include <poll.h>

#include <utility>

namespace cascade {
namespace probe {

media::Endpoint Loopback() { return *media::Endpoint::Parse("127.0.0.1:0"); }

std::vector<uint8_t> MediaPacket(uint16_t seq) {
  uint8_t packet[64];
  rtp::RtpHeader header;
  header.payload_type = 111;
  header.sequence_number = seq;
  header.timestamp = seq * 960u;
  header.ssrc = kStreamSsrc;
  const uint8_t payload[] = {1, 2, 3};
  const size_t size =
      rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  return std::vector<uint8_t>(packet, packet + size);
}

std::vector<uint8_t> SenderReport() {
  uint8_t packet[64];
  const size_t size = rtp::BuildSenderReport(0x7777, rtp::SenderInfo(), {},
                                             absl::MakeSpan(packet));
  return std::vector<uint8_t>(packet, packet + size);
}

void WaitForParents(const FakeParent& a, const FakeParent& b) {
  pollfd fds[2] = {{a.fd(), POLLIN, 0}, {b.fd(), POLLIN, 0}};
  poll(fds, 2, 5);
}

SiteOptions ChildOf(std::vector<ParentLink> parents) {
  SiteOptions site;
  site.listen = Loopback();
  site.decode = false;
  site.parents = std::move(parents);
  site.node_id = "site-7";
  return site;
}

}  // namespace probe
}  // namespace cascade
