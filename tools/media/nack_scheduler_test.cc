#include "tools/media/nack_scheduler.h"

#include <gtest/gtest.h>

namespace cascade {
namespace media {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(100);

TEST(NackSchedulerTest, GapIsRequestedAfterReorderWaitThenRetriedThenDropped) {
  NackOptions options;
  options.reorder_wait = absl::Milliseconds(5);
  options.retry_interval = absl::Milliseconds(50);
  options.max_requests = 2;
  NackScheduler nacks(options);
  nacks.OnPacket(10, kT0);
  nacks.OnPacket(13, kT0);
  EXPECT_TRUE(nacks.TakeDue(kT0).empty());  // may just be reordered
  EXPECT_EQ(nacks.TakeDue(kT0 + absl::Milliseconds(5)),
            (std::vector<int64_t>{11, 12}));
  EXPECT_TRUE(nacks.TakeDue(kT0 + absl::Milliseconds(20)).empty());
  EXPECT_EQ(nacks.TakeDue(kT0 + absl::Milliseconds(60)),
            (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(nacks.pending(), 0u);
  EXPECT_TRUE(nacks.TakeDue(kT0 + absl::Seconds(1)).empty());
}

TEST(NackSchedulerTest, ArrivalCancelsTheRequest) {
  NackScheduler nacks;
  nacks.OnPacket(1, kT0);
  nacks.OnPacket(4, kT0);
  nacks.OnPacket(2, kT0);  // reordered, not lost
  EXPECT_EQ(nacks.TakeDue(kT0 + absl::Seconds(1)), (std::vector<int64_t>{3}));
}

TEST(NackSchedulerTest, HugeJumpIsARestartAndPendingIsBounded) {
  NackOptions options;
  options.max_pending = 4;
  options.reorder_wait = absl::ZeroDuration();
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(50000, kT0);
  EXPECT_EQ(nacks.pending(), 0u);
  nacks.OnPacket(50010, kT0);
  EXPECT_EQ(nacks.pending(), 4u);
  EXPECT_EQ(nacks.TakeDue(kT0),
            (std::vector<int64_t>{50006, 50007, 50008, 50009}));
}

}  // namespace
}  // namespace media
}  // namespace cascade
