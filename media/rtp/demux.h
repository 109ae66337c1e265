// Telling RTP from RTCP on one port (RFC 5761 section 4).
#ifndef CASCADE_MEDIA_RTP_DEMUX_H_
#define CASCADE_MEDIA_RTP_DEMUX_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade::rtp {

enum class PacketKind : uint8_t {
  kNotRtp = 0,  // too short for either, or version is not 2 (STUN, DTLS, junk)
  kRtp,
  kRtcp,
};

// "not_rtp", "rtp" or "rtcp".
absl::string_view KindName(PacketKind kind);

// Classifies a datagram by its first two bytes: version 2, and the second
// byte with the marker bit masked in 64..95 (RTCP types 192..223) means RTCP.
// Does not validate the rest; parse with ParseRtp / ParseRtcpCompound.
PacketKind Classify(absl::Span<const uint8_t> datagram);

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_DEMUX_H_
