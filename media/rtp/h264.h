// H.264 in RTP (RFC 6184): what one RTP payload carries, and whether a
// keyframe starts in it. Handles single NAL unit packets, STAP-A and FU-A;
// other packetizations (STAP-B, MTAP, FU-B: interleaved mode) are reported
// as unsupported.
#ifndef CASCADE_MEDIA_RTP_H264_H_
#define CASCADE_MEDIA_RTP_H264_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade::rtp {

// NAL unit types that matter here.
inline constexpr uint8_t kNalSlice = 1;
inline constexpr uint8_t kNalIdr = 5;
inline constexpr uint8_t kNalSei = 6;
inline constexpr uint8_t kNalSps = 7;
inline constexpr uint8_t kNalPps = 8;
inline constexpr uint8_t kNalStapA = 24;
inline constexpr uint8_t kNalFuA = 28;

enum class H264Error : uint8_t {
  kOk = 0,
  kEmpty,                     // no payload bytes
  kForbiddenBit,              // F bit set in a NAL unit header
  kReservedType,              // NAL type 0, 30 or 31
  kUnsupportedPacketization,  // STAP-B, MTAP16, MTAP24, FU-B
  kStapTooShort,              // STAP-A without a single aggregated unit
  kStapUnitOverrun,           // an aggregated unit's size runs past the end
  kStapEmptyUnit,             // an aggregated unit of size 0
  kStapBadInnerType,          // an aggregated unit of type 0 or 24..31
  kFuTooShort,                // FU-A without FU header or fragment data
  kFuStartAndEnd,             // S and E both set
  kFuBadInnerType,            // FU-A carrying type 0 or 24..31
};

absl::string_view ErrorName(H264Error error);

struct H264PayloadInfo {
  // The packetization: the NAL type of the payload's first byte (1..23 for a
  // single NAL unit packet, kNalStapA, kNalFuA).
  uint8_t packetization = 0;
  // Bit t set when the payload carries (part of) a NAL unit of type t.
  uint32_t nal_types = 0;
  // FU-A only: start / end fragment.
  bool fu_start = false;
  bool fu_end = false;
  // The payload starts an IDR picture: it holds the beginning of an IDR
  // slice whose first_mb_in_slice is 0 (the picture's first slice).
  bool idr_start = false;
  // A decoder can start here: the payload carries an SPS or PPS (which
  // precede an IDR picture) or starts an IDR picture. The SPS, PPS and IDR
  // slices of one access unit share an RTP timestamp: a keyframe cache
  // should begin a new keyframe only when the timestamp differs from the
  // one it is holding.
  bool keyframe_start = false;

  bool carries(uint8_t nal_type) const {
    return nal_type < 32 && (nal_types >> nal_type) & 1;
  }
};

// Inspects one RTP payload. On kOk fills *info; otherwise *info is
// unspecified. Never reads outside `payload`.
H264Error InspectH264(absl::Span<const uint8_t> payload, H264PayloadInfo* info);

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_H264_H_
