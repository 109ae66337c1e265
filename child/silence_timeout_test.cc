#include "child/silence_timeout.h"

#include <gtest/gtest.h>

namespace cascade::child {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(SilenceTimeoutTest, SteadyParentKeepsTheFloor) {
  SilenceTimeout timeout(absl::Milliseconds(300), absl::Milliseconds(1200));
  EXPECT_EQ(timeout.Get(kT0), absl::Milliseconds(300));
  for (int i = 1; i <= 100; ++i) {
    timeout.OnGap(absl::Milliseconds(100), kT0 + i * absl::Milliseconds(100));
  }
  EXPECT_EQ(timeout.Get(kT0 + absl::Seconds(10)), absl::Milliseconds(300));
}

TEST(SilenceTimeoutTest, AStallEarnsRoomThatDecaysBackToTheFloor) {
  SilenceTimeout timeout(absl::Milliseconds(300), absl::Milliseconds(1200),
                         absl::Seconds(10));
  timeout.OnGap(absl::Milliseconds(400), kT0);
  EXPECT_EQ(timeout.Get(kT0), absl::Milliseconds(800));
  // Short gaps after it do not erase it; the record halves every 10 s.
  timeout.OnGap(absl::Milliseconds(100), kT0 + absl::Seconds(1));
  EXPECT_GT(timeout.Get(kT0 + absl::Seconds(1)), absl::Milliseconds(700));
  EXPECT_NEAR(absl::ToDoubleMilliseconds(timeout.Get(kT0 + absl::Seconds(10))),
              400, 1);
  EXPECT_EQ(timeout.Get(kT0 + absl::Seconds(30)), absl::Milliseconds(300));
  // Never above the ceiling.
  timeout.OnGap(absl::Seconds(5), kT0 + absl::Seconds(31));
  EXPECT_EQ(timeout.Get(kT0 + absl::Seconds(31)), absl::Milliseconds(1200));
  // A new parent starts from the floor.
  timeout.Reset();
  EXPECT_EQ(timeout.Get(kT0 + absl::Seconds(31)), absl::Milliseconds(300));
}

TEST(SilenceTimeoutTest, CeilingAtTheFloorIsAFixedTimeout) {
  SilenceTimeout timeout(absl::Milliseconds(300), absl::ZeroDuration());
  timeout.OnGap(absl::Seconds(2), kT0);
  EXPECT_EQ(timeout.Get(kT0), absl::Milliseconds(300));
}

}  // namespace
}  // namespace cascade::child
