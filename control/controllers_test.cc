#include "control/controllers.h"

#include <gtest/gtest.h>

namespace cascade::control {
namespace {

TEST(ParseControllerListTest, SplitsAndRefusesEmptyEntries) {
  auto one = ParseControllerList("127.0.0.1:7700");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, std::vector<std::string>{"127.0.0.1:7700"});
  auto three = ParseControllerList("a:1, b:2,c:3");
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(*three, (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  for (const char* bad : {"", "a:1,", ",a:1", "a:1,,b:2"}) {
    auto parsed = ParseControllerList(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ControllerTargetsTest, OneControllerBacksOffAfterEveryFailure) {
  ControllerTargets targets({"a:1"});
  EXPECT_TRUE(targets.Failed(""));
  EXPECT_EQ(targets.current(), "a:1");
  // A redirect to itself is not followed.
  EXPECT_TRUE(targets.Failed("a:1"));
}

TEST(ControllerTargetsTest, FollowsRedirectOnceThenMovesThroughTheList) {
  ControllerTargets targets({"a:1", "b:2", "c:3"});
  EXPECT_EQ(targets.current(), "a:1");
  // a is a follower naming c as the leader.
  EXPECT_FALSE(targets.Failed("c:3"));
  EXPECT_EQ(targets.current(), "c:3");
  targets.Succeeded();
  // c dies: on to b (a's successor), which names the dead c again: followed
  // once, then the list goes on without bouncing between b and c.
  EXPECT_FALSE(targets.Failed(""));
  EXPECT_EQ(targets.current(), "b:2");
  EXPECT_FALSE(targets.Failed("c:3"));
  EXPECT_EQ(targets.current(), "c:3");
  EXPECT_FALSE(targets.Failed(""));
  EXPECT_EQ(targets.current(), "c:3");  // c's own list position
  // Its failure completes the pass: c (as redirect), b, c all failed.
  EXPECT_TRUE(targets.Failed(""));
  EXPECT_EQ(targets.current(), "a:1");
}

TEST(ControllerTargetsTest, StaleRedirectFromTheSamePositionIsNotFollowed) {
  ControllerTargets targets({"a:1", "b:2"});
  EXPECT_FALSE(targets.Failed("x:9"));
  EXPECT_EQ(targets.current(), "x:9");
  // x (not answering as leader) names y: not followed, back to the list.
  EXPECT_FALSE(targets.Failed("y:8"));
  EXPECT_EQ(targets.current(), "b:2");
  EXPECT_TRUE(targets.Failed(""));
  EXPECT_EQ(targets.current(), "a:1");
}

}  // namespace
}  // namespace cascade::control
