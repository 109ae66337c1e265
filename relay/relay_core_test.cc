#include "relay/relay_core.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "media/rtp/activation.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "relay/core_test_support.h"

namespace cascade::relay {
namespace {

TEST_F(RelayCoreTest, ForwardsDownstreamUnchangedToStaticPushChild) {
  std::vector<std::vector<uint8_t>> packets;
  for (uint16_t seq = 65530; seq != 6; ++seq) {  // across the wrap
    packets.push_back(RtpPacket(kVideo, seq, seq * 3000u, kSlice));
    Receive(kParent, packets.back());
  }
  const std::vector<Sent> got = out_.To(kPush);
  ASSERT_EQ(got.size(), packets.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].bytes, packets[i]);
  EXPECT_EQ(core_.stream_counters(kVideo)->packets_in, packets.size());
  EXPECT_EQ(core_.stream_counters(kVideo)->packets_out, packets.size());
}

TEST_F(RelayCoreTest, DropsWhatIsNotAuthorisedOrKnown) {
  Receive(kAttacker, RtpPacket(kVideo, 1, 0, kSlice));
  Receive(kParent, RtpPacket(0x7777, 1, 0, kSlice));
  Receive(kParent, RtpPacket(kUp, 1, 0, kSlice));
  Receive(kParent, {0x80});
  Receive(kParent, {0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0x11, 0x11});
  Receive(kParent, RtpPacket(kVideo, 5, 0, kSlice));
  Receive(kParent, RtpPacket(kVideo, 5, 0, kSlice));
  EXPECT_EQ(core_.drops("relay", "unknown_source"), 1u);
  EXPECT_EQ(core_.drops("relay", "unknown_ssrc"), 1u);
  EXPECT_EQ(core_.drops("relay", "wrong_direction"), 1u);
  EXPECT_EQ(core_.drops("relay", "not_rtp"), 1u);
  EXPECT_EQ(core_.drops("rtp", "extension_header_overrun"), 1u);
  EXPECT_EQ(core_.drops("relay", "duplicate"), 1u);
  EXPECT_EQ(core_.total_drops(), 6u);
  EXPECT_EQ(out_.sent.size(), 1u);  // only seq 5, once, to the push child
}

TEST_F(RelayCoreTest, ActivatedChildGetsKeyframeCacheFirstThenLiveMedia) {
  Receive(kParent, RtpPacket(kVideo, 1, 1000, kSlice));  // before any keyframe
  Receive(kParent, RtpPacket(kVideo, 2, 2000, kIdr));
  Receive(kParent, RtpPacket(kVideo, 3, 2000, kSlice));
  Receive(kParent, RtpPacket(kVideo, 4, 3000, kSlice));
  ActivateChild();
  Receive(kParent, RtpPacket(kVideo, 5, 4000, kSlice));
  const std::vector<Sent> got = RtpOnly(out_.To(kChild));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(SeqOf(got[0].bytes), 2);
  EXPECT_EQ(SeqOf(got[1].bytes), 3);
  EXPECT_EQ(SeqOf(got[2].bytes), 4);
  EXPECT_EQ(SeqOf(got[3].bytes), 5);
  EXPECT_EQ(core_.stream_counters(kVideo)->keyframe_cache_packets_sent, 3u);
  EXPECT_EQ(core_.counters().activations_accepted, 1u);
}

// Without media, a child that just activated hears from us at once, not a
// child report later: it may have asked most of its timeout already (at a
// national run's start a district left its province for the standby 140 ms
// after the province took it, and stayed there). Renewals get no answer.
TEST_F(RelayCoreTest, AnActivationIsAnsweredAtOnce) {
  ActivateChild();
  EXPECT_EQ(ParseAll(out_.To(kChild)).srs, 1);
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_));
  EXPECT_EQ(out_.To(kChild).size(), 1u);
}

