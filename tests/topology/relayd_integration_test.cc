// topologyd with real relayd processes while media flows source -> nat ->
// p1 -> d1 -> s1 (a plain site), p1-sb standing by: a relay that fails over
// on its own is confirmed, not moved again (lease expiry, or a controller
// restart); media never waits for the controller; a restarted controller
// sends what relays run, so nothing switches; a drain reports empty with
// nothing lost.
#include <glog/logging.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/substitute.h"
#include "absl/synchronization/mutex.h"
#include "base/subprocess.h"
#include "proto/controller.pb.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"

namespace cascade::topology {
namespace {

using cascade::testing::kWaitTimeout;
using cascade::testing::ReadFile;
using cascade::testing::RunFor;
using cascade::testing::WaitUntil;
using testing::AckedNewerThan;
using testing::MediaRun;
using testing::Topologyd;
using testing::Udp;

constexpr uint8_t kPayloadType = 111;
constexpr uint32_t kSsrc = 1111;

// $0..$3: nat, p1, p1-sb, d1 (relayd); $4: s1, a plain RTP endpoint.
constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 64
  tracks { ssrc: 1111 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "$1"
  labels { key: "region" value: "r1" } capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" role: ROLE_STANDBY
  labels { key: "region" value: "r1" } media_address: "$2"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "$3"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "$4"
  plain_endpoint: true }
)txt";

// relayd in controller mode; killed -9 when destroyed.
struct Relayd {
  std::unique_ptr<Subprocess> process;
  int udp_port = 0;
  int metrics_port = 0;
  std::string address() const { return absl::StrCat("127.0.0.1:", udp_port); }
  double Metric(const std::string& sample) const {
    return cascade::testing::MetricValue(
        cascade::testing::HttpGet(metrics_port, "/metrics"), sample);
  }
};

class RelaydTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::TestDir(); }

  void StartController(int port = 0) {
    auto daemon = Topologyd::Start(
        dir_, "topologyd" + std::to_string(++starts_),
        // Learning outlasts relayd's reconnect backoff (at most 5 s).
        {"--insecure", "--state-dir=" + dir_ + "/state", "--lease-timeout=1s",
         "--restart-learning=6s"},
        port);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
  }

  void StartRelay(const std::string& id, std::vector<std::string> args) {
    const std::string ports = dir_ + "/" + id + ".ports";
    args.insert(args.begin(),
                {"relay/relayd", "--controller=" + controller_->address(),
                 "--insecure", "--id=" + id, "--listen=127.0.0.1:0",
                 "--port-file=" + ports, "--metrics=127.0.0.1:0"});
    auto process = Subprocess::Start(
        args, {dir_ + "/" + id + ".out", dir_ + "/" + id + ".err"});
    ASSERT_TRUE(process.ok()) << process.status();
    Relayd& relay = relays_[id];
    relay.process = std::move(*process);
    const std::string bound =
        cascade::testing::WaitForFile(ports, absl::Seconds(20));
    for (absl::string_view line : absl::StrSplit(bound, '\n')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
      if (kv.first == "udp") {
        ASSERT_TRUE(absl::SimpleAtoi(kv.second, &relay.udp_port));
      }
      if (kv.first == "metrics") {
        ASSERT_TRUE(absl::SimpleAtoi(kv.second, &relay.metrics_port));
      }
    }
    ASSERT_GT(relay.udp_port, 0) << ReadFile(dir_ + "/" + id + ".err");
  }

  cascade::v1::NodeView Show(const std::string& id) {
    return testing::ShowNode(dir_, controller_->address(), id);
  }

  ::testing::AssertionResult WaitForNode(
      const std::string& id, absl::string_view what,
      const std::function<bool(const cascade::v1::NodeView&)>& check,
      cascade::v1::NodeView* last = nullptr,
      absl::Duration timeout = kWaitTimeout) {
    return testing::WaitForNode(dir_, controller_->address(), id, what, check,
                                last, timeout);
  }

  // Waits (bounded) until s1 has received the packets sent until `tail` from
  // now, and returns that moment: a window that ends there covers now, and
  // the stream carried on past it, so a packet lost now shows as lost.
  absl::Time StreamPast(absl::Duration tail) {
    const absl::Time end = absl::Now() + tail;
    EXPECT_TRUE(WaitUntil(absl::StrCat("s1 gets the packets sent in the next ",
                                       absl::FormatDuration(tail)),
                          kWaitTimeout,
                          [&] { return media_->Delivered(end); }));
    return end;
  }

  // topologyd, the four relays, the topology, and media flowing to s1;
  // `versions_` holds each relay's acked version.
  void StartNetwork() {
    ASSERT_NO_FATAL_FAILURE(StartController());
    ASSERT_NO_FATAL_FAILURE(
        StartRelay("nat", {"--source=" + source_.address()}));
    for (const char* id : {"p1", "p1-sb", "d1"}) {
      ASSERT_NO_FATAL_FAILURE(StartRelay(id, {}));
    }
    std::ofstream(dir_ + "/topology.textproto") << absl::Substitute(
        kTopology, relays_["nat"].address(), relays_["p1"].address(),
        relays_["p1-sb"].address(), relays_["d1"].address(), site_.address());
    auto applied = testing::Relayctl(
        dir_, controller_->address(),
        {"--insecure", "apply", dir_ + "/topology.textproto"});
    ASSERT_EQ(applied.code, 0) << applied.err;
    media_ = std::make_unique<MediaRun>(&source_, relays_["nat"].udp_port,
                                        &site_, kPayloadType, kSsrc);
    ASSERT_TRUE(WaitUntil("s1 gets media", kWaitTimeout,
                          [&] { return media_->Flowing(); }));
    for (const char* id : {"nat", "p1", "p1-sb", "d1"}) {
      cascade::v1::NodeView view;
      ASSERT_TRUE(WaitForNode(
          id, "acks its assignment and reports the parent it receives from",
          [](const cascade::v1::NodeView& v) {
            return AckedNewerThan(v) && !v.stats().receiving_from().empty();
          },
          &view));
      versions_[id] = view.acked_version();
    }
  }

  // Waits (bounded) until every running relay acked a version newer than
  // `before` (its version then) and its newest one.
  void WaitForAcks(const std::map<std::string, uint64_t>& before) {
    for (const auto& [id, version] : before) {
      const uint64_t newer_than = version;
      EXPECT_TRUE(WaitForNode(
          id, absl::StrCat("acks an assignment newer than version ", version),
          [&](const cascade::v1::NodeView& v) {
            return AckedNewerThan(v, newer_than);
          }));
    }
  }

  std::string dir_;
  int starts_ = 0;
  Udp source_, site_;
  std::unique_ptr<Topologyd> controller_;
  std::map<std::string, Relayd> relays_;
  std::unique_ptr<MediaRun> media_;
  std::map<std::string, uint64_t> versions_;
};

