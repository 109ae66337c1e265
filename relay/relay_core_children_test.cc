// Children the controller removes or demotes: served through their grace,
// told to move on, and released once they leave.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "media/rtp/activation.h"
#include "media/rtp/rtcp.h"
#include "relay/core_test_support.h"
#include "relay/relay_core.h"

namespace cascade::relay {
namespace {

TEST_F(RelayCoreTest, RemovedChildIsServedThroughItsGraceOnly) {
  ActivateChild();
  RelayOptions o = CoreOptions();
  o.children.pop_back();  // c1 moves elsewhere
  core_.Apply(o);
  EXPECT_EQ(core_.ActiveChildren(),
            (std::vector<media::Endpoint>{kPush, kChild}));
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  EXPECT_EQ(RtpOnly(out_.To(kChild)).size(), 1u);
  // Its keepalive from where it is keeps it; a new address does not.
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_));
  Receive(kAttacker, Activation("c1", kChildKey, NowMs(), ++nonce_));
  EXPECT_EQ(core_.drops("activation", "removed_node"), 1u);
  Run(absl::Milliseconds(2005));
  EXPECT_EQ(core_.ActiveChildren(), (std::vector<media::Endpoint>{kPush}));
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_));
  EXPECT_EQ(core_.drops("activation", "unknown_node"), 1u);
}

// A drain: the change removes the child and deselects its stream here. Its
// stream flows on while the child is still served, since it goes on
// sending through us until its new parent answers.
TEST_F(RelayCoreTest, RemovedChildsStreamFlowsThroughItsGrace) {
  ActivateChild();
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  RelayOptions o = CoreOptions();
  o.children.pop_back();
  o.streams[1].selected = false;
  core_.Apply(o);
  out_.sent.clear();
  Receive(kChild, RtpPacket(kUp, 1, 0, kSlice));
  EXPECT_EQ(out_.To(kParent).size(), 1u);
  Run(absl::Milliseconds(1000));
  Receive(kParent, RtpPacket(kVideo, 2, 0, kSlice));
  out_.sent.clear();
  Receive(kChild, RtpPacket(kUp, 2, 0, kSlice));
  EXPECT_EQ(out_.To(kParent).size(), 1u);
  EXPECT_EQ(core_.drops("relay", "not_selected"), 0u);
}

// Node ids of the signed deactivations among `sent` that verify under the
// child c1's link key: the releases a relay sends its removed child.
std::vector<std::string> ReleasesUnderChildKey(const std::vector<Sent>& sent) {
  struct Releases : rtp::RtcpVisitor {
    void OnApp(const rtp::AppView& app) override {
      rtp::ActivationRequest r;
      if (rtp::VerifyActivation(
              app,
              absl::MakeConstSpan(
                  reinterpret_cast<const uint8_t*>(kChildKey.data()),
                  kChildKey.size()),
              &r) == rtp::ActivationResult::kOk &&
          r.kind == rtp::ActivationKind::kDeactivate) {
        ids.emplace_back(r.node_id);
      }
    }
    std::vector<std::string> ids;
  } releases;
  for (const Sent& s : sent) rtp::ParseRtcpCompound(s.bytes, &releases);
  return releases.ids;
}

TEST_F(RelayCoreTest, RemovedChildIsToldToMoveOnWhileItIsStillServed) {
  ActivateChild();
  Run(absl::Milliseconds(500));
  EXPECT_TRUE(ReleasesUnderChildKey(out_.To(kChild)).empty());
  out_.sent.clear();
  RelayOptions o = CoreOptions();
  o.children.pop_back();  // c1 moves elsewhere (a drain)
  core_.Apply(o);
  EXPECT_EQ(ReleasesUnderChildKey(out_.To(kChild)),
            (std::vector<std::string>{"r1"}))
      << "told at once, signed as the relay";
  // Told again with the reports, since one release may be lost, while the
  // media still flows to it through the grace.
  Run(absl::Milliseconds(1000));
  EXPECT_GE(ReleasesUnderChildKey(out_.To(kChild)).size(), 5u);
  Run(absl::Milliseconds(1005));
  out_.sent.clear();
  Run(absl::Milliseconds(500));
  EXPECT_TRUE(out_.To(kChild).empty()) << "grace over: nothing more";
  EXPECT_TRUE(ReleasesUnderChildKey(out_.To(kPush)).empty());
}

TEST_F(RelayCoreTest, RemovedChildThatLeavesStopsAtOnce) {
  ActivateChild();
  RelayOptions o = CoreOptions();
  o.children.pop_back();
  core_.Apply(o);
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_,
                             rtp::ActivationKind::kDeactivate));
  EXPECT_EQ(core_.ActiveChildren(), (std::vector<media::Endpoint>{kPush}));
}

// A restore: the controller lists our active child as our standby again,
// since its own parent is back. It is asked to move, and served until it
// does, however long its other parent is held down.
TEST_F(RelayCoreTest, ChildDemotedToStandbyIsReleasedUntilItLeaves) {
  ActivateChild();
  out_.sent.clear();
  RelayOptions o = CoreOptions();
  o.children.back().standby = true;
  core_.Apply(o);
  EXPECT_EQ(ReleasesUnderChildKey(out_.To(kChild)),
            (std::vector<std::string>{"r1"}));
  for (int i = 0; i < 6; ++i) {  // its keepalives, 3 s
    Run(absl::Milliseconds(500));
    Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_));
  }
  EXPECT_EQ(core_.ActiveChildren(),
            (std::vector<media::Endpoint>{kPush, kChild}));
  out_.sent.clear();
  Run(absl::Milliseconds(500));
  EXPECT_FALSE(ReleasesUnderChildKey(out_.To(kChild)).empty())
      << "asked again while it stays";
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_,
                             rtp::ActivationKind::kDeactivate));
  EXPECT_EQ(core_.ActiveChildren(), (std::vector<media::Endpoint>{kPush}));
}

// Its failover: a standby child that activates us is served, and not told
// to leave, neither at once nor when settings that list it the same come.
TEST_F(RelayCoreTest, StandbyChildThatActivatesIsServedWithoutRelease) {
  RelayOptions o = CoreOptions();
  o.children.back().standby = true;
  core_.Apply(o);
  ActivateChild();
  core_.Apply(o);
  Run(absl::Milliseconds(1000));
  EXPECT_EQ(core_.ActiveChildren(),
            (std::vector<media::Endpoint>{kPush, kChild}));
  EXPECT_TRUE(ReleasesUnderChildKey(out_.To(kChild)).empty());
}

}  // namespace
}  // namespace cascade::relay
