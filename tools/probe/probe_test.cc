// relay-source and relay-probe engines in one process over real loopback
// sockets, with a forwarder in between that can drop chosen packets.

#include "tools/probe/probe.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "relay/rtp/activation.h"
#include "relay/rtp/demux.h"
#include "relay/rtp/rtcp.h"
#include "relay/rtp/rtp.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"
#include "tools/source/source.h"

namespace cascade {
namespace probe {
namespace {

relay::Endpoint Loopback() { return *relay::Endpoint::Parse("127.0.0.1:0"); }

source::SourceOptions SmallSource(const relay::Endpoint& dest) {
  source::SourceOptions options;
  options.dest = dest;
  options.bind = Loopback();
  options.video.width = 320;
  options.video.height = 240;
  options.video.frame_rate = 30;
  options.video.gop = 60;
  options.video.bitrate_kbps = 500;
  options.duration = absl::Seconds(2);
  return options;
}

// Sits between source and probe: media one way, RTCP the other. Drops the
// first copy of video packets for which `drop_first` says so, and every copy
// for which `drop_always` does.
class Forwarder {
 public:
  Forwarder(std::function<bool(uint16_t seq)> drop_first,
            std::function<bool(uint16_t seq)> drop_always)
      : drop_first_(std::move(drop_first)),
        drop_always_(std::move(drop_always)),
        socket_(*media::UdpFd::Open(Loopback())) {}

  const relay::Endpoint& local() const { return socket_.local(); }

  void Start(const relay::Endpoint& probe) {
    probe_ = probe;
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    stop_.store(true);
    thread_.join();
  }
  int dropped() const { return dropped_; }

 private:
  void Loop() {
    media::Receiver receiver;
    std::vector<media::Receiver::Datagram> datagrams;
    while (!stop_.load()) {
      pollfd fds{socket_.fd(), POLLIN, 0};
      if (poll(&fds, 1, 5) <= 0) continue;
      receiver.Receive(socket_.fd(), &datagrams);
      for (const auto& d : datagrams) {
        if (d.from == probe_) {
          if (source_.has_value()) socket_.SendTo(*source_, d.data);
          continue;
        }
        source_ = d.from;
        rtp::RtpView view;
        if (rtp::Classify(d.data) == rtp::PacketKind::kRtp &&
            rtp::ParseRtp(d.data, &view) == rtp::RtpError::kOk &&
            view.payload_type == 96) {
          const uint16_t seq = view.sequence_number;
          const bool first = seen_.insert(seq).second;
          if (drop_always_(seq) || (first && drop_first_(seq))) {
            ++dropped_;
            continue;
          }
        }
        socket_.SendTo(probe_, d.data);
      }
    }
  }

