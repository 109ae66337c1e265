#include "topology/controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/fake_clock.h"
#include "topology/controller_fixture.h"
#include "topology/fake_store.h"

namespace cascade::topology {
namespace {

using cascade::v1::Assignment;
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

TEST_F(ControllerTest, FlappingNodeMovesItsChildrenOnceThenHoldsDown) {
  ControllerOptions options;
  options.lease_timeout = absl::Milliseconds(100);
  Start(options);
  ApplyReference();
  RegisterAll(kRelays);
  // p1 up 200 ms, down 200 ms, for 5 s.
  absl::Duration elapsed;
  bool first_failover_seen = false;
  std::map<std::string, uint64_t> after_failover;
  RunFor(
      &clock_, controller_.get(), absl::Seconds(5), absl::Milliseconds(10),
      [&] {
        elapsed += absl::Milliseconds(10);
        const bool down =
            static_cast<int>(elapsed / absl::Milliseconds(200)) % 2 == 1;
        if (down && !first_failover_seen &&
            controller_->GetNode("p1")->status() == cascade::v1::STATUS_DOWN) {
          first_failover_seen = true;
          for (const char* id : {"d1", "d2", "d3", "s1", "s3"}) {
            after_failover[id] = recorder_.latest[id]->version();
          }
        }
        return down ? std::vector<std::string>{"p1"}
                    : std::vector<std::string>{};
      });
  ASSERT_TRUE(first_failover_seen);
  EXPECT_GE(controller_->GetNode("p1")->recent_expiries(), 10u);
  // Nothing changed for p1's children (nor its grandchildren) after the
  // first failover, however often p1 came back.
  for (const auto& [id, version] : after_failover) {
    EXPECT_EQ(recorder_.latest[id]->version(), version) << id;
  }
  EXPECT_EQ(Parents("d1")[0], "p1-sb");

  // p1 is back for good: held down (the cap, after so many flaps), then its
  // children return, each with one push.
  RunFor(&clock_, controller_.get(), absl::Seconds(1), absl::Milliseconds(50),
         [] { return std::vector<std::string>{}; });
  cascade::v1::NodeView p1 = *controller_->GetNode("p1");
  EXPECT_EQ(p1.status(), cascade::v1::STATUS_HOLD_DOWN);
  EXPECT_GT(p1.hold_down_ms_left(), 55000);
  EXPECT_LE(p1.hold_down_ms_left(), 60000);
  EXPECT_EQ(Parents("d1")[0], "p1-sb");
  std::map<std::string, int> pushes = recorder_.pushes;
  RunFor(&clock_, controller_.get(), absl::Seconds(60), absl::Milliseconds(50),
         [] { return std::vector<std::string>{}; });
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  for (const char* id : {"d1", "d2", "d3"}) {
    EXPECT_EQ(Parents(id)[0], "p1") << id;
    EXPECT_EQ(recorder_.pushes[id], pushes[id] + 1) << id;
  }
}

TEST_F(ControllerTest, HoldDownDoublesWithEachRecentExpiry) {
  ControllerOptions options;
  options.lease_timeout = absl::Seconds(1);
  options.reintegrate_after = absl::Seconds(5);
  options.reintegrate_max = absl::Seconds(60);
  Start(options);
  ApplyReference();
  RegisterAll(kRelays);
  auto none = [] { return std::vector<std::string>{}; };
  auto p1_silent = [] { return std::vector<std::string>{"p1"}; };
  int pushes_d1 = 0;
  for (int expiry = 1; expiry <= 3; ++expiry) {
    RunFor(&clock_, controller_.get(), absl::Seconds(2),
           absl::Milliseconds(100), p1_silent);
    ASSERT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DOWN);
    pushes_d1 = recorder_.pushes["d1"];
    RunFor(&clock_, controller_.get(), absl::Milliseconds(100),
           absl::Milliseconds(100), none);
    cascade::v1::NodeView p1 = *controller_->GetNode("p1");
    ASSERT_EQ(p1.status(), cascade::v1::STATUS_HOLD_DOWN);
    EXPECT_EQ(p1.recent_expiries(), static_cast<uint32_t>(expiry));
    // 5 s, 10 s, 20 s.
    EXPECT_EQ(p1.hold_down_ms_left(), 5000 << (expiry - 1));
  }
  EXPECT_EQ(recorder_.pushes["d1"], pushes_d1);
  RunFor(&clock_, controller_.get(), absl::Seconds(20), absl::Milliseconds(100),
         none);
  EXPECT_EQ(Parents("d1")[0], "p1");
  EXPECT_EQ(recorder_.pushes["d1"], pushes_d1 + 1);
  // Long after, the history has aged out: the base hold-down again.
  RunFor(&clock_, controller_.get(), absl::Seconds(61), absl::Seconds(1), none);
  RunFor(&clock_, controller_.get(), absl::Seconds(2), absl::Milliseconds(100),
         p1_silent);
  RunFor(&clock_, controller_.get(), absl::Milliseconds(100),
         absl::Milliseconds(100), none);
  EXPECT_EQ(controller_->GetNode("p1")->hold_down_ms_left(), 5000);
}

// Loses p1's lease, then has it report again and sit out its hold-down.
void LoseAndRegainP1(FakeClock* clock, Controller* controller) {
  RunFor(clock, controller, absl::Seconds(4), absl::Seconds(1),
         [] { return std::vector<std::string>{"p1"}; });
  ASSERT_EQ(controller->GetNode("p1")->status(), cascade::v1::STATUS_DOWN);
  RunFor(clock, controller, absl::Seconds(1), absl::Seconds(1),
         [] { return std::vector<std::string>{}; });
  EXPECT_EQ(controller->GetNode("p1")->status(), cascade::v1::STATUS_HOLD_DOWN);
  RunFor(clock, controller, absl::Seconds(5), absl::Seconds(1),
         [] { return std::vector<std::string>{}; });
  EXPECT_EQ(controller->GetNode("p1")->status(), cascade::v1::STATUS_UP);
}

TEST_F(ControllerTest, RevertiveReintegrationMovesChildrenBack) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  LoseAndRegainP1(&clock_, controller_.get());
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1", "p1-sb"}));
  EXPECT_EQ(Parents("d3"), (std::vector<std::string>{"p1", "nat"}));
}

