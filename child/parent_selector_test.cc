#include "child/parent_selector.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "media/rtp/activation.h"
#include "media/rtp/rtcp.h"

namespace cascade::child {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
absl::Time At(int ms) { return kT0 + absl::Milliseconds(ms); }

media::Endpoint Ep(const char* text) { return *media::Endpoint::Parse(text); }

const Parent kPrimary{"d1", Ep("127.0.0.1:5001"), "key-1"};
const Parent kStandby{"d2", Ep("127.0.0.1:5002"), "key-2"};

ParentPolicy Policy() {
  ParentPolicy policy;
  policy.timeout = absl::Milliseconds(300);
  policy.startup_timeout = absl::Seconds(2);
  policy.keepalive = absl::Milliseconds(250);
  return policy;
}

// Ticks every 5 ms from `from` to `to` (inclusive), collecting actions.
std::vector<ParentSelector::Actions> Tick(ParentSelector& s, int from, int to) {
  std::vector<ParentSelector::Actions> all;
  for (int ms = from; ms <= to; ms += 5) all.push_back(s.OnTick(At(ms)));
  return all;
}

int Keepalives(const std::vector<ParentSelector::Actions>& actions) {
  int n = 0;
  for (const auto& a : actions) n += a.keepalive;
  return n;
}

// A signed (de)activation as the parent (or anyone holding `key`) sends it,
// parsed back into the AppView the selector reads.
class SignedApp {
 public:
  SignedApp(rtp::ActivationKind kind, const std::string& node_id,
            const std::string& key, absl::Time when, uint64_t nonce)
      : node_id_(node_id) {
    rtp::ActivationRequest request;
    request.kind = kind;
    request.sender_ssrc = 7;
    request.node_id = node_id_;
    request.timestamp_ms = absl::ToUnixMillis(when);
    request.nonce = nonce;
    bytes_.resize(rtp::kMaxActivationSize);
    bytes_.resize(rtp::BuildActivation(
        request,
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()),
                            key.size()),
        absl::MakeSpan(bytes_)));
  }
  // Hands the parsed APP to `f`.
  template <typename F>
  void Visit(F f) const {
    struct Visitor : rtp::RtcpVisitor {
      explicit Visitor(F* f) : f(f) {}
      void OnApp(const rtp::AppView& app) override { (*f)(app); }
      F* f;
    } visitor(&f);
    EXPECT_EQ(rtp::ParseRtcpCompound(bytes_, &visitor), rtp::RtcpError::kOk);
  }

 private:
  std::string node_id_;
  std::vector<uint8_t> bytes_;
};

bool Offer(ParentSelector& s, const SignedApp& app, absl::Time now) {
  bool accepted = false;
  app.Visit([&](const rtp::AppView& view) {
    accepted = s.OnParentApp(view, "site-7", now);
  });
  return accepted;
}

TEST(ParentSelectorTest, SilentParentIsLeftAndEachFailoverDoublesTheNext) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(/*media=*/true, At(0));
  Tick(s, 0, 295);
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  const auto actions = Tick(s, 300, 300);
  ASSERT_TRUE(actions[0].failed_over_from.has_value());
  EXPECT_EQ(actions[0].failed_over_from->id, "d1");
  EXPECT_TRUE(s.IsActive(kStandby.address));
  EXPECT_TRUE(actions[0].keepalive && actions[0].activate)
      << "the new parent is activated at once";
  // Neither answers: the next move waits 600 ms, the one after 1,200.
  Tick(s, 305, 895);
  EXPECT_EQ(s.failovers(), 1u);
  Tick(s, 900, 900);
  EXPECT_EQ(s.failovers(), 2u);
  Tick(s, 905, 2095);
  EXPECT_EQ(s.failovers(), 2u);
  Tick(s, 2100, 2100);
  EXPECT_EQ(s.failovers(), 3u);
}