  std::function<bool(uint16_t)> drop_first_;
  std::function<bool(uint16_t)> drop_always_;
  media::UdpFd socket_;
  relay::Endpoint probe_;
  std::optional<relay::Endpoint> source_;
  absl::flat_hash_set<uint16_t> seen_;
  int dropped_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct RunResult {
  source::SourceStats source;
  Totals probe;
  // What came back to the source upstream, by SSRC.
  std::map<uint32_t, source::UpstreamCounter::Stream> upstream;
};

// Runs the source for its duration and the probe a little longer.
RunResult RunPair(const source::SourceOptions& source_options, Probe* probe) {
  auto source = source::Source::Create(source_options);
  EXPECT_TRUE(source.ok()) << source.status();
  std::thread probe_thread([probe, &source_options] {
    probe->Run(source_options.duration + absl::Milliseconds(700),
               absl::Seconds(1), nullptr);
  });
  EXPECT_TRUE((*source)->Run().ok());
  probe_thread.join();
  return RunResult{(*source)->stats(), probe->Final(),
                   (*source)->upstream().streams()};
}

std::unique_ptr<Probe> OneSite() {
  SiteOptions site;
  site.listen = Loopback();
  auto probe = Probe::Create({site});
  EXPECT_TRUE(probe.ok()) << probe.status();
  return std::move(*probe);
}

TEST(SourceToProbeTest, EveryFrameDecodedInOrderWithLatency) {
  auto probe = OneSite();
  const RunResult r =
      RunPair(SmallSource(probe->sites()[0]->local()), probe.get());
  ASSERT_GE(r.source.frames, 55);
  const SiteReport& c = r.probe.counters;
  EXPECT_EQ(c.streams, 2);  // video and audio
  EXPECT_EQ(c.packets, r.source.video_packets + r.source.audio_packets);
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.decode_errors, 0);
  EXPECT_EQ(c.frames_decoded, r.source.frames);
  ASSERT_TRUE(c.last_pattern_frame.has_value());
  EXPECT_EQ(*c.last_pattern_frame, r.source.frames - 1);
  EXPECT_EQ(r.probe.latency_samples, static_cast<size_t>(r.source.frames));
  EXPECT_GT(r.probe.latency_p50, absl::ZeroDuration());
  EXPECT_LT(r.probe.latency_p50, absl::Milliseconds(100));
  ASSERT_TRUE(c.first_frame.has_value());
  EXPECT_TRUE(c.freezes.empty());
}

// A site joined to a relay (the forwarder) above the source sends its own
// stream upstream: the source counts it and measures its latency.
TEST(SourceToProbeTest, UpstreamReachesTheSourceWithLatency) {
  Forwarder relay([](uint16_t) { return false; },
                  [](uint16_t) { return false; });
  SiteOptions site;
  site.listen = Loopback();
  site.decode = false;
  site.parents = {ParentLink{"", relay.local(), "site-key"}};
  site.node_id = "site-7";
  site.upstream_ssrc = 0x5eed;
  auto probe = Probe::Create({site});
  ASSERT_TRUE(probe.ok()) << probe.status();
  relay.Start((*probe)->sites()[0]->local());
  const absl::Time start = absl::Now();
  const RunResult r = RunPair(SmallSource(relay.local()), probe->get());
  relay.Stop();
  ASSERT_EQ(r.upstream.size(), 1u);
  const source::UpstreamCounter::Stream& up = r.upstream.at(0x5eed);
  // 20 packets a second from the first media until the source's end, 2 s
  // later; the site goes on after the source stopped reading.
  EXPECT_GE(up.packets, 25);
  EXPECT_LE(up.packets, 41);
  EXPECT_GT(r.probe.counters.upstream_sent, up.packets);
  EXPECT_EQ(up.bytes, 200 * up.packets);
  EXPECT_GT(up.first_arrival, start);
  EXPECT_EQ(up.without_send_time, 0);
  EXPECT_EQ(up.latency.count(), static_cast<size_t>(up.packets));
  EXPECT_GT(up.latency.Percentile(0.5), absl::ZeroDuration());
  EXPECT_LT(up.latency.Percentile(0.5), absl::Milliseconds(100));
  EXPECT_EQ(r.source.bad_packets, 0);
  // The downstream stream is untouched.
  EXPECT_EQ(r.probe.counters.lost, 0);
}

TEST(SourceToProbeTest, NackRepairsEveryDroppedPacket) {
  auto probe = OneSite();
  // Only the first drops: a packet lost at the very end of the stream has
  // no successor to reveal the gap, so no receiver could ask for it. Nor
  // does one lost at the very start (the sequence numbers start anywhere):
  // the first five packets always get through.
  int first_copies_seen = 0;
  int first_copies_dropped = 0;
  Forwarder forwarder(
      [&](uint16_t seq) {
        return ++first_copies_seen > 5 && seq % 15 == 0 &&
               first_copies_dropped++ < 4;
      },
      [](uint16_t) { return false; });
  forwarder.Start(probe->sites()[0]->local());
  const RunResult r = RunPair(SmallSource(forwarder.local()), probe.get());
  forwarder.Stop();
  ASSERT_GT(forwarder.dropped(), 2);
  const SiteReport& c = r.probe.counters;
  EXPECT_GE(c.nacks_sent, forwarder.dropped());
  EXPECT_GE(r.source.retransmissions, forwarder.dropped());
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.decode_errors, 0);
  EXPECT_EQ(c.frames_dropped, 0);
  EXPECT_EQ(c.frames_decoded, r.source.frames);
}

TEST(SourceToProbeTest, UnrepairableLossAsksForAKeyframeAndRecovers) {
  auto probe = OneSite();
  // One video packet, well into the stream, never gets through.
  std::atomic<int> victim{-1};
  std::atomic<int> video_packets{0};
  Forwarder forwarder([](uint16_t) { return false; },
                      [&](uint16_t seq) {
                        if (victim.load() < 0 && ++video_packets == 40)
                          victim.store(seq);
                        return seq == victim.load();
                      });
  forwarder.Start(probe->sites()[0]->local());
  const RunResult r = RunPair(SmallSource(forwarder.local()), probe.get());
  forwarder.Stop();
  const SiteReport& c = r.probe.counters;
  EXPECT_EQ(c.lost, 1);
  EXPECT_GE(c.frames_dropped, 1);
  EXPECT_GE(c.plis_sent, 1);
  EXPECT_GE(r.source.forced_keyframes, 1);
  EXPECT_EQ(c.decode_errors, 0);
  // Pictures resume after the keyframe: most frames still shown, and the
  // last one is the last sent.
  EXPECT_GE(c.frames_decoded, r.source.frames / 2);
  EXPECT_LT(c.frames_decoded, r.source.frames);
  ASSERT_TRUE(c.last_pattern_frame.has_value());
  EXPECT_EQ(*c.last_pattern_frame, r.source.frames - 1);
  EXPECT_FALSE(c.freezes.empty());
}

constexpr uint32_t kStreamSsrc = 0x5151;

// An RTP packet of a non-video stream (counted, not decoded).
std::vector<uint8_t> MediaPacket(uint16_t seq) {
  uint8_t packet[64];
  rtp::RtpHeader header;
  header.payload_type = 111;
  header.sequence_number = seq;
  header.timestamp = seq * 960u;
  header.ssrc = kStreamSsrc;
  const uint8_t payload[] = {1, 2, 3};
  const size_t size =
      rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  return std::vector<uint8_t>(packet, packet + size);
}

std::vector<uint8_t> SenderReport() {
  uint8_t packet[64];
  const size_t size = rtp::BuildSenderReport(0x7777, rtp::SenderInfo(), {},
                                             absl::MakeSpan(packet));
  return std::vector<uint8_t>(packet, packet + size);
}

// A parent relay as a child sees it, on a loopback socket: checks the
// child's activations with its key and node id, and records its receiver
// reports and NACKs with their arrival times.
class FakeParent : public rtp::RtcpVisitor {
 public:
  explicit FakeParent(std::string key)
      : key_(std::move(key)), socket_(*media::UdpFd::Open(Loopback())) {}

