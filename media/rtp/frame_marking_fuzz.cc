// Fuzzes the frame-marking reader on whole RTP packets (as a relay meets
// them) and on raw element data: it never reads outside its input, agrees
// with the extension reader, and what it reads writes back to the same bits.
#include <cstring>

#include "media/rtp/frame_marking.h"
#include "media/rtp/fuzz_check.h"
#include "media/rtp/rtp.h"

namespace cascade::rtp {
namespace {

void CheckRoundTrip(const FrameMarking& marking, uint8_t first_byte) {
  FUZZ_CHECK(marking.temporal_id <= 7);
  FUZZ_CHECK(FrameMarkingByte(marking) == first_byte);
  const uint8_t byte[] = {first_byte};
  FrameMarking again;
  FUZZ_CHECK(ParseFrameMarking(byte, &again) == FrameMarkingError::kOk);
  FUZZ_CHECK(std::memcmp(&again, &marking, sizeof(marking)) == 0);
}

}  // namespace
}  // namespace cascade::rtp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::rtp;
  const absl::Span<const uint8_t> input(data, size);
  FrameMarking marking;
  const FrameMarkingError raw = ParseFrameMarking(input, &marking);
  FUZZ_CHECK((raw == FrameMarkingError::kOk) == (size >= 1 && size <= 3));
  if (raw == FrameMarkingError::kOk) CheckRoundTrip(marking, data[0]);

  RtpView view;
  if (ParseRtp(input, &view) != RtpError::kOk) return 0;
  const FrameMarkingError found =
      FindFrameMarking(view, kFrameMarkingExtensionId, &marking);
  absl::Span<const uint8_t> element;
  const bool present = FindExtension(view, kFrameMarkingExtensionId, &element);
  FUZZ_CHECK(present == (found == FrameMarkingError::kOk ||
                         found == FrameMarkingError::kBadLength));
  if (found == FrameMarkingError::kOk) {
    FUZZ_CHECK(Within(element, view.extension_data));
    CheckRoundTrip(marking, element[0]);
  }
  return 0;
}
