// relayd end to end: real processes, real UDP on loopback, ports chosen by
// the kernel. Each test is bounded by explicit deadlines.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "absl/time/clock.h"
#include "tests/common/wait.h"
#include "tests/relay/relay_harness.h"

namespace cascade::relay::testing {
namespace {

using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::RunFor;
using ::cascade::testing::WaitUntil;

constexpr uint32_t kVideo = 1111;
const std::string kKeyB(16, 'b');
const std::string kKeyC1(16, '1');
const std::string kKeyC2(16, '2');

std::string Hex(const std::string& key) { return absl::BytesToHexString(key); }

std::string Addr(const media::Endpoint& e) { return e.ToString(); }

// A distinct, checkable H.264-shaped payload: an IDR slice when `idr`, else a
// non-IDR slice; the rest encodes the sequence number.
Bytes Payload(uint16_t seq, bool idr, size_t size = 1000) {
  Bytes p(size);
  p[0] = idr ? 0x65 : 0x41;
  p[1] = 0x88;  // first_mb_in_slice = 0
  for (size_t i = 2; i < size; ++i) p[i] = static_cast<uint8_t>(seq * 7 + i);
  return p;
}

// The pace of the test streams: a burst of packets, then a pause, so the
// kernel buffers never overflow (about 10,000 packets a second).
constexpr int kBurst = 20;
constexpr absl::Duration kBurstGap = absl::Milliseconds(2);

// Sends packets [first, first + count) of the video stream at that pace, and
// returns them by sequence number.
std::map<uint16_t, Bytes> SendStream(UdpPeer& source, const media::Endpoint& to,
                                     uint16_t first, int count,
                                     int keyframe_every = 0) {
  std::map<uint16_t, Bytes> sent;
  for (int i = 0; i < count; ++i) {
    const uint16_t seq = static_cast<uint16_t>(first + i);
    const bool idr = keyframe_every > 0 && (seq % keyframe_every) == 0;
    Bytes rtp = MakeRtp(kVideo, seq, seq * 3000u, Payload(seq, idr));
    source.SendTo(to, rtp);
    sent[seq] = std::move(rtp);
    if (i % kBurst == kBurst - 1) RunFor(kBurstGap);
  }
  return sent;
}

// RTP packets received by `peer` until it holds every key of `want` or
// `timeout` passes.
std::map<uint16_t, Bytes> Collect(UdpPeer& peer,
                                  const std::map<uint16_t, Bytes>& want,
                                  absl::Duration timeout,
                                  std::vector<uint16_t>* order = nullptr) {
  std::map<uint16_t, Bytes> got;
  const absl::Time deadline = absl::Now() + timeout;
  size_t have = 0;
  while (have < want.size() && absl::Now() < deadline) {
    std::optional<Bytes> d = peer.Receive(deadline - absl::Now());
    if (!d || !IsRtp(*d)) continue;
    const uint16_t seq = SeqOf(*d);
    if (order != nullptr) order->push_back(seq);
    if (want.count(seq) && !got.count(seq)) ++have;
    got.emplace(seq, std::move(*d));
  }
  return got;
}

void ExpectEveryPacketUnchanged(const std::map<uint16_t, Bytes>& want,
                                const std::map<uint16_t, Bytes>& got,
                                const std::string& who) {
  size_t missing = 0, changed = 0;
  for (const auto& [seq, bytes] : want) {
    auto it = got.find(seq);
    if (it == got.end()) {
      ++missing;
    } else if (it->second != bytes) {
      ++changed;
    }
  }
  EXPECT_EQ(missing, 0u) << who << " missed packets";
  EXPECT_EQ(changed, 0u) << who << " got altered packets";
}

// source -> A -> B -> {c1, c2 (activated), push (static)}, with an optional
// lossy link between A and B.
struct Chain {
  explicit Chain(double loss = 0) {
    a = *RelayProcess::Start(
        "relay-a",
        absl::Substitute(R"pb(
                           node_id: "A"
                           listen: "127.0.0.1:0"
                           parents { id: "source" address: "$0" }
                           children { id: "B" key_hex: "$1" }
                           streams { ssrc: $2 direction: DOWN h264: true }
                         )pb",
                         Addr(source.address()), Hex(kKeyB), kVideo));
    media::Endpoint a_seen_by_b = a->address();
    if (loss > 0) {
      proxy = std::make_unique<ProxyThread>(a->address(), loss, 42);
      a_seen_by_b = proxy->listen();
    }
    b = *RelayProcess::Start(
        "relay-b", absl::Substitute(
                       R"pb(
                         node_id: "B"
                         listen: "127.0.0.1:0"
                         parents { id: "A" address: "$0" key_hex: "$1" }
                         children { id: "c1" key_hex: "$2" }
                         children { id: "c2" key_hex: "$3" }
                         children { id: "push" address: "$4" static_push: true }
                         streams { ssrc: $5 direction: DOWN h264: true }
                       )pb",
                       Addr(a_seen_by_b), Hex(kKeyB), Hex(kKeyC1), Hex(kKeyC2),
                       Addr(push.address()), kVideo));
    c1.SendTo(b->address(), MakeActivation("c1", kKeyC1, 1));
    c2.SendTo(b->address(), MakeActivation("c2", kKeyC2, 1));
  }
  bool Ready() {
    return a->WaitForMetric("relay_children", 1, absl::Seconds(8)) &&
           b->WaitForMetric("relay_children", 3, absl::Seconds(8));
  }

