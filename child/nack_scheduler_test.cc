#include "child/nack_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>

namespace cascade::child {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(100);

// Everything due at `now`, as one vector.
std::vector<int64_t> Due(NackScheduler& nacks, absl::Time now,
                         size_t limit = 1000000) {
  std::vector<int64_t> due;
  nacks.TakeDue(now, &due, limit);
  return due;
}

TEST(NackSchedulerTest, GapIsRequestedAfterReorderWaitThenRetriedThenDropped) {
  NackOptions options;
  options.reorder_wait = absl::Milliseconds(5);
  options.retry_interval = absl::Milliseconds(50);
  options.max_requests = 2;
  NackScheduler nacks(options);
  nacks.OnPacket(10, kT0);
  nacks.OnPacket(13, kT0);
  EXPECT_TRUE(Due(nacks, kT0).empty());  // may just be reordered
  EXPECT_EQ(Due(nacks, kT0 + absl::Milliseconds(5)),
            (std::vector<int64_t>{11, 12}));
  EXPECT_TRUE(Due(nacks, kT0 + absl::Milliseconds(20)).empty());
  EXPECT_EQ(Due(nacks, kT0 + absl::Milliseconds(60)),
            (std::vector<int64_t>{11, 12}));
  EXPECT_EQ(nacks.pending(), 0u);
  EXPECT_TRUE(Due(nacks, kT0 + absl::Seconds(1)).empty());
}

TEST(NackSchedulerTest, ArrivalCancelsTheRequest) {
  NackScheduler nacks;
  nacks.OnPacket(1, kT0);
  nacks.OnPacket(4, kT0);
  nacks.OnPacket(2, kT0);  // reordered, not lost
  EXPECT_EQ(Due(nacks, kT0 + absl::Seconds(1)), (std::vector<int64_t>{3}));
}

TEST(NackSchedulerTest, HugeJumpIsARestartAndPendingIsBounded) {
  NackOptions options;
  options.max_pending = 4;
  options.max_gap = 100;
  options.reorder_wait = absl::ZeroDuration();
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(3, kT0);
  EXPECT_EQ(nacks.pending(), 2u);
  nacks.OnPacket(50000, kT0);
  EXPECT_EQ(nacks.pending(), 0u) << "a restart forgets the old gaps";
  EXPECT_EQ(nacks.resets(), 1u);
  nacks.OnPacket(50010, kT0);
  EXPECT_EQ(nacks.pending(), 4u);
  EXPECT_EQ(nacks.gave_up(), 5u) << "the oldest forgotten are given up";
  EXPECT_EQ(Due(nacks, kT0),
            (std::vector<int64_t>{50006, 50007, 50008, 50009}));
}

TEST(NackSchedulerTest, RepairIsCountedOnceAndDuplicatesAreNot) {
  NackScheduler nacks;
  nacks.OnPacket(1, kT0);
  nacks.OnPacket(5, kT0);
  EXPECT_TRUE(nacks.OnPacket(3, kT0));
  EXPECT_FALSE(nacks.OnPacket(3, kT0));
  EXPECT_FALSE(nacks.OnPacket(5, kT0));
  EXPECT_EQ(nacks.repaired(), 1u);
  EXPECT_EQ(Due(nacks, kT0 + absl::Seconds(1)), (std::vector<int64_t>{2, 4}));
}

TEST(NackSchedulerTest, RequestAsksAtOnceButOnlyInsideWhatWasSeen) {
  NackOptions options;
  options.max_gap = 100;
  NackScheduler nacks(options);
  nacks.Request(3, kT0);
  EXPECT_EQ(nacks.pending(), 0u) << "nothing seen yet";
  nacks.OnPacket(1000, kT0);
  nacks.Request(1001, kT0);  // newer than anything seen
  nacks.Request(800, kT0);   // older than max_gap
  nacks.Request(970, kT0);
  nacks.Request(970, kT0);
  EXPECT_EQ(Due(nacks, kT0), (std::vector<int64_t>{970}))
      << "no reordering wait for a child's request";
}

TEST(NackSchedulerTest, TakeDueHonoursTheLimitOldestFirst) {
  NackScheduler nacks;
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(101, kT0);
  const std::vector<int64_t> due = Due(nacks, kT0 + absl::Seconds(1), 30);
  ASSERT_EQ(due.size(), 30u);
  EXPECT_EQ(due.front(), 1);
  EXPECT_EQ(due.back(), 30);
  EXPECT_EQ(Due(nacks, kT0 + absl::Seconds(1), 100).front(), 31);
}

TEST(NackSchedulerTest, MissingTooLongForTheParentRingIsGivenUp) {
  NackOptions options;
  options.give_up_after = absl::Milliseconds(500);
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2, kT0);
  EXPECT_TRUE(Due(nacks, kT0 + absl::Milliseconds(500)).empty());
  EXPECT_EQ(nacks.pending(), 0u);
  EXPECT_EQ(nacks.gave_up(), 1u);
}

// Drives a scheduler every 5 ms for `run`. The parent answers each batch of
// requests, unless `answer` says otherwise, one packet every `spacing` from
// `answer_after` on. Returns how often each sequence number was requested and
// checks on the way that requests never run ahead of the scheduler's pace.
struct Drive {
  std::map<int64_t, int> requested;
  size_t largest_batch = 0;
  absl::Time last_request = kT0;
};