TEST_F(ControllerTest,
       NonRevertiveReintegrationKeepsChildrenAndSurvivesRestart) {
  ControllerOptions options;
  options.default_policy = cascade::v1::RESTORE_NON_REVERTIVE;
  Start(options);
  ApplyReference();
  RegisterAll(kRelays);
  LoseAndRegainP1(&clock_, controller_.get());
  // They stay where failover put them, with p1 back as their standby.
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1-sb", "p1"}));
  EXPECT_EQ(Parents("d3"), (std::vector<std::string>{"nat", "p1"}));

  // The pins are state: a restarted controller keeps them.
  Start(options);
  RunFor(&clock_, controller_.get(), absl::Seconds(10), absl::Seconds(1),
         [] { return std::vector<std::string>{}; });
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1-sb", "p1"}));
  EXPECT_EQ(Parents("d3"), (std::vector<std::string>{"nat", "p1"}));

  // A move clears the pin.
  Change move;
  move.mutable_move()->set_id("d3");
  move.mutable_move()->set_new_parent("p1");
  ASSERT_TRUE(controller_->Submit(move).ok());
  EXPECT_EQ(Parents("d3")[0], "p1");
}

// A restarted controller first learns for a lease who is alive and where
// each relay receives from, then sends what the relays already run: the
// same content, only newer versions.
TEST_F(ControllerTest, RestartSendsWhatTheRelaysAlreadyRun) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  RunFor(&clock_, controller_.get(), absl::Seconds(4), absl::Seconds(1),
         [] { return std::vector<std::string>{"p1"}; });
  // d3 sits on nat after the failover even once p1-sb has room again: a
  // placement a fresh computation would not make.
  Change move;
  move.mutable_move()->set_id("d1");
  move.mutable_move()->set_new_parent("p2");
  ASSERT_TRUE(controller_->Submit(move).ok());
  ASSERT_EQ(Parents("d3")[0], "nat");
  std::map<std::string, std::shared_ptr<const Assignment>> before =
      recorder_.latest;

  Start();  // p1 is still dead
  EXPECT_TRUE(controller_->HasNode("d3"));
  EXPECT_EQ(controller_->CurrentAssignment("d3"), nullptr);
  // The relays report what they run (ReportAllBut reads `before` through
  // a controller that has nothing yet, so report by hand).
  auto report_as_before = [&] {
    for (const std::string& id : kRelays) {
      if (id == "p1") continue;
      cascade::v1::ReportRequest report;
      report.set_node_id(id);
      if (before[id]->parents_size() > 0) {
        report.mutable_stats()->set_receiving_from(before[id]->parents(0).id());
      }
      ASSERT_TRUE(controller_->Report(report).ok());
    }
  };
  // Sites s1 and s3 never report: learning lasts its full 10 s.
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Seconds(1));
    report_as_before();
    controller_->Tick();
    if (i < 9) {
      EXPECT_TRUE(recorder_.latest.empty()) << "sent while learning";
    }
  }
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DOWN);
  ASSERT_EQ(recorder_.latest.size(), before.size());
  for (const auto& [id, a] : recorder_.latest) {
    cascade::v1::Assignment was = *before[id], now = *a;
    EXPECT_GT(now.version(), was.version()) << id;
    was.clear_version();
    now.clear_version();
    EXPECT_EQ(now.SerializeAsString(), was.SerializeAsString()) << id;
  }
}