  UdpPeer source, c1, c2, push;
  std::unique_ptr<RelayProcess> a, b;
  std::unique_ptr<ProxyThread> proxy;
};

TEST(RelaydTest, TwoHopChainDeliversEveryPacketUnchangedToThreeChildren) {
  Chain chain;
  ASSERT_TRUE(chain.Ready());
  const auto sent = SendStream(chain.source, chain.a->address(), 65000, 2000,
                               /*keyframe_every=*/300);  // wraps at 65535
  for (UdpPeer* child : {&chain.c1, &chain.c2, &chain.push}) {
    ExpectEveryPacketUnchanged(
        sent, Collect(*child, sent, absl::Seconds(10)),
        absl::StrCat("child at ", child->address().ToString()));
  }
  const std::string down =
      absl::StrCat("{ssrc=\"", kVideo, "\",direction=\"down\"}");
  EXPECT_EQ(chain.b->Metric("relay_stream_packets_in_total" + down), 2000);
  EXPECT_GE(chain.b->Metric("relay_stream_packets_out_total" + down), 6000);
  EXPECT_EQ(chain.a->MetricSum("relay_drops_total"), 0);
}

class LossTest : public ::testing::TestWithParam<double> {};

TEST_P(LossTest, NacksRepairEveryLossBetweenRelays) {
  Chain chain(GetParam());
  ASSERT_TRUE(chain.Ready());
  constexpr int kChecked = 2000;
  auto sent = SendStream(chain.source, chain.a->address(), 100, kChecked + 30);
  // The last packets' loss shows only as a gap once later ones come: check
  // the packets before the tail.
  for (uint16_t s = 100 + kChecked; s < 100 + kChecked + 30; ++s) sent.erase(s);
  for (UdpPeer* child : {&chain.c1, &chain.c2, &chain.push}) {
    ExpectEveryPacketUnchanged(sent, Collect(*child, sent, absl::Seconds(15)),
                               child->address().ToString());
  }
  const ImpairCounters lossy = chain.proxy->counters();
  EXPECT_GT(lossy.to_client.dropped_loss, 0u) << "the link did lose packets";
  const std::string down =
      absl::StrCat("{ssrc=\"", kVideo, "\",direction=\"down\"}");
  EXPECT_GT(chain.b->Metric("relay_nacks_sent_total" + down), 0);
  EXPECT_GT(chain.b->Metric("relay_nack_repaired_total" + down), 0);
  EXPECT_GT(chain.a->Metric("relay_nacks_answered_total" + down), 0);
  EXPECT_EQ(chain.b->Metric("relay_nack_gave_up_total" + down), 0);
}

