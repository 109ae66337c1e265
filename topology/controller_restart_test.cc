// A whole rebuild's push (a restart's first, a new topology) goes out a
// slice at a time (ControllerOptions::push_slice): the call that settles
// pushes one slice, each later report, registration, ack or tick the next,
// so none of them holds the controller's lock for the whole push (issue 18:
// at national scale that push held it for seconds on a busy machine, and
// the lease ticks and every report waited behind it).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "base/files.h"
#include "topology/controller_fixture.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;

class ControllerRestartTest : public ControllerTest {
 protected:
  // Applies `topology`, hears from every node, and returns each node's
  // active parent as pushed.
  std::map<std::string, std::string> StartWith(
      const cascade::v1::Topology& topology) {
    Start();
    Change change;
    *change.mutable_apply()->mutable_topology() = topology;
    EXPECT_TRUE(controller_->Submit(change).ok());
    for (const auto& node : topology.nodes()) {
      ids_.push_back(node.id());
      if (node.plain_endpoint()) {
        plain_.insert(node.id());
      } else {
        reporting_.push_back(node.id());
        if (node.tier() != cascade::v1::TIER_SITE) relays_.push_back(node.id());
      }
    }
    RegisterAll(reporting_);
    // The apply's push drained by the registrations above.
    std::map<std::string, std::string> parents;
    for (const std::string& id : ids_) {
      auto assignment = controller_->CurrentAssignment(id);
      EXPECT_NE(assignment, nullptr) << id;
      if (assignment == nullptr) continue;
      parents[id] = ActiveParent(*assignment);
    }
    return parents;
  }

  void Report(const std::string& id, const std::string& receiving_from) {
    cascade::v1::ReportRequest report;
    report.set_node_id(id);
    report.mutable_stats()->set_receiving_from(receiving_from);
    ASSERT_TRUE(controller_->Report(report).ok()) << id;
  }

  // Every node that is no plain endpoint reports, each saying it receives
  // from its parent before the restart.
  void ReportAll(const std::map<std::string, std::string>& parents) {
    for (const std::string& id : reporting_) Report(id, parents.at(id));
  }

  static std::string ActiveParent(const cascade::v1::Assignment& assignment) {
    return assignment.parents().empty() ? "" : assignment.parents(0).id();
  }

  // Every node; those that report (no plain endpoint); the relays.
  std::vector<std::string> ids_, reporting_, relays_;
  absl::flat_hash_set<std::string> plain_;
};

cascade::v1::Topology Reference() {
  absl::StatusOr<TopologyText> parsed =
      ParseTopologyText(kReferenceTopology, "reference");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed->topology;
}

TEST_F(ControllerRestartTest, ARestartsFirstPushGoesOutASliceAtATime) {
  const std::map<std::string, std::string> before = StartWith(Reference());
  ControllerOptions options;
  options.push_slice = 2;
  Start(options);
  // Learning ends with the last relay's first report: that call pushes one
  // slice, not every assignment.
  for (const std::string& id : relays_) Report(id, before.at(id));
  EXPECT_EQ(recorder_.latest.size(), 2u);
  // Every later call pushes the next slice, until all are out.
  size_t pushed = recorder_.latest.size();
  for (int k = 0; k < 20 && pushed < ids_.size(); ++k) {
    controller_->Tick();
    EXPECT_LE(recorder_.latest.size(), pushed + 2);
    EXPECT_GT(recorder_.latest.size(), pushed);
    pushed = recorder_.latest.size();
  }
  ASSERT_EQ(pushed, ids_.size());
  // Each once, to where it was: the slices change nothing.
  for (const std::string& id : ids_) {
    EXPECT_EQ(recorder_.pushes[id], 1) << id;
    EXPECT_EQ(ActiveParent(*recorder_.latest[id]), before.at(id)) << id;
  }
}

TEST_F(ControllerRestartTest, AChangeBetweenSlicesIsPushedAtOnceAndNotUndone) {
  const std::map<std::string, std::string> before = StartWith(Reference());
  ControllerOptions options;
  options.push_slice = 1;
  Start(options);
  for (const std::string& id : relays_) Report(id, before.at(id));
  ASSERT_LT(recorder_.latest.size(), ids_.size());
  // d1 is drained while most of the push is pending: its children's new
  // assignments go out with the drain, whole, not a slice at a time.
  Change drain;
  drain.mutable_drain()->set_id("d1");
  ASSERT_TRUE(controller_->Submit(drain).ok());
  ASSERT_NE(recorder_.latest["s1"], nullptr);
  EXPECT_EQ(ActiveParent(*recorder_.latest["s1"]), "p1");
  // The pending slices then push only what is not out yet, and the drain
  // stays.
  for (int k = 0; k < 20 && recorder_.latest.size() < ids_.size(); ++k) {
    controller_->Tick();
  }
  ASSERT_EQ(recorder_.latest.size(), ids_.size());
  EXPECT_EQ(ActiveParent(*controller_->CurrentAssignment("s1")), "p1");
  EXPECT_EQ(recorder_.pushes["s1"], 1);
}