// Judged per link: a parent that once left a 400 ms gap (its loop stalled)
// is then allowed twice that before it is taken for dead; a new parent
// starts again from the floor.
TEST(ParentSelectorTest, ParentThatStalledBeforeIsGivenTheRoomItNeeded) {
  ParentPolicy policy = Policy();
  policy.timeout_max = absl::Milliseconds(1200);
  ParentSelector s(policy, At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  for (int ms = 0; ms <= 400; ms += 100) {
    Tick(s, ms, ms);
    s.OnActiveHeard(true, At(ms));
  }
  EXPECT_EQ(s.Timeout(At(400)), absl::Milliseconds(300)) << "gaps of 100 ms";
  Tick(s, 405, 695);
  s.OnActiveHeard(true, At(695));  // a gap of 295 ms
  EXPECT_NEAR(absl::ToDoubleMilliseconds(s.Timeout(At(695))), 590, 1);
  // The record fades (halves in 10 s): 566 ms by the time it is used.
  Tick(s, 700, 1235);
  EXPECT_EQ(s.failovers(), 0u) << "540 ms of silence";
  Tick(s, 1240, 1300);
  EXPECT_EQ(s.failovers(), 1u);
  EXPECT_EQ(s.Timeout(At(1300)), absl::Milliseconds(600))
      << "the standby: the floor, doubled for the failover";
}

TEST(ParentSelectorTest, NeverHeardParentGetsTheStartupTimeoutOrForever) {
  ParentSelector relay(Policy(), At(0));
  relay.SetParents({kPrimary, kStandby}, At(0));
  EXPECT_EQ(Keepalives(Tick(relay, 0, 1995)), 20) << "every 100 ms";
  EXPECT_EQ(relay.failovers(), 0u);
  Tick(relay, 2000, 2000);
  EXPECT_EQ(relay.failovers(), 1u);

  ParentPolicy site_policy = Policy();
  site_policy.startup_timeout = absl::InfiniteDuration();
  site_policy.startup_retry = absl::Seconds(1);
  ParentSelector site(site_policy, At(0));
  site.SetParents({kPrimary, kStandby}, At(0));
  EXPECT_EQ(Keepalives(Tick(site, 0, 9995)), 10) << "every second";
  EXPECT_EQ(site.failovers(), 0u);
  EXPECT_TRUE(site.IsActive(kPrimary.address));
}

TEST(ParentSelectorTest, FailedParentIsHeldDownThenPreferredAgain) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  Tick(s, 0, 300);
  ASSERT_TRUE(s.IsActive(kStandby.address));
  s.OnActiveHeard(true, At(310));
  // The controller, not knowing yet, sends the same list: we stay.
  EXPECT_FALSE(s.SetParents({kPrimary, kStandby}, At(320)));
  EXPECT_TRUE(s.IsActive(kStandby.address));
  // After the hold-down the primary is taken back, make-before-break.
  for (int ms = 400; ms < 10400; ms += 100) s.OnActiveHeard(true, At(ms));
  EXPECT_TRUE(s.SetParents({kPrimary, kStandby}, At(10400)));
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  EXPECT_TRUE(s.IsLeaving(kStandby.address));
  EXPECT_TRUE(s.Watching(At(10400)));
  // The standby's packets still count until the primary sends media; a
  // report from the primary does not end the switch, its media does.
  EXPECT_FALSE(s.OnActiveHeard(false, At(10420)).release.has_value());
  const ParentSelector::Heard heard = s.OnActiveHeard(true, At(10430));
  ASSERT_TRUE(heard.release.has_value());
  EXPECT_EQ(heard.release->id, "d2");
  EXPECT_FALSE(s.IsLeaving(kStandby.address));
  EXPECT_EQ(s.switches(), 1u);
}

