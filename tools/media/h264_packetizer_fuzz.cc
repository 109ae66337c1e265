// Fuzzes the RFC 6184 depacketiser with arbitrary payloads, and the
// packetiser with arbitrary Annex B streams (which must round-trip).
//
// Input: byte 0 picks the mode.
//   even: the rest is RTP payloads, each as a 2-byte big-endian length then
//         its bytes, given to DepacketizeH264.
//   odd:  byte 1 sets the payload limit (3 + byte), the rest is an Annex B
//         stream: packetised, then depacketised back.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tools/media/h264_packetizer.h"

namespace {

using cascade::media::DepacketizedFrame;
using cascade::media::DepacketizeError;

void Check(bool condition) {
  if (!condition) std::abort();
}

void FuzzDepacketize(absl::Span<const uint8_t> data) {
  std::vector<absl::Span<const uint8_t>> payloads;
  while (data.size() >= 2) {
    const size_t size =
        std::min<size_t>((size_t{data[0]} << 8) | data[1], data.size() - 2);
    payloads.push_back(data.subspan(2, size));
    data = data.subspan(2 + size);
  }
  DepacketizedFrame frame;
  const DepacketizeError error =
      cascade::media::DepacketizeH264(payloads, &frame);
  size_t input = 0;
  for (const auto& p : payloads) input += p.size();
  // Output never grows beyond a start code per input byte plus the input.
  Check(frame.annexb.size() <= 5 * input + 4);
  if (error == DepacketizeError::kNone) Check(frame.nal_count >= 0);
}

void FuzzRoundTrip(size_t max_payload, absl::Span<const uint8_t> stream) {
  const auto nals = cascade::media::SplitAnnexB(stream);
  const auto payloads = cascade::media::PacketizeH264(nals, max_payload);
  std::vector<absl::Span<const uint8_t>> views;
  for (const auto& p : payloads) {
    Check(p.size() <= max_payload);
    views.emplace_back(p);
  }
  DepacketizedFrame frame;
  const DepacketizeError error = cascade::media::DepacketizeH264(views, &frame);
  // Only NAL units a sender may put on the wire (F = 0, types 1..23) must
  // come back unchanged.
  for (const auto& nal : nals) {
    const uint8_t type = cascade::media::NalType(nal[0]);
    if ((nal[0] & 0x80) != 0 || type == 0 || type > 23) return;
  }
  Check(error == DepacketizeError::kNone);
  const auto back = cascade::media::SplitAnnexB(frame.annexb);
  Check(back.size() == nals.size());
  for (size_t i = 0; i < nals.size(); ++i) {
    Check(std::equal(nals[i].begin(), nals[i].end(), back[i].begin(),
                     back[i].end()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  absl::Span<const uint8_t> input(data, size);
  if (data[0] % 2 == 0) {
    FuzzDepacketize(input.subspan(1));
  } else {
    FuzzRoundTrip(3 + data[1], input.subspan(2));
  }
  return 0;
}
