#include "tests/common/wait.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/time/clock.h"

namespace cascade::testing {
namespace {

TEST(WaitUntilTest, ReturnsOnceTheConditionHolds) {
  int checks = 0;
  EXPECT_TRUE(WaitUntil("the third check", absl::Seconds(10),
                        [&] { return ++checks == 3; }));
  EXPECT_EQ(checks, 3);
}

TEST(WaitUntilTest, TimeoutNamesTheConditionAndChecksAtTheDeadline) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Milliseconds(100);
  absl::Time last_check;
  ::testing::AssertionResult result =
      WaitUntil("pigs fly", absl::Milliseconds(100), [&] {
        last_check = absl::Now();
        return false;
      });
  EXPECT_FALSE(result);
  EXPECT_EQ(std::string(result.message()),
            "timed out after 100ms waiting until pigs fly");
  EXPECT_GE(last_check, deadline);
}

}  // namespace
}  // namespace cascade::testing