TEST_F(RelaydTest, MediaOutlivesTheControllerAndRestartsChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(StartNetwork());
  const int port = controller_->port();
  MediaRun& media = *media_;
  std::map<std::string, uint64_t> versions = versions_;

  // 1. Controller killed and restarted: media untouched, the same
  //    assignments come back (newer versions, acked), no relay switches.
  const absl::Time outage = absl::Now();
  controller_.reset();
  RunFor(absl::Seconds(2));  // the outage under test
  ASSERT_NO_FATAL_FAILURE(StartController(port));
  WaitForAcks(versions);
  MediaRun::Window quiet = media.Measure(outage, absl::Now());
  EXPECT_GT(quiet.sent, 300);
  EXPECT_EQ(quiet.lost, 0);
  EXPECT_LT(quiet.longest_gap, absl::Milliseconds(200));
  for (const auto& [id, relay] : relays_) {
    EXPECT_EQ(relay.Metric("relay_parent_switches_total"), 0) << id;
    EXPECT_EQ(relay.Metric("relay_parent_failovers_total"), 0) << id;
  }

  // 2. Controller killed, then p1: d1 fails over to its standby on its own;
  //    the restarted controller confirms that instead of moving d1 again.
  for (const char* id : {"nat", "p1-sb", "d1"}) {
    versions[id] = Show(id).acked_version();
  }
  controller_.reset();
  const absl::Time crash = absl::Now();
  relays_["p1"].process.reset();  // kill -9
  ASSERT_TRUE(relays_["d1"].process != nullptr);
  ASSERT_TRUE(WaitUntil("d1 fails over", kWaitTimeout, [&] {
    return relays_["d1"].Metric("relay_parent_failovers_total") >= 1;
  }));
  ASSERT_EQ(relays_["d1"].Metric("relay_parent_failovers_total"), 1);
  // The controller comes back once s1 hears the stream through p1-sb.
  const absl::Time failed_over = absl::Now();
  ASSERT_TRUE(WaitUntil("s1 gets packets sent after d1 failed over",
                        kWaitTimeout,
                        [&] { return media.Delivered(failed_over); }));
  ASSERT_NO_FATAL_FAILURE(StartController(port));
  versions.erase("p1");
  WaitForAcks(versions);
  cascade::v1::NodeView d1 = Show("d1");
  ASSERT_GT(d1.parents_size(), 0);
  EXPECT_EQ(d1.parents(0), "p1-sb");
  EXPECT_EQ(d1.stats().receiving_from(), "p1-sb");
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_DOWN);
  EXPECT_EQ(relays_["d1"].Metric("relay_parent_switches_total"), 0);
  EXPECT_EQ(relays_["d1"].Metric("relay_parent_failovers_total"), 1);
  MediaRun::Window failover = media.Measure(crash, absl::Now());
  LOG(INFO) << "kill -9 of p1 with the controller down: " << failover.lost
            << " of " << failover.sent << " packets lost at s1, longest gap "
            << failover.longest_gap;
  EXPECT_LT(failover.longest_gap, absl::Seconds(1));
  EXPECT_TRUE(media.Flowing());
}

