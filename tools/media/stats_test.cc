#include "tools/media/stats.h"

#include <gtest/gtest.h>

namespace cascade {
namespace media {
namespace {

TEST(SequenceStatsTest, CountsLossDuplicatesAndReordering) {
  SequenceStats stats;
  for (int64_t seq : {10, 11, 13, 12, 12, 15, 16, 16}) stats.Add(seq);
  EXPECT_EQ(stats.received(), 8);
  EXPECT_EQ(stats.duplicates(), 2);
  EXPECT_EQ(stats.out_of_order(), 1);  // 12 after 13
  EXPECT_EQ(stats.expected(), 7);      // 10..16
  EXPECT_EQ(stats.lost(), 1);          // 14
  stats.Add(14);                       // repaired late
  EXPECT_EQ(stats.lost(), 0);
}

TEST(SequenceStatsTest, LongJumpsKeepTheWindowConsistent) {
  SequenceStats stats;
  stats.Add(0);
  stats.Add(100000);
  stats.Add(100000 - 8191);  // inside the window after the jump: new
  EXPECT_EQ(stats.duplicates(), 0);
  stats.Add(100000 - 8191);
  EXPECT_EQ(stats.duplicates(), 1);
  stats.Add(5);  // beyond the window: counted as out of order only
  EXPECT_EQ(stats.out_of_order(), 2);
  EXPECT_EQ(stats.expected(), 100001);
}

TEST(LatencyStatsTest, NearestRankPercentiles) {
  LatencyStats stats;
  EXPECT_EQ(stats.Percentile(0.5), absl::ZeroDuration());
  for (int ms = 100; ms >= 1; --ms) stats.Add(absl::Milliseconds(ms));
  EXPECT_EQ(stats.Percentile(0.5), absl::Milliseconds(50));
  EXPECT_EQ(stats.Percentile(0.99), absl::Milliseconds(99));
  EXPECT_EQ(stats.Percentile(1.0), absl::Milliseconds(100));
  EXPECT_EQ(stats.Max(), absl::Milliseconds(100));
}

TEST(LatencyStatsTest, BoundedSamplesStillTrackMax) {
  LatencyStats stats(2);
  stats.Add(absl::Milliseconds(1));
  stats.Add(absl::Milliseconds(2));
  stats.Add(absl::Milliseconds(50));
  EXPECT_EQ(stats.count(), 2u);
  EXPECT_EQ(stats.Max(), absl::Milliseconds(50));
}

TEST(LatencyStatsTest, MergeCombinesSamples) {
  LatencyStats a, b;
  a.Add(absl::Milliseconds(1));
  b.Add(absl::Milliseconds(3));
  b.Add(absl::Milliseconds(2));
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.Percentile(0.5), absl::Milliseconds(2));
  EXPECT_EQ(a.Max(), absl::Milliseconds(3));
}

TEST(FreezeDetectorTest, GapOverTwoIntervalsIsAFreeze) {
  FreezeDetector detector;
  const absl::Time t0 = absl::FromUnixSeconds(5);
  const absl::Duration interval = absl::Milliseconds(33);
  detector.OnFrame(t0, interval);
  detector.OnFrame(t0 + absl::Milliseconds(33), interval);
  detector.OnFrame(t0 + absl::Milliseconds(99), interval);   // 66: not over
  detector.OnFrame(t0 + absl::Milliseconds(299), interval);  // 200: freeze
  detector.OnFrame(t0 + absl::Milliseconds(399), interval);  // 100: freeze
  ASSERT_EQ(detector.freezes().size(), 2u);
  EXPECT_EQ(detector.freezes()[0], absl::Milliseconds(200));
  EXPECT_EQ(detector.total_frozen(), absl::Milliseconds(300));
  EXPECT_EQ(detector.longest(), absl::Milliseconds(200));
}

}  // namespace
}  // namespace media
}  // namespace cascade
