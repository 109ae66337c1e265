
#include "topology/controller.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "topology/controller_fixture.h"

namespace cascade::topology {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Change;

TEST_F(ControllerTest, AssignsPrimaryAndStandbyWithLinkKeys) {
  Start();
  ApplyReference();
  // Districts get the standby-role node of p1's region; sites get their
  // configured standby.
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1", "p1-sb"}));
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"d1", "p1"}));
  // No standby-role node in r2 and nothing above but the root: p2's only
  // option beyond nat is none.
  EXPECT_EQ(Parents("p2"), (std::vector<std::string>{"nat"}));
  EXPECT_TRUE(Parents("nat").empty());

  auto d1 = controller_->CurrentAssignment("d1");
  EXPECT_EQ(Ids(d1->active_children()), (std::vector<std::string>{"s1", "s2"}));
  auto p1 = controller_->CurrentAssignment("p1");
  EXPECT_EQ(Ids(p1->standby_children()),
            (std::vector<std::string>{"s1", "s2", "s3"}));
  EXPECT_EQ(p1->streams_size(), 2);
  EXPECT_TRUE(d1->active_children(1).plain_endpoint());

  // Both ends of a link share its key; no two links share one.
  auto s1 = controller_->CurrentAssignment("s1");
  EXPECT_EQ(s1->parents(0).key(), d1->active_children(0).key());
  EXPECT_EQ(s1->parents(0).key().size(), 32u);
  EXPECT_NE(s1->parents(0).key(), s1->parents(1).key());
  EXPECT_NE(s1->parents(0).key(), d1->active_children(1).key());
}

// For every active parent P and standby S: the children of P that stand by
// on S fit in S's free capacity, so P's failure overloads nobody.
void ExpectStandbysFit(Controller* controller) {
  auto topology = controller->GetTopology("");
  ASSERT_TRUE(topology.ok());
  std::map<std::string, const cascade::v1::NodeView*> by_id;
  for (const auto& node : topology->nodes()) by_id[node.id()] = &node;
  std::map<std::pair<std::string, std::string>, uint32_t> standing_by;
  for (const auto& node : topology->nodes()) {
    for (int k = 1; k < node.parents_size(); ++k) {
      ++standing_by[{node.parents(k), node.parents(0)}];
    }
  }
  for (const auto& [key, count] : standing_by) {
    const cascade::v1::NodeView& standby = *by_id[key.first];
    EXPECT_LE(count + standby.active_children_size(),
              standby.capacity().max_children())
        << key.first << " stands by for " << count << " children of "
        << key.second;
  }
}

TEST_F(ControllerTest, LeaseExpiryConfirmsTheFallbackAndPushesOnlyChanges) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  // p1-sb has room for two districts: the third stands by on the tier above.
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1", "p1-sb"}));
  EXPECT_EQ(Parents("d2"), (std::vector<std::string>{"p1", "p1-sb"}));
  EXPECT_EQ(Parents("d3"), (std::vector<std::string>{"p1", "nat"}));
  ExpectStandbysFit(controller_.get());
  std::map<std::string, std::shared_ptr<const Assignment>> before =
      recorder_.latest;

  // p1 falls silent; everyone else keeps reporting.
  RunFor(&clock_, controller_.get(), absl::Seconds(4), absl::Seconds(1),
         [] { return std::vector<std::string>{"p1"}; });
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DOWN);
  // Every child of p1 is confirmed on the standby its relay switched to.
  for (const char* id : {"d1", "d2", "d3"}) {
    EXPECT_EQ(Parents(id)[0], before[id]->parents(1).id()) << id;
  }
  // New standbys within capacity: p1-sb is full, so d3 has none left.
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1-sb", "nat"}));
  EXPECT_EQ(Parents("d3"), (std::vector<std::string>{"nat"}));
  ExpectStandbysFit(controller_.get());
  // Sites keep their district; their own standby, p1, is down, and they
  // are given no parent they do not know (nat is not in s1's list).
  EXPECT_EQ(Parents("s1"), (std::vector<std::string>{"d1"}));
  // Pushed: exactly the nodes whose content changed.
  for (const auto& [id, a] : recorder_.latest) {
    cascade::v1::Assignment was = *before[id], now = *a;
    was.clear_version();
    now.clear_version();
    bool same = was.SerializeAsString() == now.SerializeAsString();
    EXPECT_EQ(a->version() == before[id]->version(), same) << id;
  }
  EXPECT_EQ(recorder_.latest["p2"]->version(), before["p2"]->version());
  bool down_event = false;
  for (const auto& e : recorder_.events) {
    down_event |=
        e.kind() == cascade::v1::Event::KIND_NODE_DOWN && e.node_id() == "p1";
  }
  EXPECT_TRUE(down_event);
}

