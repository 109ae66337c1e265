// relayd taking its orders from topologyd: real controller, relayd processes
// started with --controller only, plain-endpoint sites on loopback. Media
// reaches the sites through controller-assigned parents and keys; a move
// switches a site's parent; stats reach the controller; an unreachable
// controller never stops media from a --config.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.pb.h"
#include "tests/media/process.h"
#include "tests/relay/relay_harness.h"
#include "tests/topology/harness.h"

namespace cascade::relay::testing {
namespace {

using cascade::topology::testing::Topologyd;

constexpr uint32_t kSsrc = 1111;

// $0..$2: nat, p1, p1-sb; $3, $4: sites s1, s2 (plain RTP endpoints).
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
nodes { id: "s1" tier: TIER_SITE parent: "p1" media_address: "$3"
  plain_endpoint: true }
nodes { id: "s2" tier: TIER_SITE parent: "p1" media_address: "$4"
  plain_endpoint: true }
)txt";

using Result = cascade::testing::CommandResult;

class ControllerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = TempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  void StartController() {
    auto daemon = Topologyd::Start(
        tmp_, "topologyd",
        {"--insecure", "--state-dir=" + tmp_ + "/state", "--lease-timeout=3s"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = *std::move(daemon);
    address_ = controller_->address();
  }

  Result Relayctl(std::vector<std::string> args) {
    args.insert(args.begin(), "--insecure");
    return cascade::topology::testing::Relayctl(tmp_, address_,
                                                std::move(args));
  }

  // relayctl apply of kTopology with these addresses.
  void ApplyTopology(const media::Endpoint& nat, const media::Endpoint& p1,
                     const media::Endpoint& sb, const media::Endpoint& s1,
                     const media::Endpoint& s2) {
    const std::string topology = tmp_ + "/topology.textproto";
    std::ofstream(topology)
        << absl::Substitute(kTopology, nat.ToString(), p1.ToString(),
                            sb.ToString(), s1.ToString(), s2.ToString());
    Result applied = Relayctl({"apply", topology});
    ASSERT_EQ(applied.code, 0) << applied.err;
  }

  cascade::v1::NodeView Show(const std::string& id) {
    return cascade::topology::testing::ShowNode(tmp_, address_, id);
  }

  ::testing::AssertionResult WaitForNode(
      const std::string& id, absl::string_view what,
      const std::function<bool(const cascade::v1::NodeView&)>& check,
      cascade::v1::NodeView* last = nullptr) {
    return cascade::topology::testing::WaitForNode(
        tmp_, address_, id, what, check, last, absl::Seconds(10));
  }

  // Waits (bounded) until `id` has acked its newest assignment.
  ::testing::AssertionResult WaitForAck(const std::string& id) {
    return WaitForNode(id, "acks its newest assignment",
                       [](const cascade::v1::NodeView& v) {
                         return cascade::topology::testing::AckedNewerThan(v);
                       });
  }

  std::unique_ptr<RelayProcess> StartRelay(const std::string& id,
                                           std::vector<std::string> args) {
    args.insert(args.end(), {"--controller=" + address_, "--insecure",
                             "--id=" + id, "--listen=127.0.0.1:0"});
    auto relay = RelayProcess::Start(id, "", args);
    EXPECT_TRUE(relay.ok()) << relay.status();
    return relay.ok() ? *std::move(relay) : nullptr;
  }

  std::string tmp_, address_;
  std::unique_ptr<Topologyd> controller_;
};

// Sends one packet every few milliseconds from `source` to `to` and drains
// each site, until `done` holds or the deadline passes. `from` records the
// sender of each packet a site got.
struct Site {
  UdpPeer peer;
  std::vector<media::Endpoint> from;
};

// Whether the last packet `site` got came from `parent`.
bool GotFrom(const Site& site, const media::Endpoint& parent) {
  return !site.from.empty() && site.from.back() == parent;
}

// Forgets what a site got, including datagrams still queued from before.
void Forget(Site& site) {
  while (site.peer.Receive(absl::Milliseconds(20))) {
  }
  site.from.clear();
}

bool Pump(UdpPeer& source, const media::Endpoint& to, uint16_t* seq,
          std::vector<Site*> sites, const std::function<bool()>& done,
          absl::Duration timeout = absl::Seconds(20)) {
  const uint8_t payload[] = {1, 2, 3, 4};
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const uint16_t n = (*seq)++;
    source.SendTo(to, MakeRtp(kSsrc, n, n * 960u, payload));
    for (Site* site : sites) {
      media::Endpoint from;
      // Short waits keep the pace near one packet per 5 ms per site.
      while (std::optional<Bytes> got =
                 site->peer.Receive(absl::Milliseconds(2), &from)) {
        if (IsRtp(*got)) site->from.push_back(from);
      }
    }
    if (done()) return true;
  }
  return false;
}

TEST_F(ControllerIntegrationTest, AssignmentsDriveMediaMovesAndReports) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  UdpPeer source;
  Site s1, s2;
  auto nat = StartRelay("nat", {"--source=" + source.address().ToString()});
  auto p1 = StartRelay("p1", {});
  auto sb = StartRelay("p1-sb", {});
  ASSERT_TRUE(nat && p1 && sb);

