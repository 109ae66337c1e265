// The Video Frame Marking RTP header extension (RFC 9626, formerly
// draft-ietf-avtext-framemarking): a few bits per packet saying where a frame
// starts and ends and whether it decodes on its own. SRTP encrypts only the
// payload; header extensions stay readable (authenticated, not encrypted), so
// a relay without the stream key still finds the keyframes it caches.
//
// Cascade sends the short form for non-scalable streams, one byte of data in
// an RFC 8285 element with the fixed id kFrameMarkingExtensionId:
//
//    0 1 2 3 4 5 6 7
//   +-+-+-+-+-+-+-+-+
//   |S|E|I|D|B| TID |
//   +-+-+-+-+-+-+-+-+
//
// S: the frame's first packet, E: its last, I: independent (decodable without
// earlier frames: a keyframe), D: discardable, B: base layer sync, TID:
// temporal layer (0 for a non-scalable stream, as B). The scalable forms add
// one or two bytes (LID, TL0PICIDX) after the same first byte, which is all
// read here.
#ifndef CASCADE_MEDIA_RTP_FRAME_MARKING_H_
#define CASCADE_MEDIA_RTP_FRAME_MARKING_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "media/rtp/rtp.h"

namespace cascade::rtp {

// Fixed across Cascade (docs/relayd.md): relay-source sends it, relays read
// it. Id 1 is the send time (tools/media/sdp.h).
inline constexpr uint8_t kFrameMarkingExtensionId = 2;
inline constexpr char kFrameMarkingExtensionUri[] =
    "urn:ietf:params:rtp-hdrext:framemarking";

struct FrameMarking {
  bool start_of_frame = false;
  bool end_of_frame = false;
  bool independent = false;
  bool discardable = false;
  bool base_layer_sync = false;
  uint8_t temporal_id = 0;  // 0..7

  // The first packet of a keyframe.
  bool starts_keyframe() const { return start_of_frame && independent; }
};

enum class FrameMarkingError : uint8_t {
  kOk = 0,
  kAbsent,             // no element with the id
  kBadLength,          // the element's data is not 1..3 bytes
  kMalformedElements,  // the extension block is malformed before the element
};

absl::string_view ErrorName(FrameMarkingError error);

// Reads the element's data (1..3 bytes). Never reads outside `data`.
FrameMarkingError ParseFrameMarking(absl::Span<const uint8_t> data,
                                    FrameMarking* out);

// Finds the element `id` in a parsed packet and reads it.
FrameMarkingError FindFrameMarking(const RtpView& packet, uint8_t id,
                                   FrameMarking* out);

// The one-byte short form (temporal_id is cut to its 3 bits).
uint8_t FrameMarkingByte(const FrameMarking& marking);

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_FRAME_MARKING_H_