// With the controller up: p1 killed -9, d1 fails over on its own within
// relayd's parent timeout; the lease expiry a second later confirms d1 on
// that standby, which relayd applies without switching again.
TEST_F(RelaydTest, LeaseExpiryConfirmsTheRelaysOwnFailover) {
  ASSERT_NO_FATAL_FAILURE(StartNetwork());
  const absl::Time crash = absl::Now();
  relays_["p1"].process.reset();  // kill -9
  cascade::v1::NodeView d1;
  ASSERT_TRUE(WaitForNode(
      "d1", "is confirmed on p1-sb and acks it",
      [](const cascade::v1::NodeView& v) {
        return v.parents_size() > 0 && v.parents(0) == "p1-sb" &&
               v.acked_version() == v.assignment_version();
      },
      &d1, absl::Seconds(15)));
  EXPECT_GT(d1.acked_version(), versions_["d1"]);
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_DOWN);
  // One move: its own. The confirmation switched nothing.
  EXPECT_EQ(relays_["d1"].Metric("relay_parent_failovers_total"), 1);
  EXPECT_EQ(relays_["d1"].Metric("relay_parent_switches_total"), 0);
  MediaRun::Window failover =
      media_->Measure(crash, StreamPast(absl::Milliseconds(500)));
  LOG(INFO) << "kill -9 of p1: " << failover.lost << " of " << failover.sent
            << " packets lost at s1, longest gap " << failover.longest_gap;
  EXPECT_LT(failover.longest_gap, absl::Seconds(1));
  EXPECT_TRUE(media_->Flowing());
}

// relayctl drain under a live stream: p1's child moves make-before-break,
// drain reports p1 empty once it is, nothing is lost; restore takes it back.
TEST_F(RelaydTest, DrainReportsEmptyUnderALiveStreamAndLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartNetwork());
  const absl::Time start = absl::Now();
  auto drained = testing::Relayctl(
      dir_, controller_->address(),
      {"--insecure", "--json", "--timeout=30s", "drain", "p1"});
  ASSERT_EQ(drained.code, 0) << drained.err << drained.out;
  EXPECT_NE(drained.out.find("\"empty\":true"), std::string::npos)
      << drained.out;
  // Empty means empty: p1 forwards to no one.
  EXPECT_EQ(relays_["p1"].Metric("relay_children"), 0);
  EXPECT_EQ(Show("d1").stats().receiving_from(), "p1-sb");
  auto restored = testing::Relayctl(dir_, controller_->address(),
                                    {"--insecure", "restore", "p1"});
  ASSERT_EQ(restored.code, 0) << restored.err;
  EXPECT_TRUE(WaitForNode(
      "d1", "receives from p1 again",
      [](const cascade::v1::NodeView& v) {
        return v.stats().receiving_from() == "p1";
      },
      nullptr, absl::Seconds(15)));
  MediaRun::Window window =
      media_->Measure(start, StreamPast(absl::Milliseconds(500)));
  LOG(INFO) << "drain and restore of p1: " << window.lost << " of "
            << window.sent << " packets lost at s1, longest gap "
            << window.longest_gap;
  EXPECT_EQ(window.lost, 0);
  EXPECT_LT(window.longest_gap, absl::Milliseconds(200));
  EXPECT_EQ(relays_["d1"].Metric("relay_parent_failovers_total"), 0);
}

}  // namespace
}  // namespace cascade::topology
