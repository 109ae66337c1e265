// topologyd, relayctl and simulated relays (the client library) as real
// peers over loopback: changes reach the relays, a silent relay's children
// move, kill -9 loses nothing, a corrupt journal tail is reported.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.pb.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::topology {
namespace {

using cascade::testing::ReadFile;

constexpr char kTopology[] = R"txt(
streams { id: "command" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 2600
  tracks { ssrc: 1 media: "video" payload_type: 96 encoding: "H264/90000" }
  tracks { ssrc: 2 media: "audio" payload_type: 111 encoding: "opus/48000/2" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat" media_address: "127.2.1.1:5004"
  labels { key: "region" value: "r1" } capacity { max_children: 8 } }
nodes { id: "p1-sb" tier: TIER_PROVINCIAL parent: "nat" role: ROLE_STANDBY
  labels { key: "region" value: "r1" } media_address: "127.2.1.2:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "p1" media_address: "127.3.0.2:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" standby_parents: "p1"
  media_address: "127.10.0.1:5004" }
)txt";

using Result = cascade::testing::CommandResult;
using testing::FakeRelay;
using testing::Topologyd;

class TopologydTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = testing::TestDir();
    state_dir_ = tmp_ + "/state";
    topology_file_ = tmp_ + "/topology.textproto";
    std::ofstream(topology_file_) << kTopology;
  }

  // Starts topologyd; port 0 the first time, the same port on a restart so
  // the relays find it again.
  void StartController(const std::string& topology_flag, int port = 0,
                       const std::string& lease = "1s") {
    // The simulated relays reconnect within half a second.
    std::vector<std::string> flags = {
        "--insecure", "--state-dir=" + state_dir_, "--lease-timeout=" + lease,
        "--restart-learning=2s", "--reintegrate-after=2s"};
    if (!topology_flag.empty()) flags.push_back("--topology=" + topology_flag);
    auto daemon = Topologyd::Start(
        tmp_, "topologyd" + std::to_string(++starts_), flags, port);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
    stderr_path_ = controller_->stderr_path();
    port_ = controller_->port();
    address_ = controller_->address();
  }

  // With client_flags_ first: --insecure for the plaintext controller.
  Result Relayctl(std::vector<std::string> args) {
    args.insert(args.begin(), client_flags_.begin(), client_flags_.end());
    return testing::Relayctl(tmp_, address_, std::move(args));
  }

  FakeRelay* StartRelay(const std::string& id) {
    relays_[id] = std::make_unique<FakeRelay>(address_, id);
    relays_[id]->Start();
    return relays_[id].get();
  }

  cascade::v1::NodeView Show(const std::string& id) {
    return testing::ShowNode(tmp_, address_, id);
  }

  ::testing::AssertionResult WaitForNode(
      const std::string& id, absl::string_view what,
      const std::function<bool(const cascade::v1::NodeView&)>& check,
      cascade::v1::NodeView* last, absl::Duration timeout) {
    return testing::WaitForNode(tmp_, address_, id, what, check, last, timeout);
  }

  std::string tmp_, state_dir_, topology_file_, stderr_path_, address_;
  std::vector<std::string> client_flags_ = {"--insecure"};
  int port_ = 0;
  int starts_ = 0;
  // Declared after the controller so the relays stop before it does.
  std::unique_ptr<Topologyd> controller_;
  std::map<std::string, std::unique_ptr<FakeRelay>> relays_;
};

