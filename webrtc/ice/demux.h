// Which protocol a datagram on a WebRTC port belongs to, by its first byte
// (RFC 7983 section 7): STUN, DTLS and SRTP/SRTCP share one 5-tuple.
#ifndef CASCADE_WEBRTC_ICE_DEMUX_H_
#define CASCADE_WEBRTC_ICE_DEMUX_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade::ice {

enum class DatagramKind : uint8_t {
  kOther = 0,  // empty, ZRTP (16..19), TURN channel (64..79) or unassigned
  kStun,       // 0..3
  kDtls,       // 20..63
  kRtp,        // 128..191: RTP or RTCP (tell them apart with media/rtp/demux)
};

// "other", "stun", "dtls" or "rtp".
absl::string_view KindName(DatagramKind kind);

// Looks at the first byte only; the parsers of each protocol check the rest.
inline DatagramKind Classify(absl::Span<const uint8_t> datagram) {
  if (datagram.empty()) return DatagramKind::kOther;
  const uint8_t b = datagram[0];
  if (b <= 3) return DatagramKind::kStun;
  if (b >= 20 && b <= 63) return DatagramKind::kDtls;
  if (b >= 128 && b <= 191) return DatagramKind::kRtp;
  return DatagramKind::kOther;
}

}  // namespace cascade::ice

#endif  // CASCADE_WEBRTC_ICE_DEMUX_H_