TEST_F(ControllerTest, RestartLearningEndsOnceEveryRelayHasReported) {
  Start();
  ApplyReference();
  Start();
  // Sites (s1, s3; s2 is a plain endpoint) are leaves and need not report:
  // the last relay's report ends the learning.
  RegisterAll(std::vector<std::string>(kRelays.begin(), kRelays.end() - 1));
  EXPECT_EQ(controller_->CurrentAssignment("d1"), nullptr);
  EXPECT_EQ(controller_->CurrentAssignment("s1"), nullptr);
  RegisterAll({kRelays.back()});
  ASSERT_NE(controller_->CurrentAssignment("d1"), nullptr);
  EXPECT_NE(controller_->CurrentAssignment("s1"), nullptr);
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1", "p1-sb"}));
}

// A relay still backing off when the controller takes over is what
// learning waits for: not down after a lease, so nothing moves off it.
TEST_F(ControllerTest, RelayLateToARestartedControllerIsNotMarkedDown) {
  Start();
  ApplyReference();
  Start();
  std::vector<std::string> early(kRelays.begin(), kRelays.end());
  early.erase(std::find(early.begin(), early.end(), "p1"));
  RegisterAll(early);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(1));
    ReportAllBut(controller_.get(), {"p1"});
    controller_->Tick();
  }
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UNKNOWN);
  EXPECT_EQ(controller_->CurrentAssignment("d1"), nullptr);
  RegisterAll({"p1"});
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1", "p1-sb"}));
  for (const auto& event : recorder_.events) {
    EXPECT_NE(event.kind(), cascade::v1::Event::KIND_NODE_DOWN)
        << event.node_id() << ": " << event.detail();
  }
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

// A random four-tier topology with tight capacities (so failures orphan
// nodes and standbys compete), standby-role nodes, configured standbys,
// plain endpoints, upstream streams and fixed keys (so two controllers
// derive the same link keys).
cascade::v1::Topology RandomTopology(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  cascade::v1::Topology topology;
  int address = 0;
  auto add = [&](const std::string& id, cascade::v1::Tier tier,
                 const std::string& parent, const std::string& region) {
    cascade::v1::Node* node = topology.add_nodes();
    node->set_id(id);
    node->set_tier(tier);
    node->set_parent(parent);
    node->set_key("key-of-" + id);
    ++address;
    node->set_media_address(
        absl::StrCat("127.9.", address / 250, ".", address % 250 + 1, ":5004"));
    if (!region.empty()) (*node->mutable_labels())["region"] = region;
    return node;
  };
  add("nat-1", cascade::v1::TIER_NATIONAL, "", "");
  add("nat-2", cascade::v1::TIER_NATIONAL, "", "")
      ->set_role(cascade::v1::ROLE_STANDBY);
  std::vector<std::string> sites;
  const int provinces = pick(2, 4);
  for (int p = 1; p <= provinces; ++p) {
    const std::string province = absl::StrCat("p", p);
    const std::string region = absl::StrCat("r", pick(1, 2));
    cascade::v1::Node* primary =
        add(province, cascade::v1::TIER_PROVINCIAL, "nat-1", region);
    if (pick(0, 1)) primary->add_standby_parents("nat-2");
    add(province + "-sb", cascade::v1::TIER_PROVINCIAL, "nat-1", region)
        ->set_role(cascade::v1::ROLE_STANDBY);
    const int districts = pick(1, 4);
    for (int d = 1; d <= districts; ++d) {
      const std::string district = absl::StrCat(province, "-d", d);
      add(district, cascade::v1::TIER_DISTRICT, province, "");
      const int count = pick(1, 4);
      for (int k = 1; k <= count; ++k) {
        const std::string site = absl::StrCat(district, "-s", k);
        cascade::v1::Node* node =
            add(site, cascade::v1::TIER_SITE, district, "");
        if (pick(0, 2) > 0) node->add_standby_parents(province);
        node->set_plain_endpoint(pick(0, 4) == 0);
        sites.push_back(site);
      }
    }
  }
  // Room for the children that name a node, and a little more at random.
  std::map<std::string, int> children;
  for (const auto& node : topology.nodes()) ++children[node.parent()];
  for (auto& node : *topology.mutable_nodes()) {
    if (node.tier() == cascade::v1::TIER_SITE) continue;
    node.mutable_capacity()->set_max_children(children[node.id()] + pick(0, 2));
  }
  cascade::v1::Stream* command = topology.add_streams();
  command->set_id("cmd");
  command->set_direction(cascade::v1::DIRECTION_DOWNSTREAM);
  command->set_bitrate_kbps(1000);
  command->add_tracks()->set_ssrc(100);
  for (int k = 0; k < 2; ++k) {
    cascade::v1::Stream* up = topology.add_streams();
    up->set_id(absl::StrCat("up", k));
    up->set_direction(cascade::v1::DIRECTION_UPSTREAM);
    up->set_source_node(sites[pick(0, static_cast<int>(sites.size()) - 1)]);
    up->add_tracks()->set_ssrc(500 + k);
  }
  return topology;
}

