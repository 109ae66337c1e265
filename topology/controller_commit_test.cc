// The controller's commit pipeline seen from outside: relays and timers never
// wait for the store, a change shows only once durable, a change the store
// refuses shows nowhere, and changes decided back to back cannot both pass
// against the same state.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;
using cascade::v1::Event;

constexpr absl::Duration kDeadline = absl::Seconds(10);

int CountEvents(const Recorder& recorder, Event::Kind kind,
                const std::string& detail_part) {
  int count = 0;
  for (const Event& event : recorder.events) {
    count += event.kind() == kind &&
             event.detail().find(detail_part) != std::string::npos;
  }
  return count;
}

// A new site "s9" below d3.
Change AddS9() {
  Change add;
  cascade::v1::Node* node = add.mutable_add()->mutable_node();
  node->set_id("s9");
  node->set_tier(cascade::v1::TIER_SITE);
  node->set_parent("d3");
  node->set_media_address("127.10.0.9:5004");
  return add;
}

Change Remove(const std::string& id) {
  Change remove;
  remove.mutable_remove()->set_id(id);
  return remove;
}

class CommitTest : public ControllerTest {
 protected:
  // Runs `calls` on a thread of its own; true if they returned within the
  // deadline. Otherwise the gate is opened so they can end.
  bool ReturnsWhileHeld(const std::function<void()>& calls) {
    absl::Notification returned;
    std::thread thread([&] {
      calls();
      returned.Notify();
    });
    const bool in_time = returned.WaitForNotificationWithTimeout(kDeadline);
    if (!in_time) gated_->Open();
    thread.join();
    return in_time;
  }

  // Under the non-revertive policy p1 loses its lease and comes back: held
  // down for 5 s, its children pinned where failover put them once it ends.
  void HoldDownP1() {
    ControllerOptions options;
    options.default_policy = cascade::v1::RESTORE_NON_REVERTIVE;
    Start(options);
    ApplyReference();
    RegisterAll(kRelays);
    RunFor(&clock_, controller_.get(), absl::Seconds(4), absl::Seconds(1),
           [] { return std::vector<std::string>{"p1"}; });
    RunFor(&clock_, controller_.get(), absl::Seconds(1), absl::Seconds(1),
           [] { return std::vector<std::string>{}; });
    ASSERT_EQ(controller_->GetNode("p1")->status(),
              cascade::v1::STATUS_HOLD_DOWN);
  }

  // `seconds` ticks a second apart, every relay reporting; true if they
  // returned within the deadline (the store may be holding appends).
  bool TickFor(int seconds) {
    return ReturnsWhileHeld([&] {
      for (int k = 0; k < seconds; ++k) {
        clock_.Advance(absl::Seconds(1));
        ReportAllBut(controller_.get(), {});
        controller_->Tick();
      }
    });
  }
};

TEST_F(CommitTest, RelaysAndTimersGoOnWhileAChangeIsPersisted) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  const uint64_t sequence = controller_->Sequence();
  const auto d1_before = controller_->CurrentAssignment("d1");
  const int d1_pushes = recorder_.pushes["d1"];

  gated_->Close();
  const int arrivals = gated_->arrivals();
  ChangeResult drained;
  std::thread submitter([&] {
    Change drain;
    drain.mutable_drain()->set_id("p1");
    drained = controller_->Submit(drain);
  });
  EXPECT_TRUE(gated_->AwaitArrivals(arrivals + 1, kDeadline));

  EXPECT_TRUE(ReturnsWhileHeld([&] {
    clock_.Advance(absl::Milliseconds(500));
    ReportAllBut(controller_.get(), {});
    RegisterAll({"s1"});
    cascade::v1::AckRequest ack;
    ack.set_node_id("d1");
    ack.set_version(d1_before->version());
    EXPECT_TRUE(controller_->Ack(ack).ok());
    controller_->Tick();
  })) << "a relay call or Tick waited for the store";
  EXPECT_EQ(controller_->GetNode("d1")->acked_version(), d1_before->version());

  // Decided, on its way to the store: nothing of it shows yet.
  EXPECT_EQ(controller_->Sequence(), sequence);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(controller_->CurrentAssignment("d1"), d1_before);
  EXPECT_EQ(recorder_.pushes["d1"], d1_pushes);
  EXPECT_EQ(CountEvents(recorder_, Event::KIND_CHANGE, "drain"), 0);

  gated_->Open();
  submitter.join();
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(drained->state_sequence(), sequence + 1);
  EXPECT_EQ(controller_->Sequence(), sequence + 1);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DRAINING);
  EXPECT_EQ(Parents("d1")[0], "p1-sb");
  // Published once.
  EXPECT_EQ(recorder_.pushes["d1"], d1_pushes + 1);
  EXPECT_EQ(CountEvents(recorder_, Event::KIND_CHANGE, "drain"), 1);
}