TEST_F(RelayCoreTest, RejectedActivationsSendNothingToTheirSender) {
  const std::vector<uint8_t> good = Activation("c1", kChildKey, NowMs(), 42);
  Receive(kAttacker, Activation("c1", std::string(32, 'x'), NowMs(), 1));
  Receive(kAttacker, Activation("nobody", kChildKey, NowMs(), 2));
  Receive(kAttacker, Activation("push", kChildKey, NowMs(), 3));
  Receive(kAttacker,
          Activation("c1", kChildKey, NowMs() - 3600 * 1000, 4));  // old
  Receive(kChild, good);
  ASSERT_EQ(core_.ActiveChildren().size(), 2u);
  Receive(kAttacker, good);  // replayed from elsewhere
  Receive(kAttacker, Nack(kVideo, {1, 2, 3}));
  Receive(kAttacker, Pli(kVideo));
  Receive(kParent, RtpPacket(kVideo, 1, 0, kIdr));
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Milliseconds(10));
    core_.OnTick();
  }
  EXPECT_TRUE(out_.To(kAttacker).empty());
  EXPECT_EQ(RtpOnly(out_.To(kChild)).size(), 1u) << "the child gets media";
  EXPECT_EQ(core_.drops("activation", "bad_mac"), 1u);
  EXPECT_EQ(core_.drops("activation", "unknown_node"), 1u);
  EXPECT_EQ(core_.drops("activation", "static_child"), 1u);
  EXPECT_EQ(core_.drops("activation", "outside_window"), 1u);
  EXPECT_EQ(core_.drops("activation", "replayed"), 1u);
  EXPECT_EQ(core_.drops("relay", "unknown_source"), 2u);
  const std::vector<media::Endpoint> active = core_.ActiveChildren();
  EXPECT_EQ(active, (std::vector<media::Endpoint>{kPush, kChild}));
}

TEST_F(RelayCoreTest, ChildNackAnsweredFromRingUpToTheRateLimit) {
  for (uint16_t seq = 1; seq <= 200; ++seq) {
    Receive(kParent, RtpPacket(kVideo, seq, seq, kSlice));
  }
  out_.sent.clear();
  std::vector<uint16_t> asked;
  for (uint16_t seq = 1; seq <= 200; ++seq) asked.push_back(seq);
  Receive(kPush, Nack(kVideo, asked));
  const std::vector<Sent> resent = out_.To(kPush);
  // The burst, then 100/s.
  EXPECT_EQ(resent.size(), 25u);
  EXPECT_EQ(SeqOf(resent[0].bytes), 1);
  EXPECT_EQ(core_.stream_counters(kVideo)->nacks_received, 200u);
  EXPECT_EQ(core_.stream_counters(kVideo)->nacks_answered, 25u);
  EXPECT_EQ(core_.drops("relay", "retransmit_rate_limited"), 175u);
  EXPECT_EQ(out_.To(kParent).size(), 0u);
}

TEST_F(RelayCoreTest, GapsAreNackedUpwardAndRepairsForwarded) {
  core_.OnTick();  // first keepalive out of the way
  out_.sent.clear();
  Receive(kParent, RtpPacket(kVideo, 10, 0, kSlice));
  Receive(kParent, RtpPacket(kVideo, 13, 0, kSlice));  // 11, 12 missing
  core_.OnTick();
  EXPECT_TRUE(out_.To(kParent).empty()) << "waits for reordering first";
  clock_.Advance(absl::Milliseconds(10));
  core_.OnTick();
  RtcpSeen seen = ParseAll(out_.To(kParent));
  EXPECT_EQ(seen.nacked, (std::vector<uint16_t>{11, 12}));
  Receive(kParent, RtpPacket(kVideo, 11, 0, kSlice));
  Receive(kParent, RtpPacket(kVideo, 12, 0, kSlice));
  const std::vector<Sent> got = out_.To(kPush);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(SeqOf(got[2].bytes), 11);
  EXPECT_EQ(SeqOf(got[3].bytes), 12);
  EXPECT_EQ(core_.stream_counters(kVideo)->repaired, 2u);
  EXPECT_EQ(core_.stream_counters(kVideo)->nacks_sent, 2u);
  // Nothing more is asked once repaired.
  out_.sent.clear();
  clock_.Advance(absl::Milliseconds(100));
  core_.OnTick();
  EXPECT_TRUE(ParseAll(out_.To(kParent)).nacked.empty());
}

TEST_F(RelayCoreTest, UnanswerableChildNackGoesUpwardCoalesced) {
  core_.OnTick();
  out_.sent.clear();
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  Receive(kParent, RtpPacket(kVideo, 3, 0, kSlice));
  clock_.Advance(absl::Milliseconds(1));
  // Two children ask for 2, which the relay is already waiting for.
  ActivateChild();
  Receive(kChild, Nack(kVideo, {2}));
  Receive(kPush, Nack(kVideo, {2}));
  clock_.Advance(absl::Milliseconds(10));
  core_.OnTick();
  EXPECT_EQ(ParseAll(out_.To(kParent)).nacked, (std::vector<uint16_t>{2}));
}

