#include "webrtc/ice/demux.h"

namespace cascade::ice {

absl::string_view KindName(DatagramKind kind) {
  switch (kind) {
    case DatagramKind::kStun:
      return "stun";
    case DatagramKind::kDtls:
      return "dtls";
    case DatagramKind::kRtp:
      return "rtp";
    case DatagramKind::kOther:
      break;
  }
  return "other";
}

}  // namespace cascade::ice
