#include "tools/media/h264_packetizer.h"

#include <algorithm>

namespace cascade {
namespace media {
namespace {

constexpr uint8_t kForbiddenBit = 0x80;
constexpr uint8_t kNriMask = 0x60;
constexpr uint8_t kFuStart = 0x80;
constexpr uint8_t kFuEnd = 0x40;
constexpr size_t kFuHeaderSize = 2;   // FU indicator + FU header
constexpr size_t kStapSizeField = 2;  // 16-bit NAL unit size

void AppendStartCode(std::vector<uint8_t>* out) {
  out->insert(out->end(), {0, 0, 0, 1});
}

void AppendNal(absl::Span<const uint8_t> nal, DepacketizedFrame* frame) {
  AppendStartCode(&frame->annexb);
  frame->annexb.insert(frame->annexb.end(), nal.begin(), nal.end());
  ++frame->nal_count;
  switch (NalType(nal[0])) {
    case kNalIdr:
      frame->has_idr = true;
      break;
    case kNalSps:
      frame->has_sps = true;
      break;
    case kNalPps:
      frame->has_pps = true;
      break;
    default:
      break;
  }
}

// One STAP-A payload aggregating `nals`.
std::vector<uint8_t> BuildStapA(
    absl::Span<const absl::Span<const uint8_t>> nals) {
  uint8_t forbidden = 0;
  uint8_t nri = 0;
  size_t size = 1;
  for (const auto& nal : nals) {
    forbidden |= nal[0] & kForbiddenBit;
    nri = std::max<uint8_t>(nri, nal[0] & kNriMask);
    size += kStapSizeField + nal.size();
  }
  std::vector<uint8_t> payload;
  payload.reserve(size);
  payload.push_back(forbidden | nri | kNalStapA);
  for (const auto& nal : nals) {
    payload.push_back(static_cast<uint8_t>(nal.size() >> 8));
    payload.push_back(static_cast<uint8_t>(nal.size()));
    payload.insert(payload.end(), nal.begin(), nal.end());
  }
  return payload;
}

void AppendFuA(absl::Span<const uint8_t> nal, size_t max_payload_size,
               std::vector<std::vector<uint8_t>>* out) {
  const uint8_t indicator = (nal[0] & (kForbiddenBit | kNriMask)) | kNalFuA;
  const uint8_t type = NalType(nal[0]);
  absl::Span<const uint8_t> body = nal.subspan(1);
  const size_t room = max_payload_size - kFuHeaderSize;
  // Near-equal fragments rather than full ones plus a runt at the end.
  const size_t count = (body.size() + room - 1) / room;
  const size_t base = body.size() / count;
  size_t extra = body.size() % count;
  size_t offset = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t length = base + (extra > 0 ? 1 : 0);
    if (extra > 0) --extra;
    std::vector<uint8_t> payload;
    payload.reserve(kFuHeaderSize + length);
    payload.push_back(indicator);
    uint8_t header = type;
    if (i == 0) header |= kFuStart;
    if (i + 1 == count) header |= kFuEnd;
    payload.push_back(header);
    payload.insert(payload.end(), body.begin() + offset,
                   body.begin() + offset + length);
    offset += length;
    out->push_back(std::move(payload));
  }
}

}  // namespace

std::vector<absl::Span<const uint8_t>> SplitAnnexB(
    absl::Span<const uint8_t> stream) {
  std::vector<absl::Span<const uint8_t>> nals;
  const size_t n = stream.size();
  // A NAL unit never ends in a zero byte, so trailing zeros are the leading
  // byte of a 4-byte start code or trailing_zero_8bits padding.
  auto add = [&](size_t begin, size_t end) {
    while (end > begin && stream[end - 1] == 0) --end;
    if (end > begin) nals.push_back(stream.subspan(begin, end - begin));
  };
  size_t nal_start = n;  // n: no NAL unit open yet
  size_t i = 0;
  while (i + 2 < n) {
    if (stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1) {
      if (nal_start < n) add(nal_start, i);
      i += 3;
      nal_start = i;
    } else {
      ++i;
    }
  }
  if (nal_start < n) add(nal_start, n);
  return nals;
}

std::vector<std::vector<uint8_t>> PacketizeH264(
    absl::Span<const absl::Span<const uint8_t>> nals, size_t max_payload_size) {
  std::vector<std::vector<uint8_t>> payloads;
  if (max_payload_size < kFuHeaderSize + 1) return payloads;
  size_t i = 0;
  while (i < nals.size()) {
    if (nals[i].empty()) {
      ++i;
      continue;
    }
    if (nals[i].size() > max_payload_size) {
      AppendFuA(nals[i], max_payload_size, &payloads);
      ++i;
      continue;
    }
    // Greedily aggregate the following NAL units that fit in one STAP-A.
    size_t end = i + 1;
    size_t stap_size = 1 + kStapSizeField + nals[i].size();
    while (end < nals.size() && !nals[end].empty() &&
           stap_size + kStapSizeField + nals[end].size() <= max_payload_size) {
      stap_size += kStapSizeField + nals[end].size();
      ++end;
    }
    if (end - i == 1) {
      payloads.emplace_back(nals[i].begin(), nals[i].end());
    } else {
      payloads.push_back(BuildStapA(nals.subspan(i, end - i)));
    }
    i = end;
  }
  return payloads;
}

const char* DepacketizeErrorName(DepacketizeError error) {
  switch (error) {
    case DepacketizeError::kNone:
      return "none";
    case DepacketizeError::kEmptyPayload:
      return "empty_payload";
    case DepacketizeError::kForbiddenBit:
      return "forbidden_bit";
    case DepacketizeError::kUnsupportedType:
      return "unsupported_type";
    case DepacketizeError::kStapATruncated:
      return "stap_a_truncated";
    case DepacketizeError::kStapAEmptyNal:
      return "stap_a_empty_nal";
    case DepacketizeError::kFuATooShort:
      return "fu_a_too_short";
    case DepacketizeError::kFuAStartAndEnd:
      return "fu_a_start_and_end";
    case DepacketizeError::kFuAWithoutStart:
      return "fu_a_without_start";
    case DepacketizeError::kFuARestartedEarly:
      return "fu_a_restarted_early";
    case DepacketizeError::kFuAUnfinished:
      return "fu_a_unfinished";
  }
  return "unknown";
}

DepacketizeError DepacketizeH264(
    absl::Span<const absl::Span<const uint8_t>> payloads,
    DepacketizedFrame* frame) {
  *frame = DepacketizedFrame();
  bool in_fragment = false;
  for (absl::Span<const uint8_t> payload : payloads) {
    if (payload.empty()) return DepacketizeError::kEmptyPayload;
    if (payload[0] & kForbiddenBit) return DepacketizeError::kForbiddenBit;
    const uint8_t type = NalType(payload[0]);
    if (type >= 1 && type <= 23) {
      if (in_fragment) return DepacketizeError::kFuAUnfinished;
      AppendNal(payload, frame);
    } else if (type == kNalStapA) {
      if (in_fragment) return DepacketizeError::kFuAUnfinished;
      size_t offset = 1;
      while (offset < payload.size()) {
        if (offset + kStapSizeField > payload.size()) {
          return DepacketizeError::kStapATruncated;
        }
        const size_t size =
            (size_t{payload[offset]} << 8) | payload[offset + 1];
        offset += kStapSizeField;
        if (size == 0) return DepacketizeError::kStapAEmptyNal;
        if (offset + size > payload.size()) {
          return DepacketizeError::kStapATruncated;
        }
        absl::Span<const uint8_t> nal = payload.subspan(offset, size);
        if (nal[0] & kForbiddenBit) return DepacketizeError::kForbiddenBit;
        AppendNal(nal, frame);
        offset += size;
      }
    } else if (type == kNalFuA) {
      if (payload.size() < kFuHeaderSize + 1) {
        return DepacketizeError::kFuATooShort;
      }
      const uint8_t header = payload[1];
      const bool start = header & kFuStart;
      const bool end = header & kFuEnd;
      if (start && end) return DepacketizeError::kFuAStartAndEnd;
      absl::Span<const uint8_t> body = payload.subspan(kFuHeaderSize);
      if (start) {
        if (in_fragment) return DepacketizeError::kFuARestartedEarly;
        const uint8_t nal_header =
            (payload[0] & (kForbiddenBit | kNriMask)) | NalType(header);
        AppendNal(absl::MakeConstSpan(&nal_header, 1), frame);
        in_fragment = true;
      } else if (!in_fragment) {
        return DepacketizeError::kFuAWithoutStart;
      }
      frame->annexb.insert(frame->annexb.end(), body.begin(), body.end());
      if (end) in_fragment = false;
    } else {
      return DepacketizeError::kUnsupportedType;
    }
  }
  if (in_fragment) return DepacketizeError::kFuAUnfinished;
  return DepacketizeError::kNone;
}

}  // namespace media
}  // namespace cascade
