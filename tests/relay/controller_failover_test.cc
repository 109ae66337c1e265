// Failover with the controller in the loop (issue 5): a real topologyd and
// relayd processes in --controller mode, a live stream from a test source
// and plain RTP sites that record every packet. Drain and restore, a
// controller outage, a killed relay the controller confirms, and plain
// endpoints taken over by a standby relay.
//
//   source ─► nat ─► p1 (standby p1-sb) ─► d1 (standby d1-sb) ─► s1..s3
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.pb.h"
#include "tests/common/wait.h"
#include "tests/media/process.h"
#include "tests/relay/relay_harness.h"
#include "tests/topology/harness.h"

namespace cascade::relay::testing {
namespace {

using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::RunFor;
using ::cascade::testing::WaitUntil;
using cascade::topology::testing::Topologyd;
using Result = cascade::testing::CommandResult;

constexpr uint32_t kSsrc = 2222;
constexpr int kSites = 3;
constexpr absl::Duration kPacketInterval = absl::Milliseconds(5);

bool Acked(const cascade::v1::NodeView& view) {
  return cascade::topology::testing::AckedNewerThan(view);
}

// $0..$4: nat, p1, p1-sb, d1, d1-sb; $5..$7: the plain sites.
constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 64
  tracks { ssrc: 2222 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "$1"
  labels { key: "region" value: "r1" } capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" role: ROLE_STANDBY
  labels { key: "region" value: "r1" } media_address: "$2"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "$3"
  labels { key: "region" value: "r1" } capacity { max_children: 8 } }
nodes { id: "d1-sb" tier: TIER_DISTRICT parent: "p1" role: ROLE_STANDBY
  labels { key: "region" value: "r1" } media_address: "$4"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "$5"
  labels { key: "region" value: "r1" } plain_endpoint: true }
nodes { id: "s2" tier: TIER_SITE parent: "d1" media_address: "$6"
  labels { key: "region" value: "r1" } plain_endpoint: true }
nodes { id: "s3" tier: TIER_SITE parent: "d1" media_address: "$7"
  labels { key: "region" value: "r1" } plain_endpoint: true }
)txt";

// A plain RTP endpoint that records, on its own thread, every packet's
// sequence number, sender and arrival time.
class RecordingSite {
 public:
  RecordingSite() : thread_([this] { Run(); }) {}
  ~RecordingSite() {
    stop_ = true;
    thread_.join();
  }
  const media::Endpoint& address() const { return peer_.address(); }

  struct Summary {
    size_t distinct = 0;
    uint16_t first = 0, last = 0;
    size_t missing = 0;  // between first and last
    absl::Duration longest_gap;
    absl::Time last_arrival;
    media::Endpoint last_sender;
  };
  // From `since` on (arrival time).
  Summary Summarise(absl::Time since = absl::InfinitePast()) const {
    std::lock_guard<std::mutex> lock(mu_);
    Summary s;
    std::set<int> seqs;
    absl::Time previous = absl::InfinitePast();
    for (const Arrival& a : arrivals_) {
      if (a.at < since) continue;
      if (!seqs.insert(a.seq).second) continue;
      if (previous != absl::InfinitePast()) {
        s.longest_gap = std::max(s.longest_gap, a.at - previous);
      }
      previous = a.at;
      s.last_arrival = a.at;
      s.last_sender = a.from;
    }
    if (seqs.empty()) return s;
    s.distinct = seqs.size();
    s.first = static_cast<uint16_t>(*seqs.begin());
    s.last = static_cast<uint16_t>(*seqs.rbegin());
    s.missing =
        static_cast<size_t>(*seqs.rbegin() - *seqs.begin() + 1) - seqs.size();
    return s;
  }
  // When the first packet from `sender` arrived after `since`, if one did.
  std::optional<absl::Time> FirstFrom(const media::Endpoint& sender,
                                      absl::Time since) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Arrival& a : arrivals_) {
      if (a.at >= since && a.from == sender) return a.at;
    }
    return std::nullopt;
  }

 private:
  struct Arrival {
    int seq;  // the test sends fewer than 65536 packets
    absl::Time at;
    media::Endpoint from;
  };
  void Run() {
    while (!stop_) {
      media::Endpoint from;
      std::optional<Bytes> got = peer_.Receive(absl::Milliseconds(20), &from);
      if (!got || !IsRtp(*got)) continue;
      std::lock_guard<std::mutex> lock(mu_);
      arrivals_.push_back({SeqOf(*got), absl::Now(), from});
    }
  }

  UdpPeer peer_;
  mutable std::mutex mu_;
  std::vector<Arrival> arrivals_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Once started, sends one RTP packet every kPacketInterval until destroyed
