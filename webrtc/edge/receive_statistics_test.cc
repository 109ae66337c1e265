#include "webrtc/edge/receive_statistics.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "media/rtp/rtcp.h"

namespace cascade::edge {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1800000000);
constexpr uint32_t kSsrc = 0xABCD;

// 20 ms Opus packets from `first` on, arriving exactly on time.
void Feed(ReceiveStatistics& stats, uint16_t first, int count,
          absl::Time at = kStart) {
  for (int i = 0; i < count; ++i) {
    const uint16_t seq = static_cast<uint16_t>(first + i);
    stats.OnPacket(seq, static_cast<uint32_t>(seq) * 960,
                   at + absl::Milliseconds(20) * i);
  }
}

TEST(ReceiveStatisticsTest, NoLossReportsNothingLost) {
  ReceiveStatistics stats(kSsrc, 48000);
  EXPECT_FALSE(stats.started());
  Feed(stats, 1000, 50);
  EXPECT_TRUE(stats.started());
  const rtp::ReportBlock block = stats.Report(kStart + absl::Seconds(1));
  EXPECT_EQ(block.ssrc, kSsrc);
  EXPECT_EQ(block.fraction_lost, 0);
  EXPECT_EQ(block.cumulative_lost, 0);
  EXPECT_EQ(block.extended_highest_sequence, 1049u);
  EXPECT_EQ(block.jitter, 0u);
  EXPECT_EQ(block.last_sr, 0u);
  EXPECT_EQ(block.delay_since_last_sr, 0u);
}

TEST(ReceiveStatisticsTest, LossesPerIntervalAndInAll) {
  ReceiveStatistics stats(kSsrc, 48000);
  // 0..9 with 3 and 7 missing: 2 of 10 lost.
  for (uint16_t seq : {0, 1, 2, 4, 5, 6, 8, 9}) {
    stats.OnPacket(seq, seq * 960u, kStart + absl::Milliseconds(20 * seq));
  }
  rtp::ReportBlock block = stats.Report(kStart + absl::Seconds(1));
  EXPECT_EQ(block.fraction_lost, 2 * 256 / 10);
  EXPECT_EQ(block.cumulative_lost, 2);
  // The next interval loses nothing; the total stays.
  Feed(stats, 10, 10);
  block = stats.Report(kStart + absl::Seconds(2));
  EXPECT_EQ(block.fraction_lost, 0);
  EXPECT_EQ(block.cumulative_lost, 2);
  // 3 arrives late after all: one lost in all.
  stats.OnPacket(3, 3 * 960, kStart + absl::Seconds(2));
  block = stats.Report(kStart + absl::Seconds(3));
  EXPECT_EQ(block.cumulative_lost, 1);
}

TEST(ReceiveStatisticsTest, TheHighestSequenceCountsWraps) {
  ReceiveStatistics stats(kSsrc, 48000);
  Feed(stats, 65530, 10);  // 65530 .. 65535, 0 .. 3
  EXPECT_EQ(stats.Report(kStart + absl::Seconds(1)).extended_highest_sequence,
            0x10003u);
}

TEST(ReceiveStatisticsTest, JitterGrowsWithDelayVariation) {
  ReceiveStatistics stats(kSsrc, 90000);
  // Frames every 33 ms of 3000 ticks (33.33 ms), every other one 10 ms late.
  for (int i = 0; i < 64; ++i) {
    const absl::Duration late = absl::Milliseconds(i % 2 == 1 ? 10 : 0);
    stats.OnPacket(static_cast<uint16_t>(i), i * 3000u,
                   kStart + absl::Microseconds(33333) * i + late);
  }
  const uint32_t jitter = stats.Report(kStart + absl::Seconds(3)).jitter;
  // |D| is 900 ticks (10 ms at 90 kHz) each packet: J tends to it.
  EXPECT_GT(jitter, 800u);
  EXPECT_LE(jitter, 900u);
}

TEST(ReceiveStatisticsTest, TheLastSenderReportAndTheDelaySinceIt) {
  ReceiveStatistics stats(kSsrc, 48000);
  Feed(stats, 1, 5);
  const uint64_t ntp = 0x1122334455667788ull;
  stats.OnSenderReport(ntp, kStart + absl::Seconds(1));
  const rtp::ReportBlock block =
      stats.Report(kStart + absl::Seconds(1) + absl::Milliseconds(250));
  EXPECT_EQ(block.last_sr, 0x33445566u);
  EXPECT_EQ(block.delay_since_last_sr, 65536u / 4);
}

}  // namespace
}  // namespace cascade::edge