// The incremental controller and the reference one (every recompute from
// scratch) fed the same random sequence of reports, silences, lease
// expiries, admin changes and restarts on one clock: after every step each
// node's assignment (version included, so also which pushes happened), the
// admin view and the stats must be identical.
void RunAgainstReference(uint32_t seed,
                         cascade::v1::RestorePolicy default_policy) {
  SCOPED_TRACE(absl::StrCat("seed ", seed, " policy ", default_policy));
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  FakeClock clock;
  ControllerOptions options;
  options.lease_timeout = absl::Seconds(3);
  options.reintegrate_after = absl::Seconds(1);
  options.reintegrate_max = absl::Seconds(8);
  options.restart_learning = absl::Seconds(4);
  options.snapshot_every = 25;
  options.default_policy = default_policy;
  ControllerOptions reference_options = options;
  reference_options.incremental = false;
  MemoryStore store, reference_store;
  std::unique_ptr<Controller> controller, reference;
  Recorder recorder, reference_recorder;
  auto start = [&] {
    controller = std::make_unique<Controller>(&clock, &store, options);
    reference = std::make_unique<Controller>(&clock, &reference_store,
                                             reference_options);
    ASSERT_TRUE(controller->Recover().ok());
    ASSERT_TRUE(reference->Recover().ok());
    recorder = Recorder();
    reference_recorder = Recorder();
    controller->SetListener(&recorder);
    reference->SetListener(&reference_recorder);
  };
  start();
  // Both must accept or refuse alike.
  auto submit = [&](const Change& change) {
    ASSERT_EQ(controller->Submit(change).status().code(),
              reference->Submit(change).status().code())
        << change.DebugString();
  };
  Change apply;
  *apply.mutable_apply()->mutable_topology() = RandomTopology(rng);
  submit(apply);

  std::set<std::string> silent;
  auto ids = [&] {
    std::vector<std::string> out;
    absl::StatusOr<cascade::v1::GetTopologyResponse> topology =
        controller->GetTopology("");
    if (topology.ok()) {
      for (const auto& node : topology->nodes()) out.push_back(node.id());
    }
    return out;
  };
  auto random_id = [&] {
    std::vector<std::string> all = ids();
    return all[pick(0, static_cast<int>(all.size()) - 1)];
  };
  auto report = [&](const std::string& id, const std::string& silent_child) {
    cascade::v1::ReportRequest request;
    request.set_node_id(id);
    auto assignment = controller->CurrentAssignment(id);
    if (assignment != nullptr && assignment->parents_size() > 0) {
      // Mostly the active parent; now and then the standby (a relay that
      // failed over on its own).
      request.mutable_stats()->set_receiving_from(
          assignment
              ->parents(pick(0, 5) == 0 ? assignment->parents_size() - 1 : 0)
              .id());
    }
    if (!silent_child.empty()) {
      request.mutable_stats()->add_silent_children(silent_child);
    }
    ASSERT_EQ(controller->Report(request).code(),
              reference->Report(request).code());
  };

  constexpr int kSteps = 300;
  int pushes_seen = 0;
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(absl::StrCat("step ", step));
    const int action = pick(0, 19);
    if (action < 8) {
      // Time passes; everyone not silenced reports, then the timers run.
      clock.Advance(absl::Milliseconds(pick(100, 1500)));
      for (const std::string& id : ids()) {
        if (silent.count(id) == 0 && pick(0, 9) > 0) report(id, "");
      }
      EXPECT_EQ(controller->Tick(), reference->Tick());
    } else if (action < 11) {
      // A node falls silent or comes back.
      std::string id = random_id();
      if (!silent.erase(id)) silent.insert(id);
    } else if (action == 11) {
      // A parent reports one of its active children silent.
      std::string id = random_id();
      auto assignment = controller->CurrentAssignment(id);
      if (assignment != nullptr && assignment->active_children_size() > 0) {
        report(id, assignment
                       ->active_children(
                           pick(0, assignment->active_children_size() - 1))
                       .id());
      }
    } else if (action < 15) {
      Change change;
      const std::string id = random_id();
      switch (pick(0, 2)) {
        case 0:
          change.mutable_drain()->set_id(id);
          break;
        case 1:
          change.mutable_failover()->set_id(id);
          break;
        default:
          change.mutable_restore()->set_id(id);
          change.mutable_restore()->set_policy(
              static_cast<cascade::v1::RestorePolicy>(pick(0, 2)));
          break;
      }
      submit(change);
    } else if (action == 15) {
      Change change;
      const std::string site = random_id();
      if (pick(0, 1)) {
        change.mutable_select()->set_site(site);
      } else {
        change.mutable_release()->set_site(site);
      }
      submit(change);
    } else if (action == 16) {
      Change change;
      change.mutable_move()->set_id(random_id());
      change.mutable_move()->set_new_parent(random_id());
      submit(change);
    } else if (action == 17) {
      Change change;
      if (pick(0, 1)) {
        cascade::v1::Node* node = change.mutable_add()->mutable_node();
        node->set_id(absl::StrCat("new-", step));
        node->set_tier(cascade::v1::TIER_SITE);
        node->set_parent(random_id());
        node->set_key(absl::StrCat("key-of-new-", step));
        node->set_media_address(
            absl::StrCat("127.8.0.", step % 250 + 1, ":5004"));
      } else {
        change.mutable_remove()->set_id(random_id());
      }
      submit(change);
    } else if (action == 18) {
      // Re-applying the current topology changes nothing but the version
      // of the state.
      submit(apply);
    } else if (pick(0, 3) == 0) {
      start();
      if (::testing::Test::HasFatalFailure()) return;
    }
    if (::testing::Test::HasFatalFailure()) return;
    // What the timers decided (reintegration pins) applied on both sides.
    controller->AwaitCommitted();
    reference->AwaitCommitted();

    for (const std::string& id : ids()) {
      auto got = controller->CurrentAssignment(id);
      auto want = reference->CurrentAssignment(id);
      ASSERT_EQ(got == nullptr, want == nullptr) << id;
      if (got != nullptr) {
        ASSERT_EQ(got->SerializeAsString(), want->SerializeAsString())
            << id << "\n"
            << got->DebugString() << "\nreference:\n"
            << want->DebugString();
      }
    }
    ASSERT_EQ(controller->GetTopology("")->SerializeAsString(),
              reference->GetTopology("")->SerializeAsString());
    ASSERT_EQ(controller->GetStats().SerializeAsString(),
              reference->GetStats().SerializeAsString());
    ASSERT_EQ(recorder.pushes, reference_recorder.pushes);
    // Removals come in hash-map order: compare them as sets.
    std::vector<std::string> removed = recorder.removed;
    std::vector<std::string> reference_removed = reference_recorder.removed;
    std::sort(removed.begin(), removed.end());
    std::sort(reference_removed.begin(), reference_removed.end());
    ASSERT_EQ(removed, reference_removed);
    ASSERT_EQ(recorder.events.size(), reference_recorder.events.size());
    pushes_seen += static_cast<int>(recorder.pushes.size());
  }
  // The sequence did exercise the controller.
  EXPECT_GT(pushes_seen, kSteps);
}

TEST(IncrementalPlanTest, EqualsAFullRecomputeAfterRandomChanges) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    RunAgainstReference(seed, seed % 2 == 0 ? cascade::v1::RESTORE_NON_REVERTIVE
                                            : cascade::v1::RESTORE_REVERTIVE);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace cascade::topology