// (at most 60000: sequence numbers never wrap).
class LiveSource {
 public:
  ~LiveSource() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const media::Endpoint& address() const { return peer_.address(); }
  void Start(const media::Endpoint& to) {
    thread_ = std::thread([this, to] { Run(to); });
  }
  // Packets sent so far: the next one has this sequence number.
  int sent() const { return sent_; }

 private:
  void Run(const media::Endpoint& to) {
    const uint8_t payload[] = {1, 2, 3, 4};
    absl::Time next = absl::Now();
    for (int seq = 0; !stop_ && seq < 60000; ++seq) {
      peer_.SendTo(to, MakeRtp(kSsrc, static_cast<uint16_t>(seq),
                               static_cast<uint32_t>(seq) * 240u, payload));
      sent_ = seq + 1;
      next += kPacketInterval;
      RunFor(next - absl::Now());  // the stream's pace
    }
  }

  UdpPeer peer_;
  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0};
  std::thread thread_;
};

class ControllerFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = TempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_NO_FATAL_FAILURE(StartController());
    for (const char* id : {"nat", "p1", "p1-sb", "d1", "d1-sb"}) {
      std::vector<std::string> args = {"--controller=" + controller_->address(),
                                       std::string("--id=") + id,
                                       "--listen=127.0.0.1:0", "--insecure"};
      // The tree's root takes the stream from the source, a plain endpoint.
      if (args[1] == "--id=nat") {
        args.push_back("--source=" + source_.address().ToString());
      }
      relays_[id] = StartRelay(id, args);
      ASSERT_NE(relays_[id], nullptr);
    }
  }

  // Applies the topology with the source feeding nat and waits until every
  // site hears the stream through d1.
  void StartStream() {
    const std::string topology = tmp_ + "/topology.textproto";
    std::ofstream(topology) << absl::Substitute(
        kTopology, Addr("nat"), Addr("p1"), Addr("p1-sb"), Addr("d1"),
        Addr("d1-sb"), sites_[0].address().ToString(),
        sites_[1].address().ToString(), sites_[2].address().ToString());
    Result applied = Relayctl({"apply", topology});
    ASSERT_EQ(applied.code, 0) << applied.err;
    source_.Start(relays_["nat"]->address());
    ASSERT_TRUE(
        WaitUntil("every site hears the stream from d1", kWaitTimeout,
                  [&] { return AllSitesHear(relays_["d1"]->address()); }));
    // Every relay runs what the controller holds (a standby that has not
    // heard of its standby children would refuse them).
    for (const auto& [id, relay] : relays_) {
      ASSERT_TRUE(WaitForNode(id, "acks its newest assignment", Acked));
    }
    // Gaps and losses count from the packets that proved the path.
    streaming_since_ = absl::Now() - absl::Milliseconds(100);
  }

  // Waits (bounded) until every site has received the packets the source
  // sends in the next `tail`: the stream carried on that long past this
  // moment, so a packet lost now shows as a hole, and repairs had time.
  void StreamPast(absl::Duration tail) {
    const int until = source_.sent() + static_cast<int>(tail / kPacketInterval);
    ASSERT_TRUE(
        WaitUntil(absl::StrCat("every site gets the packets sent in the next ",
                               absl::FormatDuration(tail)),
                  kWaitTimeout, [&] {
                    for (const RecordingSite& site : sites_) {
                      if (site.Summarise().last < until) return false;
                    }
                    return true;
                  }));
  }

  bool AllSitesHear(const media::Endpoint& sender) const {
    for (const RecordingSite& site : sites_) {
      const RecordingSite::Summary s =
          site.Summarise(absl::Now() - absl::Milliseconds(100));
      if (s.distinct == 0 || s.last_sender != sender) return false;
    }
    return true;
  }

  // Every site got every packet from the moment the stream ran, and the
  // longest silence at any site; printed under `what`.
  absl::Duration ExpectNothingLost(const std::string& what) {
    absl::Duration longest;
    for (const RecordingSite& site : sites_) {
      const RecordingSite::Summary s = site.Summarise(streaming_since_);
      EXPECT_GT(s.distinct, 100u) << what;
      EXPECT_EQ(s.missing, 0u) << what << ": packets lost at a site";
      longest = std::max(longest, s.longest_gap);
    }
    std::printf("%s: longest gap at any site %.0f ms\n", what.c_str(),
                absl::ToDoubleMilliseconds(longest));
    return longest;
  }

  // On a kernel-chosen port, or on `port` again after a restart.
  void StartController(int port = 0) {
    auto daemon = Topologyd::Start(
        tmp_, absl::StrCat("topologyd", ++controllers_),
        {"--insecure", "--state-dir=" + tmp_ + "/state", "--lease-timeout=3s"},
        port);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = *std::move(daemon);
  }

  Result Relayctl(std::vector<std::string> args) {
    args.insert(args.begin(), "--insecure");
    return cascade::topology::testing::Relayctl(tmp_, controller_->address(),
                                                std::move(args));
  }

  // Unlike the harness's ShowNode, a failed call (a controller starting)
  // is an empty view, for polling.
  cascade::v1::NodeView Show(const std::string& id) {
    Result shown = Relayctl({"--json", "show", id});
    cascade::v1::NodeView view;
    if (shown.code == 0) {
      if (!google::protobuf::util::JsonStringToMessage(shown.out, &view).ok())
        view.Clear();
    }
    return view;
  }

  // Waits (bounded) until `check` holds for node `id`'s view; a timeout
  // names `what`.
  ::testing::AssertionResult WaitForNode(
      const std::string& id, absl::string_view what,
      const std::function<bool(const cascade::v1::NodeView&)>& check) {
    return WaitUntil(absl::StrCat(id, " ", what), absl::Seconds(15),
                     [&] { return check(Show(id)); });
  }

  ::testing::AssertionResult ReceivingFrom(const std::string& id,
                                           const std::string& parent) {
    return WaitForNode(id, "receives from " + parent,
                       [&](const cascade::v1::NodeView& v) {
                         return v.stats().receiving_from() == parent;
                       });
  }

  std::unique_ptr<RelayProcess> StartRelay(
      const std::string& id, const std::vector<std::string>& args) {
    auto relay = RelayProcess::Start(id, "", args);
    EXPECT_TRUE(relay.ok()) << relay.status();
    return relay.ok() ? *std::move(relay) : nullptr;
  }

  std::string Addr(const std::string& id) {
    return relays_.at(id)->address().ToString();
  }

  LiveSource source_;
  std::string tmp_;
  int controllers_ = 0;
  std::unique_ptr<Topologyd> controller_;
  std::map<std::string, std::unique_ptr<RelayProcess>> relays_;
  RecordingSite sites_[kSites];
  absl::Time streaming_since_;
};