TEST_F(ControllerTest, RelaySilentToItsParentIsDownAtOnce) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  auto report = [&](const std::string& from,
                    const std::vector<std::string>& silent) {
    cascade::v1::ReportRequest request;
    request.set_node_id(from);
    for (const std::string& id : silent) {
      request.mutable_stats()->add_silent_children(id);
    }
    return controller_->Report(request);
  };
  // Only the active parent's word counts, and never about a site.
  RegisterAll({"s1"});
  ASSERT_TRUE(report("p1-sb", {"d1"}).ok());
  ASSERT_TRUE(report("d1", {"s1"}).ok());
  EXPECT_EQ(controller_->GetNode("d1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(controller_->GetNode("s1")->status(), cascade::v1::STATUS_UP);
  // d1 still reports: it left p1 by itself, and stays up.
  clock_.Advance(absl::Milliseconds(500));
  ASSERT_TRUE(report("p1", {"d1"}).ok());
  EXPECT_EQ(controller_->GetNode("d1")->status(), cascade::v1::STATUS_UP);
  // Silent to the controller too, well inside its lease, and p1 no longer
  // hears it: down, and its sites move to their standby at once.
  clock_.Advance(absl::Milliseconds(500));
  ASSERT_TRUE(report("p1", {"d1"}).ok());
  EXPECT_EQ(controller_->GetNode("d1")->status(), cascade::v1::STATUS_DOWN);
  EXPECT_EQ(Parents("s1")[0], "p1");
  bool down_event = false;
  for (const auto& e : recorder_.events) {
    down_event |= e.kind() == cascade::v1::Event::KIND_NODE_DOWN &&
                  e.node_id() == "d1" &&
                  e.detail() == "silent to its parent p1";
  }
  EXPECT_TRUE(down_event);
  // It was alive after all: back through a hold-down like any expiry.
  ASSERT_TRUE(report("d1", {}).ok());
  EXPECT_EQ(controller_->GetNode("d1")->status(),
            cascade::v1::STATUS_HOLD_DOWN);
}

TEST_F(ControllerTest, FailedOverNodesStayPutWhenRoomOpensElsewhere) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  RunFor(&clock_, controller_.get(), absl::Seconds(4), absl::Seconds(1),
         [] { return std::vector<std::string>{"p1"}; });
  ASSERT_EQ(Parents("d3")[0], "nat");
  // d1 leaves p1-sb: there is room there now, but d3 is fine on nat and
  // its relay is not moved again.
  const uint64_t d3_version = recorder_.latest["d3"]->version();
  Change move;
  move.mutable_move()->set_id("d1");
  move.mutable_move()->set_new_parent("p2");
  ASSERT_TRUE(controller_->Submit(move).ok());
  EXPECT_EQ(Parents("d1")[0], "p2");
  EXPECT_EQ(Parents("d3")[0], "nat");
  EXPECT_EQ(recorder_.latest["d3"]->parents(0).id(), "nat");
  // Its standby may improve (p1-sb has room now); its parent does not move.
  EXPECT_GE(recorder_.latest["d3"]->version(), d3_version);
}

TEST_F(ControllerTest, NodeNeverReportingIsDownAfterALease) {
  Start();
  ApplyReference();
  RegisterAll({"nat", "p1-sb", "p2", "d1", "d2", "d3"});
  clock_.Advance(absl::Seconds(2));
  ReportAllBut(controller_.get(), {"p1"});
  controller_->Tick();
  // Not yet a lease: p1 is unknown and still trusted.
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UNKNOWN);
  EXPECT_EQ(Parents("d1")[0], "p1");
  clock_.Advance(absl::Seconds(1));
  ReportAllBut(controller_.get(), {"p1"});
  controller_->Tick();
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DOWN);
  EXPECT_EQ(Parents("d1")[0], "p1-sb");
  // Plain endpoints never report and are never marked down.
  EXPECT_EQ(controller_->GetNode("s2")->status(), cascade::v1::STATUS_UNKNOWN);
  // Its first report brings it straight in at the next tick: it never
  // flapped, so no hold-down.
  cascade::v1::RegisterRequest late;
  late.set_node_id("p1");
  ASSERT_TRUE(controller_->Register(late).ok());
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(Parents("d1")[0], "p1-sb");
  clock_.Advance(absl::Milliseconds(300));
  controller_->Tick();
  EXPECT_EQ(Parents("d1")[0], "p1");
}