TEST_F(TopologydTest, ChangesReachRelaysAndSurviveKillNine) {
  ASSERT_NO_FATAL_FAILURE(StartController(topology_file_));
  for (const char* id : {"nat", "p1", "p1-sb", "d1", "d2"}) StartRelay(id);
  FakeRelay* s1 = StartRelay("s1");
  ASSERT_TRUE(s1->WaitForParent("d1"));

  // --json nodes: an object with a nodes array of id/tier/status/parents.
  Result nodes = Relayctl({"--json", "nodes"});
  ASSERT_EQ(nodes.code, 0) << nodes.err;
  for (const char* key : {"\"nodes\":[", "\"id\":\"s1\"", "\"tier\":",
                          "\"status\":", "\"parents\":[\"d1\",\"p1\"]"}) {
    EXPECT_NE(nodes.out.find(key), std::string::npos) << key << nodes.out;
  }
  cascade::v1::GetTopologyResponse listed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(nodes.out, &listed).ok());
  EXPECT_EQ(listed.nodes_size(), 6);

  // apply: a new site appears; its district hears of it.
  std::ofstream(topology_file_, std::ios::app)
      << "nodes { id: \"s2\" tier: TIER_SITE parent: \"d2\" "
         "standby_parents: \"p1\" media_address: \"127.10.0.2:5004\" }\n";
  Result applied = Relayctl({"apply", topology_file_});
  ASSERT_EQ(applied.code, 0) << applied.err;
  ASSERT_TRUE(relays_["d2"]->WaitFor([](const cascade::v1::Assignment& a) {
    return a.active_children_size() == 1 && a.active_children(0).id() == "s2";
  }));

  // move: s1 goes under d2.
  Result moved = Relayctl({"move", "s1", "--parent", "d2"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  ASSERT_TRUE(s1->WaitForParent("d2"));

  // drain: d2's children go to their next parent (s2, which has no
  // controller link, to the one configured for it).
  Result drained = Relayctl({"drain", "d2"});
  ASSERT_EQ(drained.code, 0) << drained.err;
  ASSERT_TRUE(s1->WaitForParent("p1"));

  // Kill a node: p1 stops reporting, its lease lapses, its children move to
  // the region's standby.
  relays_["p1"]->Stop();
  ASSERT_TRUE(relays_["d1"]->WaitForParent("p1-sb"));
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_DOWN);

  // kill -9 the controller and restart it: every change is still there.
  std::map<std::string, int> applies;
  std::map<std::string, uint64_t> versions;
  for (const auto& [id, relay] : relays_) {
    applies[id] = relay->applied();
    versions[id] = relay->last().version();
  }
  controller_.reset();
  ASSERT_NO_FATAL_FAILURE(StartController("", port_));
  cascade::v1::NodeView shown = Show("s1");
  EXPECT_EQ(shown.desired_parent(), "d2");
  EXPECT_EQ(Show("d2").status(), cascade::v1::STATUS_DRAINING);
  EXPECT_EQ(Show("s2").desired_parent(), "d2");
  // The relays reconnect on their own. After a lease of learning the
  // controller sends each one what it already runs: newer versions, acked,
  // but the same content, so nothing is applied again. Dead p1 stays down.
  for (const auto& [id, relay] : relays_) {
    if (id == "p1") continue;
    const uint64_t before = versions[id];
    EXPECT_TRUE(WaitForNode(
        id, "acks an assignment newer than before the restart",
        [&](const cascade::v1::NodeView& v) {
          return testing::AckedNewerThan(v, before);
        },
        nullptr, absl::Seconds(15)));
    EXPECT_EQ(relay->applied(), applies[id]) << id;
    EXPECT_GE(relay->sessions(), 2) << id;
  }
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_DOWN);
  EXPECT_EQ(relays_["d1"]->last().parents(0).id(), "p1-sb");
}

TEST_F(TopologydTest, ReturningNodeIsHeldDownThenGetsItsChildrenBack) {
  ASSERT_NO_FATAL_FAILURE(StartController(topology_file_));
  for (const char* id : {"nat", "p1", "p1-sb", "d1", "d2", "s1"}) {
    StartRelay(id);
  }
  ASSERT_TRUE(relays_["d1"]->WaitForParent("p1"));
  relays_["p1"]->Stop();
  ASSERT_TRUE(relays_["d1"]->WaitForParent("p1-sb"));
  const int moves = relays_["d1"]->applied();
  relays_["p1"]->Start();
  cascade::v1::NodeView p1;
  ASSERT_TRUE(WaitForNode(
      "p1", "is held down",
      [](const cascade::v1::NodeView& v) {
        return v.status() == cascade::v1::STATUS_HOLD_DOWN;
      },
      &p1, absl::Seconds(10)));
  EXPECT_GT(p1.hold_down_ms_left(), 0);
  EXPECT_LE(p1.hold_down_ms_left(), 2000);
  EXPECT_EQ(p1.recent_expiries(), 1u);
  Result shown = Relayctl({"show", "p1"});
  EXPECT_NE(shown.out.find("status:           hold_down (children again in "),
            std::string::npos)
      << shown.out;
  EXPECT_NE(shown.out.find(", 1 recent lease expiries\n"), std::string::npos)
      << shown.out;
  // Held down: d1 stays on the standby until p1 has kept its lease 2 s,
  // then moves back, once.
  EXPECT_EQ(relays_["d1"]->last().parents(0).id(), "p1-sb");
  ASSERT_TRUE(relays_["d1"]->WaitForParent("p1"));
  EXPECT_EQ(relays_["d1"]->applied(), moves + 1);
  EXPECT_EQ(Show("p1").status(), cascade::v1::STATUS_UP);
}