  ParentLink link() const { return ParentLink{"", socket_.local(), key_}; }
  int fd() const { return socket_.fd(); }
  void Send(absl::Span<const uint8_t> data) const {
    if (child_.has_value()) socket_.SendTo(*child_, data);
  }

  // Reads everything waiting, as arrived at `now`.
  void Poll(absl::Time now) {
    now_ = now;
    std::vector<media::Receiver::Datagram> datagrams;
    while (receiver_.Receive(socket_.fd(), &datagrams) > 0) {
      for (const auto& d : datagrams) {
        ++datagrams_;
        from_ = d.from;
        if (rtp::Classify(d.data) == rtp::PacketKind::kRtp) {
          upstream.emplace_back(d.data.begin(), d.data.end());
          continue;
        }
        EXPECT_EQ(rtp::ParseRtcpCompound(d.data, this), rtp::RtcpError::kOk);
      }
    }
  }

  void OnApp(const rtp::AppView& app) override {
    rtp::ActivationRequest request;
    if (rtp::VerifyActivation(
            app,
            absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key_.data()),
                                key_.size()),
            &request) != rtp::ActivationResult::kOk ||
        request.node_id != "site-7") {
      ++invalid_activations;
      return;
    }
    if (request.kind == rtp::ActivationKind::kActivate) {
      activations.push_back(now_);
      child_ = from_;
    } else {
      ++deactivations;
    }
  }
  void OnReceiverReport(const rtp::ReceiverReportView& rr) override {
    receiver_reports.push_back(now_);
    for (size_t i = 0; i < rr.blocks.size(); ++i) {
      if (rr.blocks[i].ssrc == kStreamSsrc)
        last_highest = rr.blocks[i].extended_highest_sequence;
    }
  }
  void OnNack(const rtp::NackView& nack) override {
    nack.ForEachSequenceNumber([this](uint16_t seq) { nacked.push_back(seq); });
  }

