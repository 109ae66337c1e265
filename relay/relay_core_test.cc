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
#include "testing/fake_clock.h"

namespace cascade::relay {
namespace {

const media::Endpoint kParent = Ep("127.0.0.1:5000");
const media::Endpoint kPush = Ep("127.0.0.1:6000");
const media::Endpoint kChild = Ep("127.0.0.1:6001");
const media::Endpoint kAttacker = Ep("127.0.0.1:6666");
constexpr uint32_t kVideo = 0x1111;
constexpr uint32_t kUp = 0x2222;
const std::string kChildKey(32, 'k');
const std::string kParentKey(32, 'p');

// Relay "r1": parent p0, a static push child, an activated child "c1".
RelayOptions Options() {
  RelayOptions o;
  o.node_id = "r1";
  o.listen = Ep("127.0.0.1:0");
  o.parents.push_back({"p0", kParent, kParentKey});
  ChildOptions push;
  push.id = "push";
  push.address = kPush;
  push.static_push = true;
  o.children.push_back(push);
  ChildOptions child;
  child.id = "c1";
  child.key = kChildKey;
  o.children.push_back(child);
  StreamOptions video;
  video.ssrc = kVideo;
  video.h264 = true;
  o.streams.push_back(video);
  StreamOptions up;
  up.ssrc = kUp;
  up.direction = Direction::kUp;
  up.selected = true;
  o.streams.push_back(up);
  o.retransmit_rate_per_child = 100;
  o.retransmit_burst_per_child = 25;
  // A fixed failover timeout: the per-link one has its own test.
  o.parent_timeout_max = o.parent_timeout;
  return o;
}

// H.264 payloads: an IDR slice (type 5, first_mb 0) and a non-IDR slice.
const std::vector<uint8_t> kIdr = {0x65, 0x88, 0x84, 0x00};
const std::vector<uint8_t> kSlice = {0x41, 0x9a, 0x00, 0x00};

std::vector<uint8_t> Activation(
    const std::string& node, const std::string& key, int64_t ts_ms,
    uint64_t nonce, rtp::ActivationKind kind = rtp::ActivationKind::kActivate) {
  rtp::ActivationRequest r;
  r.kind = kind;
  r.node_id = node;
  r.timestamp_ms = ts_ms;
  r.nonce = nonce;
  std::vector<uint8_t> out(256);
  out.resize(rtp::BuildActivation(
      r,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()),
                          key.size()),
      absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> Nack(uint32_t media, std::vector<uint16_t> seqs) {
  std::vector<uint8_t> out(1500);
  out.resize(rtp::BuildNack(0x99, media, seqs, absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> Pli(uint32_t media) {
  std::vector<uint8_t> out(64);
  out.resize(rtp::BuildPli(0x99, media, absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> Rr() {
  std::vector<uint8_t> out(64);
  out.resize(rtp::BuildReceiverReport(0x99, {}, absl::MakeSpan(out)));
  return out;
}

// The RTP packets among `sent`.
std::vector<Sent> RtpOnly(const std::vector<Sent>& sent) {
  std::vector<Sent> out;
  for (const Sent& s : sent) {
    if (rtp::Classify(s.bytes) == rtp::PacketKind::kRtp) out.push_back(s);
  }
  return out;
}

uint16_t SeqOf(const std::vector<uint8_t>& rtp) {
  return static_cast<uint16_t>(rtp[2] << 8 | rtp[3]);
}

// Collects what the parser finds in the RTCP datagrams sent by the relay.
struct RtcpSeen : rtp::RtcpVisitor {
  void OnNack(const rtp::NackView& n) override {
    n.ForEachSequenceNumber([&](uint16_t s) { nacked.push_back(s); });
  }
  void OnPli(const rtp::PliView& p) override { plis.push_back(p.media_ssrc); }
  void OnReceiverReport(const rtp::ReceiverReportView&) override { ++rrs; }
  void OnSenderReport(const rtp::SenderReportView&) override { ++srs; }
  void OnBye(const rtp::ByeView&) override { ++byes; }
  void OnApp(const rtp::AppView& app) override {
    rtp::ActivationRequest r;
    const rtp::ActivationResult result = rtp::VerifyActivation(
        app,
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(kParentKey.data()),
                            kParentKey.size()),
        &r);
    if (result != rtp::ActivationResult::kOk) return;
    (r.kind == rtp::ActivationKind::kDeactivate ? deactivations : activations)
        .emplace_back(r.node_id);
  }
  std::vector<uint16_t> nacked;
  std::vector<uint32_t> plis;
  std::vector<std::string> activations;
  std::vector<std::string> deactivations;
  int rrs = 0, srs = 0, byes = 0;
};

RtcpSeen ParseAll(const std::vector<Sent>& sent) {
  RtcpSeen seen;
  for (const Sent& s : sent) {
    if (rtp::Classify(s.bytes) == rtp::PacketKind::kRtp) continue;
    EXPECT_EQ(rtp::ParseRtcpCompound(s.bytes, &seen), rtp::RtcpError::kOk);
  }
  return seen;
}

class RelayCoreTest : public ::testing::Test {
 protected:
  RelayCoreTest() : pool_(4096), core_(Options(), &clock_, &pool_, &out_) {}

  void Receive(const media::Endpoint& from, const std::vector<uint8_t>& bytes) {
    core_.OnDatagram(from, pool_.Copy(bytes));
  }
  int64_t NowMs() const { return absl::ToUnixMillis(clock_.Now()); }
  void ActivateChild() {
    Receive(kChild, Activation("c1", kChildKey, NowMs(), ++nonce_));
    ASSERT_EQ(core_.ActiveChildren().size(), 2u);
  }
  // Lets `d` pass in 5 ms ticks, each asking for the next as the server
  // does (ticks sooner than asked for are harmless).
  void Run(absl::Duration d) {
    for (absl::Duration t; t < d; t += absl::Milliseconds(5)) {
      clock_.Advance(absl::Milliseconds(5));
      core_.OnTick();
      core_.NextTick();
    }
  }

  FakeClock clock_;
  PacketPool pool_;
  FakeTransport out_;
  RelayCore core_;
  uint64_t nonce_ = 0;
};

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
  RelayOptions o = Options();
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
  RelayOptions o = Options();
  core_.Apply(o);
  EXPECT_EQ(core_.ActiveChildren().size(), 2u);
  o.children.erase(o.children.begin());  // the push child goes
  core_.Apply(o);
  EXPECT_EQ(core_.ActiveChildren(), (std::vector<media::Endpoint>{kChild}));
  o.children[0].key = std::string(32, 'n');  // new key: must re-activate
  core_.Apply(o);
  EXPECT_TRUE(core_.ActiveChildren().empty());
}

const media::Endpoint kStandby = Ep("127.0.0.1:5001");

// Relay "r1" with a standby parent p1 after p0.
RelayOptions WithStandby() {
  RelayOptions o = Options();
  o.parents.push_back({"p1", kStandby, kParentKey});
  return o;
}

// The parent's process is gone: the keepalive sent when it fell quiet comes
// back as port unreachable, and the relay moves at once, not at the timeout.
TEST_F(RelayCoreTest, ParentWhosePortClosedIsLeftAtOnce) {
  core_.Apply(WithStandby());
  core_.OnTick();
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  out_.sent.clear();
  Run(absl::Milliseconds(155));
  EXPECT_EQ(ParseAll(out_.To(kParent)).activations.size(), 1u)
      << "asked when quiet for half the 300 ms timeout";
  core_.OnUnreachable(kStandby);  // not its parent: nothing
  core_.OnUnreachable(kParent);
  Run(absl::Milliseconds(5));
  EXPECT_EQ(core_.parent_index(), 1u);
  EXPECT_EQ(core_.counters().parent_failovers, 1u);
  EXPECT_EQ(core_.counters().parent_unreachable_failovers, 1u);
  EXPECT_EQ(ParseAll(out_.To(kStandby)).activations,
            (std::vector<std::string>{"r1"}));
}

TEST_F(RelayCoreTest, SilentParentIsLeftForTheNextWhichRepairsTheGap) {
  core_.Apply(WithStandby());
  core_.OnTick();
  EXPECT_EQ(ParseAll(out_.To(kParent)).activations.size(), 1u);
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  // Quiet for less than the timeout: nothing happens.
  Run(absl::Milliseconds(250));
  Receive(kParent, RtpPacket(kVideo, 2, 0, kSlice));
  EXPECT_EQ(core_.parent_index(), 0u);
  // Then silent for good.
  Run(absl::Milliseconds(295));
  EXPECT_EQ(core_.parent_index(), 0u);
  Run(absl::Milliseconds(10));
  EXPECT_EQ(core_.parent_index(), 1u);
  EXPECT_EQ(core_.counters().parent_failovers, 1u);
  EXPECT_EQ(ParseAll(out_.To(kStandby)).activations,
            (std::vector<std::string>{"r1"}));
  // The dead parent's late packets are not taken.
  Receive(kParent, RtpPacket(kVideo, 3, 0, kSlice));
  EXPECT_EQ(core_.drops("relay", "unknown_source"), 1u);
  // The standby continues the same sequence; the gap is NACKed there, and
  // what it resends reaches the children once.
  Receive(kStandby, RtpPacket(kVideo, 6, 0, kSlice));
  Run(absl::Milliseconds(10));
  EXPECT_EQ(ParseAll(out_.To(kStandby)).nacked,
            (std::vector<uint16_t>{3, 4, 5}));
  for (uint16_t seq : {3, 4, 5, 4}) {
    Receive(kStandby, RtpPacket(kVideo, seq, 0, kSlice));
  }
  EXPECT_EQ(core_.drops("relay", "duplicate"), 1u);
  std::vector<uint16_t> pushed;
  for (const Sent& p : RtpOnly(out_.To(kPush)))
    pushed.push_back(SeqOf(p.bytes));
  EXPECT_EQ(pushed, (std::vector<uint16_t>{1, 2, 6, 3, 4, 5}));
  // The standby gets its fresh full timeout: no flapping back.
  Run(absl::Milliseconds(250));
  EXPECT_EQ(core_.parent_index(), 1u);
}

// The default: a parent that left a 250 ms gap is then allowed 500 ms.
TEST_F(RelayCoreTest, ParentSilenceIsJudgedPerLink) {
  RelayOptions o = WithStandby();
  o.parent_timeout_max = absl::Milliseconds(1200);
  core_.Apply(o);
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  Run(absl::Milliseconds(250));
  Receive(kParent, RtpPacket(kVideo, 2, 0, kSlice));
  Run(absl::Milliseconds(450));
  EXPECT_EQ(core_.parent_index(), 0u);
  Run(absl::Milliseconds(100));
  EXPECT_EQ(core_.parent_index(), 1u);
}

TEST_F(RelayCoreTest, RepeatedFailoversBackOff) {
  core_.Apply(WithStandby());
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  // Neither parent answers: 300 ms, then 600, then 1,200 between moves.
  Run(absl::Milliseconds(305));
  EXPECT_EQ(core_.counters().parent_failovers, 1u);
  Run(absl::Milliseconds(590));
  EXPECT_EQ(core_.counters().parent_failovers, 1u);
  Run(absl::Milliseconds(15));
  EXPECT_EQ(core_.counters().parent_failovers, 2u);
  Run(absl::Milliseconds(1180));
  EXPECT_EQ(core_.counters().parent_failovers, 2u);
  Run(absl::Milliseconds(15));
  EXPECT_EQ(core_.counters().parent_failovers, 3u);
  // A quiet minute on a parent that answers restores the short timeout.
  for (uint16_t seq = 2; seq < 700; ++seq) {
    Run(absl::Milliseconds(100));
    Receive(kParent, RtpPacket(kVideo, seq, 0, kSlice));
    Receive(kStandby, RtpPacket(kVideo, seq, 0, kSlice));
  }
  const uint64_t before = core_.counters().parent_failovers;
  Run(absl::Milliseconds(310));
  EXPECT_EQ(core_.counters().parent_failovers, before + 1);
}

TEST_F(RelayCoreTest, TimeTheRelayItselfDidNotRunIsNotBlamedOnTheParent) {
  core_.Apply(WithStandby());
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  Run(absl::Milliseconds(50));
  // Stopped for 400 ms (no ticks): the parent's packets wait in the socket.
  clock_.Advance(absl::Milliseconds(400));
  core_.OnTick();
  EXPECT_EQ(core_.parent_index(), 0u);
  Receive(kParent, RtpPacket(kVideo, 2, 0, kSlice));
  // Silence while running still counts.
  Run(absl::Milliseconds(305));
  EXPECT_EQ(core_.parent_index(), 1u);
}

// As above, but the relay wakes for a child's keepalive before its overdue
// timer, and the server re-arms the timer after the read: the stall is
// still excused (a national run's districts failed over when topologyd's
// kill stalled the machine for a second while no media flowed).
TEST_F(RelayCoreTest, AStallEndedByADatagramIsNotBlamedOnTheParent) {
  core_.Apply(WithStandby());
  ActivateChild();
  Receive(kParent, Rr());
  Run(absl::Milliseconds(50));
  clock_.Advance(absl::Milliseconds(400));
  Receive(kChild, Rr());
  core_.NextTick();
  clock_.Advance(absl::Milliseconds(1));
  core_.OnTick();
  EXPECT_EQ(core_.parent_index(), 0u);
  EXPECT_EQ(core_.counters().parent_failovers, 0u);
}

TEST_F(RelayCoreTest, GapsAskedOfADyingParentAreAskedAgainOfTheNext) {
  core_.Apply(WithStandby());
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  Receive(kParent, RtpPacket(kVideo, 3, 0, kSlice));  // 2 lost
  Run(absl::Milliseconds(15));
  EXPECT_EQ(ParseAll(out_.To(kParent)).nacked, (std::vector<uint16_t>{2}));
  // The parent dies: retries pause rather than run out...
  Run(absl::Milliseconds(400));
  EXPECT_EQ(core_.parent_index(), 1u);
  EXPECT_LE(ParseAll(out_.To(kParent)).nacked.size(), 5u);
  EXPECT_TRUE(ParseAll(out_.To(kStandby)).nacked.empty());
  // ... and go to the standby as soon as it is heard.
  Receive(kStandby, RtpPacket(kVideo, 4, 0, kSlice));
  Run(absl::Milliseconds(5));
  EXPECT_EQ(ParseAll(out_.To(kStandby)).nacked, (std::vector<uint16_t>{2}));
  EXPECT_EQ(core_.stream_counters(kVideo)->nack_gave_up, 0u);
}

TEST_F(RelayCoreTest, AParentNeverHeardGetsTheStartupTimeout) {
  core_.Apply(WithStandby());
  Run(absl::Milliseconds(1900));
  EXPECT_EQ(core_.parent_index(), 0u);
  // Asked again and again meanwhile, in case it starts late.
  EXPECT_GE(ParseAll(out_.To(kParent)).activations.size(), 10u);
  Run(absl::Milliseconds(200));
  EXPECT_EQ(core_.parent_index(), 1u);
}

TEST_F(RelayCoreTest, LeftParentIsHeldDownThenTakenBackMakeBeforeBreak) {
  const RelayOptions o = WithStandby();
  core_.Apply(o);
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  Run(absl::Milliseconds(305));
  ASSERT_EQ(core_.parent_index(), 1u);
  Receive(kStandby, RtpPacket(kVideo, 2, 0, kSlice));
  // The same settings again (a controller that has not noticed yet): the
  // failed parent is held down, the relay stays.
  core_.Apply(o);
  EXPECT_EQ(core_.parent_index(), 1u);
  for (uint16_t seq = 3; seq < 110; ++seq) {
    Run(absl::Milliseconds(100));
    Receive(kStandby, RtpPacket(kVideo, seq, 0, kSlice));
  }
  // Hold-down over: new settings take p0 back, but p1 feeds the children
  // until p0 sends media.
  out_.sent.clear();
  core_.Apply(o);
  EXPECT_EQ(core_.parent_index(), 0u);
  EXPECT_EQ(core_.counters().parent_switches, 1u);
  ASSERT_NE(core_.leaving_parent(), nullptr);
  Run(absl::Milliseconds(5));
  EXPECT_EQ(ParseAll(out_.To(kParent)).activations.size(), 1u);
  Receive(kStandby, RtpPacket(kVideo, 110, 0, kSlice));
  Receive(kParent, RtpPacket(kVideo, 110, 0, kSlice));  // the same packet
  Receive(kParent, RtpPacket(kVideo, 111, 0, kSlice));
  EXPECT_EQ(core_.leaving_parent(), nullptr);
  EXPECT_EQ(ParseAll(out_.To(kStandby)).deactivations,
            (std::vector<std::string>{"r1"}));
  Receive(kStandby, RtpPacket(kVideo, 112, 0, kSlice));
  EXPECT_EQ(core_.drops("relay", "unknown_source"), 1u);
  std::vector<uint16_t> pushed;
  for (const Sent& p : RtpOnly(out_.To(kPush)))
    pushed.push_back(SeqOf(p.bytes));
  EXPECT_EQ(pushed, (std::vector<uint16_t>{110, 111}));
}

TEST_F(RelayCoreTest, RemovedChildIsServedThroughItsGraceOnly) {
  ActivateChild();
  RelayOptions o = Options();
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
  RelayOptions o = Options();
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
  RelayOptions o = Options();
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
  RelayOptions o = Options();
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
  RelayOptions o = Options();
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
  RelayOptions o = Options();
  o.children.back().standby = true;
  core_.Apply(o);
  ActivateChild();
  core_.Apply(o);
  Run(absl::Milliseconds(1000));
  EXPECT_EQ(core_.ActiveChildren(),
            (std::vector<media::Endpoint>{kPush, kChild}));
  EXPECT_TRUE(ReleasesUnderChildKey(out_.To(kChild)).empty());
}

TEST_F(RelayCoreTest, TicksOftenOnlyWhileRepairingOrChangingParent) {
  core_.Apply(WithStandby());
  // The parent has not answered yet.
  EXPECT_EQ(core_.NextTick(), absl::Milliseconds(5));
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  core_.OnTick();
  // Otherwise at the next deadline: the media just sent down tells the
  // children we are alive for the next 100 ms.
  EXPECT_EQ(core_.NextTick(), absl::Milliseconds(100));
  clock_.Advance(absl::Milliseconds(60));
  Receive(kParent, RtpPacket(kVideo, 3, 0, kSlice));  // 2 missing
  EXPECT_EQ(core_.NextTick(), absl::Milliseconds(5));
  Receive(kParent, RtpPacket(kVideo, 2, 0, kSlice));
  EXPECT_EQ(core_.NextTick(), absl::Milliseconds(100));
}

TEST_F(RelayCoreTest, NewParentGetsTheOverlapToAnswerWhileTheOldOneFeedsUs) {
  RelayOptions o = WithStandby();
  core_.Apply(o);
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  // The controller moves us to the standby; it has not heard of us yet.
  std::swap(o.parents[0], o.parents[1]);
  core_.Apply(o);
  ASSERT_NE(core_.leaving_parent(), nullptr);
  for (uint16_t seq = 2; seq < 10; ++seq) {
    Run(absl::Milliseconds(100));
    Receive(kParent, RtpPacket(kVideo, seq, 0, kSlice));
  }
  EXPECT_EQ(core_.counters().parent_failovers, 0u)
      << "800 ms without an answer is within the overlap";
  Receive(kStandby, RtpPacket(kVideo, 10, 0, kSlice));
  EXPECT_EQ(core_.leaving_parent(), nullptr);
  EXPECT_EQ(core_.counters().parent_failovers, 0u);
}

TEST_F(RelayCoreTest, ParentThatNeverAnswersDoesNotKeepUsBusy) {
  core_.Apply(WithStandby());
  int ticks = 0;
  const absl::Time end = clock_.Now() + absl::Seconds(3);
  while (clock_.Now() < end && ticks < 1000) {
    clock_.Advance(core_.NextTick());
    core_.OnTick();
    ++ticks;
  }
  // Busy for a parent timeout after each choice (a few of them, as it
  // fails over back and forth), then only at deadlines.
  EXPECT_GE(core_.counters().parent_failovers, 1u);
  EXPECT_LT(ticks, 300) << "3 s of busy ticks would be 600";
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

// The parent's silences, for judging --parent_timeout: a 250 ms gap lands
// in the 0.3 s bucket and not the 0.2 s one; the timeout in force is shown.
TEST_F(RelayCoreTest, ParentGapsAreAHistogram) {
  Receive(kParent, RtpPacket(kVideo, 1, 0, kSlice));
  Run(absl::Milliseconds(250));
  Receive(kParent, RtpPacket(kVideo, 2, 0, kSlice));
  std::string text;
  core_.RenderMetrics(&text);
  EXPECT_NE(text.find("relay_parent_gap_seconds_bucket{le=\"0.2\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("relay_parent_gap_seconds_bucket{le=\"0.3\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("relay_parent_gap_seconds_count 1"), std::string::npos);
  EXPECT_NE(text.find("relay_parent_timeout_seconds 0.300"), std::string::npos);
}

}  // namespace
}  // namespace cascade::relay
