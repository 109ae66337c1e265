#include "base/clock.h"

#include "gtest/gtest.h"

namespace cascade {
namespace {

TEST(AlignUpTest, AnInstantOnTheGridStays) {
  const absl::Time on_grid = absl::FromUnixMillis(1700000000250);
  EXPECT_EQ(AlignUp(on_grid, absl::Milliseconds(250)), on_grid);
}

TEST(AlignUpTest, OtherInstantsMoveToTheNextGridPoint) {
  const absl::Duration period = absl::Milliseconds(250);
  EXPECT_EQ(AlignUp(absl::FromUnixMillis(1700000000001), period),
            absl::FromUnixMillis(1700000000250));
  EXPECT_EQ(AlignUp(absl::FromUnixMicros(1700000000249999), period),
            absl::FromUnixMillis(1700000000250));
  // Before the epoch too: the grid has no gap at zero.
  EXPECT_EQ(AlignUp(absl::FromUnixMillis(-100), period), absl::UnixEpoch());
}

}  // namespace
}  // namespace cascade
