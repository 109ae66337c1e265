#include "webrtc/edge/track_numbering.h"

#include <optional>
#include <utility>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace cascade::edge {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1800000000);

// Maps and sends one packet; its outgoing numbers.
TrackNumbering::Mapped Pass(TrackNumbering& n, uint32_t ssrc, uint16_t seq,
                            uint32_t ts, absl::Time now, size_t payload = 100) {
  const TrackNumbering::Mapped m = n.Map(ssrc, seq, ts, now);
  n.Sent(m, payload, now);
  return m;
}

TEST(TrackNumberingTest, TheFirstSourcePassesThroughUnchanged) {
  TrackNumbering n(90000);
  EXPECT_FALSE(n.started());
  const TrackNumbering::Mapped m = Pass(n, 7, 65535, 4000000000u, kStart);
  EXPECT_EQ(m.sequence_number, 65535);
  EXPECT_EQ(m.timestamp, 4000000000u);
  EXPECT_TRUE(m.current);
  EXPECT_EQ(Pass(n, 7, 0, 4000003000u, kStart).sequence_number, 0);
  EXPECT_TRUE(n.started());
  EXPECT_EQ(n.source_ssrc(), 7u);
  EXPECT_EQ(n.packets_sent(), 2u);
  EXPECT_EQ(n.octets_sent(), 200u);
  EXPECT_EQ(n.source_changes(), 0u);
}

TEST(TrackNumberingTest, ANewSourceContinuesAfterTheNewestPacketSent) {
  TrackNumbering n(90000);
  Pass(n, 7, 100, 1000, kStart);
  Pass(n, 7, 102, 7000, kStart + absl::Milliseconds(66));
  // Reordered: not the newest, so not where the next source continues.
  Pass(n, 7, 101, 4000, kStart + absl::Milliseconds(70));
  const absl::Time later = kStart + absl::Milliseconds(166);
  const TrackNumbering::Mapped m = Pass(n, 9, 50000, 123, later);
  EXPECT_TRUE(m.current);
  EXPECT_EQ(m.sequence_number, 103);
  // 100 ms after the newest packet: 9000 ticks of 90 kHz on from it.
  EXPECT_EQ(m.timestamp, 7000u + 9000u);
  EXPECT_EQ(Pass(n, 9, 50001, 3123, later).sequence_number, 104);
  EXPECT_EQ(Pass(n, 9, 50001, 3123, later).timestamp, 7000u + 9000u + 3000u);
  EXPECT_EQ(n.source_ssrc(), 9u);
  EXPECT_EQ(n.source_changes(), 1u);
}

TEST(TrackNumberingTest, LatePacketsOfThePreviousSourceKeepItsNumbering) {
  TrackNumbering n(48000);
  Pass(n, 7, 10, 960, kStart);
  Pass(n, 7, 12, 2880, kStart);
  const TrackNumbering::Mapped first = Pass(n, 9, 500, 0, kStart);
  ASSERT_EQ(first.sequence_number, 13);
  // 11 of the old source arrives late: its old number, and it moves
  // nothing on.
  const TrackNumbering::Mapped late = Pass(n, 7, 11, 1920, kStart);
  EXPECT_FALSE(late.current);
  EXPECT_EQ(late.sequence_number, 11);
  EXPECT_EQ(late.timestamp, 1920u);
  EXPECT_EQ(Pass(n, 9, 501, 960, kStart).sequence_number, 14);
  EXPECT_EQ(n.source_ssrc(), 9u);
  EXPECT_EQ(n.source_changes(), 1u);
}

TEST(TrackNumberingTest, AClockThatWentBackStillMovesTheTimestampOn) {
  TrackNumbering n(90000);
  Pass(n, 7, 1, 5000, kStart);
  const TrackNumbering::Mapped m = Pass(n, 9, 1, 0, kStart - absl::Seconds(10));
  EXPECT_EQ(m.sequence_number, 2);
  EXPECT_EQ(m.timestamp, 5001u);
}

TEST(TrackNumberingTest, TimestampsMapOnlyForTheCurrentSource) {
  TrackNumbering n(90000);
  EXPECT_FALSE(n.MapTimestamp(7, 1000).has_value());
  Pass(n, 7, 1, 1000, kStart);
  EXPECT_EQ(n.MapTimestamp(7, 4000), 4000u);
  Pass(n, 9, 1, 100, kStart + absl::Seconds(1));
  EXPECT_FALSE(n.MapTimestamp(7, 4000).has_value());
  // 9's 100 went out as 1000 + 90000.
  EXPECT_EQ(n.MapTimestamp(9, 100 + 90000), 1000u + 90000u + 90000u);
}

TEST(TrackNumberingTest, OutgoingNumbersMapBackToTheirSource) {
  TrackNumbering n(90000);
  EXPECT_FALSE(n.Unmap(1).has_value());
  Pass(n, 7, 65534, 1000, kStart);
  Pass(n, 7, 65535, 4000, kStart);
  // Outgoing 65534, 65535, then 9's 500 goes out as 0 across the wrap.
  ASSERT_EQ(Pass(n, 9, 500, 0, kStart).sequence_number, 0);
  Pass(n, 9, 501, 3000, kStart);
  using Unmapped = TrackNumbering::Unmapped;
  auto unmap = [&n](uint16_t seq) {
    const std::optional<Unmapped> u = n.Unmap(seq);
    return u.has_value() ? std::make_pair(u->ssrc, u->sequence_number)
                         : std::make_pair(0u, uint16_t{0});
  };
  EXPECT_EQ(unmap(65535), std::make_pair(7u, uint16_t{65535}));
  EXPECT_EQ(unmap(65534), std::make_pair(7u, uint16_t{65534}));
  EXPECT_EQ(unmap(0), std::make_pair(9u, uint16_t{500}));
  EXPECT_EQ(unmap(1), std::make_pair(9u, uint16_t{501}));
  // A second change: 9 becomes the previous source, 7 is forgotten.
  ASSERT_EQ(Pass(n, 11, 40, 0, kStart).sequence_number, 2);
  EXPECT_EQ(unmap(1), std::make_pair(9u, uint16_t{501}));
  EXPECT_EQ(unmap(2), std::make_pair(11u, uint16_t{40}));
}

}  // namespace
}  // namespace cascade::edge
