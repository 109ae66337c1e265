// What relay-probe's site tests share: a fake parent relay on a loopback
// socket, the packets it sends, and a site on simulated time under two.
#ifndef CASCADE_TOOLS_PROBE_SITE_TEST_SUPPORT_H_
#define CASCADE_TOOLS_PROBE_SITE_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "media/endpoint.h"
#include "media/rtp/activation.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "testing/fake_clock.h"
#include "testing/fake_timers.h"
#include "tools/media/udp.h"
#include "tools/probe/site.h"

namespace cascade {
namespace probe {

media::Endpoint Loopback();

// Bounds every real-time wait: far beyond what any of them takes on a loaded
// machine, so reaching it means the awaited thing never happens.
inline constexpr absl::Duration kPatience = absl::Seconds(10);

inline constexpr uint32_t kStreamSsrc = 0x5151;

// An RTP packet of a non-video stream (counted, not decoded).
std::vector<uint8_t> MediaPacket(uint16_t seq);

std::vector<uint8_t> SenderReport();

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
void WaitForParents(const FakeParent& a, const FakeParent& b);

SiteOptions ChildOf(std::vector<ParentLink> parents);

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

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_SITE_TEST_SUPPORT_H_
