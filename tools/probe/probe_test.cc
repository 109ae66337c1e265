// relay-source and relay-probe engines in one process over real loopback
// sockets, with a forwarder in between that can drop chosen packets.

#include "tools/probe/probe.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "relay/rtp/activation.h"
#include "relay/rtp/demux.h"
#include "relay/rtp/rtcp.h"
#include "relay/rtp/rtp.h"
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
  return RunResult{(*source)->stats(), probe->Final()};
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

TEST(SourceToProbeTest, NackRepairsEveryDroppedPacket) {
  auto probe = OneSite();
  // Only the first drops: a packet lost at the very end of the stream has
  // no successor to reveal the gap, so no receiver could ask for it.
  int first_copies_dropped = 0;
  Forwarder forwarder(
      [&first_copies_dropped](uint16_t seq) {
        return seq % 15 == 0 && first_copies_dropped++ < 4;
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

// Records what a child sends its parent.
struct ParentSide : public rtp::RtcpVisitor {
  void OnApp(const rtp::AppView& app) override {
    rtp::ActivationRequest request;
    const std::string key = "site-key";
    if (rtp::VerifyActivation(
            app,
            absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(key.data()),
                                key.size()),
            &request) == rtp::ActivationResult::kOk &&
        request.node_id == "site-7") {
      (request.kind == rtp::ActivationKind::kActivate ? activations
                                                      : deactivations)++;
    }
  }
  void OnReceiverReport(const rtp::ReceiverReportView& rr) override {
    ++receiver_reports;
    for (size_t i = 0; i < rr.blocks.size(); ++i) {
      if (rr.blocks[i].ssrc == 0x5151)
        last_highest = rr.blocks[i].extended_highest_sequence;
    }
  }
  int activations = 0;
  int deactivations = 0;
  int receiver_reports = 0;
  uint32_t last_highest = 0;
};

// Runs one child site for 600 ms against a parent socket that, when
// `answer` is set, streams a packet every few milliseconds once activated.
ParentSide RunChild(bool answer, Totals* totals) {
  media::UdpFd parent = *media::UdpFd::Open(Loopback());
  SiteOptions site;
  site.listen = Loopback();
  site.decode = false;
  site.parent = ParentLink{parent.local(), "site-7", "site-key"};
  site.keepalive_interval = absl::Milliseconds(50);
  site.activation_retry = absl::Milliseconds(100);
  auto probe = Probe::Create({site});
  EXPECT_TRUE(probe.ok());
  const relay::Endpoint child = (*probe)->sites()[0]->local();
  std::thread run([&] {
    (*probe)->Run(absl::Milliseconds(600), absl::Seconds(1), nullptr);
  });
  ParentSide seen;
  media::Receiver receiver;
  std::vector<media::Receiver::Datagram> datagrams;
  uint16_t seq = 100;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline && seen.deactivations == 0) {
    pollfd fds{parent.fd(), POLLIN, 0};
    if (poll(&fds, 1, 5) > 0) {
      receiver.Receive(parent.fd(), &datagrams);
      for (const auto& d : datagrams) {
        EXPECT_EQ(d.from, child);
        EXPECT_EQ(rtp::ParseRtcpCompound(d.data, &seen), rtp::RtcpError::kOk);
      }
    }
    if (answer && seen.activations > 0) {
      uint8_t packet[64];
      rtp::RtpHeader header;
      header.payload_type = 111;
      header.sequence_number = seq++;
      header.ssrc = 0x5151;
      const uint8_t payload[] = {1, 2, 3};
      const size_t size =
          rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
      parent.SendTo(child, absl::MakeConstSpan(packet, size));
    }
  }
  run.join();
  *totals = (*probe)->Final();
  return seen;
}

TEST(ProbeTest, ChildActivatesOnceWhileMediaFlowsKeepsAliveAndLeaves) {
  Totals totals;
  const ParentSide seen = RunChild(/*answer=*/true, &totals);
  EXPECT_EQ(seen.activations, 1);
  EXPECT_EQ(seen.deactivations, 1);
  EXPECT_GE(seen.receiver_reports, 5);
  // RRs report the stream's progress.
  EXPECT_GT(seen.last_highest, 110u);
  EXPECT_GT(totals.counters.packets, 10);
  EXPECT_EQ(totals.counters.lost, 0);
}

TEST(ProbeTest, ChildActivatesAgainWhileTheParentIsSilent) {
  Totals totals;
  const ParentSide seen = RunChild(/*answer=*/false, &totals);
  EXPECT_GE(seen.activations, 4);  // every 100 ms for 600 ms
  EXPECT_LE(seen.activations, 7);
  EXPECT_EQ(seen.deactivations, 1);
  EXPECT_EQ(totals.counters.packets, 0);
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
