#include "media/rtp/demux.h"

namespace cascade::rtp {

absl::string_view KindName(PacketKind kind) {
  switch (kind) {
    case PacketKind::kNotRtp:
      return "not_rtp";
    case PacketKind::kRtp:
      return "rtp";
    case PacketKind::kRtcp:
      return "rtcp";
  }
  return "unknown";
}

PacketKind Classify(absl::Span<const uint8_t> datagram) {
  // An RTCP header is 4 bytes; anything shorter is neither.
  if (datagram.size() < 4 || (datagram[0] >> 6) != 2) {
    return PacketKind::kNotRtp;
  }
  const uint8_t type = datagram[1] & 0x7f;
  return (type >= 64 && type <= 95) ? PacketKind::kRtcp : PacketKind::kRtp;
}

}  // namespace cascade::rtp
