#include "relay/keyframe_start.h"

#include <vector>

#include "gtest/gtest.h"
#include "media/rtp/frame_marking.h"
#include "media/rtp/rtp.h"

namespace cascade::relay {
namespace {

using Bytes = std::vector<uint8_t>;

// An RTP packet with `payload`, frame-marked with `marking` when given.
Bytes Packet(const Bytes& payload, const uint8_t* marking = nullptr,
             size_t marking_size = 1) {
  const rtp::ExtensionElement elements[] = {
      {rtp::kFrameMarkingExtensionId,
       absl::MakeConstSpan(marking, marking == nullptr ? 0 : marking_size)}};
  rtp::RtpHeader header;
  header.payload_type = 96;
  if (marking != nullptr) header.extensions = elements;
  Bytes out(64 + payload.size());
  out.resize(rtp::WriteRtpPacket(header, payload, absl::MakeSpan(out)));
  return out;
}

KeyframeStart Detect(const Bytes& packet) {
  rtp::RtpView view;
  EXPECT_EQ(rtp::ParseRtp(packet, &view), rtp::RtpError::kOk);
  return DetectKeyframeStart(view);
}

const Bytes kIdr = {0x65, 0x88, 0x84, 0x00};
const Bytes kPSlice = {0x41, 0x9a, 0x02};
// What an encrypted payload looks like to a relay: no H.264 at all (a
// forbidden bit, then noise).
const Bytes kCiphertext = {0xe5, 0x17, 0x9c, 0x03, 0x44};

TEST(KeyframeStartTest, FrameMarkingDecidesWithoutLookingAtThePayload) {
  const uint8_t keyframe_start[] = {0xa0};   // S, I
  const uint8_t keyframe_middle[] = {0x20};  // I
  const uint8_t delta_start[] = {0x80};      // S
  EXPECT_EQ(Detect(Packet(kCiphertext, keyframe_start)), KeyframeStart::kYes);
  EXPECT_EQ(Detect(Packet(kCiphertext, keyframe_middle)), KeyframeStart::kNo);
  EXPECT_EQ(Detect(Packet(kCiphertext, delta_start)), KeyframeStart::kNo);
  // The marking wins over the payload either way.
  EXPECT_EQ(Detect(Packet(kIdr, delta_start)), KeyframeStart::kNo);
  EXPECT_EQ(Detect(Packet(kPSlice, keyframe_start)), KeyframeStart::kYes);
}

TEST(KeyframeStartTest, UnmarkedPacketsAreParsedAsH264) {
  EXPECT_EQ(Detect(Packet(kIdr)), KeyframeStart::kYes);
  EXPECT_EQ(Detect(Packet(kPSlice)), KeyframeStart::kNo);
  EXPECT_EQ(Detect(Packet(kCiphertext)), KeyframeStart::kMalformed);
}

TEST(KeyframeStartTest, MalformedMarkingIsNotTrusted) {
  const uint8_t too_long[] = {0xa0, 0, 0, 0};
  EXPECT_EQ(Detect(Packet(kIdr, too_long, sizeof(too_long))),
            KeyframeStart::kMalformed);
}

}  // namespace
}  // namespace cascade::relay