TEST_F(ControllerFailoverTest, DrainAndRestoreUnderALiveStreamLoseNothing) {
  ASSERT_NO_FATAL_FAILURE(StartStream());
  ASSERT_TRUE(ReceivingFrom("d1", "p1"));
  Result drained = Relayctl({"drain", "p1"});
  ASSERT_EQ(drained.code, 0) << drained.err;
  ASSERT_TRUE(ReceivingFrom("d1", "p1-sb"));
  ASSERT_TRUE(WaitForNode("p1", "empties", [](const cascade::v1::NodeView& v) {
    return v.stats().active_children() == 0;
  }));
  // A second of stream through p1-sb while p1 stays drained.
  ASSERT_NO_FATAL_FAILURE(StreamPast(absl::Seconds(1)));
  Result restored = Relayctl({"restore", "p1"});
  ASSERT_EQ(restored.code, 0) << restored.err;
  ASSERT_TRUE(ReceivingFrom("d1", "p1"));
  ASSERT_NO_FATAL_FAILURE(StreamPast(absl::Seconds(1)));
  const absl::Duration gap = ExpectNothingLost("drain and restore of p1");
  // Make-before-break both ways: no failover, and no gap beyond jitter.
  EXPECT_EQ(relays_["d1"]->Metric("relay_parent_failovers_total"), 0);
  EXPECT_EQ(relays_["d1"]->Metric("relay_parent_switches_total"), 2);
  EXPECT_LT(gap, absl::Milliseconds(150));
}