cascade::v1::Topology National() {
  absl::StatusOr<std::string> text =
      ReadFile("topology/reference/national.textproto");
  EXPECT_TRUE(text.ok()) << text.status();
  absl::StatusOr<TopologyText> parsed =
      ParseTopologyText(text.ok() ? *text : "", "national");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? parsed->topology : cascade::v1::Topology();
}

// The national reference topology (11,428 nodes): the report that ends the
// restart's learning pushes the default slice, the nodes' next reports the
// rest, each node once and where it was.
TEST_F(ControllerRestartTest, NationalRestartPushesInSlicesAndMovesNoOne) {
  const std::map<std::string, std::string> before = StartWith(National());
  Start();
  for (const std::string& id : relays_) Report(id, before.at(id));
  EXPECT_EQ(recorder_.latest.size(), ControllerOptions().push_slice);
  ReportAll(before);
  ASSERT_EQ(recorder_.latest.size(), ids_.size());
  for (const std::string& id : ids_) {
    ASSERT_EQ(recorder_.pushes[id], 1) << id;
    ASSERT_EQ(ActiveParent(*recorder_.latest[id]), before.at(id)) << id;
  }
  // Every hold of the lock pushed at most one slice.
  const ControllerTiming::Snapshot timing = controller_->timing()->Take();
  const size_t slices =
      timing.held[static_cast<size_t>(LockUse::kPushSlice)].count();
  EXPECT_EQ(slices, (ids_.size() - 1) / ControllerOptions().push_slice);
}

TEST(BacklogExcuseTest, ExcusesWhatEveryNodesSilenceHasInCommon) {
  const absl::Duration lease = absl::Seconds(3);
  auto ages = [](size_t n, absl::Duration age) {
    return std::vector<absl::Duration>(n, age);
  };
  // Keeping up: reports a third of a lease apart.
  EXPECT_EQ(BacklogExcuse(ages(100, absl::Milliseconds(500)), lease),
            absl::ZeroDuration());
  // Every report 3.5 s old: the controller is 2.5 s behind.
  EXPECT_EQ(BacklogExcuse(ages(100, absl::Milliseconds(3500)), lease),
            absl::Milliseconds(2500));
  // A few nodes failed: their silence is their own.
  std::vector<absl::Duration> some = ages(95, absl::Milliseconds(500));
  some.insert(some.end(), 5, absl::Seconds(10));
  EXPECT_EQ(BacklogExcuse(some, lease), absl::ZeroDuration());
  // Never more than a lease; nothing with too few nodes to tell.
  EXPECT_EQ(BacklogExcuse(ages(100, absl::Seconds(20)), lease), lease);
  EXPECT_EQ(BacklogExcuse(ages(10, absl::Seconds(5)), lease),
            absl::ZeroDuration());
}

// Reports that wait unread behind the controller's own work (a restart's
// push on a busy machine) make every lease look lapsed at once: none
// expires for that, while the nodes that really went silent still do.
TEST_F(ControllerRestartTest, LeasesDoNotLapseWhileTheControllerIsBehind) {
  StartWith(National());
  // Behind by 3.5 s: every node last heard 3.5 s ago but a twentieth.
  clock_.Advance(absl::Milliseconds(3500));
  for (size_t i = 0; i < reporting_.size(); i += 20) Report(reporting_[i], "");
  EXPECT_EQ(controller_->Tick(), 0);
  // Caught up; then the province ben-tre and its subtree fall silent.
  auto in_ben_tre = [](const std::string& id) {
    return id.rfind("ben-tre", 0) == 0;
  };
  int silent = 0;
  int expired = 0;
  for (int step = 0; step < 5; ++step) {
    clock_.Advance(absl::Seconds(1));
    silent = 0;
    for (const std::string& id : reporting_) {
      if (in_ben_tre(id)) {
        ++silent;
      } else {
        Report(id, "");
      }
    }
    expired += controller_->Tick();
  }
  ASSERT_GT(silent, 100);
  EXPECT_EQ(expired, silent);
  for (const std::string& id : reporting_) {
    ASSERT_EQ(controller_->GetNode(id)->status() == cascade::v1::STATUS_DOWN,
              in_ben_tre(id))
        << id;
  }
}

}  // namespace
}  // namespace cascade::topology
