#include "console/tree_tracker.h"

#include <gtest/gtest.h>

#include <string>

namespace cascade::console {
namespace {

using cascade::v1::GetTopologyResponse;
using cascade::v1::NodeView;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

NodeView* Add(GetTopologyResponse* topology, const std::string& id,
              cascade::v1::Tier tier, const std::string& desired,
              const std::string& active) {
  NodeView* view = topology->add_nodes();
  view->set_id(id);
  view->set_tier(tier);
  view->set_desired_parent(desired);
  if (!active.empty()) view->add_parents(active);
  view->set_status(cascade::v1::STATUS_UP);
  view->set_last_report_ms_ago(100);
  view->mutable_stats()->set_packets_in(1000);
  return view;
}

// nat -> p1 -> d1 -> s1, s1 also standing by on d2 (under p2).
GetTopologyResponse Tree() {
  GetTopologyResponse topology;
  Add(&topology, "nat", cascade::v1::TIER_NATIONAL, "", "");
  Add(&topology, "p1", cascade::v1::TIER_PROVINCIAL, "nat", "nat");
  Add(&topology, "p2", cascade::v1::TIER_PROVINCIAL, "nat", "nat");
  Add(&topology, "d1", cascade::v1::TIER_DISTRICT, "p1", "p1");
  Add(&topology, "d2", cascade::v1::TIER_DISTRICT, "p2", "p2");
  Add(&topology, "s1", cascade::v1::TIER_SITE, "d1", "d1")->add_parents("d2");
  return topology;
}

const cascade::v1::ConsoleNode& Find(const cascade::v1::ConsoleTree& tree,
                                     const std::string& id) {
  for (const auto& node : tree.nodes()) {
    if (node.id() == id) return node;
  }
  ADD_FAILURE() << "no " << id;
  return cascade::v1::ConsoleNode::default_instance();
}

TEST(TreeTrackerTest, FirstSnapshotIsWholeAndGroupedByProvince) {
  TreeTracker tracker;
  TreeTracker::Update update = tracker.Apply(Tree(), kStart);
  EXPECT_EQ(update.tree.nodes_size(), 6);
  EXPECT_EQ(update.delta.changed_size(), 6);
  EXPECT_EQ(update.tree.unix_ms(), absl::ToUnixMillis(kStart));
  const auto& s1 = Find(update.tree, "s1");
  EXPECT_EQ(s1.province(), "p1");
  EXPECT_EQ(s1.parent(), "d1");
  ASSERT_EQ(s1.standbys_size(), 1);
  EXPECT_EQ(s1.standbys(0), "d2");
  EXPECT_TRUE(s1.receiving());
  EXPECT_FALSE(s1.report_late());
  EXPECT_EQ(Find(update.tree, "d2").province(), "p2");
  EXPECT_EQ(Find(update.tree, "p2").province(), "p2");
  EXPECT_EQ(Find(update.tree, "nat").province(), "");
}

TEST(TreeTrackerTest, ARegionLabelNamesTheProvince) {
  GetTopologyResponse topology = Tree();
  // A standby provincial relay has no children by desired parents: its
  // label puts it with its province.
  NodeView* standby =
      Add(&topology, "p1-sb", cascade::v1::TIER_PROVINCIAL, "nat", "nat");
  (*standby->mutable_labels())["region"] = "p1";
  (*topology.mutable_nodes(0)->mutable_labels())["region"] = "national";
  TreeTracker tracker;
  TreeTracker::Update update = tracker.Apply(topology, kStart);
  EXPECT_EQ(Find(update.tree, "p1-sb").province(), "p1");
  EXPECT_EQ(Find(update.tree, "nat").province(), "national");
}

TEST(TreeTrackerTest, OnlyChangesAreSentAndReportAgeAloneIsNone) {
  TreeTracker tracker;
  GetTopologyResponse topology = Tree();
  tracker.Apply(topology, kStart);
  // Every counter grows and every report ages a little: no change of
  // figure the map shows.
  for (NodeView& view : *topology.mutable_nodes()) {
    view.mutable_stats()->set_packets_in(2000);
    view.set_last_report_ms_ago(300);
  }
  TreeTracker::Update update =
      tracker.Apply(topology, kStart + absl::Milliseconds(500));
  EXPECT_EQ(update.delta.changed_size(), 0);
  EXPECT_EQ(update.tree.nodes_size(), 6);
  EXPECT_EQ(Find(update.tree, "d1").report_age_ms(), 300);

  // p1 dies: down, silent, its counter still.
  for (NodeView& view : *topology.mutable_nodes()) {
    if (view.id() == "p1") {
      view.set_status(cascade::v1::STATUS_DOWN);
      view.set_last_report_ms_ago(2500);
    } else {
      view.mutable_stats()->set_packets_in(3000);
    }
  }
  update = tracker.Apply(topology, kStart + absl::Seconds(1));
  ASSERT_EQ(update.delta.changed_size(), 1);
  const auto& p1 = update.delta.changed(0);
  EXPECT_EQ(p1.id(), "p1");
  EXPECT_EQ(p1.status(), cascade::v1::STATUS_DOWN);
  EXPECT_FALSE(p1.receiving());
  EXPECT_TRUE(p1.report_late());
}

TEST(TreeTrackerTest, ACounterThatStopsEndsReceiving) {
  TreeTracker tracker;
  GetTopologyResponse topology = Tree();
  tracker.Apply(topology, kStart);
  // s1 keeps reporting on time, but receives nothing more.
  for (NodeView& view : *topology.mutable_nodes()) {
    if (view.id() != "s1") view.mutable_stats()->set_packets_in(5000);
  }
  TreeTracker::Update update =
      tracker.Apply(topology, kStart + absl::Seconds(1));
  EXPECT_TRUE(Find(update.tree, "s1").receiving());
  EXPECT_EQ(update.delta.changed_size(), 0);
  update = tracker.Apply(topology,
                         kStart + kReceivingWindow + absl::Milliseconds(1));
  EXPECT_FALSE(Find(update.tree, "s1").receiving());
  ASSERT_EQ(update.delta.changed_size(), 1);
  EXPECT_EQ(update.delta.changed(0).id(), "s1");
}

TEST(TreeTrackerTest, NeverReportedIsNotReceiving) {
  TreeTracker tracker;
  GetTopologyResponse topology = Tree();
  topology.mutable_nodes(5)->set_last_report_ms_ago(-1);
  topology.mutable_nodes(5)->set_plain_endpoint(true);
  const TreeTracker::Update update = tracker.Apply(topology, kStart);
  const auto& s1 = Find(update.tree, "s1");
  EXPECT_FALSE(s1.receiving());
  EXPECT_TRUE(s1.report_late());
  EXPECT_TRUE(s1.plain_endpoint());
}

TEST(TreeTrackerTest, RemovedNodesAreNamed) {
  TreeTracker tracker;
  GetTopologyResponse topology = Tree();
  tracker.Apply(topology, kStart);
  topology.mutable_nodes()->RemoveLast();
  TreeTracker::Update update =
      tracker.Apply(topology, kStart + absl::Milliseconds(500));
  ASSERT_EQ(update.delta.removed_size(), 1);
  EXPECT_EQ(update.delta.removed(0), "s1");
  EXPECT_EQ(update.tree.nodes_size(), 5);
}

}  // namespace
}  // namespace cascade::console
