// Nodes and the controller coming back: hold-downs, revertive and
// non-revertive reintegration, and what a restarted controller learns
// before it sends anything.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "testing/fake_clock.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"

namespace cascade::topology {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Change;

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

}  // namespace
}  // namespace cascade::topology
