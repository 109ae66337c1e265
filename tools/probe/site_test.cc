// A child site and its parent: activation, keepalives and leaving on
// simulated time (testing/fake_timers.h) and over real sockets through the
// probe's own loop; and the latency the site measures.

#include "tools/probe/site.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "media/rtp/rtp.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"
#include "tools/probe/probe.h"
#include "tools/probe/site_test_support.h"

namespace cascade {
namespace probe {
namespace {

// A child whose parent streams a packet every 5 ms once activated.
TEST_F(SimulatedSiteTest,
       ChildActivatesOnceWhileMediaFlowsKeepsAliveAndLeaves) {
  SiteOptions options = ChildOf({primary_.link()});
  options.keepalive_interval = absl::Milliseconds(50);
  options.activation_retry = absl::Milliseconds(100);
  Start(options);
  uint16_t seq = 100;
  timers_.Every(kT0, absl::Milliseconds(5), [&] {
    if (!primary_.activations.empty()) primary_.Send(MediaPacket(seq++));
  });
  ASSERT_TRUE(timers_.RunUntil(kT0 + absl::Milliseconds(600)));
  Finish();
  EXPECT_EQ(primary_.child(), site_->local());
  EXPECT_EQ(primary_.invalid_activations, 0);
  // At the first tick, and never again: the parent answers.
  ASSERT_EQ(primary_.activations.size(), 1u);
  EXPECT_EQ(primary_.activations[0], kT0);
  EXPECT_EQ(primary_.deactivations, 1);
  // A report every 50 ms, 0 to 600, and the one that leaves.
  EXPECT_EQ(primary_.receiver_reports.size(), 14u);
  // They report the stream's progress: the last (leaving) one all 121
  // packets, 100 to 220.
  EXPECT_EQ(primary_.last_highest, 220u);
  EXPECT_EQ(primary_.last_lost, 0);
  const SiteReport report = site_->Report();
  EXPECT_EQ(report.packets, 121);
  EXPECT_EQ(report.lost, 0);
  EXPECT_EQ(report.parent_switches, 0);
  EXPECT_EQ(standby_.datagrams(), 0);
}

TEST_F(SimulatedSiteTest, ChildActivatesAgainWhileTheParentIsSilent) {
  SiteOptions options = ChildOf({primary_.link()});
  options.keepalive_interval = absl::Milliseconds(50);
  options.activation_retry = absl::Milliseconds(100);
  Start(options);
  ASSERT_TRUE(timers_.RunUntil(kT0 + absl::Milliseconds(600)));
  Finish();
  EXPECT_EQ(primary_.invalid_activations, 0);
  // Every 100 ms, 0 to 600.
  ASSERT_EQ(primary_.activations.size(), 7u);
  for (size_t i = 0; i < primary_.activations.size(); ++i) {
    EXPECT_EQ(primary_.activations[i], kT0 + i * absl::Milliseconds(100));
  }
  EXPECT_EQ(primary_.deactivations, 1);
  EXPECT_EQ(site_->Report().packets, 0);
  EXPECT_EQ(site_->Report().parent_switches, 0);
}

// A video packet of a frame with RTP timestamp `timestamp`, carrying its send
// time.
std::vector<uint8_t> VideoPacket(uint16_t seq, uint32_t timestamp, bool marker,
                                 absl::Time send_time) {
  uint8_t packet[64];
  rtp::RtpHeader header;
  header.payload_type = 96;
  header.sequence_number = seq;
  header.timestamp = timestamp;
  header.marker = marker;
  header.ssrc = 0x7e57;
  const std::array<uint8_t, 8> sent = media::EncodeSendTime(send_time);
  const rtp::ExtensionElement extensions[] = {
      {media::kSendTimeExtensionId, sent}};
  header.extensions = extensions;
  const uint8_t payload[] = {0x41, 0x9a, 0x00};
  const size_t size =
      rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  return std::vector<uint8_t>(packet, packet + size);
}

// Latency is the frame's send time to the arrival of its last packet, not to
// when the site got round to it.
TEST(SiteLatencyTest, FromSendTimeToTheArrivalOfTheFramesLastPacket) {
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  const auto at = [t0](int ms) { return t0 + absl::Milliseconds(ms); };
  SiteOptions options;
  options.listen = Loopback();
  Site site(options, *media::UdpFd::Open(Loopback()), t0);
  const media::UdpFd sender = *media::UdpFd::Open(Loopback());
  const media::Endpoint from = sender.local();
  // A frame of two packets sent at 0, arriving at 10 and 25.
  EXPECT_TRUE(
      site.OnDatagram(from, VideoPacket(1, 3000, false, at(0)), at(10)));
  EXPECT_TRUE(site.OnDatagram(from, VideoPacket(2, 3000, true, at(0)), at(25)));
  site.OnTick(at(40));
  ASSERT_EQ(site.latency().count(), 1u);
  EXPECT_EQ(site.latency().Max(), absl::Milliseconds(25));
  // One packet sent at 33, arriving at 40.
  EXPECT_TRUE(
      site.OnDatagram(from, VideoPacket(3, 6000, true, at(33)), at(40)));
  site.OnTick(at(60));
  ASSERT_EQ(site.latency().count(), 2u);
  // The send time travels in NTP units: within a microsecond.
  EXPECT_LT(
      absl::AbsDuration(site.latency().Percentile(0) - absl::Milliseconds(7)),
      absl::Microseconds(1));
  EXPECT_EQ(site.latency().Max(), absl::Milliseconds(25));
}

// Over real sockets through the probe's own loop: a child site joins its
// parent, reports the stream's progress, and leaves when the probe stops.
// How often it activates and reports is SimulatedSiteTest's.
TEST(ProbeTest, ChildJoinsItsParentReportsAndLeavesWhenStopped) {
  FakeParent parent("site-key");
  FakeParent unused("other-key");
  SiteOptions site = ChildOf({parent.link()});
  site.keepalive_interval = absl::Milliseconds(50);
  auto probe = Probe::Create({site});
  ASSERT_TRUE(probe.ok()) << probe.status();
  std::thread run([&] { (*probe)->Run(kPatience, absl::Seconds(1), nullptr); });
  // A packet per wake-up once activated, until a report says 20 arrived.
  uint16_t seq = 100;
  const absl::Time deadline = absl::Now() + kPatience;
  while (absl::Now() < deadline &&
         !(parent.last_highest >= 120 && parent.last_lost == 0)) {
    WaitForParents(parent, unused);
    parent.Poll(absl::Now());
    if (!parent.activations.empty()) parent.Send(MediaPacket(seq++));
  }
  (*probe)->Stop();
  run.join();
  parent.Poll(absl::Now());  // the leave was sent before Run returned
  EXPECT_GE(parent.last_highest, 120u);
  EXPECT_EQ(parent.child(), (*probe)->sites()[0]->local());
  EXPECT_GE(parent.activations.size(), 1u);
  EXPECT_EQ(parent.invalid_activations, 0);
  EXPECT_EQ(parent.deactivations, 1);
  const Totals totals = (*probe)->Final();
  EXPECT_GE(totals.counters.packets, 21);
  EXPECT_EQ(totals.counters.lost, 0);
  EXPECT_EQ(totals.counters.parent_switches, 0);
}

}  // namespace
}  // namespace probe
}  // namespace cascade
