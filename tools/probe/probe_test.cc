// relay-source and relay-probe engines in one process over real loopback
// sockets, with a forwarder in between that can drop chosen packets; and the
// site's timing decisions (activation, keepalive, failover, repair, latency)
// on simulated time (testing/fake_timers.h), so no assertion depends on how
// fast this machine runs. The real-time tests assert what arrived, waiting
// for it with bounded waits, never how long it took.

#include "tools/probe/probe.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "base/files.h"
#include "media/rtp/activation.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "testing/fake_clock.h"
#include "testing/fake_timers.h"
#include "tools/media/cli.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"
#include "tools/source/source.h"

namespace cascade {
namespace probe {
namespace {

media::Endpoint Loopback() { return *media::Endpoint::Parse("127.0.0.1:0"); }

// Bounds every real-time wait: far beyond what any of them takes on a loaded
// machine, so reaching it means the awaited thing never happens.
constexpr absl::Duration kPatience = absl::Seconds(10);

source::SourceOptions SmallSource(const media::Endpoint& dest) {
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

  const media::Endpoint& local() const { return socket_.local(); }

  void Start(const media::Endpoint& probe) {
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
  media::Endpoint probe_;
  std::optional<media::Endpoint> source_;
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

// Packets the probe's sites received, each counted once.
int64_t Distinct(const Totals& totals) {
  return totals.counters.packets - totals.counters.duplicates;
}

// True once the probe has all it should have of the source's stream.
using Settled =
    std::function<bool(const source::SourceStats& source, const Totals& probe)>;

// Runs the source for its duration and the probe until, the source ended,
// `settled` holds (checked every 10 ms on the probe's thread), or for
// kPatience more at most.
RunResult RunPair(const source::SourceOptions& source_options, Probe* probe,
                  const Settled& settled) {
  auto source = source::Source::Create(source_options);
  EXPECT_TRUE(source.ok()) << source.status();
  absl::Mutex mu;
  std::optional<source::SourceStats> ended;  // guarded by mu
  std::thread probe_thread([&] {
    probe->Run(source_options.duration + kPatience, absl::Milliseconds(10),
               [&](absl::Duration, const Totals& totals) {
                 absl::MutexLock lock(&mu);
                 if (ended.has_value() && settled(*ended, totals)) {
                   probe->Stop();
                 }
               });
  });
  EXPECT_TRUE((*source)->Run().ok());
  {
    absl::MutexLock lock(&mu);
    ended = (*source)->stats();
  }
  probe_thread.join();
  return RunResult{(*source)->stats(), probe->Final(),
                   (*source)->upstream().streams()};
}

// Every packet the source sent has arrived, and every frame was shown.
bool EverythingArrived(const source::SourceStats& source, const Totals& probe) {
  return Distinct(probe) >= source.video_packets + source.audio_packets &&
         probe.counters.frames_decoded >= source.frames;
}

std::unique_ptr<Probe> OneSite() {
  SiteOptions site;
  site.listen = Loopback();
  auto probe = Probe::Create({site});
  EXPECT_TRUE(probe.ok()) << probe.status();
  return std::move(*probe);
}

// How long latency takes is SiteLatencyTest's (simulated time); here: a
// sample for every frame, all positive.
TEST(SourceToProbeTest, EveryFrameDecodedInOrderWithLatency) {
  auto probe = OneSite();
  const RunResult r = RunPair(SmallSource(probe->sites()[0]->local()),
                              probe.get(), EverythingArrived);
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
  ASSERT_TRUE(c.first_frame.has_value());
  EXPECT_TRUE(c.freezes.empty());
}

// An encrypted stream (SRTP): the site with the key decodes every frame of
// it, the one without decodes none, though every packet reaches it.
TEST(SourceToProbeTest, EncryptedStreamDecodesOnlyWithTheKey) {
  const std::string key_file =
      std::string(std::getenv("TEST_TMPDIR")) + "/stream.keys";
  ASSERT_TRUE(WriteFileAtomically(key_file,
                                  "07 000102030405060708090a0b0c0d0e0f1011121"
                                  "31415161718191a1b\n")
                  .ok());
  SiteOptions keyed;
  keyed.listen = Loopback();
  keyed.srtp_keys = media::ReadSrtpKeyFile(key_file).value();
  SiteOptions blind;
  blind.listen = Loopback();
  blind.feedback = false;  // its PLIs would only add keyframes
  auto probe = Probe::Create({keyed, blind});
  ASSERT_TRUE(probe.ok()) << probe.status();
  const Site& with_key = *(*probe)->sites()[0];
  const Site& without_key = *(*probe)->sites()[1];
  source::SourceOptions options = SmallSource(with_key.local());
  options.standby_dests = {without_key.local()};
  options.srtp_key_file = key_file;
  const RunResult r = RunPair(
      options, probe->get(),
      [&](const source::SourceStats& source, const Totals&) {
        const SiteReport a = with_key.Report();
        const SiteReport b = without_key.Report();
        const int64_t sent = source.video_packets + source.audio_packets;
        return a.packets - a.duplicates >= sent &&
               a.frames_decoded >= source.frames && b.packets >= sent;
      });
  ASSERT_GE(r.source.frames, 55);
  const SiteReport a = with_key.Report();
  EXPECT_EQ(a.lost, 0);
  EXPECT_EQ(a.bad_packets, 0);
  EXPECT_EQ(a.decode_errors, 0);
  EXPECT_EQ(a.frames_decoded, r.source.frames);
  ASSERT_TRUE(a.last_pattern_frame.has_value());
  EXPECT_EQ(*a.last_pattern_frame, r.source.frames - 1);
  const SiteReport b = without_key.Report();
  EXPECT_EQ(b.packets, r.source.video_packets + r.source.audio_packets);
  EXPECT_EQ(b.frames_decoded, 0);
}

// A site joined to a relay (the forwarder) above the source sends its own
// stream upstream: the source counts it and measures its latency. Its
// schedule (one packet every 50 ms once the parent answers) is
// SiteFailoverTest's, on simulated time.
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
  // Until the downstream stream is all there and the site has sent upstream
  // again after the source stopped reading.
  std::optional<int64_t> sent_when_source_ended;
  const RunResult r =
      RunPair(SmallSource(relay.local()), probe->get(),
              [&](const source::SourceStats& source, const Totals& totals) {
                if (!sent_when_source_ended.has_value()) {
                  sent_when_source_ended = totals.counters.upstream_sent;
                }
                return Distinct(totals) >=
                           source.video_packets + source.audio_packets &&
                       totals.counters.upstream_sent > *sent_when_source_ended;
              });
  relay.Stop();
  ASSERT_EQ(r.upstream.size(), 1u);
  const source::UpstreamCounter::Stream& up = r.upstream.at(0x5eed);
  EXPECT_GT(up.packets, 0);
  // The site goes on after the source stopped reading.
  EXPECT_GT(r.probe.counters.upstream_sent, up.packets);
  EXPECT_EQ(up.bytes, 200 * up.packets);
  EXPECT_GT(up.first_arrival, start);
  EXPECT_EQ(up.without_send_time, 0);
  EXPECT_EQ(up.latency.count(), static_cast<size_t>(up.packets));
  EXPECT_GT(up.latency.Percentile(0.5), absl::ZeroDuration());
  EXPECT_EQ(r.source.bad_packets, 0);
  // The downstream stream is untouched.
  EXPECT_EQ(r.probe.counters.lost, 0);
}

TEST(SourceToProbeTest, NackRepairsEveryDroppedPacket) {
  auto probe = OneSite();
  // The first copies of the 8th, 16th, 24th and 32nd video packets: each
  // has successors to reveal its gap (a packet lost at the very end of the
  // stream has none, so no receiver could ask for it, nor for one before the
  // first it sees), and the source is still there to answer. Counted by
  // arrival, not by sequence number: the source starts those anywhere (by
  // sequence number the last drop was at times the stream's last packet).
  int first_copies_seen = 0;
  Forwarder forwarder(
      [&](uint16_t) {
        ++first_copies_seen;
        return first_copies_seen % 8 == 0 && first_copies_seen <= 32;
      },
      [](uint16_t) { return false; });
  forwarder.Start(probe->sites()[0]->local());
  const RunResult r =
      RunPair(SmallSource(forwarder.local()), probe.get(), EverythingArrived);
  forwarder.Stop();
  ASSERT_GE(r.source.frames, 55);  // at least a packet each: all 4 dropped
  ASSERT_EQ(forwarder.dropped(), 4);
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
  // Until all but the victim arrived and the last frame was shown.
  const RunResult r =
      RunPair(SmallSource(forwarder.local()), probe.get(),
              [](const source::SourceStats& source, const Totals& totals) {
                return Distinct(totals) >=
                           source.video_packets + source.audio_packets - 1 &&
                       totals.counters.last_pattern_frame == source.frames - 1;
              });
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
// A parent relay as a child sees it, on a loopback socket: checks the
// child's activations with its key and node id, and records its receiver
// reports and NACKs with their arrival times. What it sends goes to the
// child's socket, or on simulated time straight to the site (DeliverTo).
class FakeParent : public rtp::RtcpVisitor {
 public:
  using Deliver = std::function<void(const media::Endpoint& from,
                                     absl::Span<const uint8_t> data)>;

  explicit FakeParent(std::string key)
      : key_(std::move(key)), socket_(*media::UdpFd::Open(Loopback())) {}

  ParentLink link() const { return ParentLink{"", socket_.local(), key_}; }
  int fd() const { return socket_.fd(); }
  // Simulated time: no socket read stands between the parent and the site.
  void DeliverTo(Deliver deliver) { deliver_ = std::move(deliver); }
  // To the child once it has activated this parent; nothing before.
  void Send(absl::Span<const uint8_t> data) const {
    if (!child_.has_value()) return;
    if (deliver_) {
      deliver_(socket_.local(), data);
    } else {
      socket_.SendTo(*child_, data);
    }
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
      if (rr.blocks[i].ssrc == kStreamSsrc) {
        last_highest = rr.blocks[i].extended_highest_sequence;
        last_lost = rr.blocks[i].cumulative_lost;
      }
    }
  }
  void OnNack(const rtp::NackView& nack) override {
    nack.ForEachSequenceNumber([this](uint16_t seq) { nacked.push_back(seq); });
  }

  const std::optional<media::Endpoint>& child() const { return child_; }
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
  // Of kStreamSsrc, in the latest report: the highest sequence number and
  // how many below it are still missing.
  uint32_t last_highest = 0;
  int32_t last_lost = 0;
  std::vector<uint16_t> nacked;
  std::vector<std::vector<uint8_t>> upstream;  // RTP from the child

 private:
  std::string key_;
  media::UdpFd socket_;
  media::Receiver receiver_;
  Deliver deliver_;
  std::optional<media::Endpoint> child_;
  media::Endpoint from_;
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

// A site on simulated time with a primary and a standby parent: the site
// ticks every 5 ms (Probe::Run's tick while repairing), the parents read
// what it sent (over loopback) right after each tick, and what they send
// reaches the site at once.
class SimulatedSiteTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kTick = absl::Milliseconds(5);

  SimulatedSiteTest() : primary_("key-a"), standby_("key-b") {
    for (FakeParent* parent : {&primary_, &standby_}) {
      parent->DeliverTo(
          [this](const media::Endpoint& from, absl::Span<const uint8_t> data) {
            site_->OnDatagram(from, data, clock_.Now());
          });
    }
  }

  // Creates the site at kT0 and starts its ticks there; `after_tick` runs
  // once the parents have read what a tick sent. Timers created later run
  // after the tick at the same instant.
  void Start(const SiteOptions& options,
             std::function<void()> after_tick = nullptr) {
    site_ = std::make_unique<Site>(options, *media::UdpFd::Open(Loopback()),
                                   kT0, LatencySinks{nullptr, nullptr, &gap_});
    timers_.Every(kT0, kTick, [this, after_tick = std::move(after_tick)] {
      const absl::Time now = clock_.Now();
      site_->OnTick(now);
      // The primary first: what the site sent it before switching is read
      // before the standby hears of the switch.
      primary_.Poll(now);
      standby_.Poll(now);
      if (after_tick) after_tick();
    });
  }
  // What Probe::Run does at its end: a last tick, then the site leaves.
  void Finish() {
    const absl::Time now = clock_.Now();
    site_->OnTick(now);
    site_->Leave(now);
    primary_.Poll(now);
    standby_.Poll(now);
  }
  absl::Duration Elapsed() const { return clock_.Now() - kT0; }

  const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
  FakeClock clock_{kT0};
  FakeTimers timers_{&clock_};
  FakeParent primary_;
  FakeParent standby_;
  absl::Duration gap_;  // the site's interval stall (LatencySinks)
  std::unique_ptr<Site> site_;
};

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

TEST(ProbeTest, JunkIsCountedNotFatal) {
  auto probe = OneSite();
  media::UdpFd sender = *media::UdpFd::Open(Loopback());
  const media::Endpoint target = probe->sites()[0]->local();
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
  // Until all four are counted; on, if the site survived them.
  probe->Run(kPatience, absl::Milliseconds(10),
             [&](absl::Duration, const Totals& totals) {
               if (totals.counters.bad_packets >= 4) probe->Stop();
             });
  const Totals totals = probe->Final();
  EXPECT_EQ(totals.counters.bad_packets, 4);
  EXPECT_EQ(totals.counters.packets, 0);
}

}  // namespace
}  // namespace probe
}  // namespace cascade