  const std::optional<relay::Endpoint>& child() const { return child_; }
  int datagrams() const { return datagrams_; }
  int ReportsAfter(absl::Time t) const {
    return static_cast<int>(std::count_if(receiver_reports.begin(),
                                          receiver_reports.end(),
                                          [t](absl::Time r) { return r > t; }));
  }

  std::vector<absl::Time> activations;  // valid ones, by arrival
  int invalid_activations = 0;
  int deactivations = 0;
  std::vector<absl::Time> receiver_reports;
  uint32_t last_highest = 0;
  std::vector<uint16_t> nacked;
  std::vector<std::vector<uint8_t>> upstream;  // RTP from the child

 private:
  std::string key_;
  media::UdpFd socket_;
  media::Receiver receiver_;
  std::optional<relay::Endpoint> child_;
  relay::Endpoint from_;
  absl::Time now_;
  int datagrams_ = 0;
};

// Waits up to 5 ms for either parent's socket to be readable.
void WaitForParents(const FakeParent& a, const FakeParent& b) {
  pollfd fds[2] = {{a.fd(), POLLIN, 0}, {b.fd(), POLLIN, 0}};
  poll(fds, 2, 5);
}

SiteOptions ChildOf(std::vector<ParentLink> parents) {
  SiteOptions site;
  site.listen = Loopback();
  site.decode = false;
  site.parents = std::move(parents);
  site.node_id = "site-7";
  return site;
}

// Runs one child site for 600 ms against a parent that, when `answer` is
// set, streams a packet every few milliseconds once activated.
FakeParent RunChild(bool answer, Totals* totals) {
  FakeParent parent("site-key");
  FakeParent unused("other-key");
  SiteOptions site = ChildOf({parent.link()});
  site.keepalive_interval = absl::Milliseconds(50);
  site.activation_retry = absl::Milliseconds(100);
  auto probe = Probe::Create({site});
  EXPECT_TRUE(probe.ok());
  std::thread run([&] {
    (*probe)->Run(absl::Milliseconds(600), absl::Seconds(1), nullptr);
  });
  uint16_t seq = 100;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline && parent.deactivations == 0) {
    WaitForParents(parent, unused);
    parent.Poll(absl::Now());
    if (answer && !parent.activations.empty()) parent.Send(MediaPacket(seq++));
  }
  run.join();
  EXPECT_EQ(parent.child(), (*probe)->sites()[0]->local());
  EXPECT_EQ(parent.invalid_activations, 0);
  *totals = (*probe)->Final();
  return parent;
}

TEST(ProbeTest, ChildActivatesOnceWhileMediaFlowsKeepsAliveAndLeaves) {
  Totals totals;
  const FakeParent seen = RunChild(/*answer=*/true, &totals);
  EXPECT_EQ(seen.activations.size(), 1u);
  EXPECT_EQ(seen.deactivations, 1);
  EXPECT_GE(seen.receiver_reports.size(), 5u);
  // RRs report the stream's progress.
  EXPECT_GT(seen.last_highest, 110u);
  EXPECT_GT(totals.counters.packets, 10);
  EXPECT_EQ(totals.counters.lost, 0);
  EXPECT_EQ(totals.counters.parent_switches, 0);
}

