#include "media/rtp/h264.h"

#include "media/rtp/bytes.h"

namespace cascade::rtp {

absl::string_view ErrorName(H264Error error) {
  switch (error) {
    case H264Error::kOk:
      return "ok";
    case H264Error::kEmpty:
      return "empty";
    case H264Error::kForbiddenBit:
      return "forbidden_bit";
    case H264Error::kReservedType:
      return "reserved_type";
    case H264Error::kUnsupportedPacketization:
      return "unsupported_packetization";
    case H264Error::kStapTooShort:
      return "stap_too_short";
    case H264Error::kStapUnitOverrun:
      return "stap_unit_overrun";
    case H264Error::kStapEmptyUnit:
      return "stap_empty_unit";
    case H264Error::kStapBadInnerType:
      return "stap_bad_inner_type";
    case H264Error::kFuTooShort:
      return "fu_too_short";
    case H264Error::kFuStartAndEnd:
      return "fu_start_and_end";
    case H264Error::kFuBadInnerType:
      return "fu_bad_inner_type";
  }
  return "unknown";
}

namespace {

constexpr uint8_t kForbiddenBit = 0x80;
constexpr uint8_t kTypeMask = 0x1f;

// Types a NAL unit itself may have (not an RTP packetization or reserved).
bool IsPlainNalType(uint8_t type) { return type >= 1 && type <= 23; }

// `slice_data` follows the NAL header of an IDR slice. first_mb_in_slice is
// its first field, ue(v): the value 0 is the single bit 1.
bool StartsPicture(absl::Span<const uint8_t> slice_data) {
  return !slice_data.empty() && (slice_data[0] & 0x80) != 0;
}

// Records a complete or starting NAL unit of `type` with its bytes after the
// NAL header.
void NoteUnitStart(uint8_t type, absl::Span<const uint8_t> after_header,
                   H264PayloadInfo* info) {
  info->nal_types |= uint32_t{1} << type;
  if (type == kNalIdr && StartsPicture(after_header)) info->idr_start = true;
  if (type == kNalSps || type == kNalPps) info->keyframe_start = true;
}

H264Error InspectStapA(absl::Span<const uint8_t> payload,
                       H264PayloadInfo* info) {
  if (payload.size() < 1 + 2 + 1) return H264Error::kStapTooShort;
  size_t pos = 1;
  while (pos < payload.size()) {
    if (payload.size() - pos < 2) return H264Error::kStapUnitOverrun;
    const size_t unit_size = internal::ReadU16(payload.data() + pos);
    pos += 2;
    if (unit_size == 0) return H264Error::kStapEmptyUnit;
    if (payload.size() - pos < unit_size) return H264Error::kStapUnitOverrun;
    const uint8_t header = payload[pos];
    if (header & kForbiddenBit) return H264Error::kForbiddenBit;
    const uint8_t type = header & kTypeMask;
    if (!IsPlainNalType(type)) return H264Error::kStapBadInnerType;
    NoteUnitStart(type, payload.subspan(pos + 1, unit_size - 1), info);
    pos += unit_size;
  }
  return H264Error::kOk;
}

H264Error InspectFuA(absl::Span<const uint8_t> payload, H264PayloadInfo* info) {
  // FU indicator, FU header, at least one byte of the fragment.
  if (payload.size() < 3) return H264Error::kFuTooShort;
  const uint8_t fu_header = payload[1];
  info->fu_start = (fu_header & 0x80) != 0;
  info->fu_end = (fu_header & 0x40) != 0;
  if (info->fu_start && info->fu_end) return H264Error::kFuStartAndEnd;
  const uint8_t type = fu_header & kTypeMask;
  if (!IsPlainNalType(type)) return H264Error::kFuBadInnerType;
  if (info->fu_start) {
    NoteUnitStart(type, payload.subspan(2), info);
  } else {
    info->nal_types |= uint32_t{1} << type;
  }
  return H264Error::kOk;
}

}  // namespace

H264Error InspectH264(absl::Span<const uint8_t> payload,
                      H264PayloadInfo* info) {
  if (payload.empty()) return H264Error::kEmpty;
  const uint8_t header = payload[0];
  if (header & kForbiddenBit) return H264Error::kForbiddenBit;
  const uint8_t type = header & kTypeMask;
  H264PayloadInfo result;
  result.packetization = type;
  H264Error error = H264Error::kOk;
  if (IsPlainNalType(type)) {
    NoteUnitStart(type, payload.subspan(1), &result);
  } else if (type == kNalStapA) {
    error = InspectStapA(payload, &result);
  } else if (type == kNalFuA) {
    error = InspectFuA(payload, &result);
  } else if (type == 0 || type >= 30) {
    error = H264Error::kReservedType;
  } else {
    error = H264Error::kUnsupportedPacketization;
  }
  if (error != H264Error::kOk) return error;
  result.keyframe_start = result.keyframe_start || result.idr_start;
  *info = result;
  return H264Error::kOk;
}

}  // namespace cascade::rtp
