// Whether a packet of a video stream opens a keyframe, for the keyframe
// cache. The frame-marking extension (media/rtp/frame_marking.h) says so in
// the clear: S and I set, the first packet of an independent frame. That is
// all a relay can see of an encrypted stream (SRTP leaves header extensions
// readable), and it needs no payload parse. Without the extension the H.264
// payload is inspected (media/rtp/h264.h), as for a plain stream from a
// source that does not mark frames.
#ifndef CASCADE_RELAY_KEYFRAME_START_H_
#define CASCADE_RELAY_KEYFRAME_START_H_

#include <cstdint>

#include "media/rtp/rtp.h"

namespace cascade::relay {

enum class KeyframeStart : uint8_t {
  kNo = 0,
  kYes,
  // Neither says: a malformed frame marking, or (unmarked) a malformed
  // H.264 payload. The packet is still forwarded, not cached.
  kMalformed,
};

KeyframeStart DetectKeyframeStart(const rtp::RtpView& packet);

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_KEYFRAME_START_H_
