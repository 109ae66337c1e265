#include "testing/fake_timers.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/fake_clock.h"

namespace cascade {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

absl::Time At(int ms) { return kT0 + absl::Milliseconds(ms); }

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock(kT0);
  EXPECT_EQ(clock.Now(), kT0);
  EXPECT_EQ(clock.Now(), kT0);
  clock.Advance(absl::Milliseconds(7));
  EXPECT_EQ(clock.Now(), At(7));
}

class FakeTimersTest : public ::testing::Test {
 protected:
  // Records "name@ms" with the clock's time when the callback runs.
  FakeTimers::Callback Log(std::string name) {
    return [this, name] {
      log_.push_back(absl::StrCat(
          name, "@", (clock_.Now() - kT0) / absl::Milliseconds(1)));
    };
  }

  FakeClock clock_{kT0};
  FakeTimers timers_{&clock_};
  std::vector<std::string> log_;
};

TEST_F(FakeTimersTest, RunsInTimeOrderWithTheClockAtEachCallback) {
  timers_.At(At(30), Log("c"));
  timers_.After(absl::Milliseconds(10), Log("a"));
  timers_.At(At(20), Log("b"));
  EXPECT_EQ(timers_.pending(), 3u);
  EXPECT_TRUE(timers_.RunFor(absl::Milliseconds(25)));
  EXPECT_EQ(log_, (std::vector<std::string>{"a@10", "b@20"}));
  // The clock ends at the end of the run, not at the last callback.
  EXPECT_EQ(clock_.Now(), At(25));
  EXPECT_EQ(timers_.pending(), 1u);
  // The end is inclusive.
  EXPECT_TRUE(timers_.RunUntil(At(30)));
  EXPECT_EQ(log_, (std::vector<std::string>{"a@10", "b@20", "c@30"}));
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_EQ(timers_.steps(), 3);
}

TEST_F(FakeTimersTest, SameInstantRunsInCreationOrder) {
  timers_.At(At(10), Log("first"));
  timers_.Every(At(10), absl::Milliseconds(10), Log("tick"));
  timers_.At(At(10), Log("third"));
  timers_.At(At(20), Log("late"));
  EXPECT_TRUE(timers_.RunUntil(At(20)));
  // The periodic timer keeps its place at 20 ahead of "late", created after.
  EXPECT_EQ(log_, (std::vector<std::string>{"first@10", "tick@10", "third@10",
                                            "tick@20", "late@20"}));
}

TEST_F(FakeTimersTest, EveryRepeatsUntilCancelledEvenFromItsOwnCallback) {
  int runs = 0;
  FakeTimers::TimerId id = 0;
  id = timers_.Every(At(0), absl::Milliseconds(5), [&] {
    ++runs;
    if (clock_.Now() == At(15)) {
      EXPECT_TRUE(timers_.Cancel(id));
    }
  });
  EXPECT_TRUE(timers_.RunUntil(At(100)));
  EXPECT_EQ(runs, 4);  // 0, 5, 10, 15
  EXPECT_EQ(timers_.pending(), 0u);
  EXPECT_FALSE(timers_.Cancel(id));
}

TEST_F(FakeTimersTest, CancelledTimersNeverRun) {
  const FakeTimers::TimerId a = timers_.At(At(10), Log("a"));
  const FakeTimers::TimerId b = timers_.At(At(20), Log("b"));
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(timers_.Cancel(a));
  EXPECT_FALSE(timers_.Cancel(a));
  EXPECT_TRUE(timers_.RunUntil(At(30)));
  EXPECT_EQ(log_, (std::vector<std::string>{"b@20"}));
  EXPECT_FALSE(timers_.Cancel(b)) << "already ran";
}

TEST_F(FakeTimersTest, WhatACallbackSchedulesRunsInTheSameRun) {
  timers_.At(At(10), [&] {
    log_.push_back("outer@10");
    timers_.After(absl::Milliseconds(5), Log("inner"));
    timers_.At(At(50), Log("beyond"));
  });
  EXPECT_TRUE(timers_.RunUntil(At(20)));
  EXPECT_EQ(log_, (std::vector<std::string>{"outer@10", "inner@15"}));
  EXPECT_EQ(timers_.pending(), 1u);
}

TEST_F(FakeTimersTest, OverdueCallbacksRunLateAndTimeNeverGoesBack) {
  timers_.At(At(10), Log("due"));
  clock_.Advance(absl::Milliseconds(40));  // behind the timers' back
  timers_.At(At(5), Log("past"));
  EXPECT_TRUE(timers_.RunUntil(At(30)));  // an end already passed
  // Still in the order they were due.
  EXPECT_EQ(log_, (std::vector<std::string>{"past@40", "due@40"}));
  EXPECT_EQ(clock_.Now(), At(40));
}

TEST_F(FakeTimersTest, InfiniteEndRunsUntilNothingIsPending) {
  timers_.At(At(10), Log("a"));
  timers_.At(At(70), Log("b"));
  EXPECT_TRUE(timers_.RunUntil(absl::InfiniteFuture()));
  EXPECT_EQ(log_, (std::vector<std::string>{"a@10", "b@70"}));
  EXPECT_EQ(clock_.Now(), At(70));
}

TEST_F(FakeTimersTest, ATimerThatNeverLetsTimePassStopsAtTheStepLimit) {
  FakeTimers timers(&clock_, /*max_steps_per_run=*/100);
  int runs = 0;
  std::function<void()> again = [&] {
    ++runs;
    timers.After(absl::ZeroDuration(), again);
  };
  timers.After(absl::Milliseconds(1), again);
  bool finished = true;
  EXPECT_NONFATAL_FAILURE(finished = timers.RunFor(absl::Seconds(1)),
                          "100 callbacks");
  EXPECT_FALSE(finished);
  EXPECT_EQ(runs, 100);
  EXPECT_EQ(clock_.Now(), At(1)) << "stopped where it spun";
}

TEST_F(FakeTimersTest, EveryRejectsAPeriodThatLetsNoTimePass) {
  FakeTimers::TimerId id = 1;
  EXPECT_NONFATAL_FAILURE(
      id = timers_.Every(At(0), absl::ZeroDuration(), Log("never")),
      "would never let time pass");
  EXPECT_EQ(id, 0u);
  EXPECT_EQ(timers_.pending(), 0u);
}

}  // namespace
}  // namespace cascade