TEST(ProbeTest, ChildActivatesAgainWhileTheParentIsSilent) {
  Totals totals;
  const FakeParent seen = RunChild(/*answer=*/false, &totals);
  EXPECT_GE(seen.activations.size(), 4u);  // every 100 ms for 600 ms
  EXPECT_LE(seen.activations.size(), 7u);
  EXPECT_EQ(seen.deactivations, 1);
  EXPECT_EQ(totals.counters.packets, 0);
}

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
  auto site = MakeSite({primary_.link(), standby_.link()});
  const relay::Endpoint primary = primary_.link().address;
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
  const relay::Endpoint primary = primary_.link().address;
  const relay::Endpoint standby = standby_.link().address;
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
  const relay::Endpoint primary = primary_.link().address;
  const relay::Endpoint standby = standby_.link().address;
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
  const relay::Endpoint primary = primary_.link().address;
  const relay::Endpoint standby = standby_.link().address;
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

// A stream of one packet every `packet_interval`, as the parents of a site
// relay it: both hold it, the active one sends it. The driver runs the
// parents' side in the test thread while the probe runs in its own.
class FailoverScenario {
 public:
  explicit FailoverScenario(
      absl::Duration packet_interval = absl::Milliseconds(2))
      : primary("key-a"), standby("key-b"), interval_(packet_interval) {}

  // Runs the probe for `run` while `step(t)` (t: time since the stream
  // started, i.e. since the primary's first activation) drives the parents;
  // returns the probe's totals.
  Totals Run(absl::Duration run,
             const std::function<void(absl::Duration t)>& step) {
    auto probe = Probe::Create({ChildOf({primary.link(), standby.link()})});
    EXPECT_TRUE(probe.ok()) << probe.status();
    std::atomic<bool> done{false};
    std::thread thread([&] {
      (*probe)->Run(run, absl::Seconds(10), nullptr);
      done.store(true);
    });
    const absl::Time deadline = absl::Now() + run + absl::Seconds(5);
    while (!done.load() && absl::Now() < deadline) {
      WaitForParents(primary, standby);
      const absl::Time now = absl::Now();
      // The primary first: what the site sent it before switching is read
      // before the standby hears of the switch.
      primary.Poll(now);
      standby.Poll(now);
      if (!stream_start_.has_value() && !primary.activations.empty()) {
        stream_start_ = primary.activations.front();
      }
      if (stream_start_.has_value()) step(now - *stream_start_);
    }
    thread.join();
    primary.Poll(absl::Now());
    standby.Poll(absl::Now());
    probe_ = std::move(*probe);
    return probe_->Final();
  }

  // The next packet of the stream, held for retransmission.
  const std::vector<uint8_t>& NextPacket() {
    const uint16_t seq = next_seq_++;
    return ring[seq] = MediaPacket(seq);
  }
  // Due packets so far at time t (one per interval since the start).
  int64_t PacketsDue(absl::Duration t) const { return t / interval_ + 1; }
  absl::Duration interval() const { return interval_; }

  const Site& site() const { return *probe_->sites()[0]; }

  FakeParent primary;
  FakeParent standby;
  absl::flat_hash_map<uint16_t, std::vector<uint8_t>> ring;

 private:
  const absl::Duration interval_;
  std::unique_ptr<Probe> probe_;
  std::optional<absl::Time> stream_start_;
  uint16_t next_seq_ = 65400;  // the outage gap wraps round 65535
};

