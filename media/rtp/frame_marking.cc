#include "media/rtp/frame_marking.h"

namespace cascade::rtp {
namespace {

constexpr uint8_t kStart = 0x80;
constexpr uint8_t kEnd = 0x40;
constexpr uint8_t kIndependent = 0x20;
constexpr uint8_t kDiscardable = 0x10;
constexpr uint8_t kBaseLayerSync = 0x08;
constexpr uint8_t kTemporalId = 0x07;
// The short form and the two scalable ones (with LID, then TL0PICIDX).
constexpr size_t kMaxSize = 3;

}  // namespace

absl::string_view ErrorName(FrameMarkingError error) {
  switch (error) {
    case FrameMarkingError::kOk:
      return "ok";
    case FrameMarkingError::kAbsent:
      return "absent";
    case FrameMarkingError::kBadLength:
      return "frame_marking_bad_length";
    case FrameMarkingError::kMalformedElements:
      return "frame_marking_malformed_elements";
  }
  return "unknown";
}

FrameMarkingError ParseFrameMarking(absl::Span<const uint8_t> data,
                                    FrameMarking* out) {
  if (data.empty() || data.size() > kMaxSize) {
    return FrameMarkingError::kBadLength;
  }
  const uint8_t bits = data[0];
  out->start_of_frame = (bits & kStart) != 0;
  out->end_of_frame = (bits & kEnd) != 0;
  out->independent = (bits & kIndependent) != 0;
  out->discardable = (bits & kDiscardable) != 0;
  out->base_layer_sync = (bits & kBaseLayerSync) != 0;
  out->temporal_id = bits & kTemporalId;
  return FrameMarkingError::kOk;
}

FrameMarkingError FindFrameMarking(const RtpView& packet, uint8_t id,
                                   FrameMarking* out) {
  ExtensionReader reader(packet);
  ExtensionElement element;
  while (reader.Next(&element)) {
    if (element.id == id) return ParseFrameMarking(element.data, out);
  }
  return reader.error() == ExtensionError::kOk
             ? FrameMarkingError::kAbsent
             : FrameMarkingError::kMalformedElements;
}

uint8_t FrameMarkingByte(const FrameMarking& marking) {
  return static_cast<uint8_t>((marking.start_of_frame ? kStart : 0) |
                              (marking.end_of_frame ? kEnd : 0) |
                              (marking.independent ? kIndependent : 0) |
                              (marking.discardable ? kDiscardable : 0) |
                              (marking.base_layer_sync ? kBaseLayerSync : 0) |
                              (marking.temporal_id & kTemporalId));
}

}  // namespace cascade::rtp