TEST_F(TopologydTest, CorruptJournalTailIsReportedNotUsed) {
  ASSERT_NO_FATAL_FAILURE(StartController(topology_file_));
  // No relay runs here: nothing to wait for.
  ASSERT_EQ(Relayctl({"--wait=false", "drain", "d1"}).code, 0);
  controller_.reset();  // kill -9
  // A torn record: a header promising more payload than there is.
  std::ofstream(state_dir_ + "/journal", std::ios::app | std::ios::binary)
      << std::string("\x40\x00\x00\x00\x12\x34\x56\x78partial", 15);
  ASSERT_NO_FATAL_FAILURE(StartController(topology_file_));
  EXPECT_NE(ReadFile(stderr_path_).find("15 bytes set aside"),
            std::string::npos)
      << ReadFile(stderr_path_);
  Result stats = Relayctl({"--json", "stats"});
  ASSERT_EQ(stats.code, 0);
  EXPECT_NE(stats.out.find("\"journal_discarded_bytes\":\"15\""),
            std::string::npos)
      << stats.out;
  // The intact records are all there.
  EXPECT_EQ(Show("d1").status(), cascade::v1::STATUS_DRAINING);
  // And the journal is appendable again.
  ASSERT_EQ(Relayctl({"--wait=false", "drain", "d2"}).code, 0);
  controller_.reset();
  ASSERT_NO_FATAL_FAILURE(StartController(""));
  EXPECT_EQ(Show("d2").status(), cascade::v1::STATUS_DRAINING);
  EXPECT_EQ(ReadFile(stderr_path_).find("set aside"), std::string::npos);
}

