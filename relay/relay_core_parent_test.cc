// The relay's parents: leaving a silent or closed one for the next, backing
// off, holding one down and taking it back, and how often it ticks while
// changing parents.
#include <gtest/gtest.h>

#include <vector>

#include "relay/core_test_support.h"
#include "relay/relay_core.h"

namespace cascade::relay {
namespace {

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
