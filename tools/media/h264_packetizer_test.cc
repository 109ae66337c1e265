#include "tools/media/h264_packetizer.h"

#include <gtest/gtest.h>

#include <vector>

namespace cascade {
namespace media {
namespace {

using Bytes = std::vector<uint8_t>;

// A NAL unit of `size` bytes: header byte then a counting pattern with no
// zero bytes (so it never forms a start code).
Bytes MakeNal(uint8_t header, size_t size) {
  Bytes nal(size);
  nal[0] = header;
  for (size_t i = 1; i < size; ++i) nal[i] = static_cast<uint8_t>(1 + i % 250);
  return nal;
}

Bytes AnnexB(const std::vector<Bytes>& nals) {
  Bytes out;
  for (const Bytes& nal : nals) {
    out.insert(out.end(), {0, 0, 0, 1});
    out.insert(out.end(), nal.begin(), nal.end());
  }
  return out;
}

std::vector<absl::Span<const uint8_t>> Views(const std::vector<Bytes>& v) {
  std::vector<absl::Span<const uint8_t>> views;
  for (const Bytes& b : v) views.emplace_back(b);
  return views;
}

TEST(SplitAnnexBTest, ThreeAndFourByteStartCodesAndPadding) {
  const Bytes stream = {0xff, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68,
                        3,    0, 0, 0, 1, 0x65, 4, 5, 6, 0, 0};
  auto nals = SplitAnnexB(stream);
  ASSERT_EQ(nals.size(), 3u);
  EXPECT_EQ(Bytes(nals[0].begin(), nals[0].end()), (Bytes{0x67, 1, 2}));
  EXPECT_EQ(Bytes(nals[1].begin(), nals[1].end()), (Bytes{0x68, 3}));
  EXPECT_EQ(Bytes(nals[2].begin(), nals[2].end()), (Bytes{0x65, 4, 5, 6}));
}

TEST(SplitAnnexBTest, NoStartCodeOrOnlyStartCodesGivesNothing) {
  EXPECT_TRUE(SplitAnnexB(Bytes{1, 2, 3, 4}).empty());
  EXPECT_TRUE(SplitAnnexB(Bytes{0, 0, 1, 0, 0, 1, 0, 0, 0, 1}).empty());
  EXPECT_TRUE(SplitAnnexB(Bytes{}).empty());
}

// One case per NAL size class around the MTU boundary.
struct SizeCase {
  std::vector<size_t> sizes;
  size_t max_payload;
  std::vector<uint8_t> expected_types;  // payload NAL types, in order
};

class RoundTripTest : public ::testing::TestWithParam<SizeCase> {};

TEST_P(RoundTripTest, PacketiseThenDepacketiseGivesTheSameAccessUnit) {
  const SizeCase& c = GetParam();
  std::vector<Bytes> nals;
  const uint8_t headers[] = {0x67, 0x68, 0x65, 0x41, 0x06};
  for (size_t i = 0; i < c.sizes.size(); ++i) {
    nals.push_back(MakeNal(headers[i % 5], c.sizes[i]));
  }
  const Bytes annexb = AnnexB(nals);
  auto split = SplitAnnexB(annexb);
  ASSERT_EQ(split.size(), nals.size());

  auto payloads = PacketizeH264(split, c.max_payload);
  std::vector<uint8_t> types;
  for (const Bytes& p : payloads) {
    EXPECT_LE(p.size(), c.max_payload);
    types.push_back(NalType(p[0]));
  }
  EXPECT_EQ(types, c.expected_types);

  DepacketizedFrame frame;
  ASSERT_EQ(DepacketizeH264(Views(payloads), &frame), DepacketizeError::kNone);
  EXPECT_EQ(frame.annexb, annexb);
  EXPECT_EQ(frame.nal_count, static_cast<int>(nals.size()));
}

INSTANTIATE_TEST_SUITE_P(
    SizeClasses, RoundTripTest,
    ::testing::Values(
        // SPS + PPS + small slice aggregate into one STAP-A.
        SizeCase{{20, 6, 300}, 1200, {kNalStapA}},
        // A NAL exactly at the limit goes alone as a single NAL unit.
        SizeCase{{1200}, 1200, {7}},
        // One byte over the limit: two FU-A fragments.
        SizeCase{{1201}, 1200, {kNalFuA, kNalFuA}},
        // SPS + PPS aggregated, then a large IDR fragmented.
        SizeCase{{20, 6, 5000},
                 1200,
                 {kNalStapA, kNalFuA, kNalFuA, kNalFuA, kNalFuA, kNalFuA}},
        // Two mid-size NALs that do not fit together: two single packets.
        SizeCase{{700, 700}, 1200, {7, 8}},
        // A one-byte NAL (header only).
        SizeCase{{1}, 1200, {7}},
        // Tiny MTU forces fragments of one body byte each.
        SizeCase{{5}, 3, {kNalFuA, kNalFuA, kNalFuA, kNalFuA}}));

TEST(PacketizeH264Test, FuAFragmentsAreNearEqualAndFlagged) {
  const Bytes nal = MakeNal(0x65, 2500);
  auto payloads = PacketizeH264({absl::MakeConstSpan(nal)}, 1200);
  ASSERT_EQ(payloads.size(), 3u);
  EXPECT_EQ(payloads[0][1] & 0xc0, 0x80);  // start
  EXPECT_EQ(payloads[1][1] & 0xc0, 0x00);
  EXPECT_EQ(payloads[2][1] & 0xc0, 0x40);  // end
  for (const Bytes& p : payloads) {
    EXPECT_EQ(p[0], (0x65 & 0xe0) | kNalFuA);  // NRI kept
    EXPECT_EQ(p[1] & 0x1f, kNalIdr);
    EXPECT_GE(p.size(), 2u + 2499 / 3);
    EXPECT_LE(p.size(), 2u + 2499 / 3 + 1);
  }
}

TEST(PacketizeH264Test, StapACarriesHighestNri) {
  const Bytes a = MakeNal(0x06, 10);  // SEI, NRI 0
  const Bytes b = MakeNal(0x67, 10);  // SPS, NRI 3
  auto payloads =
      PacketizeH264({absl::MakeConstSpan(a), absl::MakeConstSpan(b)}, 1200);
  ASSERT_EQ(payloads.size(), 1u);
  EXPECT_EQ(payloads[0][0], 0x60 | kNalStapA);
}

TEST(PacketizeH264Test, MaxPayloadTooSmallGivesNothing) {
  const Bytes nal = MakeNal(0x65, 10);
  EXPECT_TRUE(PacketizeH264({absl::MakeConstSpan(nal)}, 2).empty());
}

TEST(DepacketizeH264Test, ReportsKeyframeParts) {
  std::vector<Bytes> nals = {MakeNal(0x67, 10), MakeNal(0x68, 4),
                             MakeNal(0x65, 3000)};
  const Bytes annexb = AnnexB(nals);
  auto payloads = PacketizeH264(SplitAnnexB(annexb), 1200);
  DepacketizedFrame frame;
  ASSERT_EQ(DepacketizeH264(Views(payloads), &frame), DepacketizeError::kNone);
  EXPECT_TRUE(frame.has_sps);
  EXPECT_TRUE(frame.has_pps);
  EXPECT_TRUE(frame.has_idr);
}

struct BadCase {
  std::vector<Bytes> payloads;
  DepacketizeError error;
};

class MalformedTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(MalformedTest, NamedErrorNeverACrash) {
  DepacketizedFrame frame;
  EXPECT_EQ(DepacketizeH264(Views(GetParam().payloads), &frame),
            GetParam().error);
  EXPECT_STRNE(DepacketizeErrorName(GetParam().error), "unknown");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedTest,
    ::testing::Values(
        BadCase{{Bytes{}}, DepacketizeError::kEmptyPayload},
        BadCase{{Bytes{0x85, 1}}, DepacketizeError::kForbiddenBit},
        BadCase{{Bytes{25, 1, 2}}, DepacketizeError::kUnsupportedType},
        BadCase{{Bytes{0, 1}}, DepacketizeError::kUnsupportedType},
        BadCase{{Bytes{24, 0, 5, 0x67, 1}}, DepacketizeError::kStapATruncated},
        BadCase{{Bytes{24, 0, 1, 0x67, 0}}, DepacketizeError::kStapATruncated},
        BadCase{{Bytes{24, 0, 0}}, DepacketizeError::kStapAEmptyNal},
        BadCase{{Bytes{24, 0, 1, 0x87}}, DepacketizeError::kForbiddenBit},
        BadCase{{Bytes{28, 0x85}}, DepacketizeError::kFuATooShort},
        BadCase{{Bytes{28, 0xc5, 1}}, DepacketizeError::kFuAStartAndEnd},
        BadCase{{Bytes{28, 0x45, 1}}, DepacketizeError::kFuAWithoutStart},
        BadCase{{Bytes{28, 0x85, 1}, Bytes{28, 0x85, 2}},
                DepacketizeError::kFuARestartedEarly},
        BadCase{{Bytes{28, 0x85, 1}}, DepacketizeError::kFuAUnfinished},
        BadCase{{Bytes{28, 0x85, 1}, Bytes{0x41, 2}},
                DepacketizeError::kFuAUnfinished}));

}  // namespace
}  // namespace media
}  // namespace cascade
