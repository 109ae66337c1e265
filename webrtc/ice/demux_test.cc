#include "webrtc/ice/demux.h"

#include <vector>

#include "gtest/gtest.h"

namespace cascade::ice {
namespace {

DatagramKind Of(std::vector<uint8_t> bytes) { return Classify(bytes); }

TEST(DemuxTest, RangesOfRfc7983) {
  for (int b = 0; b < 256; ++b) {
    DatagramKind want = DatagramKind::kOther;
    if (b <= 3) want = DatagramKind::kStun;
    if (b >= 20 && b <= 63) want = DatagramKind::kDtls;
    if (b >= 128 && b <= 191) want = DatagramKind::kRtp;
    EXPECT_EQ(Of({static_cast<uint8_t>(b), 0, 0, 0}), want) << b;
  }
}

TEST(DemuxTest, Boundaries) {
  EXPECT_EQ(Of({}), DatagramKind::kOther);
  EXPECT_EQ(Of({3}), DatagramKind::kStun);
  EXPECT_EQ(Of({4}), DatagramKind::kOther);
  EXPECT_EQ(Of({19}), DatagramKind::kOther);  // ZRTP
  EXPECT_EQ(Of({20}), DatagramKind::kDtls);
  EXPECT_EQ(Of({63}), DatagramKind::kDtls);
  EXPECT_EQ(Of({64}), DatagramKind::kOther);  // TURN channel
  EXPECT_EQ(Of({127}), DatagramKind::kOther);
  EXPECT_EQ(Of({128}), DatagramKind::kRtp);
  EXPECT_EQ(Of({191}), DatagramKind::kRtp);
  EXPECT_EQ(Of({192}), DatagramKind::kOther);
}

TEST(DemuxTest, RealFirstBytes) {
  EXPECT_EQ(Of({0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42}),
            DatagramKind::kStun);  // Binding request
  EXPECT_EQ(Of({0x01, 0x01, 0x00, 0x0c}), DatagramKind::kStun);  // success
  EXPECT_EQ(Of({0x16, 0xfe, 0xfd}), DatagramKind::kDtls);  // handshake, 1.2
  EXPECT_EQ(Of({0x17, 0xfe, 0xfd}), DatagramKind::kDtls);  // application data
  EXPECT_EQ(Of({0x80, 0x60}), DatagramKind::kRtp);         // RTP
  EXPECT_EQ(Of({0x81, 0xc8}), DatagramKind::kRtp);         // RTCP SR
}

TEST(DemuxTest, Names) {
  EXPECT_EQ(KindName(DatagramKind::kStun), "stun");
  EXPECT_EQ(KindName(DatagramKind::kDtls), "dtls");
  EXPECT_EQ(KindName(DatagramKind::kRtp), "rtp");
  EXPECT_EQ(KindName(DatagramKind::kOther), "other");
}

}  // namespace
}  // namespace cascade::ice