// The controller's orders reached us before they reached our new parent,
// which never answered: we went back to the old one, and once the new one's
// hold-down is over it is tried again, make-before-break (a national run's
// districts otherwise stayed on their standby for good).
TEST(ParentSelectorTest, AParentLeftBeforeItAnsweredIsTriedAgain) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kStandby}, At(0));
  s.OnActiveHeard(false, At(0));
  ASSERT_TRUE(s.SetParents({kPrimary, kStandby}, At(10)));
  int failed_at = -1;
  for (int ms = 10; ms <= 11500; ms += 5) {
    if (ms % 100 == 0) {
      if (s.IsLeaving(kStandby.address)) s.OnLeavingHeard(At(ms));
      if (s.IsActive(kStandby.address)) s.OnActiveHeard(false, At(ms));
    }
    const ParentSelector::Actions a = s.OnTick(At(ms));
    if (a.failed_over_from.has_value()) failed_at = ms;
    if (a.retried_first) break;
    ASSERT_LT(ms, 11500) << "the primary was not tried again";
  }
  EXPECT_EQ(failed_at, 1010) << "left after the whole overlap";
  EXPECT_EQ(s.failovers(), 1u);
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  EXPECT_TRUE(s.IsLeaving(kStandby.address));
  EXPECT_EQ(s.switches(), 2u);
  // It knows us now: its media ends the switch.
  const ParentSelector::Heard heard = s.OnActiveHeard(true, At(11020));
  ASSERT_TRUE(heard.release.has_value());
  EXPECT_EQ(heard.release->id, "d2");
}

// One that answered and then fell silent failed: the controller, not the
// child, decides whether it comes back.
TEST(ParentSelectorTest, AParentThatAnsweredAndFellSilentIsNotTriedAgain) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  Tick(s, 0, 300);
  ASSERT_TRUE(s.IsActive(kStandby.address));
  for (int ms = 305; ms <= 12000; ms += 5) {
    if (ms % 100 == 0) s.OnActiveHeard(true, At(ms));
    EXPECT_FALSE(s.OnTick(At(ms)).retried_first);
  }
  EXPECT_TRUE(s.IsActive(kStandby.address));
  EXPECT_EQ(s.switches(), 0u);
}

TEST(ParentSelectorTest, ANewParentGetsTheWholeOverlapToAnswer) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary}, At(0));
  s.OnActiveHeard(true, At(0));
  s.SetParents({kStandby}, At(10));
  ASSERT_TRUE(s.IsLeaving(kPrimary.address));
  // Silent past its 300 ms timeout, but the old one still feeds us.
  Tick(s, 10, 1005);
  EXPECT_EQ(s.failovers(), 0u);
  // The overlap ends: the old parent is released, unanswered.
  const auto actions = Tick(s, 1010, 1010);
  ASSERT_TRUE(actions[0].release.has_value());
  EXPECT_EQ(actions[0].release->id, "d1");
}

// A parent silent for half its timeout is asked once, off the
// keepalive grid; a port-unreachable answer fails it over at the next tick,
// long before the timeout.
TEST(ParentSelectorTest, SilentParentIsAskedAndAClosedPortFailsItOver) {
  ParentPolicy policy = Policy();
  policy.keepalive = absl::Seconds(1);  // the grid is far away
  ParentSelector s(policy, At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  Tick(s, 0, 0);
  s.OnActiveHeard(true, At(10));
  EXPECT_EQ(s.NextDeadline(At(10)), At(160)) << "half of 300 ms";
  EXPECT_EQ(Keepalives(Tick(s, 15, 155)), 0);
  EXPECT_EQ(Keepalives(Tick(s, 160, 200)), 1) << "asked once, not every tick";
  EXPECT_FALSE(s.OnUnreachable(kStandby.address)) << "not the active parent";
  ASSERT_TRUE(s.OnUnreachable(kPrimary.address));
  EXPECT_EQ(s.NextDeadline(At(201)), At(201));
  const auto actions = Tick(s, 205, 205);
  ASSERT_TRUE(actions[0].failed_over_from.has_value());
  EXPECT_TRUE(actions[0].unreachable);
  EXPECT_TRUE(actions[0].keepalive && actions[0].activate);
  EXPECT_TRUE(s.IsActive(kStandby.address));
  EXPECT_EQ(s.unreachable_failovers(), 1u);
  // The standby has not answered yet: a closed port there may be a relay
  // still starting, which its startup grace covers.
  EXPECT_FALSE(s.OnUnreachable(kStandby.address));
}

// A report about a packet sent before the parent's last word is stale (it
// restarted since): hearing it cancels the failover.
TEST(ParentSelectorTest, ParentHeardAfterAnUnreachableReportIsKept) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  ASSERT_TRUE(s.OnUnreachable(kPrimary.address));
  s.OnActiveHeard(true, At(1));
  Tick(s, 5, 200);
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  EXPECT_EQ(s.failovers(), 0u);
}

