// Fuzzes InspectH264: never reads past the payload (ASan), and what it
// reports is consistent with itself and with the first byte.
#include "media/rtp/fuzz_check.h"
#include "media/rtp/h264.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::rtp;
  H264PayloadInfo info;
  if (InspectH264(absl::Span<const uint8_t>(data, size), &info) !=
      H264Error::kOk) {
    return 0;
  }
  FUZZ_CHECK(size > 0);
  FUZZ_CHECK(info.packetization == (data[0] & 0x1f));
  FUZZ_CHECK(info.nal_types != 0);
  // Aggregation and fragmentation types are never reported as carried.
  FUZZ_CHECK((info.nal_types & 0xff000001u) == 0);
  FUZZ_CHECK(!info.idr_start || info.carries(kNalIdr));
  FUZZ_CHECK(!info.keyframe_start || info.idr_start || info.carries(kNalSps) ||
             info.carries(kNalPps));
  FUZZ_CHECK(info.packetization == kNalFuA || (!info.fu_start && !info.fu_end));
  FUZZ_CHECK(!(info.fu_start && info.fu_end));
  if (info.packetization == kNalFuA && !info.fu_start) {
    FUZZ_CHECK(!info.keyframe_start);
  }
  return 0;
}