TEST_F(CommitTest, AChangeTheStoreRefusesIsNeitherAppliedNorPublished) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  const uint64_t sequence = controller_->Sequence();
  const std::map<std::string, int> pushes = recorder_.pushes;
  const size_t events = recorder_.events.size();

  gated_->FailNext(absl::InternalError("disk full"));
  Change drain;
  drain.mutable_drain()->set_id("p1");
  ChangeResult refused = controller_->Submit(drain);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("disk full"), std::string::npos)
      << refused.status();
  EXPECT_EQ(controller_->Sequence(), sequence);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(Parents("d1")[0], "p1");
  EXPECT_EQ(recorder_.pushes, pushes);
  EXPECT_EQ(recorder_.events.size(), events);
  EXPECT_EQ(store_->RecordsSinceSnapshot(), 1u);  // the apply only

  // The next change is numbered after what is applied, and lands.
  ChangeResult accepted = controller_->Submit(drain);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->state_sequence(), sequence + 1);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_DRAINING);
  EXPECT_EQ(store_->RecordsSinceSnapshot(), 2u);
}

TEST_F(CommitTest, ChangesDecidedWhileOneIsPersistedBuildOnIt) {
  Start();
  ApplyReference();
  const uint64_t sequence = controller_->Sequence();
  std::vector<ChangeResult> results(5);
  std::atomic<int> answered{0};
  auto submit = [&](int k, Change change) {
    controller_->SubmitAsync(std::move(change), [&, k](ChangeResult result) {
      results[k] = std::move(result);
      ++answered;
    });
  };
  const Change add = AddS9();
  Change move;
  move.mutable_move()->set_id("s9");
  move.mutable_move()->set_new_parent("d2");
  const Change remove = Remove("s3");

  gated_->Close();
  const int arrivals = gated_->arrivals();
  submit(0, add);
  ASSERT_TRUE(gated_->AwaitArrivals(arrivals + 1, kDeadline));
  // Against the state the add leaves: the same id again is refused at once,
  // on this thread; moving the new node is accepted.
  submit(1, add);
  EXPECT_EQ(answered.load(), 1);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kAlreadyExists);
  submit(2, move);
  submit(3, remove);
  submit(4, remove);
  EXPECT_EQ(answered.load(), 2);
  EXPECT_EQ(results[4].status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(controller_->HasNode("s9"));
  EXPECT_TRUE(controller_->HasNode("s3"));

  gated_->Open();
  controller_->AwaitCommitted();
  EXPECT_EQ(answered.load(), 5);
  for (int k : {0, 2, 3}) {
    ASSERT_TRUE(results[k].ok()) << k << ": " << results[k].status();
  }
  EXPECT_EQ(results[0]->state_sequence(), sequence + 1);
  EXPECT_EQ(results[2]->state_sequence(), sequence + 2);
  EXPECT_EQ(results[3]->state_sequence(), sequence + 3);
  EXPECT_EQ(controller_->GetNode("s9")->desired_parent(), "d2");
  EXPECT_EQ(Parents("s9")[0], "d2");
  EXPECT_FALSE(controller_->HasNode("s3"));

  // The same three changes replay from the journal.
  const std::string key =
      controller_->CurrentAssignment("s9")->parents(0).key();
  Start();
  RunFor(&clock_, controller_.get(), absl::Seconds(10), absl::Seconds(1),
         [] { return std::vector<std::string>{}; });
  EXPECT_EQ(controller_->Sequence(), sequence + 3);
  EXPECT_EQ(controller_->CurrentAssignment("s9")->parents(0).key(), key);
}