// The primary dies 300 ms into a 900 ms stream; the standby takes over.
void SilentPrimaryStandbyTakesOver(absl::Duration packet_interval) {
  FailoverScenario scenario(packet_interval);
  FakeParent& primary = scenario.primary;
  FakeParent& standby = scenario.standby;
  // Sequence numbers as the parents sent them.
  std::optional<uint16_t> primary_last;
  std::optional<uint16_t> standby_first_live;
  std::vector<uint16_t> sent_by_primary;
  int64_t generated = 0;
  int64_t srs = 0;
  size_t nacks_answered = 0;
  std::optional<absl::Time> switched;
  bool stale_sent = false;
  const Totals totals =
      scenario.Run(absl::Milliseconds(1300), [&](absl::Duration t) {
        // The stream: 900 ms of packets; the primary dies at 300 ms.
        const int64_t due = std::min<int64_t>(
            scenario.PacketsDue(t), absl::Milliseconds(900) / packet_interval);
        while (generated < due) {
          const absl::Duration sent_at = generated * packet_interval;
          const std::vector<uint8_t>& packet = scenario.NextPacket();
          const uint16_t seq = static_cast<uint16_t>(65400 + generated);
          ++generated;
          if (sent_at < absl::Milliseconds(300)) {
            primary.Send(packet);
            primary_last = seq;
            sent_by_primary.push_back(seq);
          } else if (!standby.activations.empty()) {
            standby.Send(packet);
            if (!standby_first_live.has_value()) standby_first_live = seq;
          }
        }
        // Relays send each child an SR every 100 ms, media or not.
        while (srs * 100 < absl::ToInt64Milliseconds(t)) {
          if (t < absl::Milliseconds(300)) primary.Send(SenderReport());
          if (!standby.activations.empty()) standby.Send(SenderReport());
          ++srs;
        }
        if (!switched.has_value() && !standby.activations.empty()) {
          switched = standby.activations.front();
          // Like relayd's keyframe cache: packets the site already has.
          for (size_t i = sent_by_primary.size() - 5;
               i < sent_by_primary.size(); ++i) {
            standby.Send(scenario.ring[sent_by_primary[i]]);
          }
        }
        for (; nacks_answered < standby.nacked.size(); ++nacks_answered) {
          standby.Send(scenario.ring[standby.nacked[nacks_answered]]);
        }
        // The primary was only cut off: after the switch it sends again.
        if (switched.has_value() && t >= absl::Milliseconds(700) &&
            !stale_sent) {
          for (int i = 0; i < 10; ++i) primary.Send(MediaPacket(1000 + i));
          stale_sent = true;
        }
      });
  ASSERT_TRUE(switched.has_value());
  ASSERT_TRUE(primary_last.has_value());
  ASSERT_TRUE(standby_first_live.has_value());
  ASSERT_TRUE(stale_sent);
  const SiteReport& c = totals.counters;
  EXPECT_EQ(c.parent_switches, 1);
  EXPECT_EQ(totals.sites_on_standby, 1);
  EXPECT_EQ(scenario.site().active_parent()->address, standby.link().address);
  // One valid activation at each parent, no deactivation at the dead one.
  EXPECT_EQ(primary.activations.size(), 1u);
  EXPECT_EQ(standby.activations.size(), 1u);
  EXPECT_EQ(primary.invalid_activations + standby.invalid_activations, 0);
  EXPECT_EQ(primary.deactivations, 0);
  EXPECT_EQ(standby.deactivations, 1);
  // Keepalives stop at the dead parent.
  EXPECT_EQ(primary.ReportsAfter(*switched + absl::Milliseconds(20)), 0);
  EXPECT_GE(standby.receiver_reports.size(), 2u);
  // Exactly the outage was asked for, of the standby, and nothing else.
  std::vector<uint16_t> missing;
  for (uint16_t seq = *primary_last + 1; seq != *standby_first_live; ++seq) {
    missing.push_back(seq);
  }
  // At least the 300 ms of the timeout.
  ASSERT_GE(static_cast<double>(missing.size()),
            0.95 * (absl::Milliseconds(300) / packet_interval));
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
  EXPECT_EQ(c.duplicates, 5 + repeats);
  EXPECT_EQ(c.packets, generated + c.duplicates);
  EXPECT_EQ(c.stale_parent_packets, 10);
  EXPECT_EQ(c.plis_sent, 0);
  // The stall: the timeout plus the time to switch and repair.
  std::cout << "longest gap " << c.longest_gap << ", " << missing.size()
            << " packets repaired, " << c.nacks_sent << " NACKed\n";
  EXPECT_GE(c.longest_gap, absl::Milliseconds(295));
  EXPECT_LT(c.longest_gap, absl::Milliseconds(700));
}