TEST(ParentSelectorTest, KeepalivesAreSignedUntilTheParentAnswers) {
  ParentPolicy policy = Policy();
  policy.activation_refresh = absl::Seconds(1);
  ParentSelector s(policy, At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  auto actions = Tick(s, 0, 0);
  EXPECT_TRUE(actions[0].keepalive && actions[0].activate);
  s.OnActiveHeard(true, At(1));
  int signed_while_fed = 0;
  for (int ms = 5; ms <= 3000; ms += 5) {
    s.OnActiveHeard(true, At(ms));
    signed_while_fed += s.OnTick(At(ms)).activate;
  }
  EXPECT_EQ(signed_while_fed, 0) << "a parent feeding us knows us";
  EXPECT_TRUE(s.Answering(At(3000), absl::Milliseconds(40)));
  // Silent: no NACKs spent on it past half its timeout.
  EXPECT_FALSE(s.Answering(At(3160), absl::Milliseconds(40)));
}

TEST(ParentSelectorTest, ExcusedTimeIsNotTheParentsSilence) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  s.Excuse(absl::Milliseconds(400), At(400));  // the caller was stopped
  Tick(s, 400, 400);
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  Tick(s, 700, 700);
  EXPECT_TRUE(s.IsActive(kStandby.address));
}

TEST(ParentSelectorTest, JitterIsNotExcusedNorIsTimeAfterTheLastPacket) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  // Late by a sixth of the timeout: ordinary jitter, the silence counts.
  s.Excuse(Policy().timeout / 6, At(300));
  Tick(s, 300, 300);
  EXPECT_TRUE(s.IsActive(kStandby.address));

  ParentSelector fed(Policy(), At(0));
  fed.SetParents({kPrimary, kStandby}, At(0));
  // A packet read just now, after a long stop: the excuse does not push its
  // silence into the future.
  fed.OnActiveHeard(true, At(1000));
  fed.Excuse(absl::Milliseconds(1000), At(1000));
  Tick(fed, 1000, 1300);
  EXPECT_TRUE(fed.IsActive(kStandby.address));
}

TEST(ParentSelectorTest, SignedReleaseMovesMakeBeforeBreak) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  const SignedApp release(rtp::ActivationKind::kDeactivate, "d1", "key-1",
                          At(100), 1);
  EXPECT_TRUE(Offer(s, release, At(100)));
  EXPECT_TRUE(s.IsActive(kStandby.address));
  EXPECT_TRUE(s.IsLeaving(kPrimary.address));
  EXPECT_EQ(s.failovers(), 0u);
  EXPECT_EQ(s.switches(), 1u);
  // The child's own stream goes on through the old parent meanwhile.
  ASSERT_NE(s.upstream_parent(), nullptr);
  EXPECT_EQ(s.upstream_parent()->id, "d1");
  const auto actions = Tick(s, 100, 100);
  EXPECT_TRUE(actions[0].keepalive && actions[0].activate);
  // The new parent's media ends it; the old one is told.
  const ParentSelector::Heard heard = s.OnActiveHeard(true, At(130));
  ASSERT_TRUE(heard.release.has_value());
  EXPECT_EQ(heard.release->id, "d1");
  ASSERT_NE(s.upstream_parent(), nullptr);
  EXPECT_EQ(s.upstream_parent()->id, "d2");
}

