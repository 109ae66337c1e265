#ifndef CASCADE_TOOLS_MEDIA_H264_PACKETIZER_H_
#define CASCADE_TOOLS_MEDIA_H264_PACKETIZER_H_

// H.264 over RTP, RFC 6184 non-interleaved mode: single NAL unit packets,
// STAP-A (type 24) and FU-A (type 28).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace cascade {
namespace media {

// NAL unit types this code names.
inline constexpr uint8_t kNalSlice = 1;
inline constexpr uint8_t kNalIdr = 5;
inline constexpr uint8_t kNalSps = 7;
inline constexpr uint8_t kNalPps = 8;
inline constexpr uint8_t kNalStapA = 24;
inline constexpr uint8_t kNalFuA = 28;

inline uint8_t NalType(uint8_t header) { return header & 0x1f; }

// Splits an Annex B byte stream into NAL units (views without start codes).
// Bytes before the first start code and empty NAL units are skipped.
std::vector<absl::Span<const uint8_t>> SplitAnnexB(
    absl::Span<const uint8_t> stream);

// Packetises the NAL units of one access unit into RTP payloads of at most
// `max_payload_size` bytes (must be at least 3). Consecutive NAL units that
// fit together are aggregated into one STAP-A (e.g. SPS + PPS + a small
// slice), a NAL unit that fits alone is sent as a single NAL unit packet, and
// a larger one is split into FU-A fragments of near-equal size.
std::vector<std::vector<uint8_t>> PacketizeH264(
    absl::Span<const absl::Span<const uint8_t>> nals, size_t max_payload_size);

// Why a frame's payloads could not be depacketised (each counted on its own).
enum class DepacketizeError {
  kNone = 0,
  kEmptyPayload,
  kForbiddenBit,       // F bit set in a NAL unit header
  kUnsupportedType,    // STAP-B, MTAP, FU-B or reserved types 0, 30, 31
  kStapATruncated,     // a STAP-A size field runs past the payload
  kStapAEmptyNal,      // a zero-length NAL unit inside a STAP-A
  kFuATooShort,        // FU-A without a fragment byte
  kFuAStartAndEnd,     // S and E bits both set
  kFuAWithoutStart,    // continuation fragment with no fragment in progress
  kFuARestartedEarly,  // a start fragment while another was unfinished
  kFuAUnfinished,      // the frame ended inside a fragmented NAL unit
};

const char* DepacketizeErrorName(DepacketizeError error);

struct DepacketizedFrame {
  std::vector<uint8_t> annexb;  // NAL units, each after a 4-byte start code
  bool has_idr = false;
  bool has_sps = false;
  bool has_pps = false;
  int nal_count = 0;
};

// Rebuilds one access unit from its RTP payloads given in sequence order.
// On error `frame` holds what was rebuilt before the bad payload.
DepacketizeError DepacketizeH264(
    absl::Span<const absl::Span<const uint8_t>> payloads,
    DepacketizedFrame* frame);

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_H264_PACKETIZER_H_
