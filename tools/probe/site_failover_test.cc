// A site's failover decisions with time given by hand: the silence timeout
// and its back-off, activations until a parent answers, keepalives, a
// release by a drained parent, and the upstream stream following the switch.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "media/rtp/activation.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"
#include "tools/probe/site.h"
#include "tools/probe/site_test_support.h"

namespace cascade {
namespace probe {
namespace {

// Failover decisions, with time given by hand: a site and two fake parents.
class SiteFailoverTest : public ::testing::Test {
 protected:
  SiteFailoverTest() : primary_("key-a"), standby_("key-b") {}

  std::unique_ptr<Site> MakeSite(std::vector<ParentLink> parents) {
    return std::make_unique<Site>(ChildOf(std::move(parents)),
                                  *media::UdpFd::Open(Loopback()), kT0);
  }
  absl::Time At(int ms) const { return kT0 + absl::Milliseconds(ms); }
  void PollParents(absl::Time now) {
    primary_.Poll(now);
    standby_.Poll(now);
  }

  const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
  FakeParent primary_;
  FakeParent standby_;
};

TEST_F(SiteFailoverTest, SilenceShorterThanTheTimeoutKeepsTheParent) {
  SiteOptions options = ChildOf({primary_.link(), standby_.link()});
  // Fixed: a 299 ms gap would raise this link's timeout (judged per link,
  // child/silence_timeout.h).
  options.parent_timeout_max = options.parent_timeout;
  auto site =
      std::make_unique<Site>(options, *media::UdpFd::Open(Loopback()), kT0);
  const media::Endpoint primary = primary_.link().address;
  site->OnTick(At(0));
  EXPECT_TRUE(site->OnDatagram(primary, MediaPacket(1), At(10)));
  site->OnTick(At(309));
  // RTCP alone keeps the parent alive too.
  EXPECT_FALSE(site->OnDatagram(primary, SenderReport(), At(309)));
  site->OnTick(At(608));
  EXPECT_EQ(site->Report().parent_switches, 0);
  EXPECT_EQ(site->active_parent_index(), 0u);
  site->OnTick(At(609));
  EXPECT_EQ(site->Report().parent_switches, 1);
  PollParents(At(609));
  EXPECT_EQ(primary_.activations.size(), 1u);
  ASSERT_EQ(standby_.activations.size(), 1u);
  EXPECT_EQ(standby_.invalid_activations, 0);
  EXPECT_EQ(primary_.deactivations, 0);
}

TEST_F(SiteFailoverTest, EachNewParentGetsAFullTimeoutAndTheListWrapsRound) {
  auto site = MakeSite({primary_.link(), standby_.link()});
  const media::Endpoint primary = primary_.link().address;
  const media::Endpoint standby = standby_.link().address;
  site->OnTick(At(0));
  site->OnDatagram(primary, MediaPacket(1), At(0));
  site->OnTick(At(300));
  EXPECT_EQ(site->active_parent()->address, standby);
  // The old parent is not dead after all: what it sends is dropped and
  // counted, and does not bring the site back.
  EXPECT_FALSE(site->OnDatagram(primary, MediaPacket(2), At(400)));
  EXPECT_FALSE(site->OnDatagram(primary, SenderReport(), At(450)));
  site->OnTick(At(899));
  EXPECT_EQ(site->active_parent()->address, standby);
  // The standby never answered: a full (backed-off, twice as long) timeout
  // after the switch the site moves on, round to the primary.
  site->OnTick(At(900));
  EXPECT_EQ(site->active_parent()->address, primary);
  const SiteReport report = site->Report();
  EXPECT_EQ(report.parent_switches, 2);
  EXPECT_EQ(report.stale_parent_packets, 2);
  EXPECT_EQ(report.packets, 1);
  PollParents(At(900));
  EXPECT_EQ(primary_.activations.size(), 2u);
  // At the switch and once more before giving up on it (see below).
  EXPECT_EQ(standby_.activations.size(), 2u);
}

TEST_F(SiteFailoverTest, SwitchesInARowBackOff) {
  auto site = MakeSite({primary_.link(), standby_.link()});
  site->OnDatagram(primary_.link().address, MediaPacket(1), At(0));
  // Nobody answers: switches at 300, 900 (600 later) and 2,100 (1,200).
  for (int ms = 0; ms <= 2095; ms += 5) site->OnTick(At(ms));
  EXPECT_EQ(site->Report().parent_switches, 2);
  site->OnTick(At(2100));
  EXPECT_EQ(site->Report().parent_switches, 3);
}

TEST_F(SiteFailoverTest, ANewParentIsAskedAgainUntilItAnswers) {
  auto site = MakeSite({primary_.link(), standby_.link()});
  site->OnDatagram(primary_.link().address, MediaPacket(1), At(0));
  for (int ms = 0; ms <= 550; ms += 5) site->OnTick(At(ms));
  PollParents(At(550));
  // Switched at 300, asked again every 100 ms: a lost activation costs
  // 100 ms, not another switch.
  EXPECT_EQ(standby_.activations.size(), 3u);
  site->OnDatagram(standby_.link().address, SenderReport(), At(550));
  for (int ms = 555; ms <= 900; ms += 5) {
    site->OnTick(At(ms));
    if (ms % 100 == 50) {
      site->OnDatagram(standby_.link().address, SenderReport(), At(ms));
    }
  }
  PollParents(At(900));
  EXPECT_EQ(standby_.activations.size(), 3u) << "asked again once answered";
  EXPECT_EQ(site->Report().parent_switches, 1);
}

TEST_F(SiteFailoverTest, KeepalivesGoToTheActiveParentOnly) {
  auto site = MakeSite({primary_.link(), standby_.link()});
  site->OnDatagram(primary_.link().address, MediaPacket(1), At(0));
  for (int ms = 0; ms <= 1000; ms += 5) {
    site->OnTick(At(ms));
    // The standby answers the switch at 300 ms with an SR every 100 ms.
    if (ms > 300 && ms % 100 == 0) {
      site->OnDatagram(standby_.link().address, SenderReport(), At(ms));
    }
  }
  PollParents(At(1000));
  EXPECT_EQ(site->Report().parent_switches, 1);
  // Every 250 ms: at 0 and 250 to the primary; the switch at 300 activates
  // the standby in a report of its own, then 500, 750 and 1000.
  EXPECT_EQ(primary_.receiver_reports.size(), 2u);
  EXPECT_EQ(standby_.receiver_reports.size(), 4u);
  EXPECT_EQ(primary_.deactivations + standby_.deactivations, 0);
  site->Leave(At(1000));
  PollParents(At(1000));
  EXPECT_EQ(standby_.deactivations, 1);
  EXPECT_EQ(primary_.deactivations, 0);
}

// What a drained relay sends a child it no longer lists: a receiver report
// and a signed deactivation under the link key, in its own name.
std::vector<uint8_t> Release(const std::string& parent_id,
                             const std::string& key, absl::Time when) {
  uint8_t packet[8 + rtp::kMaxActivationSize];
  size_t size = rtp::BuildReceiverReport(0x7777, {}, absl::MakeSpan(packet));
  rtp::ActivationRequest request;
  request.kind = rtp::ActivationKind::kDeactivate;
  request.sender_ssrc = 0x7777;
  request.node_id = parent_id;
  request.timestamp_ms = absl::ToUnixMillis(when);
  request.nonce = 42;
  size += rtp::BuildActivation(
      request,
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()),
                          key.size()),
      absl::MakeSpan(packet).subspan(size));
  return std::vector<uint8_t>(packet, packet + size);
}

TEST_F(SiteFailoverTest, ReleasedByItsParentTheSiteMovesWithoutAGap) {
  auto site = MakeSite({primary_.link(), standby_.link()});
  const media::Endpoint primary = primary_.link().address;
  const media::Endpoint standby = standby_.link().address;
  site->OnTick(At(0));
  EXPECT_TRUE(site->OnDatagram(primary, MediaPacket(1), At(10)));
  // Forged under the standby's key: ignored.
  site->OnDatagram(primary, Release("district-a", "key-b", At(20)), At(20));
  EXPECT_EQ(site->active_parent()->address, primary);
  // The primary was drained: it releases the site but still serves it.
  site->OnDatagram(primary, Release("district-a", "key-a", At(20)), At(20));
  EXPECT_EQ(site->active_parent()->address, standby);
  site->OnTick(At(20));
  PollParents(At(20));
  EXPECT_EQ(standby_.activations.size(), 1u) << "activated at once";
  // The old parent's media still counts until the new one's arrives.
  EXPECT_TRUE(site->OnDatagram(primary, MediaPacket(2), At(30)));
  EXPECT_TRUE(site->OnDatagram(standby, MediaPacket(2), At(35)));
  EXPECT_TRUE(site->OnDatagram(standby, MediaPacket(3), At(40)));
  EXPECT_FALSE(site->OnDatagram(primary, MediaPacket(3), At(41)));
  PollParents(At(41));
  EXPECT_EQ(primary_.deactivations, 1) << "the old parent is told";
  const SiteReport report = site->Report();
  EXPECT_EQ(report.parent_moves, 1);
  EXPECT_EQ(report.parent_switches, 0) << "a move, not a failover";
  EXPECT_EQ(report.lost, 0);
  EXPECT_EQ(report.stale_parent_packets, 1);
  EXPECT_LT(report.longest_gap, absl::Milliseconds(50));
}

TEST_F(SiteFailoverTest, NoFailoverBeforeAnyParentWasHeardOrWithOneParent) {
  auto never_heard = MakeSite({primary_.link(), standby_.link()});
  for (int ms = 0; ms <= 3000; ms += 5) never_heard->OnTick(At(ms));
  EXPECT_EQ(never_heard->Report().parent_switches, 0);
  PollParents(At(3000));
  EXPECT_EQ(primary_.activations.size(), 4u);  // retried every second
  EXPECT_EQ(standby_.datagrams(), 0);

  auto only_one = MakeSite({primary_.link()});
  only_one->OnDatagram(primary_.link().address, MediaPacket(1), At(0));
  for (int ms = 0; ms <= 3000; ms += 5) only_one->OnTick(At(ms));
  EXPECT_EQ(only_one->Report().parent_switches, 0);
}

TEST_F(SiteFailoverTest, UpstreamGoesToTheParentThatAnswersAndFollowsFailover) {
  SiteOptions options = ChildOf({primary_.link(), standby_.link()});
  options.upstream_ssrc = 0x600d;
  auto site =
      std::make_unique<Site>(options, *media::UdpFd::Open(Loopback()), kT0);
  const media::Endpoint primary = primary_.link().address;
  const media::Endpoint standby = standby_.link().address;
  // Nothing before the primary answers; one packet every 50 ms from 200 ms,
  // when it does, until it falls silent (300 ms later the site switches);
  // the standby gets the stream once it answers, at 600 ms.
  std::vector<absl::Time> sent;
  for (int ms = 0; ms <= 1200; ms += 5) {
    if (ms == 200) site->OnDatagram(primary, SenderReport(), At(ms));
    if (ms >= 600 && ms % 100 == 0) {
      site->OnDatagram(standby, SenderReport(), At(ms));
    }
    const int64_t before = site->Report().upstream_sent;
    site->OnTick(At(ms));
    if (site->Report().upstream_sent > before) sent.push_back(At(ms));
  }
  PollParents(At(1200));
  EXPECT_EQ(site->Report().parent_switches, 1);
  ASSERT_EQ(primary_.upstream.size(), 6u);   // 200, 250 .. 450
  ASSERT_EQ(standby_.upstream.size(), 13u);  // 600, 650 .. 1200
  EXPECT_EQ(site->Report().upstream_sent, 19);
  ASSERT_EQ(sent.size(), 19u);
  EXPECT_EQ(sent[0], At(200));
  EXPECT_EQ(sent[6], At(600));
  std::vector<std::vector<uint8_t>> packets = primary_.upstream;
  packets.insert(packets.end(), standby_.upstream.begin(),
                 standby_.upstream.end());
  for (size_t i = 0; i < packets.size(); ++i) {
    rtp::RtpView view;
    ASSERT_EQ(rtp::ParseRtp(packets[i], &view), rtp::RtpError::kOk);
    EXPECT_EQ(packets[i].size(), 200u);
    EXPECT_EQ(view.ssrc, 0x600du);
    EXPECT_EQ(view.payload_type, 96);
    EXPECT_TRUE(view.marker);
    // One sequence across both parents.
    if (i > 0) {
      rtp::RtpView previous;
      ASSERT_EQ(rtp::ParseRtp(packets[i - 1], &previous), rtp::RtpError::kOk);
      EXPECT_EQ(view.sequence_number,
                static_cast<uint16_t>(previous.sequence_number + 1));
    }
    // An H.264 filler NAL unit, and the send time of its tick.
    ASSERT_GE(view.payload.size(), 2u);
    EXPECT_EQ(view.payload[0], 12);
    EXPECT_EQ(view.payload.back(), 0x80);
    absl::Span<const uint8_t> element;
    ASSERT_TRUE(
        rtp::FindExtension(view, media::kSendTimeExtensionId, &element));
    const std::optional<absl::Time> send_time = media::DecodeSendTime(element);
    ASSERT_TRUE(send_time.has_value());
    EXPECT_LT(absl::AbsDuration(*send_time - sent[i]), absl::Microseconds(1));
  }
}

}  // namespace
}  // namespace probe
}  // namespace cascade