// Until a parent answers, nobody would take the child's stream; after a
// failover the new parent is the only one.
TEST(ParentSelectorTest, UpstreamGoesOnlyToAParentThatTakesIt) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  EXPECT_EQ(s.upstream_parent(), nullptr);
  s.OnActiveHeard(true, At(10));
  ASSERT_NE(s.upstream_parent(), nullptr);
  EXPECT_EQ(s.upstream_parent()->id, "d1");
  Tick(s, 10, 400);  // silent: failed over to d2
  ASSERT_TRUE(s.IsActive(kStandby.address));
  EXPECT_EQ(s.upstream_parent(), nullptr);
  s.OnActiveHeard(true, At(410));
  ASSERT_NE(s.upstream_parent(), nullptr);
  EXPECT_EQ(s.upstream_parent()->id, "d2");
}

// A drained relay keeps serving a released site for its grace, but the
// site's standby may not be the parent the controller chose (it may be held
// down, or refuse the site): the site keeps the old parent's media until a
// new parent feeds it, and goes back to the old one when the new one never
// answers.
TEST(ParentSelectorTest, ReleasedChildKeepsAFeedingParentUntilANewOneFeedsIt) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  ASSERT_TRUE(Offer(
      s, SignedApp(rtp::ActivationKind::kDeactivate, "d1", "key-1", At(10), 1),
      At(10)));
  ASSERT_TRUE(s.IsActive(kStandby.address));
  // The standby never answers; the primary still feeds us past the overlap.
  for (int ms = 10; ms < 1010; ms += 5) {
    s.OnLeavingHeard(At(ms));
    const ParentSelector::Actions a = s.OnTick(At(ms));
    EXPECT_FALSE(a.release.has_value()) << ms;
  }
  EXPECT_TRUE(s.IsLeaving(kPrimary.address));
  // The standby had the whole overlap: the site goes back to the primary,
  // which has fed it all along (no gap), and holds the standby down.
  s.OnLeavingHeard(At(1010));
  s.OnTick(At(1010));
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  EXPECT_EQ(s.leaving(), nullptr);
  EXPECT_EQ(s.failovers(), 1u);
  // A second release now has nowhere better to go: the site stays.
  s.OnActiveHeard(true, At(1020));
  EXPECT_TRUE(Offer(
      s,
      SignedApp(rtp::ActivationKind::kDeactivate, "d1", "key-1", At(1100), 2),
      At(1100)));
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  EXPECT_EQ(s.switches(), 1u);
}

TEST(ParentSelectorTest, ForgedReflectedOrReplayedReleasesAreRefused) {
  ParentSelector s(Policy(), At(0));
  s.SetParents({kPrimary, kStandby}, At(0));
  s.OnActiveHeard(true, At(0));
  // Under another link's key.
  EXPECT_FALSE(Offer(
      s, SignedApp(rtp::ActivationKind::kDeactivate, "d1", "key-2", At(10), 1),
      At(10)));
  // The site's own deactivation, reflected back at it.
  EXPECT_FALSE(Offer(
      s,
      SignedApp(rtp::ActivationKind::kDeactivate, "site-7", "key-1", At(10), 2),
      At(10)));
  // Signed by the link, but naming another node than the parent.
  EXPECT_FALSE(Offer(
      s, SignedApp(rtp::ActivationKind::kDeactivate, "d9", "key-1", At(10), 3),
      At(10)));
  // An activation is no release.
  EXPECT_FALSE(Offer(
      s, SignedApp(rtp::ActivationKind::kActivate, "d1", "key-1", At(10), 4),
      At(10)));
  // Outside the replay window.
  EXPECT_FALSE(Offer(
      s,
      SignedApp(rtp::ActivationKind::kDeactivate, "d1", "key-1", At(-60000), 5),
      At(10)));
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  // A genuine one, then the same bytes again once back on the primary.
  const SignedApp genuine(rtp::ActivationKind::kDeactivate, "d1", "key-1",
                          At(20), 6);
  EXPECT_TRUE(Offer(s, genuine, At(20)));
  EXPECT_TRUE(s.SetParents({kPrimary, kStandby}, At(30)));
  ASSERT_TRUE(s.IsActive(kPrimary.address));
  EXPECT_FALSE(Offer(s, genuine, At(40))) << "replayed";
  EXPECT_TRUE(s.IsActive(kPrimary.address));
  EXPECT_EQ(s.releases_accepted(), 1u);
}

}  // namespace
}  // namespace cascade::child