TEST_F(CommitTest, OfTwoConcurrentConflictingChangesOnlyOnePasses) {
  Start();
  ApplyReference();
  const Change add = AddS9();
  const Change remove = Remove("s9");
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    // Both add, then both remove: each time exactly one is accepted.
    for (const Change* change : {&add, &remove}) {
      ChangeResult results[2];
      std::thread other([&] { results[1] = controller_->Submit(*change); });
      results[0] = controller_->Submit(*change);
      other.join();
      EXPECT_NE(results[0].ok(), results[1].ok())
          << results[0].status() << " / " << results[1].status();
    }
  }
  EXPECT_FALSE(controller_->HasNode("s9"));
}

TEST_F(CommitTest, ReintegrationPinsAreDurableBeforeTheNodeTakesChildren) {
  HoldDownP1();
  const uint64_t sequence = controller_->Sequence();
  const int arrivals = gated_->arrivals();
  gated_->Close();
  // The hold-down ends at the fifth tick; two more run while its pins are
  // on their way to the store.
  EXPECT_TRUE(TickFor(7)) << "Tick waited for the store";
  EXPECT_TRUE(gated_->AwaitArrivals(arrivals + 1, kDeadline));
  EXPECT_EQ(controller_->GetNode("p1")->status(),
            cascade::v1::STATUS_HOLD_DOWN);
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1-sb", "nat"}));

  gated_->Open();
  controller_->AwaitCommitted();
  // Decided once, applied once.
  EXPECT_EQ(controller_->Sequence(), sequence + 1);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(CountEvents(recorder_, Event::KIND_NODE_UP, "reintegrated"), 1);
  // The children stay where failover put them, with p1 back as standby.
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1-sb", "p1"}));
}

TEST_F(CommitTest, ReintegrationPinsTheStoreRefusesAreRetried) {
  HoldDownP1();
  const uint64_t sequence = controller_->Sequence();
  gated_->FailNext(absl::InternalError("disk full"));
  EXPECT_TRUE(TickFor(5));
  controller_->AwaitCommitted();
  EXPECT_EQ(controller_->Sequence(), sequence);
  EXPECT_EQ(controller_->GetNode("p1")->status(),
            cascade::v1::STATUS_HOLD_DOWN);
  EXPECT_EQ(CountEvents(recorder_, Event::KIND_NODE_UP, "reintegrated"), 0);
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1-sb", "nat"}));

  // The next tick tries again.
  EXPECT_TRUE(TickFor(1));
  controller_->AwaitCommitted();
  EXPECT_EQ(controller_->Sequence(), sequence + 1);
  EXPECT_EQ(controller_->GetNode("p1")->status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(Parents("d1"), (std::vector<std::string>{"p1-sb", "p1"}));
}

TEST_F(CommitTest, SilentChildrenInOneReportMoveInOnePush) {
  Start();
  ApplyReference();
  RegisterAll(kRelays);
  // d1 and d2 stop reporting; a lease's quarter later p1 no longer hears
  // them either.
  clock_.Advance(absl::Seconds(1));
  ReportAllBut(controller_.get(), {"d1", "d2"});
  const int p1_pushes = recorder_.pushes["p1"];
  cascade::v1::ReportRequest report;
  report.set_node_id("p1");
  report.mutable_stats()->add_silent_children("d1");
  report.mutable_stats()->add_silent_children("d2");
  ASSERT_TRUE(controller_->Report(report).ok());
  EXPECT_EQ(controller_->GetNode("d1")->status(), cascade::v1::STATUS_DOWN);
  EXPECT_EQ(controller_->GetNode("d2")->status(), cascade::v1::STATUS_DOWN);
  // Their sites moved at once, and p1 lost both children in one push.
  EXPECT_EQ(Parents("s1")[0], "p1");
  EXPECT_EQ(Parents("s3")[0], "p1");
  EXPECT_EQ(recorder_.pushes["p1"], p1_pushes + 1);
}

}  // namespace
}  // namespace cascade::topology
