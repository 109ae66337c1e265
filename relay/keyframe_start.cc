#include "relay/keyframe_start.h"

#include "media/rtp/frame_marking.h"
#include "media/rtp/h264.h"

namespace cascade::relay {

KeyframeStart DetectKeyframeStart(const rtp::RtpView& packet) {
  rtp::FrameMarking marking;
  switch (
      rtp::FindFrameMarking(packet, rtp::kFrameMarkingExtensionId, &marking)) {
    case rtp::FrameMarkingError::kOk:
      return marking.starts_keyframe() ? KeyframeStart::kYes
                                       : KeyframeStart::kNo;
    case rtp::FrameMarkingError::kAbsent:
      break;
    case rtp::FrameMarkingError::kBadLength:
    case rtp::FrameMarkingError::kMalformedElements:
      return KeyframeStart::kMalformed;
  }
  rtp::H264PayloadInfo info;
  if (rtp::InspectH264(packet.payload, &info) != rtp::H264Error::kOk) {
    return KeyframeStart::kMalformed;
  }
  return info.keyframe_start ? KeyframeStart::kYes : KeyframeStart::kNo;
}

}  // namespace cascade::relay