TEST_F(TopologydTest, ExitCodesAndErrors) {
  // No relay runs here: a long lease keeps the nodes "unknown" throughout.
  ASSERT_NO_FATAL_FAILURE(StartController(topology_file_, 0, "60s"));
  Result missing = Relayctl({"show", "nope"});
  EXPECT_EQ(missing.code, 3);
  EXPECT_EQ(missing.err, "relayctl: show: no node \"nope\"\n");
  EXPECT_EQ(Relayctl({"remove", "d1"}).code, 4);  // d1 has a child
  EXPECT_EQ(Relayctl({"frobnicate"}).code, 2);
  // Said at start (and every minute): this controller is open.
  EXPECT_TRUE(absl::StrContains(ReadFile(stderr_path_),
                                "--insecure: the control plane is "
                                "unauthenticated and unencrypted"))
      << ReadFile(stderr_path_);

  // An invalid file is refused whole, naming node and line.
  std::string bad = tmp_ + "/bad.textproto";
  std::ofstream(bad) << kTopology
                     << "nodes { id: \"x\" tier: TIER_SITE parent: \"ghost\" "
                        "media_address: \"127.10.0.9:5004\" }\n";
  Result refused = Relayctl({"apply", bad});
  EXPECT_EQ(refused.code, 4);
  EXPECT_NE(refused.err.find(bad + ":18: node \"x\": unknown parent \"ghost\""),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(Show("d1").desired_parent(), "p1");

  Result help = Relayctl({"move", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("relayctl"), std::string::npos);

  // A site that activates its parent is no player's: only a plain
  // endpoint gets an SDP (tests/player plays one).
  Result sdp = Relayctl({"sdp", "s1"});
  EXPECT_EQ(sdp.code, 4);
  EXPECT_NE(sdp.err.find("is not a plain endpoint"), std::string::npos)
      << sdp.err;
  EXPECT_EQ(Relayctl({"sdp", "d1"}).code, 4);

  Result tree = Relayctl({"tree"});
  EXPECT_EQ(tree.code, 0);
  EXPECT_NE(tree.out.find("      s1 [site, unknown, standby p1]"),
            std::string::npos)
      << tree.out;
}

// Mutual TLS on both services and the legacy admin token, with
// certificates made by the security library for this test: an operator's
// certificate acts with its role, the shared token as an admin.
TEST_F(TopologydTest, MutualTlsAndAdminToken) {
  auto pki = testing::TestPki::Make(tmp_ + "/pki");
  ASSERT_TRUE(pki.ok()) << pki.status();
  ASSERT_TRUE(pki->IssueNode("topologyd").ok());
  ASSERT_TRUE(pki->IssueNode("s1").ok());
  ASSERT_TRUE(pki->IssueOperator("ops", security::Role::kOperator).ok());
  std::ofstream(tmp_ + "/token") << "let-me-in\n";

  std::vector<std::string> flags = pki->ServerFlags("topologyd");
  flags.insert(flags.end(),
               {"--state-dir=" + state_dir_, "--topology=" + topology_file_,
                "--admin-token-file=" + tmp_ + "/token"});
  auto daemon = Topologyd::Start(tmp_, "tls", flags);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  controller_ = std::move(*daemon);
  address_ = controller_->address();
  client_flags_.clear();
  EXPECT_FALSE(
      absl::StrContains(ReadFile(controller_->stderr_path()), "--insecure"));

  const std::vector<std::string> tls = pki->Flags("ops");
  auto with = [&](std::vector<std::string> flags,
                  const std::vector<std::string>& command) {
    flags.insert(flags.end(), command.begin(), command.end());
    return Relayctl(flags);
  };
  std::vector<std::string> full = tls;
  full.push_back("--admin-token-file=" + tmp_ + "/token");
  Result ok = with(full, {"show", "d1"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  // The certificate alone: its operator role may look and drain, not
  // remove a node, which the shared token (an admin's) may.
  EXPECT_EQ(with(tls, {"show", "d1"}).code, 0);
  Result denied = with(tls, {"remove", "d2"});
  EXPECT_EQ(denied.code, 6) << denied.err;
  EXPECT_EQ(denied.err,
            "relayctl: remove: permission denied: operator may not remove\n");
  Result as_admin = with(full, {"remove", "d2"});
  EXPECT_EQ(as_admin.code, 0) << as_admin.err;
  // A wrong shared token is refused, certificate or not.
  std::ofstream(tmp_ + "/wrong") << "guess\n";
  std::vector<std::string> wrong = tls;
  wrong.push_back("--admin-token-file=" + tmp_ + "/wrong");
  Result guessed = with(wrong, {"show", "d1"});
  EXPECT_EQ(guessed.code, 6);
  EXPECT_EQ(guessed.err, "relayctl: show: wrong admin token\n");
  // No client certificate: the handshake fails.
  Result no_cert =
      with({"--tls-ca=" + pki->ca(), "--admin-token-file=" + tmp_ + "/token"},
           {"show", "d1"});
  EXPECT_EQ(no_cert.code, 1) << no_cert.err;
  // Plaintext: refused by relayctl unless --insecure, then by the
  // controller.
  Result plaintext = Relayctl({"show", "d1"});
  EXPECT_EQ(plaintext.code, 2);
  EXPECT_EQ(plaintext.err,
            "relayctl: refusing to talk to the controller in plaintext: give "
            "--tls-ca (and --tls-cert/--tls-key for mutual TLS), or "
            "--insecure for a test bed\n");
  EXPECT_EQ(Relayctl({"--insecure", "show", "d1"}).code, 1);

  // A relay over mutual TLS, with its own node's certificate, gets its
  // assignment.
  relays_["s1"] = std::make_unique<FakeRelay>(
      address_, "s1", absl::Milliseconds(300), pki->Credentials("s1"));
  relays_["s1"]->Start();
  EXPECT_TRUE(relays_["s1"]->WaitForParent("d1"));
}

TEST_F(TopologydTest, LoadsTheReferenceTopologyAsItIs) {
  ASSERT_NO_FATAL_FAILURE(
      StartController("topology/reference/south19.textproto"));
  Result stats = Relayctl({"--json", "stats"});
  ASSERT_EQ(stats.code, 0) << stats.err;
  cascade::v1::StatsResponse parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(stats.out, &parsed).ok());
  EXPECT_EQ(parsed.nodes(), 2u + 38u + 204u + 2594u);
  EXPECT_EQ(parsed.orphans(), 0u);
}

}  // namespace
}  // namespace cascade::topology