TEST_F(ControllerFailoverTest, ControllerDownForTenSecondsDisturbsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartStream());
  const int port = controller_->port();
  controller_.reset();  // SIGKILL
  // The outage under test.
  RunFor(absl::Seconds(10));
  ASSERT_NO_FATAL_FAILURE(StartController(port));
  // Every relay is back and has acknowledged what the controller holds.
  for (const char* id : {"nat", "p1", "p1-sb", "d1", "d1-sb"}) {
    EXPECT_TRUE(WaitForNode(id, "is up and acks its newest assignment",
                            [](const cascade::v1::NodeView& v) {
                              return v.status() == cascade::v1::STATUS_UP &&
                                     Acked(v);
                            }));
  }
  ASSERT_NO_FATAL_FAILURE(StreamPast(absl::Seconds(1)));
  const absl::Duration gap = ExpectNothingLost("topologyd down for 10 s");
  EXPECT_LT(gap, absl::Milliseconds(150));
  for (const char* id : {"p1", "d1"}) {
    EXPECT_EQ(relays_[id]->Metric("relay_parent_failovers_total"), 0) << id;
    EXPECT_EQ(relays_[id]->Metric("relay_parent_switches_total"), 0) << id;
  }
}

TEST_F(ControllerFailoverTest, KilledRelayIsCoveredAtOnceThenConfirmed) {
  ASSERT_NO_FATAL_FAILURE(StartStream());
  relays_["p1"]->Signal(SIGKILL);
  // The controller marks p1 down at lease expiry and confirms what d1 did.
  ASSERT_TRUE(WaitForNode("p1", "is down", [](const cascade::v1::NodeView& v) {
    return v.status() == cascade::v1::STATUS_DOWN;
  }));
  ASSERT_TRUE(ReceivingFrom("d1", "p1-sb"));
  ASSERT_NO_FATAL_FAILURE(StreamPast(absl::Seconds(1)));
  const absl::Duration gap = ExpectNothingLost("kill -9 p1 under topologyd");
  EXPECT_LT(gap, absl::Seconds(1));
  EXPECT_EQ(relays_["d1"]->Metric("relay_parent_failovers_total"), 1);
  EXPECT_EQ(relays_["d1"]->Metric("relay_parent_switches_total"), 0)
      << "the controller's confirmation moved d1 again";
}

TEST_F(ControllerFailoverTest, PlainSitesBelowAKilledRelayAreTakenOver) {
  ASSERT_NO_FATAL_FAILURE(StartStream());
  const media::Endpoint standby = relays_["d1-sb"]->address();
  const absl::Time killed = absl::Now();
  relays_["d1"]->Signal(SIGKILL);
  absl::Duration takeover;
  for (const RecordingSite& site : sites_) {
    std::optional<absl::Time> first;
    ASSERT_TRUE(WaitUntil(
        absl::StrCat("the site at ", site.address().ToString(), " hears d1-sb"),
        absl::Seconds(15), [&] {
          first = site.FirstFrom(standby, killed);
          return first.has_value();
        }));
    takeover = std::max(takeover, *first - killed);
  }
  std::printf(
      "plain sites below a killed district relay: taken over by its "
      "standby after %.0f ms (lease timeout 3 s)\n",
      absl::ToDoubleMilliseconds(takeover));
  // Well inside the 3 s lease: d1's parent reported it silent.
  EXPECT_LT(takeover, absl::Seconds(2));
}

}  // namespace
}  // namespace cascade::relay::testing
