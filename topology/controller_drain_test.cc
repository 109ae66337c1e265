// Operators' drains, failovers and restores, and where sites may go.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "topology/controller.h"
#include "topology/controller_fixture.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;

// An operator's drain or failover of `id`.
Change DrainOf(const std::string& id) {
  Change change;
  change.mutable_drain()->set_id(id);
  return change;
}
Change FailoverOf(const std::string& id) {
  Change change;
  change.mutable_failover()->set_id(id);
  return change;
}
// A node's report that it receives from `parent`.
cascade::v1::ReportRequest ReportOf(const std::string& id,
                                    const std::string& parent) {
  cascade::v1::ReportRequest report;
  report.set_node_id(id);
  report.mutable_stats()->set_receiving_from(parent);
  return report;
}

TEST_F(ControllerTest, DrainFailoverAndRestoreWithPolicy) {
  Start();
  ApplyReference();
  Change drain;
  drain.mutable_drain()->set_id("d1");
  ASSERT_TRUE(controller_->Submit(drain).ok());
  EXPECT_EQ(controller_->GetNode("d1")->status(), cascade::v1::STATUS_DRAINING);
  // s1 moves to its own standby, the one its release sends it to.
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"p1"}));
  // A drained node still receives: it keeps its own parents.
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1", "p1-sb"}));

  Change restore;
  restore.mutable_restore()->set_id("d1");
  restore.mutable_restore()->set_policy(cascade::v1::RESTORE_NON_REVERTIVE);
  ASSERT_TRUE(controller_->Submit(restore).ok());
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"p1", "d1"}));
  EXPECT_EQ(Code(restore), absl::StatusCode::kFailedPrecondition);

  Change failover;
  failover.mutable_failover()->set_id("p1");
  ASSERT_TRUE(controller_->Submit(failover).ok());
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_FAILED);
  EXPECT_EQ(Parents("d2")[0], "p1-sb");
  restore.mutable_restore()->set_id("p1");
  restore.mutable_restore()->set_policy(cascade::v1::RESTORE_REVERTIVE);
  ASSERT_TRUE(controller_->Submit(restore).ok());
  EXPECT_EQ(Parents("d2")[0], "p1");
  // s1 was pinned to p1 by the non-revertive restore of d1 and stays.
  EXPECT_EQ(Parents("s1")[0], "p1");
}

// A site knows only its own parents: drained while its standby is out, it
// stays on its district (which still feeds it) instead of being planned on
// a parent it cannot reach, and moves once its standby is back.
TEST_F(ControllerTest, DrainKeepsASiteWithNoOtherParentOfItsOwn) {
  Start();
  ApplyReference();
  ASSERT_TRUE(controller_->Submit(FailoverOf("p1")).ok());
  ASSERT_TRUE(controller_->Submit(DrainOf("d1")).ok());
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"d1"}));
  EXPECT_FALSE(controller_->GetNode("s1")->orphan());
  // A plain endpoint is pushed to by whichever relay serves it.
  EXPECT_NE(Parents("s2")[0], "d1");

  Change restore;
  restore.mutable_restore()->set_id("p1");
  restore.mutable_restore()->set_policy(cascade::v1::RESTORE_REVERTIVE);
  ASSERT_TRUE(controller_->Submit(restore).ok());
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"p1"}));
}

// Its drained parent's release sends a site to the next parent of its own
// list: when that one is back from a failure but still held down, the plan
// puts the site there too, so it is taken in and the move completes.
TEST_F(ControllerTest, DrainMovesASiteToItsHeldDownStandby) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  RunFor(&clock_, controller_.get(), absl::Seconds(4), absl::Seconds(1),
         [] { return std::vector<std::string>{"p1"}; });
  ASSERT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DOWN);
  RunFor(&clock_, controller_.get(), absl::Seconds(1), absl::Seconds(1),
         [] { return std::vector<std::string>{}; });
  ASSERT_EQ(controller_->GetNode("p1")->status(),
            cascade::v1::STATUS_HOLD_DOWN);
  ASSERT_TRUE(controller_->Submit(DrainOf("d1")).ok());
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"p1"}));
}

// A site that reports has a controller link: it goes wherever the plan
// says, beyond the parents configured for it.
TEST_F(ControllerTest, ASiteWithAControllerLinkFollowsThePlan) {
  Start();
  ApplyReference();
  ASSERT_TRUE(controller_->Report(ReportOf("s1", "d1")).ok());
  ASSERT_TRUE(controller_->Submit(FailoverOf("p1")).ok());
  ASSERT_TRUE(controller_->Submit(DrainOf("d1")).ok());
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"nat"}));
}

// A site's first report widens its candidates: it gets a standby above its
// district at the next tick, with no change of topology.
TEST_F(ControllerTest, ASitesFirstReportGivesItTheControllersStandby) {
  Start();
  ApplyReference();
  Change add;
  auto* node = add.mutable_add()->mutable_node();
  node->set_id("s9");
  node->set_tier(cascade::v1::TIER_SITE);
  node->set_parent("d3");
  node->set_media_address("127.10.0.9:5004");
  ASSERT_TRUE(controller_->Submit(add).ok());
  EXPECT_EQ(Parents("s9"), (std::vector<std::string>{"d3"}));
  ASSERT_TRUE(controller_->Report(ReportOf("s9", "d3")).ok());
  controller_->Tick();
  controller_->AwaitCommitted();
  const std::vector<std::string> parents = Parents("s9");
  ASSERT_EQ(parents.size(), 2u);
  EXPECT_EQ(parents[0], "d3");
}

}  // namespace
}  // namespace cascade::topology