Drive DriveScheduler(NackScheduler& nacks, const NackOptions& options,
                     absl::Duration run, absl::Duration answer_after,
                     absl::Duration spacing,
                     const std::function<bool(int64_t)>& answer) {
  Drive drive;
  std::multimap<absl::Time, int64_t> answers;
  int64_t total = 0;
  for (absl::Time now = kT0; now <= kT0 + run; now += absl::Milliseconds(5)) {
    while (!answers.empty() && answers.begin()->first <= now) {
      nacks.OnPacket(answers.begin()->second, now);
      answers.erase(answers.begin());
    }
    const std::vector<int64_t> due = Due(nacks, now);
    EXPECT_TRUE(std::is_sorted(due.begin(), due.end()));
    drive.largest_batch = std::max(drive.largest_batch, due.size());
    absl::Time answer_at = now + answer_after;
    for (int64_t seq : due) {
      ++drive.requested[seq];
      if (!answer(seq)) continue;
      answers.emplace(answer_at, seq);
      answer_at += spacing;
    }
    total += static_cast<int64_t>(due.size());
    EXPECT_LE(total, options.max_burst +
                         options.max_rate * absl::ToDoubleSeconds(now - kT0));
    if (!due.empty()) drive.last_request = now;
  }
  return drive;
}

TEST(NackSchedulerTest, FailoverSizedGapIsAskedForOnceWhileAnswersFlow) {
  // 2,000 packets missing (a 1 s failover gap at 2,000 packets/s); the
  // parent's answers take a second to come in, far past the retry interval,
  // yet nothing is asked twice.
  const NackOptions options;
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2001, kT0);
  EXPECT_EQ(nacks.pending(), 2000u);
  const Drive drive =
      DriveScheduler(nacks, options, absl::Seconds(2), absl::Milliseconds(10),
                     absl::Microseconds(500), [](int64_t) { return true; });
  ASSERT_EQ(drive.requested.size(), 2000u);
  EXPECT_EQ(drive.requested.begin()->first, 1);
  EXPECT_EQ(drive.requested.rbegin()->first, 2000);
  for (const auto& [seq, times] : drive.requested) {
    EXPECT_EQ(times, 1) << seq;
  }
  EXPECT_EQ(drive.largest_batch, 2000u);  // within the parent's burst
  EXPECT_EQ(nacks.pending(), 0u);
  EXPECT_EQ(nacks.gave_up(), 0u);
}

TEST(NackSchedulerTest, PacedRequestsStopWhenTheParentRingNoLongerHoldsThem) {
  // A parent that answers 400/s in bursts of 100: a 2,000-packet gap cannot
  // all be asked for within its 2 s ring; what is left then is given up, not
  // asked for.
  NackOptions options;
  options.max_rate = 400;
  options.max_burst = 100;
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2001, kT0);
  const Drive drive =
      DriveScheduler(nacks, options, absl::Seconds(3), absl::Milliseconds(10),
                     absl::ZeroDuration(), [](int64_t) { return true; });
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
  EXPECT_GE(static_cast<int64_t>(nacks.gave_up()), never_asked);
  EXPECT_LE(static_cast<int64_t>(nacks.gave_up()), never_asked + 4);
}

TEST(NackSchedulerTest, UnansweredRequestsAreRetriedThenGivenUp) {
  NackOptions options;
  options.retry_interval = absl::Milliseconds(50);
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(4, kT0);
  // 2 is never answered.
  const Drive drive = DriveScheduler(
      nacks, options, absl::Seconds(1), absl::Milliseconds(3),
      absl::ZeroDuration(), [](int64_t seq) { return seq != 2; });
  EXPECT_EQ(drive.requested, (std::map<int64_t, int>{{1, 1}, {2, 5}, {3, 1}}));
  EXPECT_EQ(nacks.gave_up(), 1u);
}

// A parent that lacks the packet too fetches it from its own parent first;
// the site must still be asking once it has it, so the waits double.
TEST(NackSchedulerTest, RetriesBackOffAndKeepAskingForAboutASecond) {
  NackOptions options;  // 5 ms reorder wait, 60 ms first retry, 5 requests
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2, kT0);
  std::vector<int64_t> asked_at_ms;
  for (int ms = 0; ms <= 2000; ++ms) {
    if (!Due(nacks, kT0 + absl::Milliseconds(ms)).empty()) {
      asked_at_ms.push_back(ms);
    }
  }
  EXPECT_EQ(asked_at_ms, (std::vector<int64_t>{5, 65, 185, 425, 905}));
  EXPECT_EQ(nacks.gave_up(), 1u);
}

TEST(NackSchedulerTest, RetryAllAsksAgainAtOnceWithFreshRequests) {
  NackOptions options;
  options.reorder_wait = absl::ZeroDuration();
  options.retry_interval = absl::Milliseconds(50);
  options.max_requests = 2;
  NackScheduler nacks(options);
  nacks.OnPacket(0, kT0);
  nacks.OnPacket(2, kT0);
  EXPECT_EQ(Due(nacks, kT0), (std::vector<int64_t>{1}));
  // A new parent: no wait for the retry interval, and two requests again.
  nacks.RetryAll(kT0 + absl::Milliseconds(10));
  EXPECT_EQ(Due(nacks, kT0 + absl::Milliseconds(10)),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(Due(nacks, kT0 + absl::Milliseconds(60)),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(nacks.pending(), 0u);
}

}  // namespace
}  // namespace cascade::child