TEST_F(RelayCoreTest, KeyframeRequestsCoalescedPerInterval) {
  core_.OnTick();
  out_.sent.clear();
  ActivateChild();
  Receive(kPush, Pli(kVideo));
  Receive(kChild, Pli(kVideo));
  clock_.Advance(absl::Milliseconds(100));
  Receive(kChild, Pli(kVideo));
  EXPECT_EQ(ParseAll(out_.To(kParent)).plis, (std::vector<uint32_t>{kVideo}));
  clock_.Advance(absl::Milliseconds(500));
  Receive(kPush, Pli(kVideo));
  EXPECT_EQ(ParseAll(out_.To(kParent)).plis.size(), 2u);
  EXPECT_EQ(core_.stream_counters(kVideo)->keyframe_requests_received, 4u);
  EXPECT_EQ(core_.stream_counters(kVideo)->keyframe_requests_coalesced, 2u);
}

TEST_F(RelayCoreTest, KeepalivesActivateAtParentAndReportToChildren) {
  core_.OnTick();
  RtcpSeen at_parent = ParseAll(out_.To(kParent));
  EXPECT_EQ(at_parent.rrs, 1);
  EXPECT_EQ(at_parent.activations, (std::vector<std::string>{"r1"}));
  ActivateChild();
  out_.sent.clear();
  for (int i = 0; i < 10; ++i) {
    Receive(kParent, RtpPacket(kVideo, static_cast<uint16_t>(i), 0, kSlice));
    clock_.Advance(absl::Milliseconds(100));
    core_.OnTick();
  }
  // One SR per 100 ms to the activated child, none to the push endpoint.
  EXPECT_EQ(ParseAll(out_.To(kChild)).srs, 10);
  EXPECT_EQ(RtpOnly(out_.To(kPush)).size(), out_.To(kPush).size());
  at_parent = ParseAll(out_.To(kParent));
  // On the 250 ms grid, so on these 100 ms ticks at 300, 500, 800 and
  // 1,000 ms.
  EXPECT_EQ(at_parent.activations.size(), 4u) << "renewed every 250 ms";
}

TEST_F(RelayCoreTest, ChildrenSilentForThreeKeepalivesAreListed) {
  ActivateChild();
  EXPECT_TRUE(core_.SilentChildren().empty());
  clock_.Advance(absl::Milliseconds(500));
  Receive(kChild, Rr());
  clock_.Advance(absl::Milliseconds(700));
  EXPECT_TRUE(core_.SilentChildren().empty());
  clock_.Advance(absl::Milliseconds(50));
  // Static push endpoints send nothing and are never listed.
  EXPECT_EQ(core_.SilentChildren(), (std::vector<std::string>{"c1"}));
}

TEST_F(RelayCoreTest, SilentChildTimesOutButStaticPushStays) {
  ActivateChild();
  clock_.Advance(absl::Seconds(3));
  Receive(kChild, Rr());
  clock_.Advance(absl::Seconds(3));
  core_.OnTick();
  EXPECT_EQ(core_.ActiveChildren().size(), 2u) << "RR kept it alive";
  clock_.Advance(absl::Seconds(3));
  core_.OnTick();
  EXPECT_EQ(core_.ActiveChildren(), (std::vector<media::Endpoint>{kPush}));
  EXPECT_EQ(core_.counters().child_timeouts, 1u);
  out_.sent.clear();
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  EXPECT_TRUE(out_.To(kChild).empty());
}

TEST_F(RelayCoreTest, SignedDeactivationStopsAtOnce) {
  ActivateChild();
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_,
                             rtp::ActivationKind::kDeactivate));
  EXPECT_EQ(core_.ActiveChildren(), (std::vector<media::Endpoint>{kPush}));
}