INSTANTIATE_TEST_SUITE_P(OneAndFivePercent, LossTest,
                         ::testing::Values(0.01, 0.05));

// One relay between a source and its children.
struct Single {
  Single() {
    relay = *RelayProcess::Start(
        "relay",
        absl::Substitute(
            R"pb(
              node_id: "R"
              listen: "127.0.0.1:0"
              parents { id: "source" address: "$0" }
              children { id: "c1" key_hex: "$1" }
              children { id: "push" address: "$2" static_push: true }
              streams { ssrc: $3 direction: DOWN h264: true }
              timings {
                retransmit_rate_per_child: 200
                retransmit_burst_per_child: 50
              }
            )pb",
            Addr(source.address()), Hex(kKeyC1), Addr(push.address()), kVideo));
  }
  UdpPeer source, c1, push;
  std::unique_ptr<RelayProcess> relay;
};

TEST(RelaydTest, MidStreamJoinGetsTheCachedKeyframeFirst) {
  Single s;
  // Keyframes at 0 and 50; the child joins at 100.
  SendStream(s.source, s.relay->address(), 0, 100, /*keyframe_every=*/50);
  ASSERT_TRUE(s.relay->WaitForMetric(
      absl::StrCat("relay_stream_packets_in_total{ssrc=\"", kVideo,
                   "\",direction=\"down\"}"),
      100, absl::Seconds(5)));
  s.c1.SendTo(s.relay->address(), MakeActivation("c1", kKeyC1, 7));
  std::map<uint16_t, Bytes> cached;
  for (uint16_t seq = 50; seq < 100; ++seq) cached[seq] = {};
  std::vector<uint16_t> order;
  Collect(s.c1, cached, absl::Seconds(5), &order);
  const auto live = SendStream(s.source, s.relay->address(), 100, 20);
  Collect(s.c1, live, absl::Seconds(5), &order);
  std::vector<uint16_t> expected;
  for (uint16_t seq = 50; seq < 120; ++seq) expected.push_back(seq);
  EXPECT_EQ(order, expected) << "keyframe cache first, in order, then live";
}

TEST(RelaydTest, AttackersGetNothingAndChildrenAreUnaffected) {
  Single s;
  UdpPeer attacker;
  const Bytes activation = MakeActivation("c1", kKeyC1, 99);
  s.c1.SendTo(s.relay->address(), activation);
  ASSERT_TRUE(s.relay->WaitForMetric("relay_children", 2, absl::Seconds(5)));
  // Forged, unknown and replayed activations; then NACK/PLI/RR floods.
  attacker.SendTo(s.relay->address(), MakeActivation("c1", kKeyC2, 100));
  attacker.SendTo(s.relay->address(), MakeActivation("intruder", kKeyC1, 101));
  attacker.SendTo(s.relay->address(), activation);
  const auto sent = SendStream(s.source, s.relay->address(), 1, 300);
  std::vector<uint16_t> all;
  for (uint16_t seq = 1; seq <= 300; ++seq) all.push_back(seq);
  for (int i = 0; i < 500; ++i) {
    attacker.SendTo(s.relay->address(), MakeNack(kVideo, all));
    attacker.SendTo(s.relay->address(), MakeReceiverReport());
  }
  ExpectEveryPacketUnchanged(sent, Collect(s.c1, sent, absl::Seconds(5)), "c1");
  ExpectEveryPacketUnchanged(sent, Collect(s.push, sent, absl::Seconds(5)),
                             "push");
  EXPECT_FALSE(attacker.Receive(absl::Milliseconds(500)).has_value())
      << "the relay sent something to the attacker";
  EXPECT_EQ(s.relay->Metric(
                "relay_drops_total{kind=\"activation\",reason=\"bad_mac\"}"),
            1);
  EXPECT_EQ(s.relay->Metric("relay_drops_total{kind=\"activation\","
                            "reason=\"unknown_node\"}"),
            1);
  EXPECT_EQ(s.relay->Metric(
                "relay_drops_total{kind=\"activation\",reason=\"replayed\"}"),
            1);
  EXPECT_EQ(s.relay->Metric(
                "relay_drops_total{kind=\"relay\",reason=\"unknown_source\"}"),
            1000);
  EXPECT_EQ(s.relay->Metric("relay_children"), 2);
}

