#include "media/rtp/frame_marking.h"

#include <vector>

#include "gtest/gtest.h"
#include "media/rtp/rtp.h"

namespace cascade::rtp {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes Packet(absl::Span<const ExtensionElement> elements) {
  RtpHeader header;
  header.payload_type = 96;
  header.extensions = elements;
  const uint8_t payload[] = {0xde, 0xad};
  Bytes out(64);
  out.resize(WriteRtpPacket(header, payload, absl::MakeSpan(out)));
  return out;
}

TEST(FrameMarkingTest, BitsInTheDraftsOrder) {
  FrameMarking marking;
  marking.start_of_frame = true;
  EXPECT_EQ(FrameMarkingByte(marking), 0x80);
  marking = {};
  marking.end_of_frame = true;
  EXPECT_EQ(FrameMarkingByte(marking), 0x40);
  marking = {};
  marking.independent = true;
  EXPECT_EQ(FrameMarkingByte(marking), 0x20);
  marking = {};
  marking.discardable = true;
  EXPECT_EQ(FrameMarkingByte(marking), 0x10);
  marking = {};
  marking.base_layer_sync = true;
  marking.temporal_id = 5;
  EXPECT_EQ(FrameMarkingByte(marking), 0x0d);
  marking.temporal_id = 0xff;  // only 3 bits exist
  EXPECT_EQ(FrameMarkingByte(marking), 0x0f);
}

TEST(FrameMarkingTest, ParsesEveryBit) {
  for (int byte = 0; byte < 256; ++byte) {
    const uint8_t data[] = {static_cast<uint8_t>(byte)};
    FrameMarking marking;
    ASSERT_EQ(ParseFrameMarking(data, &marking), FrameMarkingError::kOk);
    EXPECT_EQ(FrameMarkingByte(marking), byte);
    EXPECT_EQ(marking.starts_keyframe(), (byte & 0xa0) == 0xa0);
  }
}

TEST(FrameMarkingTest, ScalableFormsReadTheFirstByte) {
  const uint8_t with_lid[] = {0xe0, 3};
  const uint8_t with_tl0[] = {0x42, 3, 77};
  FrameMarking marking;
  ASSERT_EQ(ParseFrameMarking(with_lid, &marking), FrameMarkingError::kOk);
  EXPECT_TRUE(marking.start_of_frame && marking.end_of_frame &&
              marking.independent);
  ASSERT_EQ(ParseFrameMarking(with_tl0, &marking), FrameMarkingError::kOk);
  EXPECT_TRUE(marking.end_of_frame);
  EXPECT_EQ(marking.temporal_id, 2);
}

TEST(FrameMarkingTest, RejectsBadLengths) {
  FrameMarking marking;
  EXPECT_EQ(ParseFrameMarking({}, &marking), FrameMarkingError::kBadLength);
  const uint8_t four[] = {0xa0, 0, 0, 0};
  EXPECT_EQ(ParseFrameMarking(four, &marking), FrameMarkingError::kBadLength);
}

TEST(FrameMarkingTest, FoundAmongOtherElements) {
  const uint8_t send_time[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  FrameMarking keyframe;
  keyframe.start_of_frame = true;
  keyframe.independent = true;
  const uint8_t marking_byte[] = {FrameMarkingByte(keyframe)};
  const ExtensionElement elements[] = {
      {1, send_time}, {kFrameMarkingExtensionId, marking_byte}};
  const Bytes packet = Packet(elements);
  RtpView view;
  ASSERT_EQ(ParseRtp(packet, &view), RtpError::kOk);
  FrameMarking found;
  ASSERT_EQ(FindFrameMarking(view, kFrameMarkingExtensionId, &found),
            FrameMarkingError::kOk);
  EXPECT_TRUE(found.starts_keyframe());
  EXPECT_FALSE(found.end_of_frame);
  // Another id: absent.
  EXPECT_EQ(FindFrameMarking(view, 9, &found), FrameMarkingError::kAbsent);
}

TEST(FrameMarkingTest, AbsentWithoutExtensionAndMalformedBlock) {
  const Bytes plain = Packet({});
  RtpView view;
  ASSERT_EQ(ParseRtp(plain, &view), RtpError::kOk);
  FrameMarking marking;
  EXPECT_EQ(FindFrameMarking(view, kFrameMarkingExtensionId, &marking),
            FrameMarkingError::kAbsent);

  const uint8_t send_time[8] = {};
  const ExtensionElement elements[] = {{1, send_time}};
  Bytes broken = Packet(elements);
  broken[16] = 0x1f;  // id 1 claiming 16 bytes in a 12-byte block
  ASSERT_EQ(ParseRtp(broken, &view), RtpError::kOk);
  EXPECT_EQ(FindFrameMarking(view, kFrameMarkingExtensionId, &marking),
            FrameMarkingError::kMalformedElements);
}

}  // namespace
}  // namespace cascade::rtp