TEST_F(RelayCoreTest, UpstreamGoesToParentOnlyWhileSelected) {
  ActivateChild();
  const std::vector<uint8_t> early = RtpPacket(kUp, 0, 0, kSlice);
  Receive(kChild, early);
  EXPECT_TRUE(out_.To(kParent).empty()) << "the parent has not answered";
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  out_.sent.clear();
  const std::vector<uint8_t> up = RtpPacket(kUp, 1, 0, kSlice);
  Receive(kChild, up);
  ASSERT_EQ(out_.To(kParent).size(), 1u);
  EXPECT_EQ(out_.To(kParent)[0].bytes, up);
  RelayOptions o = CoreOptions();
  o.streams[1].selected = false;
  core_.Apply(o);
  // Through the grace of the children a drain removes at once, which may
  // still send through us.
  Receive(kChild, RtpPacket(kUp, 2, 0, kSlice));
  EXPECT_EQ(core_.drops("relay", "not_selected"), 0u);
  Run(absl::Milliseconds(2000));
  Receive(kParent, RtpPacket(kVideo, 2, 0, kSlice));
  Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_));
  out_.sent.clear();
  Receive(kChild, RtpPacket(kUp, 3, 0, kSlice));
  EXPECT_TRUE(out_.To(kParent).empty());
  EXPECT_EQ(core_.drops("relay", "not_selected"), 1u);
  // A parent's NACK for the upstream stream is answered from the ring.
  Receive(kParent, Nack(kUp, {1}));
  ASSERT_EQ(out_.To(kParent).size(), 1u);
  EXPECT_EQ(out_.To(kParent)[0].bytes, up);
}

TEST_F(RelayCoreTest, ApplyKeepsChildrenThatStayAndDropsRemovedOnes) {
  ActivateChild();
  RelayOptions o = CoreOptions();
  core_.Apply(o);
  EXPECT_EQ(core_.ActiveChildren().size(), 2u);
  o.children.erase(o.children.begin());  // the push child goes
  core_.Apply(o);
  EXPECT_EQ(core_.ActiveChildren(), (std::vector<media::Endpoint>{kChild}));
  o.children[0].key = std::string(32, 'n');  // new key: must re-activate
  core_.Apply(o);
  EXPECT_TRUE(core_.ActiveChildren().empty());
}

TEST_F(RelayCoreTest, ChildReportsOnlyWhileMediaPauses) {
  ActivateChild();
  out_.sent.clear();
  for (int i = 1; i <= 10; ++i) {
    Receive(kParent, RtpPacket(kVideo, static_cast<uint16_t>(i), 0, kSlice));
    clock_.Advance(absl::Milliseconds(50));
    core_.OnTick();
  }
  EXPECT_EQ(ParseAll(out_.To(kChild)).srs, 0) << "media says we are alive";
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Milliseconds(50));
    core_.OnTick();
  }
  EXPECT_EQ(ParseAll(out_.To(kChild)).srs, 5) << "one per 100 ms of silence";
}

TEST_F(RelayCoreTest, ByeToActiveChildrenOnShutdown) {
  ActivateChild();
  out_.sent.clear();
  core_.SayGoodbye();
  EXPECT_EQ(ParseAll(out_.To(kChild)).byes, 1);
  EXPECT_EQ(ParseAll(out_.To(kPush)).byes, 1);
}

TEST_F(RelayCoreTest, GarbageIsCountedNeverForwarded) {
  std::mt19937 rng(7);
  constexpr int kGarbage = 5000;
  for (int i = 0; i < kGarbage; ++i) {
    std::vector<uint8_t> junk(rng() % 300);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    // From the parent and from an active child: the most trusted sources.
    Receive(i % 2 ? kParent : kPush, junk);
  }
  // Random bytes may happen to form valid RTCP (counted as RTCP in) or hit a
  // known SSRC by chance (not with these SSRCs); everything else is a drop.
  EXPECT_EQ(core_.total_drops() + core_.counters().rtcp_in,
            static_cast<uint64_t>(kGarbage));
  EXPECT_EQ(core_.stream_counters(kVideo)->packets_in, 0u);
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  EXPECT_EQ(core_.stream_counters(kVideo)->packets_out, 1u);
}

TEST_F(RelayCoreTest, MetricsNameEveryCounter) {
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  Receive(kAttacker, {1, 2, 3});
  std::string text;
  core_.RenderMetrics(&text);
  EXPECT_NE(text.find("relay_stream_packets_in_total{ssrc=\"4369\","
                      "direction=\"down\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("relay_drops_total{kind=\"relay\",reason=\"not_rtp\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("relay_children 1"), std::string::npos);
}

}  // namespace
}  // namespace cascade::relay
