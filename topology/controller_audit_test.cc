// The controller's audit side: an audited change and a journaled refusal
// are events saying who, from where, what and when, and are still in the
// audit trail after a restart; revocations are state, kept the same way.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"
#include "topology/state.h"

namespace cascade::topology {
namespace {

using cascade::v1::AuditRecord;
using cascade::v1::Change;
using cascade::v1::Event;

AuditRecord Alice(const std::string& command, const std::string& target) {
  AuditRecord audit;
  audit.set_who("operator alice (operator)");
  audit.set_operator_("alice");
  audit.set_role("operator");
  audit.set_credential("certificate");
  audit.set_peer("ipv4:10.0.0.9:53211");
  audit.set_command(command);
  audit.set_target(target);
  return audit;
}

std::vector<Event> History(Controller* controller, size_t count = 100) {
  std::vector<Event> history;
  controller->WithAuditHistory(
      count, [&](std::vector<Event> events) { history = std::move(events); });
  return history;
}

class AuditTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    Start();
    ApplyReference();
  }
};

TEST_F(AuditTest, ChangesSayWhoMadeThemAndSurviveARestart) {
  clock_.Advance(absl::Seconds(7));
  const absl::Time decided = clock_.Now();
  Change drain;
  drain.mutable_drain()->set_id("p1");
  *drain.mutable_audit() = Alice("drain", "p1");
  ASSERT_TRUE(controller_->Submit(drain).ok());

  const Event& live = recorder_.events.back();
  EXPECT_EQ(live.kind(), Event::KIND_CHANGE);
  EXPECT_TRUE(absl::StartsWith(live.detail(),
                               "drain p1 by operator alice (operator) from "
                               "ipv4:10.0.0.9:53211: "))
      << live.detail();
  EXPECT_TRUE(absl::EndsWith(live.detail(), "assignments changed"));
  EXPECT_EQ(live.audit().unix_ms(), absl::ToUnixMillis(decided));

  Start();  // a restart on the same journal
  std::vector<Event> history = History(controller_.get());
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].kind(), Event::KIND_CHANGE);
  EXPECT_EQ(history[0].detail(),
            "drain p1 by operator alice (operator) from ipv4:10.0.0.9:53211");
  EXPECT_EQ(history[0].unix_ms(), absl::ToUnixMillis(decided));
  EXPECT_EQ(history[0].state_sequence(), controller_->Sequence());
  EXPECT_EQ(history[0].audit().operator_(), "alice");
}

TEST_F(AuditTest, RefusalsAreJournaledOrOnlyEvents) {
  const uint64_t before = controller_->Sequence();
  AuditRecord refused = Alice("apply", "t.textproto (9 nodes)");
  refused.set_refused("permission denied: operator may not apply");
  controller_->RecordAdminRefusal(refused, /*journal=*/true);
  AuditRecord unjournaled = Alice("remove", "d1");
  unjournaled.set_refused("permission denied: operator may not remove");
  controller_->RecordAdminRefusal(unjournaled, /*journal=*/false);
  controller_->AwaitCommitted();

  int denied = 0;
  for (const Event& event : recorder_.events) {
    if (event.kind() != Event::KIND_DENIED) continue;
    ++denied;
    EXPECT_TRUE(absl::StrContains(event.detail(),
                                  "by operator alice (operator) from "
                                  "ipv4:10.0.0.9:53211: refused: permission "
                                  "denied: operator may not "))
        << event.detail();
  }
  EXPECT_EQ(denied, 2);
  // Only the journaled one took a record; nothing was placed again.
  EXPECT_EQ(controller_->Sequence(), before + 1);

  Start();
  std::vector<Event> history = History(controller_.get());
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].kind(), Event::KIND_DENIED);
  EXPECT_EQ(history[0].detail(),
            "apply t.textproto (9 nodes) by operator alice (operator) from "
            "ipv4:10.0.0.9:53211: refused: permission denied: operator may "
            "not apply");
}

TEST_F(AuditTest, RevocationsAreStateAndSurviveARestart) {
  const absl::Time early = clock_.Now();
  clock_.Advance(absl::Seconds(1));
  Change by_name;
  by_name.mutable_revoke_token()->set_operator_("tom");
  ASSERT_TRUE(controller_->Submit(by_name).ok());
  const std::string id(32, 'a');
  Change by_id;
  by_id.mutable_revoke_token()->set_token_id(id);
  ASSERT_TRUE(controller_->Submit(by_id).ok());

  Start();
  // Tom's tokens issued up to the revocation, not later ones; one token by
  // its id, whoever's it is.
  EXPECT_TRUE(controller_->TokenRevoked("tom", std::string(32, 'b'), early));
  EXPECT_TRUE(
      controller_->TokenRevoked("tom", std::string(32, 'b'), clock_.Now()));
  EXPECT_FALSE(controller_->TokenRevoked("tom", std::string(32, 'b'),
                                         clock_.Now() + absl::Milliseconds(1)));
  EXPECT_TRUE(controller_->TokenRevoked("ann", id, clock_.Now()));
  EXPECT_FALSE(controller_->TokenRevoked("ann", std::string(32, 'c'), early));

  Change both;
  both.mutable_revoke_token()->set_operator_("tom");
  both.mutable_revoke_token()->set_token_id(id);
  EXPECT_EQ(Code(both), absl::StatusCode::kInvalidArgument);
  Change bad_id;
  bad_id.mutable_revoke_token()->set_token_id("ABC");
  EXPECT_EQ(Code(bad_id), absl::StatusCode::kInvalidArgument);
  Change bad_name;
  bad_name.mutable_revoke_token()->set_operator_("no spaces");
  EXPECT_EQ(Code(bad_name), absl::StatusCode::kInvalidArgument);
}

TEST(AuditTrailTest, KeepsTheNewestRecords) {
  cascade::v1::ControllerState state;
  for (int i = 1; i <= kAuditTrail + 5; ++i) {
    Change change;
    change.set_sequence(i);
    change.mutable_audit()->set_refused("no");
    ASSERT_TRUE(ApplyChangeToState(change, &state).ok());
  }
  ASSERT_EQ(state.audit_size(), kAuditTrail);
  EXPECT_EQ(state.audit(0).state_sequence(), 6u);
  EXPECT_EQ(state.audit(kAuditTrail - 1).state_sequence(),
            static_cast<uint64_t>(kAuditTrail + 5));
}

}  // namespace
}  // namespace cascade::topology
