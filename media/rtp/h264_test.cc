#include "media/rtp/h264.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace cascade::rtp {
namespace {

using Bytes = std::vector<uint8_t>;

// NAL headers with NRI 3.
constexpr uint8_t kSps = 0x67, kPps = 0x68, kIdr = 0x65, kP = 0x41, kSei = 0x06;
// Slice data starting with first_mb_in_slice = 0 (bit 1) or not (bit 0).
constexpr uint8_t kFirstSlice = 0x88, kLaterSlice = 0x20;

H264Error Inspect(const Bytes& payload, H264PayloadInfo* info = nullptr) {
  H264PayloadInfo local;
  return InspectH264(absl::MakeConstSpan(payload), info ? info : &local);
}

TEST(InspectH264Test, SingleNalIdrStartsKeyframe) {
  H264PayloadInfo info;
  ASSERT_EQ(Inspect({kIdr, kFirstSlice, 0x12}, &info), H264Error::kOk);
  EXPECT_EQ(info.packetization, kNalIdr);
  EXPECT_TRUE(info.idr_start);
  EXPECT_TRUE(info.keyframe_start);
  EXPECT_TRUE(info.carries(kNalIdr));
  EXPECT_FALSE(info.carries(kNalSlice));
}

TEST(InspectH264Test, LaterIdrSliceIsNotAStart) {
  H264PayloadInfo info;
  ASSERT_EQ(Inspect({kIdr, kLaterSlice, 0x12}, &info), H264Error::kOk);
  EXPECT_TRUE(info.carries(kNalIdr));
  EXPECT_FALSE(info.idr_start);
  EXPECT_FALSE(info.keyframe_start);
  // An IDR NAL unit with no slice data cannot start a picture.
  ASSERT_EQ(Inspect({kIdr}, &info), H264Error::kOk);
  EXPECT_FALSE(info.keyframe_start);
}

TEST(InspectH264Test, SpsAndPpsStartKeyframe) {
  H264PayloadInfo info;
  ASSERT_EQ(Inspect({kSps, 0x42, 0xc0, 0x1f}, &info), H264Error::kOk);
  EXPECT_TRUE(info.keyframe_start);
  EXPECT_FALSE(info.idr_start);
  ASSERT_EQ(Inspect({kPps, 0xce, 0x3c, 0x80}, &info), H264Error::kOk);
  EXPECT_TRUE(info.keyframe_start);
}

TEST(InspectH264Test, NonIdrSliceAndSei) {
  H264PayloadInfo info;
  ASSERT_EQ(Inspect({kP, kFirstSlice, 1}, &info), H264Error::kOk);
  EXPECT_FALSE(info.keyframe_start);
  EXPECT_EQ(info.nal_types, 1u << kNalSlice);
  ASSERT_EQ(Inspect({kSei, 5, 1, 0}, &info), H264Error::kOk);
  EXPECT_FALSE(info.keyframe_start);
  EXPECT_TRUE(info.carries(kNalSei));
}

TEST(InspectH264Test, StapAWithSpsPpsIdr) {
  const Bytes stap = {0x78,                               // STAP-A, NRI 3
                      0,    3, kSps, 0x42,        0xc0,   // SPS
                      0,    2, kPps, 0xce,                // PPS
                      0,    3, kIdr, kFirstSlice, 0x00};  // IDR
  H264PayloadInfo info;
  ASSERT_EQ(Inspect(stap, &info), H264Error::kOk);
  EXPECT_EQ(info.packetization, kNalStapA);
  EXPECT_EQ(info.nal_types,
            (1u << kNalSps) | (1u << kNalPps) | (1u << kNalIdr));
  EXPECT_TRUE(info.idr_start);
  EXPECT_TRUE(info.keyframe_start);
  EXPECT_FALSE(info.carries(kNalStapA));
}

TEST(InspectH264Test, StapAOfPFramesIsNotKeyframe) {
  const Bytes stap = {0x78, 0, 2, kP, kFirstSlice, 0, 1, kSei};
  H264PayloadInfo info;
  ASSERT_EQ(Inspect(stap, &info), H264Error::kOk);
  EXPECT_FALSE(info.keyframe_start);
  EXPECT_EQ(info.nal_types, (1u << kNalSlice) | (1u << kNalSei));
}

TEST(InspectH264Test, StapAMalformed) {
  EXPECT_EQ(Inspect({0x78}), H264Error::kStapTooShort);
  EXPECT_EQ(Inspect({0x78, 0, 1}), H264Error::kStapTooShort);
  // Size runs past the end.
  EXPECT_EQ(Inspect({0x78, 0, 5, kSps, 1}), H264Error::kStapUnitOverrun);
  EXPECT_EQ(Inspect({0x78, 0xff, 0xff, kSps, 1}), H264Error::kStapUnitOverrun);
  // A good unit then a lone size byte.
  EXPECT_EQ(Inspect({0x78, 0, 1, kSps, 0}), H264Error::kStapUnitOverrun);
  // A good unit then a size with nothing after it.
  EXPECT_EQ(Inspect({0x78, 0, 1, kSps, 0, 2}), H264Error::kStapUnitOverrun);
  EXPECT_EQ(Inspect({0x78, 0, 0, kSps}), H264Error::kStapEmptyUnit);
  EXPECT_EQ(Inspect({0x78, 0, 1, 0x80 | kNalSps}), H264Error::kForbiddenBit);
  EXPECT_EQ(Inspect({0x78, 0, 2, 0x78, 0}), H264Error::kStapBadInnerType);
  EXPECT_EQ(Inspect({0x78, 0, 1, 0x00}), H264Error::kStapBadInnerType);
  EXPECT_EQ(Inspect({0x78, 0, 1, 0x7c}), H264Error::kStapBadInnerType);
}

TEST(InspectH264Test, FuAStartMiddleEnd) {
  H264PayloadInfo info;
  // FU indicator 0x7c (NRI 3, type 28); FU header S=1, type 5.
  ASSERT_EQ(Inspect({0x7c, 0x85, kFirstSlice, 0x11}, &info), H264Error::kOk);
  EXPECT_EQ(info.packetization, kNalFuA);
  EXPECT_TRUE(info.fu_start);
  EXPECT_FALSE(info.fu_end);
  EXPECT_TRUE(info.idr_start);
  EXPECT_TRUE(info.keyframe_start);
  EXPECT_EQ(info.nal_types, 1u << kNalIdr);

  ASSERT_EQ(Inspect({0x7c, 0x05, 0xff, 0xff}, &info), H264Error::kOk);
  EXPECT_FALSE(info.fu_start);
  EXPECT_FALSE(info.keyframe_start) << "a middle fragment never starts one";
  EXPECT_TRUE(info.carries(kNalIdr));

  ASSERT_EQ(Inspect({0x7c, 0x45, 0xff}, &info), H264Error::kOk);
  EXPECT_TRUE(info.fu_end);
  EXPECT_FALSE(info.keyframe_start);

  // Start of a later IDR slice, and of a P slice.
  ASSERT_EQ(Inspect({0x7c, 0x85, kLaterSlice}, &info), H264Error::kOk);
  EXPECT_FALSE(info.keyframe_start);
  ASSERT_EQ(Inspect({0x5c, 0x81, kFirstSlice}, &info), H264Error::kOk);
  EXPECT_FALSE(info.keyframe_start);
  EXPECT_EQ(info.nal_types, 1u << kNalSlice);
}

TEST(InspectH264Test, FuAMalformed) {
  EXPECT_EQ(Inspect({0x7c}), H264Error::kFuTooShort);
  EXPECT_EQ(Inspect({0x7c, 0x85}), H264Error::kFuTooShort);
  EXPECT_EQ(Inspect({0x7c, 0xc5, 0x88}), H264Error::kFuStartAndEnd);
  EXPECT_EQ(Inspect({0x7c, 0x9c, 0x88}), H264Error::kFuBadInnerType);
  EXPECT_EQ(Inspect({0x7c, 0x98, 0x88}), H264Error::kFuBadInnerType);
  EXPECT_EQ(Inspect({0x7c, 0x80, 0x88}), H264Error::kFuBadInnerType);
  EXPECT_EQ(Inspect({0xfc, 0x85, 0x88}), H264Error::kForbiddenBit);
}

TEST(InspectH264Test, EmptyForbiddenReservedUnsupported) {
  EXPECT_EQ(Inspect({}), H264Error::kEmpty);
  EXPECT_EQ(Inspect({0x80 | kNalIdr, kFirstSlice}), H264Error::kForbiddenBit);
  EXPECT_EQ(Inspect({0x60}), H264Error::kReservedType);
  EXPECT_EQ(Inspect({0x7e, 0}), H264Error::kReservedType);
  EXPECT_EQ(Inspect({0x7f, 0}), H264Error::kReservedType);
  for (uint8_t type : {25, 26, 27, 29}) {
    EXPECT_EQ(Inspect({static_cast<uint8_t>(0x60 | type), 0, 0, 0}),
              H264Error::kUnsupportedPacketization)
        << int{type};
  }
}

TEST(InspectH264Test, ErrorNames) {
  EXPECT_EQ(ErrorName(H264Error::kOk), "ok");
  EXPECT_EQ(ErrorName(H264Error::kStapUnitOverrun), "stap_unit_overrun");
  EXPECT_EQ(ErrorName(H264Error::kFuStartAndEnd), "fu_start_and_end");
  for (int e = 0; e <= static_cast<int>(H264Error::kFuBadInnerType); ++e) {
    EXPECT_NE(ErrorName(static_cast<H264Error>(e)), "unknown") << e;
  }
}

}  // namespace
}  // namespace cascade::rtp