TEST(FailoverTest, SilentPrimaryStandbyTakesOverAndRepairsTheGap) {
  SilentPrimaryStandbyTakesOver(absl::Milliseconds(2));  // ~150 missing
}

TEST(FailoverTest, FailoverSizedGapOfTwoThousandPacketsIsRepaired) {
  SilentPrimaryStandbyTakesOver(absl::Microseconds(150));  // ~2,000 missing
}

TEST(FailoverTest, QuietParentBelowTheTimeoutKeepsItsChild) {
  FailoverScenario scenario;
  FakeParent& primary = scenario.primary;
  int64_t sent = 0;
  int64_t srs = 0;
  // Media in [0,200), [350,550) and [1050,1250) ms; nothing at all in
  // [200,350); only SRs (every 100 ms) in [550,1050).
  const auto media_at = [](absl::Duration t) {
    return (t < absl::Milliseconds(200)) ||
           (t >= absl::Milliseconds(350) && t < absl::Milliseconds(550)) ||
           (t >= absl::Milliseconds(1050) && t < absl::Milliseconds(1250));
  };
  const Totals totals =
      scenario.Run(absl::Milliseconds(1500), [&](absl::Duration t) {
        if (media_at(t)) {
          // One packet per interval of media time; no sequence gap.
          const absl::Duration slot =
              t - absl::Milliseconds(t < absl::Milliseconds(200) ? 0
                                     : t < absl::Milliseconds(550)
                                         ? 350 - 200
                                         : 1050 - 400);
          while (sent < scenario.PacketsDue(slot)) {
            primary.Send(scenario.NextPacket());
            ++sent;
          }
        }
        if (t >= absl::Milliseconds(550) && t < absl::Milliseconds(1050)) {
          while (550 + srs * 100 <= absl::ToInt64Milliseconds(t)) {
            primary.Send(SenderReport());
            ++srs;
          }
        }
      });
  const SiteReport& c = totals.counters;
  ASSERT_GT(sent, 250);
  EXPECT_EQ(c.parent_switches, 0);
  EXPECT_EQ(scenario.site().active_parent_index(), 0u);
  EXPECT_EQ(scenario.standby.datagrams(), 0);
  EXPECT_EQ(c.packets, sent);
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.nacks_sent, 0);
  // The SR-only half second is the longest stall the site saw.
  EXPECT_GE(c.longest_gap, absl::Milliseconds(495));
  EXPECT_LT(c.longest_gap, absl::Milliseconds(700));
}

TEST(ProbeTest, JunkIsCountedNotFatal) {
  auto probe = OneSite();
  media::UdpFd sender = *media::UdpFd::Open(Loopback());
  const relay::Endpoint target = probe->sites()[0]->local();
  std::thread run(
      [&] { probe->Run(absl::Milliseconds(300), absl::Seconds(1), nullptr); });
  const uint8_t junk[][16] = {
      {0x00, 0x01, 0x02},                          // not RTP
      {0x80, 0x60, 0x00},                          // RTP, too short
      {0x90, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},  // extension overrun
      {0x80, 0xc9, 0x00, 0x09},                    // RTCP RR, bad length
  };
  const size_t sizes[] = {3, 3, 12, 4};
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(sender.SendTo(target, absl::MakeConstSpan(junk[i], sizes[i])));
  }
  run.join();
  const Totals totals = probe->Final();
  EXPECT_EQ(totals.counters.bad_packets, 4);
  EXPECT_EQ(totals.counters.packets, 0);
}

}  // namespace
}  // namespace probe
}  // namespace cascade
