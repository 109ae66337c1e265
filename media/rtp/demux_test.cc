#include "media/rtp/demux.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"

namespace cascade::rtp {
namespace {

PacketKind ClassifyBytes(std::vector<uint8_t> bytes) {
  return Classify(absl::MakeConstSpan(bytes));
}

TEST(ClassifyTest, RtcpTypesAreRtcpWithOrWithoutMarkerBit) {
  // Second byte 192..223 is RTCP (types 200..206 and the rest of the range).
  for (int type = 192; type <= 223; ++type) {
    EXPECT_EQ(ClassifyBytes({0x80, static_cast<uint8_t>(type), 0, 0}),
              PacketKind::kRtcp)
        << type;
  }
  // Masking the marker bit also maps 64..95 to RTCP: those payload types are
  // reserved by RFC 5761 so they never collide.
  EXPECT_EQ(ClassifyBytes({0x80, 64, 0, 0}), PacketKind::kRtcp);
  EXPECT_EQ(ClassifyBytes({0x80, 95, 0, 0}), PacketKind::kRtcp);
}

TEST(ClassifyTest, DynamicPayloadTypesAreRtp) {
  for (int pt : {0, 8, 63, 96, 111, 127}) {
    EXPECT_EQ(ClassifyBytes({0x80, static_cast<uint8_t>(pt), 0, 0}),
              PacketKind::kRtp)
        << pt;
    EXPECT_EQ(ClassifyBytes({0x80, static_cast<uint8_t>(0x80 | pt), 0, 0}),
              PacketKind::kRtp)
        << "marker " << pt;
  }
  EXPECT_EQ(ClassifyBytes({0x80, 96 + 128, 0, 0}), PacketKind::kRtp);
}

TEST(ClassifyTest, ShortOrWrongVersionIsNeither) {
  EXPECT_EQ(ClassifyBytes({}), PacketKind::kNotRtp);
  EXPECT_EQ(ClassifyBytes({0x80, 200, 0}), PacketKind::kNotRtp);
  EXPECT_EQ(ClassifyBytes({0x00, 0x01, 0x00, 0x00}),
            PacketKind::kNotRtp);  // STUN
  EXPECT_EQ(ClassifyBytes({0x16, 0xfe, 0xfd, 0x00}),
            PacketKind::kNotRtp);                                   // DTLS
  EXPECT_EQ(ClassifyBytes({0xc0, 96, 0, 0}), PacketKind::kNotRtp);  // V=3
}

TEST(ClassifyTest, BuiltPacketsClassifyAsTheirKind) {
  uint8_t buffer[64];
  RtpHeader header;
  header.payload_type = 96;
  header.marker = true;
  const size_t rtp_size = WriteRtpHeader(header, buffer);
  ASSERT_NE(rtp_size, 0u);
  EXPECT_EQ(Classify(absl::MakeConstSpan(buffer, rtp_size)), PacketKind::kRtp);
  const size_t pli_size = BuildPli(1, 2, buffer);
  ASSERT_NE(pli_size, 0u);
  EXPECT_EQ(Classify(absl::MakeConstSpan(buffer, pli_size)), PacketKind::kRtcp);
}

TEST(KindNameTest, Names) {
  EXPECT_EQ(KindName(PacketKind::kNotRtp), "not_rtp");
  EXPECT_EQ(KindName(PacketKind::kRtp), "rtp");
  EXPECT_EQ(KindName(PacketKind::kRtcp), "rtcp");
}

}  // namespace
}  // namespace cascade::rtp