TEST(RelaydTest, NackFloodFromAChildIsRateLimited) {
  Single s;
  s.c1.SendTo(s.relay->address(), MakeActivation("c1", kKeyC1, 5));
  ASSERT_TRUE(s.relay->WaitForMetric("relay_children", 2, absl::Seconds(5)));
  const auto sent = SendStream(s.source, s.relay->address(), 1, 300);
  Collect(s.c1, sent, absl::Seconds(5));
  std::vector<uint16_t> all;
  for (uint16_t seq = 1; seq <= 300; ++seq) all.push_back(seq);
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    s.c1.SendTo(s.relay->address(), MakeNack(kVideo, all));
  }
  // Retransmissions until none came for 300 ms (SRs do not count).
  int resent = 0;
  absl::Time last_rtp = absl::Now();
  const absl::Time deadline = start + absl::Seconds(10);
  while (absl::Now() - last_rtp < absl::Milliseconds(300) &&
         absl::Now() < deadline) {
    std::optional<Bytes> d = s.c1.Receive(absl::Milliseconds(50));
    if (d && IsRtp(*d)) {
      ++resent;
      last_rtp = absl::Now();
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // 30000 asked; at 200/s with a burst of 50 only a few hundred may leave.
  EXPECT_LE(resent, 50 + 200 * seconds + 20) << "over " << seconds << " s";
  EXPECT_GT(resent, 0);
  EXPECT_GT(s.relay->Metric("relay_drops_total{kind=\"relay\",reason="
                            "\"retransmit_rate_limited\"}"),
            25000);
}

TEST(RelaydTest, GarbageBarrageIsCountedAndValidTrafficStillFlows) {
  Single s;
  UdpPeer stranger;
  std::mt19937 rng(1234);
  int garbage = 0, oversize = 0;
  std::map<uint16_t, Bytes> valid;
  for (int burst = 0; burst < 20; ++burst) {
    for (int i = 0; i < 500; ++i) {
      Bytes junk;
      switch (i % 5) {
        case 0:  // random bytes
          junk.resize(rng() % 1400);
          for (auto& b : junk) b = static_cast<uint8_t>(rng());
          break;
        case 1:  // truncated RTP header
          junk = MakeRtp(kVideo, 1, 1, {});
          junk.resize(rng() % 12);
          break;
        case 2:  // RTCP whose length claims far more than is there
          junk = {0x81, 201, 0xff, 0xff, 0, 0, 0, 1};
          break;
        case 3:  // RTP claiming 15 CSRCs and an extension it lacks
          junk = {0x9f, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0x04, 0x57, 1, 2};
          break;
        case 4:  // bigger than any packet slot
          junk.assign(3000 + rng() % 5000, 0x80);
          break;
      }
      (i % 2 ? stranger : s.source).SendTo(s.relay->address(), junk);
      if (i % 5 == 4) {
        ++oversize;
      } else {
        ++garbage;
      }
      if (i % 10 == 0) {
        const uint16_t seq = static_cast<uint16_t>(valid.size() + 1);
        valid[seq] = MakeRtp(kVideo, seq, seq, Payload(seq, false, 200));
        s.source.SendTo(s.relay->address(), valid[seq]);
      }
    }
    RunFor(kBurstGap);  // the barrage's pace, as SendStream's
  }
  ExpectEveryPacketUnchanged(valid, Collect(s.push, valid, absl::Seconds(5)),
                             "push");
  // Every garbage datagram is one drop (a random one that happens to be valid
  // RTCP from the parent counts as RTCP in instead).
  double counted = 0;
  EXPECT_TRUE(
      WaitUntil("the relay has counted every garbage and oversized datagram",
                kWaitTimeout, [&] {
                  auto m = s.relay->Metrics();
                  counted = m["relay_rtcp_in_total"];
                  for (const auto& [k, v] : m) {
                    if (k.rfind("relay_drops_total{", 0) == 0) counted += v;
                  }
                  return counted >= garbage &&
                         m["relay_udp_recv_truncated_total"] >= oversize;
                }));
  EXPECT_EQ(counted, garbage);
  EXPECT_EQ(s.relay->Metric("relay_udp_recv_truncated_total"), oversize);
  EXPECT_EQ(
      s.relay->Metric(absl::StrCat("relay_stream_packets_in_total{ssrc=\"",
                                   kVideo, "\",direction=\"down\"}")),
      valid.size());
}

TEST(RelaydTest, SigtermSaysByeToChildrenAndExitsZero) {
  Single s;
  s.c1.SendTo(s.relay->address(), MakeActivation("c1", kKeyC1, 3));
  ASSERT_TRUE(s.relay->WaitForMetric("relay_children", 2, absl::Seconds(5)));
  s.relay->Signal(SIGTERM);
  bool bye = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!bye && absl::Now() < deadline) {
    std::optional<Bytes> d = s.c1.Receive(deadline - absl::Now());
    bye = d && d->size() >= 8 && (*d)[1] == 203;  // RTCP BYE
  }
  EXPECT_TRUE(bye);
  EXPECT_EQ(s.relay->Wait(absl::Seconds(5)).value_or(-1), 0);
}

