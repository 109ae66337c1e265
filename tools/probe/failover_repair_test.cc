// A primary that falls silent mid-stream: the site moves to the standby and
// NACKs exactly the outage, on simulated time (testing/fake_timers.h) and
// over real sockets through the probe's own loop; and a parent whose port
// closed is left without waiting for the timeout.

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "media/rtp/seq.h"
#include "testing/fake_timers.h"
#include "tools/probe/probe.h"
#include "tools/probe/site.h"
#include "tools/probe/site_test_support.h"

namespace cascade {
namespace probe {
namespace {

// The primary dies 300 ms into a 900 ms stream of a packet every
// `packet_interval`; the standby, holding the same stream, takes over.
class SimulatedFailoverTest : public SimulatedSiteTest {
 protected:
  void SilentPrimaryStandbyTakesOver(absl::Duration packet_interval);
};

void SimulatedFailoverTest::SilentPrimaryStandbyTakesOver(
    absl::Duration packet_interval) {
  constexpr absl::Duration kTimeout = absl::Milliseconds(300);
  const absl::Duration kDies = absl::Milliseconds(300);
  const absl::Duration kStreamEnds = absl::Milliseconds(900);
  FakeParent& primary = primary_;
  FakeParent& standby = standby_;
  FakeTimers& timers = timers_;
  const absl::Time t0 = kT0;
  const SiteOptions options = ChildOf({primary.link(), standby.link()});
  ASSERT_EQ(options.parent_timeout, kTimeout);
  // The stream as both parents hold it, for retransmission.
  absl::flat_hash_map<uint16_t, std::vector<uint8_t>> ring;
  uint16_t next_seq = 65400;  // the outage wraps round 65535
  int64_t generated = 0;
  std::vector<uint16_t> sent_by_primary;
  absl::Time primary_last_at;
  std::optional<uint16_t> standby_first_live;
  std::optional<absl::Time> switched;
  size_t nacks_answered = 0;
  bool stale_sent = false;
  Start(options, [&] {
    if (!switched.has_value() && !standby.activations.empty()) {
      switched = standby.activations.front();
      // Like relayd's keyframe cache: packets the site already has.
      for (size_t i = sent_by_primary.size() - 5; i < sent_by_primary.size();
           ++i) {
        standby.Send(ring[sent_by_primary[i]]);
      }
    }
    for (; nacks_answered < standby.nacked.size(); ++nacks_answered) {
      standby.Send(ring[standby.nacked[nacks_answered]]);
    }
    // The primary was only cut off: after the switch it sends again.
    if (switched.has_value() && Elapsed() >= absl::Milliseconds(700) &&
        !stale_sent) {
      for (int i = 0; i < 10; ++i) primary.Send(MediaPacket(1000 + i));
      stale_sent = true;
    }
  });
  // From the first tick, when the site activates the primary.
  FakeTimers::TimerId stream = 0;
  stream = timers.Every(t0, packet_interval, [&] {
    if (Elapsed() >= kStreamEnds) {
      timers.Cancel(stream);
      return;
    }
    const uint16_t seq = next_seq++;
    ++generated;
    const std::vector<uint8_t>& packet = ring[seq] = MediaPacket(seq);
    if (Elapsed() < kDies) {
      primary.Send(packet);
      sent_by_primary.push_back(seq);
      primary_last_at = clock_.Now();
    } else if (!standby.activations.empty()) {
      standby.Send(packet);
      if (!standby_first_live.has_value()) standby_first_live = seq;
    }
  });
  // Relays send each child an SR every 100 ms, media or not.
  timers.Every(t0 + absl::Milliseconds(100), absl::Milliseconds(100), [&] {
    if (Elapsed() < kDies) primary.Send(SenderReport());
    if (!standby.activations.empty()) standby.Send(SenderReport());
  });
  ASSERT_TRUE(timers.RunUntil(t0 + absl::Milliseconds(1300)));
  Finish();

  ASSERT_EQ(primary.activations.size(), 1u);
  EXPECT_EQ(primary.activations[0], t0) << "the stream started with it";
  ASSERT_TRUE(switched.has_value());
  ASSERT_FALSE(sent_by_primary.empty());
  ASSERT_TRUE(standby_first_live.has_value());
  ASSERT_TRUE(stale_sent);
  const Site& site = *site_;
  const SiteReport c = site.Report();
  EXPECT_EQ(c.parent_switches, 1);
  EXPECT_EQ(site.active_parent_index(), 1u);
  EXPECT_EQ(site.active_parent()->address, standby.link().address);
  // A timeout after the primary was last heard, at the first tick.
  EXPECT_GE(*switched - primary_last_at, kTimeout);
  EXPECT_LT(*switched - primary_last_at, kTimeout + kTick);
  // One valid activation at each parent, no deactivation at the dead one.
  EXPECT_EQ(standby.activations.size(), 1u);
  EXPECT_EQ(primary.invalid_activations + standby.invalid_activations, 0);
  EXPECT_EQ(primary.deactivations, 0);
  EXPECT_EQ(standby.deactivations, 1);
  // Keepalives stop at the dead parent.
  EXPECT_EQ(primary.ReportsAfter(*switched), 0);
  EXPECT_GE(standby.receiver_reports.size(), 2u);
  // Exactly the outage was asked for, of the standby, and nothing else: the
  // packets sent from the primary's death until the standby took over.
  std::vector<uint16_t> missing;
  for (uint16_t seq = sent_by_primary.back() + 1; seq != *standby_first_live;
       ++seq) {
    missing.push_back(seq);
  }
  ASSERT_EQ(static_cast<int64_t>(missing.size()),
            (*switched - (t0 + kDies)) / packet_interval);
  std::vector<uint16_t> nacked = standby.nacked;
  std::sort(nacked.begin(), nacked.end(), rtp::SeqLess());
  nacked.erase(std::unique(nacked.begin(), nacked.end()), nacked.end());
  EXPECT_EQ(nacked, missing);
  EXPECT_TRUE(primary.nacked.empty());
  // Nothing lost; the cached packets and any answer to a repeated NACK are
  // duplicates, counted once; the stale parent's packets are dropped.
  const int64_t repeats = c.nacks_sent - static_cast<int64_t>(missing.size());
  EXPECT_GE(repeats, 0);
  EXPECT_LT(repeats, static_cast<int64_t>(missing.size()));
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.nacks_given_up, 0);
  EXPECT_EQ(c.duplicates, 5 + repeats);
  EXPECT_EQ(c.packets, generated + c.duplicates);
  EXPECT_EQ(c.stale_parent_packets, 10);
  EXPECT_EQ(c.plis_sent, 0);
  // The stall: at least the timeout; at most that, a tick to notice it, the
  // reordering wait and a tick to ask for the gap (answered at once).
  std::cout << "longest gap " << c.longest_gap << ", " << missing.size()
            << " packets repaired, " << c.nacks_sent << " NACKed\n";
  EXPECT_GE(c.longest_gap, kTimeout);
  EXPECT_LE(c.longest_gap, kTimeout + 2 * kTick + options.nack.reorder_wait);
}

TEST_F(SimulatedFailoverTest, SilentPrimaryStandbyTakesOverAndRepairsTheGap) {
  SilentPrimaryStandbyTakesOver(absl::Milliseconds(2));  // 150 missing
}

TEST_F(SimulatedFailoverTest, FailoverSizedGapOfTwoThousandPacketsIsRepaired) {
  SilentPrimaryStandbyTakesOver(absl::Microseconds(150));  // 2,000
}

TEST_F(SimulatedFailoverTest, QuietParentBelowTheTimeoutKeepsItsChild) {
  Start(ChildOf({primary_.link(), standby_.link()}));
  // Media (a packet every 2 ms, no sequence gap) in [0,200), [350,550) and
  // [1050,1250) ms; nothing at all in [200,350); only SRs (every 100 ms) in
  // [550,1050).
  const auto media_at = [](absl::Duration t) {
    return (t < absl::Milliseconds(200)) ||
           (t >= absl::Milliseconds(350) && t < absl::Milliseconds(550)) ||
           (t >= absl::Milliseconds(1050) && t < absl::Milliseconds(1250));
  };
  uint16_t seq = 65400;
  int64_t sent = 0;
  timers_.Every(kT0, absl::Milliseconds(2), [&] {
    if (!media_at(Elapsed())) return;
    primary_.Send(MediaPacket(seq++));
    ++sent;
  });
  timers_.Every(kT0 + absl::Milliseconds(550), absl::Milliseconds(100), [&] {
    if (Elapsed() < absl::Milliseconds(1050)) primary_.Send(SenderReport());
  });
  // The probe's intervals see each stall in the one it ended in.
  ASSERT_TRUE(timers_.RunUntil(kT0 + absl::Milliseconds(400)));
  EXPECT_GE(gap_, absl::Milliseconds(150));
  EXPECT_LE(gap_, absl::Milliseconds(152));
  gap_ = absl::ZeroDuration();
  ASSERT_TRUE(timers_.RunUntil(kT0 + absl::Milliseconds(1000)));
  EXPECT_LE(gap_, absl::Milliseconds(2));
  ASSERT_TRUE(timers_.RunUntil(kT0 + absl::Milliseconds(1500)));
  EXPECT_EQ(gap_, absl::Milliseconds(1050 - 548));
  Finish();
  const SiteReport c = site_->Report();
  ASSERT_EQ(sent, 300);
  EXPECT_EQ(c.parent_switches, 0);
  EXPECT_EQ(site_->active_parent_index(), 0u);
  EXPECT_EQ(standby_.datagrams(), 0);
  EXPECT_EQ(c.packets, sent);
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.nacks_sent, 0);
  // The SR-only half second is the longest stall the site saw: from the
  // last packet before it (548 ms) to the first after (1,050 ms).
  EXPECT_EQ(c.longest_gap, absl::Milliseconds(1050 - 548));
}

// The failover over real sockets through the probe's own loop: the primary
// sends part of a stream and falls silent; the site moves to the standby,
// which has the rest, and asks it for exactly what it missed. Waits for
// events, never for time: how long each step takes is
// SimulatedFailoverTest's.
TEST(ProbeTest, SilentPrimaryStandbyTakesOverAndEveryPacketArrives) {
  FakeParent primary("key-a");
  FakeParent standby("key-b");
  auto probe = Probe::Create({ChildOf({primary.link(), standby.link()})});
  ASSERT_TRUE(probe.ok()) << probe.status();
  std::thread run([&] { (*probe)->Run(kPatience, absl::Seconds(1), nullptr); });
  // The stream, held by both parents: 100 packets from the primary, 150 that
  // nobody sends (the outage), 100 live from the standby. It wraps round
  // 65535.
  absl::flat_hash_map<uint16_t, std::vector<uint8_t>> ring;
  const uint16_t first = 65400;
  for (int i = 0; i < 350; ++i) {
    const uint16_t seq = static_cast<uint16_t>(first + i);
    ring[seq] = MediaPacket(seq);
  }
  const uint16_t first_outage = static_cast<uint16_t>(first + 100);
  const uint16_t first_live = static_cast<uint16_t>(first + 250);
  const uint16_t last = static_cast<uint16_t>(first + 349);
  const auto step = [&] {
    WaitForParents(primary, standby);
    const absl::Time now = absl::Now();
    primary.Poll(now);
    standby.Poll(now);
  };
  const absl::Time deadline = absl::Now() + kPatience;
  // Up to the standby's activation: the primary streams, then is silent.
  bool primary_sent = false;
  while (absl::Now() < deadline && standby.activations.empty()) {
    step();
    if (!primary_sent && !primary.activations.empty()) {
      for (uint16_t seq = first; seq != first_outage; ++seq) {
        primary.Send(ring[seq]);
      }
      primary_sent = true;
    }
  }
  // No ASSERT while the probe runs: its thread must be joined.
  EXPECT_TRUE(primary_sent);
  EXPECT_FALSE(standby.activations.empty()) << "no failover";
  // The standby answers with its cache (packets the site already has) and
  // the live stream; the primary was only cut off and sends again (stale).
  for (uint16_t seq = first_outage - 5; seq != first_outage; ++seq) {
    standby.Send(ring[seq]);
  }
  standby.Send(SenderReport());
  for (int i = 0; i < 10; ++i) primary.Send(MediaPacket(1000 + i));
  for (uint16_t seq = first_live; seq != static_cast<uint16_t>(last + 1);
       ++seq) {
    standby.Send(ring[seq]);
  }
  // Answers NACKs (and sends an SR now and then, as a relay does) until a
  // report says every packet is there.
  const uint32_t last_extended = 65536 + last;
  size_t answered = 0;
  int wakeups = 0;
  while (absl::Now() < deadline &&
         !(standby.last_highest == last_extended && standby.last_lost == 0)) {
    step();
    for (; answered < standby.nacked.size(); ++answered) {
      standby.Send(ring[standby.nacked[answered]]);
    }
    if (++wakeups % 10 == 0) standby.Send(SenderReport());
  }
  (*probe)->Stop();
  run.join();
  step();  // the leave was sent before Run returned
  EXPECT_EQ(standby.last_highest, last_extended);
  const Totals totals = (*probe)->Final();
  const SiteReport& c = totals.counters;
  EXPECT_EQ(c.parent_switches, 1);
  EXPECT_EQ(totals.sites_on_standby, 1);
  EXPECT_EQ((*probe)->sites()[0]->active_parent()->address,
            standby.link().address);
  EXPECT_EQ(primary.activations.size(), 1u);
  EXPECT_EQ(standby.activations.size(), 1u);
  EXPECT_EQ(primary.invalid_activations + standby.invalid_activations, 0);
  EXPECT_EQ(primary.deactivations, 0);
  EXPECT_EQ(standby.deactivations, 1);
  // Exactly the outage was asked for, of the standby.
  std::vector<uint16_t> missing;
  for (uint16_t seq = first_outage; seq != first_live; ++seq) {
    missing.push_back(seq);
  }
  std::vector<uint16_t> nacked = standby.nacked;
  std::sort(nacked.begin(), nacked.end(), rtp::SeqLess());
  nacked.erase(std::unique(nacked.begin(), nacked.end()), nacked.end());
  EXPECT_EQ(nacked, missing);
  EXPECT_TRUE(primary.nacked.empty());
  // Every packet, each counted once; the cached ones and answers to repeated
  // NACKs are duplicates (an answer still in flight at the stop is not
  // read); the stale ones dropped.
  const int64_t repeats = c.nacks_sent - static_cast<int64_t>(missing.size());
  EXPECT_GE(repeats, 0);
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.packets - c.duplicates, 350);
  EXPECT_GE(c.duplicates, 5);
  EXPECT_LE(c.duplicates, 5 + repeats);
  EXPECT_EQ(c.stale_parent_packets, 10);
  EXPECT_EQ(c.plis_sent, 0);
}