// A leader that was stopped (SIGSTOP, a stalled VM) wakes up with every
// lease past its timeout; the time it did not run is excused, so nobody is
// marked down for it, and a node that stays silent afterwards still is.
TEST_F(ControllerTest, TimeTheControllerDidNotRunIsNotTheNodesSilence) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  clock_.Advance(absl::Seconds(4));
  controller_->Excuse(absl::Seconds(4));
  EXPECT_EQ(controller_->Tick(), 0);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(Parents("d1")[0], "p1");
  clock_.Advance(absl::Seconds(2));
  ReportAllBut(controller_.get(), {"p1"});
  EXPECT_EQ(controller_->Tick(), 0);
  clock_.Advance(absl::Milliseconds(1100));
  ReportAllBut(controller_.get(), {"p1"});
  EXPECT_EQ(controller_->Tick(), 1);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DOWN);
}

TEST_F(ControllerTest, NodeBeyondAllCapacityIsOrphanedAndReported) {
  Start();
  ApplyReference();
  for (const char* id : {"p1", "p1-sb", "nat"}) {
    Change change;
    change.mutable_drain()->set_id(id);
    ASSERT_TRUE(controller_->Submit(change).ok());
  }
  EXPECT_TRUE(Parents("d1").empty());
  EXPECT_TRUE(controller_->GetNode("d1")->orphan());
  EXPECT_EQ(controller_->GetStats().orphans(), 6u);  // 3 districts, 3 provinces
}