TEST(RelaydTest, SighupReloadKeepsChildrenThatStay) {
  Single s;
  UdpPeer newcomer;
  s.c1.SendTo(s.relay->address(), MakeActivation("c1", kKeyC1, 3));
  ASSERT_TRUE(s.relay->WaitForMetric("relay_children", 2, absl::Seconds(5)));
  std::ofstream(s.relay->config_path()) << absl::Substitute(
      R"pb(
        node_id: "R"
        listen: "127.0.0.1:0"
        parents { id: "source" address: "$0" }
        children { id: "c1" key_hex: "$1" }
        children { id: "newcomer" address: "$2" static_push: true }
        streams { ssrc: $3 direction: DOWN h264: true }
      )pb",
      Addr(s.source.address()), Hex(kKeyC1), Addr(newcomer.address()), kVideo);
  s.relay->Signal(SIGHUP);
  ASSERT_TRUE(
      s.relay->WaitForMetric("relay_reloads_total", 1, absl::Seconds(5)));
  const auto sent = SendStream(s.source, s.relay->address(), 1, 50);
  ExpectEveryPacketUnchanged(sent, Collect(s.c1, sent, absl::Seconds(5)), "c1");
  ExpectEveryPacketUnchanged(sent, Collect(newcomer, sent, absl::Seconds(5)),
                             "newcomer");
  EXPECT_FALSE(s.push.Receive(absl::Milliseconds(200)).has_value())
      << "the removed push child still gets media";
}

TEST(RelaydTest, BadConfigExitsTwoNamingTheField) {
  auto relay = RelayProcess::Start("bad", R"pb(
    node_id: "R"
    listen: "127.0.0.1:0"
    children { id: "x" address: "127.0.0.1:9" }
  )pb");
  ASSERT_FALSE(relay.ok());
  EXPECT_NE(std::string(relay.status().message()).find("exit code 2"),
            std::string::npos)
      << relay.status();
}

}  // namespace
}  // namespace cascade::relay::testing