  ASSERT_NO_FATAL_FAILURE(ApplyTopology(nat->address(), p1->address(),
                                        sb->address(), s1.peer.address(),
                                        s2.peer.address()));

  // source -> nat -> p1 -> {s1, s2}: parents, link keys and pushes all come
  // from the assignments.
  uint16_t seq = 1;
  ASSERT_TRUE(Pump(
      source, nat->address(), &seq, {&s1, &s2},
      [&] { return GotFrom(s1, p1->address()) && GotFrom(s2, p1->address()); }))
      << "s1 got " << s1.from.size() << ", s2 got " << s2.from.size();

  Result moved = Relayctl({"move", "s1", "--parent=p1-sb"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  ASSERT_TRUE(Pump(source, nat->address(), &seq, {&s1, &s2}, [&] {
    return GotFrom(s1, sb->address());
  })) << "s1 never heard from p1-sb";
  // Once p1 has acked the move it no longer pushes to s1: from then on s1
  // hears only its new parent, and s2 still hears p1.
  ASSERT_TRUE(WaitForAck("p1"));
  Forget(s1);
  Forget(s2);
  ASSERT_TRUE(Pump(source, nat->address(), &seq, {&s1, &s2}, [&] {
    return s1.from.size() >= 50 && s2.from.size() >= 50;
  }));
  for (const media::Endpoint& e : s1.from) EXPECT_EQ(e, sb->address());
  for (const media::Endpoint& e : s2.from) EXPECT_EQ(e, p1->address());

  // Reports (each second) carry the relays' counters; every assignment was
  // acknowledged.
  cascade::v1::NodeView view;
  EXPECT_TRUE(WaitForNode(
      "p1", "reports traffic out and one child",
      [](const cascade::v1::NodeView& v) {
        return v.stats().packets_out() > 0 && v.stats().active_children() == 1;
      },
      &view));
  EXPECT_EQ(view.status(), cascade::v1::STATUS_UP);
  EXPECT_GT(view.stats().packets_in(), 0u);
  EXPECT_EQ(view.stats().active_children(), 1u);  // s2 only, after the move
  EXPECT_EQ(view.stats().receiving_from(), "nat");
  EXPECT_EQ(view.acked_version(), view.assignment_version());
  EXPECT_TRUE(view.ack_error().empty()) << view.ack_error();
  // The root reports on its own schedule: wait for a report with traffic.
  cascade::v1::NodeView root;
  EXPECT_TRUE(WaitForNode(
      "nat", "reports traffic in",
      [](const cascade::v1::NodeView& v) { return v.stats().packets_in() > 0; },
      &root));
  EXPECT_EQ(root.stats().receiving_from(), "source");
  EXPECT_GT(root.stats().packets_in(), 0u);
}

// relayd --relays: p1 and p1-sb in one process on one loop, each with its
// own socket, controller link and assignments, and a metrics page each.
TEST_F(ControllerIntegrationTest, SeveralRelaysInOneProcessEachFollowTheirOwn) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  UdpPeer source;
  Site s1, s2;
  auto nat = StartRelay("nat", {"--source=" + source.address().ToString()});
  ASSERT_TRUE(nat);
  auto both =
      RelayProcess::Start("provinces", "",
                          {"--controller=" + address_, "--insecure",
                           "--relays=p1@127.0.0.1:0,p1-sb@127.0.0.1:0"});
  ASSERT_TRUE(both.ok()) << both.status();
  const media::Endpoint p1 = (*both)->address("p1");
  const media::Endpoint sb = (*both)->address("p1-sb");
  ASSERT_NE(p1.port, 0);
  ASSERT_NE(sb.port, 0);
  ASSERT_NE(p1, sb);

  ASSERT_NO_FATAL_FAILURE(ApplyTopology(nat->address(), p1, sb,
                                        s1.peer.address(), s2.peer.address()));

  uint16_t seq = 1;
  ASSERT_TRUE(Pump(source, nat->address(), &seq, {&s1, &s2},
                   [&] { return GotFrom(s1, p1) && GotFrom(s2, p1); }))
      << "s1 got " << s1.from.size() << ", s2 got " << s2.from.size();

  // A move changes one relay of the process and not the other.
  Result moved = Relayctl({"move", "s1", "--parent=p1-sb"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  ASSERT_TRUE(WaitForAck("p1"));
  ASSERT_TRUE(WaitForAck("p1-sb"));
  Forget(s1);
  Forget(s2);
  ASSERT_TRUE(Pump(source, nat->address(), &seq, {&s1, &s2}, [&] {
    return s1.from.size() >= 50 && s2.from.size() >= 50;
  }));
  for (const media::Endpoint& e : s1.from) EXPECT_EQ(e, sb);
  for (const media::Endpoint& e : s2.from) EXPECT_EQ(e, p1);

  // Each relay's page counts its own child; both report to the controller.
  EXPECT_EQ((*both)->Metrics("/metrics/p1")["relay_children"], 1);
  EXPECT_EQ((*both)->Metrics("/metrics/p1-sb")["relay_children"], 1);
  EXPECT_TRUE((*both)->Metrics("/metrics").empty());
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_UP);
  EXPECT_EQ(Show("p1-sb").status(), cascade::v1::STATUS_UP);

  (*both)->Signal(SIGTERM);
  EXPECT_EQ((*both)->Wait(absl::Seconds(5)).value_or(-1), 0);
}

TEST_F(ControllerIntegrationTest, RelaysFlagRefusesBadLists) {
  for (const char* list :
       {"p1", "p1@127.0.0.1:0,p1@127.0.0.1:0", "@127.0.0.1:0", "p1@nowhere"}) {
    auto relay = RelayProcess::Start("bad", "",
                                     {"--controller=127.0.0.1:1", "--insecure",
                                      std::string("--relays=") + list});
    ASSERT_FALSE(relay.ok()) << list;
    EXPECT_EQ(relay.status().message(), "relayd exited early with exit code 2")
        << list;
  }
}

// With --config and --controller, the config runs until the first
// assignment, which replaces its children; the root keeps the config's
// source as its parent.
TEST_F(ControllerIntegrationTest, AssignmentReplacesTheConfigsChildren) {
  ASSERT_NO_FATAL_FAILURE(StartController());
  UdpPeer source;
  Site configured, assigned;
  auto relay = RelayProcess::Start(
      "root",
      absl::Substitute(R"pb(
                         node_id: "nat"
                         listen: "127.0.0.1:0"
                         parents { id: "source" address: "$0" }
                         children { id: "c" address: "$1" static_push: true }
                         streams { ssrc: 1111 direction: DOWN }
                       )pb",
                       source.address().ToString(),
                       configured.peer.address().ToString()),
      {"--controller=" + address_, "--insecure"});
  ASSERT_TRUE(relay.ok()) << relay.status();
  uint16_t seq = 1;
  ASSERT_TRUE(Pump(source, (*relay)->address(), &seq, {&configured},
                   [&] { return configured.from.size() >= 10; }));

  const std::string topology = tmp_ + "/topology.textproto";
  std::ofstream(topology) << absl::Substitute(
      R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM
  tracks { ssrc: 1111 media: "audio" encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0"
  capacity { max_children: 8 } }
nodes { id: "s" tier: TIER_SITE parent: "nat" media_address: "$1"
  plain_endpoint: true }
)txt",
      (*relay)->address().ToString(), assigned.peer.address().ToString());
  Result applied = Relayctl({"apply", topology});
  ASSERT_EQ(applied.code, 0) << applied.err;
  ASSERT_TRUE(WaitForAck("nat"));
  Forget(configured);
  ASSERT_TRUE(Pump(source, (*relay)->address(), &seq, {&configured, &assigned},
                   [&] { return assigned.from.size() >= 50; }));
  EXPECT_TRUE(configured.from.empty());
}

// A TCP port on 127.0.0.1 that refuses connections while the socket lives.
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), len);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_;
  int port_ = 0;
};

TEST_F(ControllerIntegrationTest, UnreachableControllerNeverStopsMedia) {
  RefusingPort controller;
  UdpPeer source;
  Site child;
  auto relay = RelayProcess::Start(
      "relay",
      absl::Substitute(R"pb(
                         node_id: "r"
                         listen: "127.0.0.1:0"
                         parents { id: "source" address: "$0" }
                         children { id: "c" address: "$1" static_push: true }
                         streams { ssrc: 1111 direction: DOWN }
                       )pb",
                       source.address().ToString(),
                       child.peer.address().ToString()),
      {"--controller=" + controller.address(), "--insecure"});
  ASSERT_TRUE(relay.ok()) << relay.status();
  uint16_t seq = 1;
  ASSERT_TRUE(Pump(
      source, (*relay)->address(), &seq, {&child},
      [&] { return child.from.size() >= 100; }, absl::Seconds(10)));
  EXPECT_TRUE(
      absl::IsDeadlineExceeded((*relay)->Wait(absl::Milliseconds(50)).status()))
      << "relayd exited";
}

}  // namespace
}  // namespace cascade::relay::testing