TEST_F(ControllerTest, RefusalsAndNotFound) {
  Start();
  ApplyReference();
  Change change;
  change.mutable_remove()->set_id("d1");
  EXPECT_EQ(Code(change), absl::StatusCode::kFailedPrecondition);
  change.mutable_remove()->set_id("nope");
  EXPECT_EQ(Code(change), absl::StatusCode::kNotFound);
  change.mutable_move()->set_id("s1");
  change.mutable_move()->set_new_parent("nope");
  EXPECT_EQ(Code(change), absl::StatusCode::kNotFound);
  // A site cannot parent a district: rejected whole, nothing changed.
  uint64_t sequence = controller_->Sequence();
  change.mutable_move()->set_id("d1");
  change.mutable_move()->set_new_parent("s3");
  EXPECT_EQ(Code(change), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(controller_->Sequence(), sequence);
  EXPECT_EQ(Parents("d1")[0], "p1");
  change.mutable_select()->set_site("d1");
  EXPECT_EQ(Code(change), absl::StatusCode::kFailedPrecondition);
  change.mutable_add()->mutable_node()->set_id("d1");
  EXPECT_EQ(Code(change), absl::StatusCode::kAlreadyExists);
  cascade::v1::RegisterRequest unknown;
  unknown.set_node_id("ghost");
  EXPECT_EQ(controller_->Register(unknown).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ControllerTest, AddMoveRemoveAndUpstreamSelection) {
  Start();
  ApplyReference();
  Change add;
  auto* node = add.mutable_add()->mutable_node();
  node->set_id("s4");
  node->set_tier(cascade::v1::TIER_SITE);
  node->set_parent("d3");
  node->set_media_address("127.10.0.4:5004");
  ASSERT_TRUE(controller_->Submit(add).ok());
  EXPECT_EQ(Parents("s4")[0], "d3");

  Change move;
  move.mutable_move()->set_id("s4");
  move.mutable_move()->set_new_parent("d2");
  absl::StatusOr<cascade::v1::ChangeResponse> moved = controller_->Submit(move);
  ASSERT_TRUE(moved.ok());
  // s4, d3 (lost a child) and d2 (gained one).
  EXPECT_EQ(moved->assignments_changed(), 3u);

  Change select;
  select.mutable_select()->set_site("s1");
  ASSERT_TRUE(controller_->Submit(select).ok());
  // Its active path, s1 d1 p1 nat, and the standby a failover of p1 takes
  // it through before the controller knows.
  for (const char* id : {"s1", "d1", "p1", "nat", "p1-sb"}) {
    auto a = controller_->CurrentAssignment(id);
    ASSERT_EQ(a->upstream_size(), 1) << id;
    EXPECT_EQ(a->upstream(0).site(), "s1");
    EXPECT_EQ(a->upstream(0).ssrcs(0), 500u);
  }
  EXPECT_EQ(controller_->CurrentAssignment("d1")->upstream(0).from_child(),
            "s1");
  EXPECT_EQ(controller_->CurrentAssignment("p1")->upstream(0).from_child(),
            "d1");
  EXPECT_EQ(controller_->CurrentAssignment("p1-sb")->upstream(0).from_child(),
            "d1");
  EXPECT_EQ(controller_->CurrentAssignment("p2")->upstream_size(), 0);
  Change release;
  release.mutable_release()->set_site("s1");
  ASSERT_TRUE(controller_->Submit(release).ok());
  EXPECT_EQ(controller_->CurrentAssignment("nat")->upstream_size(), 0);

  Change remove;
  remove.mutable_remove()->set_id("s4");
  ASSERT_TRUE(controller_->Submit(remove).ok());
  EXPECT_EQ(controller_->CurrentAssignment("s4"), nullptr);
  EXPECT_EQ(recorder_.removed, (std::vector<std::string>{"s4"}));
}

TEST_F(ControllerTest, EveryChangeSurvivesRestartAndKeysStayStable) {
  Start();
  ApplyReference();
  std::string key = controller_->CurrentAssignment("s1")->parents(0).key();
  Change drain;
  drain.mutable_drain()->set_id("d2");
  ASSERT_TRUE(controller_->Submit(drain).ok());
  Change move;
  move.mutable_move()->set_id("s3");
  move.mutable_move()->set_new_parent("d3");
  ASSERT_TRUE(controller_->Submit(move).ok());

  Start();
  // A restarted controller sends nothing for a lease (it learns first).
  EXPECT_EQ(controller_->CurrentAssignment("s1"), nullptr);
  RunFor(&clock_, controller_.get(), absl::Seconds(10), absl::Seconds(1),
         [] { return std::vector<std::string>{}; });
  EXPECT_EQ(controller_->Sequence(), 3u);
  EXPECT_EQ(controller_->GetNode("d2")->status(), cascade::v1::STATUS_DRAINING);
  EXPECT_EQ(controller_->GetNode("s3")->desired_parent(), "d3");
  EXPECT_EQ(controller_->CurrentAssignment("s1")->parents(0).key(), key);

  // Re-applying the file (which has no keys) keeps the generated ones.
  ApplyReference();
  EXPECT_EQ(controller_->CurrentAssignment("s1")->parents(0).key(), key);
}

TEST_F(ControllerTest, SnapshotsKeepTheStateAndRestartTheJournal) {
  ControllerOptions options;
  options.snapshot_every = 2;
  Start(options);
  ApplyReference();
  for (const char* id : {"d1", "d2", "d3"}) {
    Change drain;
    drain.mutable_drain()->set_id(id);
    ASSERT_TRUE(controller_->Submit(drain).ok());
  }
  EXPECT_EQ(store_->RecordsSinceSnapshot(), 0u);
  Start(options);
  EXPECT_EQ(controller_->Sequence(), 4u);
  EXPECT_EQ(controller_->GetNode("d3")->status(), cascade::v1::STATUS_DRAINING);
}

TEST_F(ControllerTest, AdminViewsNeverCarryKeys) {
  Start();
  ApplyReference();
  absl::StatusOr<cascade::v1::GetTopologyResponse> topology =
      controller_->GetTopology("p1");
  ASSERT_TRUE(topology.ok());
  // p1, its 3 districts, their 3 sites.
  EXPECT_EQ(topology->nodes_size(), 7);
  std::string bytes = topology->SerializeAsString();
  std::string key = controller_->CurrentAssignment("s1")->parents(0).key();
  EXPECT_EQ(bytes.find(key), std::string::npos);
  EXPECT_EQ(controller_->GetTopology("nope").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cascade::topology
