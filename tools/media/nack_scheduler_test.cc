#include "tools/media/nack_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>

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

// Drives a scheduler every 5 ms for `run`; each request is answered
// `answer_after` later unless `answer` says otherwise. Returns how often each
// sequence number was requested and checks the pace on the way.
struct Drive {
  std::map<int64_t, int> requested;
  size_t largest_batch = 0;
  absl::Time last_request = kT0;
};

Drive DriveScheduler(NackScheduler& nacks, absl::Duration run,
                     absl::Duration answer_after, double rate,
                     const std::function<bool(int64_t)>& answer) {
  Drive drive;
  std::multimap<absl::Time, int64_t> answers;
  int64_t total = 0;
  for (absl::Time now = kT0; now <= kT0 + run; now += absl::Milliseconds(5)) {
    while (!answers.empty() && answers.begin()->first <= now) {
      nacks.OnPacket(answers.begin()->second, now);
      answers.erase(answers.begin());
    }
    const std::vector<int64_t> due = nacks.TakeDue(now);
    EXPECT_TRUE(std::is_sorted(due.begin(), due.end()));
    drive.largest_batch = std::max(drive.largest_batch, due.size());
    for (int64_t seq : due) {
      ++drive.requested[seq];
      if (answer(seq)) answers.emplace(now + answer_after, seq);
    }
    total += static_cast<int64_t>(due.size());
    // Never ahead of the pace: a quarter second's burst plus the rate.
    EXPECT_LE(total, rate / 4 + rate * absl::ToDoubleSeconds(now - kT0) + 1);
    if (!due.empty()) drive.last_request = now;
  }
  return drive;
}

TEST(NackSchedulerTest, FailoverSizedGapIsAskedForOnceEachOldestFirstInPace) {
  // 2,000 packets missing (a 1 s failover gap at 2,000 packets/s), asked of
  // a parent that answers 2,000 retransmissions per second.
  NackOptions options;
  options.max_rate = 2000;
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2001, kT0);
  EXPECT_EQ(nacks.pending(), 2000u);
  const Drive drive =
      DriveScheduler(nacks, absl::Seconds(2), absl::Milliseconds(10), 2000,
                     [](int64_t) { return true; });
  ASSERT_EQ(drive.requested.size(), 2000u);
  EXPECT_EQ(drive.requested.begin()->first, 1);
  EXPECT_EQ(drive.requested.rbegin()->first, 2000);
  for (const auto& [seq, times] : drive.requested) {
    EXPECT_EQ(times, 1) << seq;  // every answer came before a retry
  }
  EXPECT_LE(drive.largest_batch, 500u);
  // Done in about (2000 - 500) / 2000 s, not in one burst.
  EXPECT_GE(drive.last_request - kT0, absl::Milliseconds(700));
  EXPECT_LE(drive.last_request - kT0, absl::Milliseconds(800));
  EXPECT_EQ(nacks.pending(), 0u);
  EXPECT_EQ(nacks.gave_up(), 0);
}

TEST(NackSchedulerTest, PacedRequestsStopWhenTheParentRingNoLongerHoldsThem) {
  // At the default pace (400/s) a 2,000-packet gap cannot all be asked for
  // within the parent's 2 s ring: what is left then is given up, not asked.
  NackScheduler nacks;
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2001, kT0);
  const Drive drive =
      DriveScheduler(nacks, absl::Seconds(3), absl::Milliseconds(10), 400,
                     [](int64_t) { return true; });
  EXPECT_LT(drive.last_request - kT0, absl::Seconds(2));
  EXPECT_LE(drive.largest_batch, 100u);
  // Oldest first: the requested ones are exactly the oldest ones.
  EXPECT_EQ(drive.requested.begin()->first, 1);
  EXPECT_EQ(drive.requested.rbegin()->first,
            static_cast<int64_t>(drive.requested.size()));
  EXPECT_GT(drive.requested.size(), 850u);  // 100 + 400/s * 2 s, ticks aside
  EXPECT_EQ(nacks.pending(), 0u);
  // Given up: those never asked for, and the few asked for in the last
  // 10 ms whose answers were still on the way.
  const int64_t never_asked =
      2000 - static_cast<int64_t>(drive.requested.size());
  EXPECT_GE(nacks.gave_up(), never_asked);
  EXPECT_LE(nacks.gave_up(), never_asked + 4);
}

TEST(NackSchedulerTest, UnansweredRequestsAreRetriedThenGivenUp) {
  NackOptions options;
  options.retry_interval = absl::Milliseconds(50);
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(4, kT0);
  // 2 is never answered.
  const Drive drive =
      DriveScheduler(nacks, absl::Seconds(1), absl::Milliseconds(3), 400,
                     [](int64_t seq) { return seq != 2; });
  EXPECT_EQ(drive.requested, (std::map<int64_t, int>{{1, 1}, {2, 3}, {3, 1}}));
  EXPECT_EQ(nacks.gave_up(), 1);
}

TEST(NackSchedulerTest, RetryAllAsksAgainAtOnceWithFreshRequests) {
  NackOptions options;
  options.reorder_wait = absl::ZeroDuration();
  options.retry_interval = absl::Milliseconds(50);
  options.max_requests = 2;
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2, kT0);
  EXPECT_EQ(nacks.TakeDue(kT0), (std::vector<int64_t>{1}));
  // A new parent: no wait for the retry interval, and two requests again.
  nacks.RetryAll(kT0 + absl::Milliseconds(10));
  EXPECT_EQ(nacks.TakeDue(kT0 + absl::Milliseconds(10)),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(nacks.TakeDue(kT0 + absl::Milliseconds(60)),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(nacks.pending(), 0u);
}

}  // namespace
}  // namespace media
}  // namespace cascade
