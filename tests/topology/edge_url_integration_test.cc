// relayctl url and rotate-edge-key against a real topologyd with mutual
// TLS: an operator gets a site's URL at its district relay, whose
// assignment carries the key that checks the token; a viewer may not mint
// nor an operator rotate; a rotation reaches the relay with the previous
// key kept; every mint is in the audit trail; refusals exit 3 or 4 saying
// why.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "control/edge_token.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.pb.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/topology/test_pki.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using security::Role;
using testing::FakeRelay;
using testing::TestPki;
using testing::Topologyd;

// d2 has no browser edge.
constexpr char kTopology[] = R"txt(
streams { id: "cmd" direction: DIRECTION_DOWNSTREAM bitrate_kbps: 2600
  tracks { ssrc: 1 media: "video" payload_type: 96 encoding: "H264/90000" } }
streams { id: "s1-up" direction: DIRECTION_UPSTREAM source_node: "s1"
  tracks { ssrc: 500 media: "video" payload_type: 96 encoding: "H264/90000" } }
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  edge_address: "nat.edge.test:8443" capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.1:5004"
  edge_address: "d1.edge.test:8443" capacity { max_children: 8 } }
nodes { id: "d2" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.2:5004"
  capacity { max_children: 8 } }
nodes { id: "s1" tier: TIER_SITE parent: "d1" media_address: "127.10.0.1:5004" }
nodes { id: "s2" tier: TIER_SITE parent: "d2" media_address: "127.10.0.2:5004" }
)txt";

class EdgeUrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = testing::TestDir();
    auto pki = TestPki::Make(tmp_ + "/pki");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = std::make_unique<TestPki>(*std::move(pki));
    for (const char* id : {"topologyd", "nat", "d1"}) {
      ASSERT_TRUE(pki_->IssueNode(id).ok());
    }
    ASSERT_TRUE(pki_->IssueOperator("vera", Role::kViewer).ok());
    ASSERT_TRUE(pki_->IssueOperator("oscar", Role::kOperator).ok());
    ASSERT_TRUE(pki_->IssueOperator("ada", Role::kAdmin).ok());
    const std::string topology = tmp_ + "/topology.textproto";
    std::ofstream(topology) << kTopology;
    std::vector<std::string> flags = pki_->ServerFlags("topologyd");
    flags.insert(flags.end(),
                 {"--state-dir=" + tmp_ + "/state", "--topology=" + topology,
                  "--lease-timeout=60s"});
    auto daemon = Topologyd::Start(tmp_, "topologyd", flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    controller_ = std::move(*daemon);
    d1_ = std::make_unique<FakeRelay>(controller_->address(), "d1",
                                      absl::Milliseconds(300),
                                      pki_->Credentials("d1"));
    d1_->Start();
  }

  CommandResult As(const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> flags = pki_->Flags(name);
    args.insert(args.begin(), flags.begin(), flags.end());
    return testing::Relayctl(tmp_, controller_->address(), std::move(args));
  }

  // What d1's newest assignment says about `token`.
  absl::Status CheckAtD1(const std::string& token, const std::string& stream,
                         control::EdgeAction action) {
    const cascade::v1::Assignment assignment = d1_->last();
    absl::StatusOr<control::EdgeTokenVerifier> verifier =
        control::EdgeTokenVerifier::FromPublicKeys(
            {assignment.edge_token_keys().begin(),
             assignment.edge_token_keys().end()});
    if (!verifier.ok()) return verifier.status();
    return verifier->Verify(token, "d1", stream, action, absl::Now()).status();
  }

  std::string tmp_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Topologyd> controller_;
  std::unique_ptr<FakeRelay> d1_;
};