// A parent whose socket closes (its process died) is left long before its
// timeout, here a minute: the site's keepalive, sent when the parent fell
// quiet, comes back as ICMP port unreachable.
TEST(ProbeTest, ParentWhosePortClosedIsLeftWithoutWaitingForTheTimeout) {
  auto primary = std::make_unique<FakeParent>("key-a");
  FakeParent standby("key-b");
  SiteOptions options = ChildOf({primary->link(), standby.link()});
  options.parent_timeout = absl::Minutes(1);
  auto probe = Probe::Create({options});
  ASSERT_TRUE(probe.ok()) << probe.status();
  std::thread run([&] { (*probe)->Run(kPatience, absl::Seconds(1), nullptr); });
  const absl::Time deadline = absl::Now() + kPatience;
  while (absl::Now() < deadline && primary->activations.empty()) {
    WaitForParents(*primary, standby);
    primary->Poll(absl::Now());
  }
  primary->Send(MediaPacket(1));
  primary.reset();  // the port closes
  while (absl::Now() < deadline && standby.activations.empty()) {
    pollfd fd{standby.fd(), POLLIN, 0};
    poll(&fd, 1, 5);
    standby.Poll(absl::Now());
  }
  (*probe)->Stop();
  run.join();
  EXPECT_EQ(standby.activations.size(), 1u) << "still on the closed port";
  EXPECT_EQ((*probe)->Final().counters.parent_switches, 1);
}

}  // namespace
}  // namespace probe
}  // namespace cascade