TEST_F(EdgeUrlTest, OperatorsMintAdminsRotateRelaysCheck) {
  // relayctl show names a relay's edge.
  CommandResult shown = As("vera", {"show", "d1"});
  ASSERT_EQ(shown.code, 0) << shown.err;
  EXPECT_TRUE(
      absl::StrContains(shown.out, "\nedge address:     d1.edge.test:8443\n"))
      << shown.out;

  CommandResult viewer = As("vera", {"url", "s1"});
  EXPECT_EQ(viewer.code, 6);
  EXPECT_EQ(viewer.err,
            "relayctl: url: permission denied: viewer may not url\n");

  CommandResult url = As("oscar", {"url", "s1"});
  ASSERT_EQ(url.code, 0) << url.err;
  const std::string prefix =
      "https://d1.edge.test:8443/watch#stream=cmd&token=";
  ASSERT_TRUE(absl::StartsWith(url.out, prefix)) << url.out;
  ASSERT_TRUE(absl::EndsWith(url.out, "\n"));
  const std::string token =
      url.out.substr(prefix.size(), url.out.size() - prefix.size() - 1);
  // The first mint made the key; d1 hears of it.
  ASSERT_TRUE(d1_->WaitFor([](const cascade::v1::Assignment& a) {
    return a.edge_token_keys_size() == 1;
  }));
  EXPECT_TRUE(CheckAtD1(token, "cmd", control::EdgeAction::kWatch).ok());
  EXPECT_FALSE(CheckAtD1(token, "cmd", control::EdgeAction::kPublish).ok());

  CommandResult json =
      As("oscar", {"--json", "url", "s1", "--publish", "--ttl=1h"});
  ASSERT_EQ(json.code, 0) << json.err;
  cascade::v1::MintEdgeTokenResponse publish;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(json.out, &publish).ok())
      << json.out;
  EXPECT_EQ(publish.relay(), "d1");
  EXPECT_EQ(publish.stream(), "s1-up");
  EXPECT_EQ(publish.url(),
            "https://d1.edge.test:8443/publish#stream=s1-up&token=" +
                publish.token());
  EXPECT_LE(publish.expires_unix_ms(),
            absl::ToUnixMillis(absl::Now() + absl::Hours(1)));
  EXPECT_TRUE(
      CheckAtD1(publish.token(), "s1-up", control::EdgeAction::kPublish).ok());

  CommandResult center = As("oscar", {"url", "--center", "s1"});
  ASSERT_EQ(center.code, 0) << center.err;
  EXPECT_TRUE(absl::StartsWith(
      center.out, "https://nat.edge.test:8443/watch#stream=s1-up&token="))
      << center.out;

  // Refusals: exit 3 or 4, one line saying why.
  CommandResult unknown = As("oscar", {"url", "zz"});
  EXPECT_EQ(unknown.code, 3);
  EXPECT_EQ(unknown.err, "relayctl: url: no node \"zz\"\n");
  CommandResult relay = As("oscar", {"url", "d1"});
  EXPECT_EQ(relay.code, 4);
  EXPECT_TRUE(absl::StrContains(relay.err, "node \"d1\" is not a site"))
      << relay.err;
  CommandResult no_edge = As("oscar", {"url", "s2"});
  EXPECT_EQ(no_edge.code, 4);
  EXPECT_TRUE(absl::StrContains(no_edge.err,
                                "relay \"d2\" has no edge_address: set "
                                "edge_address"))
      << no_edge.err;
  CommandResult no_stream = As("oscar", {"url", "s2", "--publish"});
  EXPECT_EQ(no_stream.code, 4);
  EXPECT_TRUE(absl::StrContains(no_stream.err, "has no upstream stream"))
      << no_stream.err;

  // Rotation: the admin's; the relay keeps the key before.
  CommandResult operator_rotates = As("oscar", {"rotate-edge-key"});
  EXPECT_EQ(operator_rotates.code, 6);
  EXPECT_EQ(operator_rotates.err,
            "relayctl: rotate-edge-key: permission denied: operator may not "
            "rotate-edge-key\n");
  CommandResult rotated = As("ada", {"rotate-edge-key"});
  ASSERT_EQ(rotated.code, 0) << rotated.err;
  EXPECT_TRUE(absl::StartsWith(rotated.out, "rotate-edge-key: done"))
      << rotated.out;
  ASSERT_TRUE(d1_->WaitFor([](const cascade::v1::Assignment& a) {
    return a.edge_token_keys_size() == 2;
  }));
  EXPECT_TRUE(CheckAtD1(token, "cmd", control::EdgeAction::kWatch).ok());

  // Who minted what for whom, and who was refused, in the audit trail (a
  // refusal of the controller's, such as no edge_address, is an error, not
  // an audit record).
  CommandResult events = As("ada", {"events", "--history=6", "--count=6"});
  ASSERT_EQ(events.code, 0) << events.err;
  const std::vector<std::string> lines =
      absl::StrSplit(events.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << events.out;
  EXPECT_TRUE(absl::StrContains(lines[0], "url watch s1 by operator vera"))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "refused: permission denied"));
  EXPECT_TRUE(absl::StrContains(lines[1], "url watch cmd at d1 for s1 until "))
      << lines[1];
  EXPECT_TRUE(absl::StrContains(lines[1], "by operator oscar (operator)"));
  EXPECT_TRUE(absl::StrContains(lines[2], "url publish s1-up at d1 for s1"))
      << lines[2];
  EXPECT_TRUE(absl::StrContains(lines[3], "url watch s1-up at nat for center"))
      << lines[3];
  EXPECT_TRUE(absl::StrContains(lines[4], "rotate-edge-key by operator oscar"))
      << lines[4];
  EXPECT_TRUE(
      absl::StrContains(lines[5], "rotate-edge-key by operator ada (admin)"))
      << lines[5];
}

}  // namespace
}  // namespace cascade::topology
