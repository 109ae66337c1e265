// Edge tokens on the controller's side: the first mint makes the edge key
// (once), every relay's assignment carries its public half, a rotation keeps
// the one before and drops the third, replay gives the same keys; a mint
// picks the site's active parent and the right stream, is in the audit
// trail, verifies at that relay only, and each refusal says why; the
// center's publish also gets a token for every other root with an edge.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "control/edge_token.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;
using cascade::v1::Event;
using cascade::v1::MintEdgeTokenRequest;
using cascade::v1::MintEdgeTokenResponse;
using control::EdgeAction;

MintEdgeTokenRequest Site(const std::string& site, bool publish = false) {
  MintEdgeTokenRequest request;
  request.set_node(site);
  request.set_publish(publish);
  return request;
}

MintEdgeTokenRequest Center(const std::string& site, bool publish) {
  MintEdgeTokenRequest request = Site(site, publish);
  request.set_center(true);
  return request;
}

cascade::v1::AuditRecord Oscar() {
  cascade::v1::AuditRecord audit;
  audit.set_who("operator oscar (operator)");
  audit.set_operator_("oscar");
  audit.set_role("operator");
  audit.set_call("MintEdgeToken");
  audit.set_command("url");
  return audit;
}

class EdgeTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    ControllerOptions options;
    // Replay then goes through a snapshot and journal records after it.
    options.snapshot_every = 3;
    options_ = options;
    Start(options_);
  }

  // The reference topology and `extra` nodes; every relay but `without`
  // has an edge.
  void ApplyWithEdges(const std::string& without = "",
                      const std::string& extra = "") {
    absl::StatusOr<TopologyText> parsed =
        ParseTopologyText(absl::StrCat(kReferenceTopology, extra), "t");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    for (cascade::v1::Node& node : *parsed->topology.mutable_nodes()) {
      if (node.tier() != cascade::v1::TIER_SITE && node.id() != without) {
        node.set_edge_address(absl::StrCat("edge-", node.id(), ".test:443"));
      }
    }
    Change change;
    *change.mutable_apply()->mutable_topology() = parsed->topology;
    ASSERT_TRUE(controller_->Submit(change).ok());
  }

  MintEdgeTokenResponse Mint(const MintEdgeTokenRequest& request) {
    MintResult minted = controller_->MintEdgeToken(request, Oscar());
    EXPECT_TRUE(minted.ok()) << minted.status();
    return minted.ok() ? *minted : MintEdgeTokenResponse();
  }

  std::vector<std::string> KeysOf(const std::string& node) {
    auto assignment = recorder_.latest.at(node);
    return {assignment->edge_token_keys().begin(),
            assignment->edge_token_keys().end()};
  }

  // Checks `token` with the keys `relay`'s assignment carries.
  absl::Status Check(const std::string& token, const std::string& relay,
                     const std::string& stream, EdgeAction action) {
    absl::StatusOr<control::EdgeTokenVerifier> verifier =
        control::EdgeTokenVerifier::FromPublicKeys(KeysOf(relay));
    if (!verifier.ok()) return verifier.status();
    return verifier->Verify(token, relay, stream, action, clock_.Now())
        .status();
  }

  ControllerOptions options_;
};

TEST_F(EdgeTest, FirstMintMakesTheKeyOnceForEveryRelay) {
  ApplyWithEdges();
  for (const std::string& relay : kRelays) EXPECT_TRUE(KeysOf(relay).empty());

  MintEdgeTokenResponse watch = Mint(Site("s1"));
  EXPECT_EQ(watch.relay(), "d1");
  EXPECT_EQ(watch.stream(), "cmd");
  EXPECT_EQ(watch.edge_address(), "edge-d1.test:443");
  EXPECT_EQ(watch.url(),
            "https://edge-d1.test:443/watch#stream=cmd&token=" + watch.token());
  EXPECT_EQ(watch.expires_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + kDefaultEdgeTokenTtl));
  EXPECT_TRUE(watch.note().empty());

  const std::vector<std::string> keys = KeysOf("nat");
  ASSERT_EQ(keys.size(), 1u);
  for (const std::string& relay : kRelays) EXPECT_EQ(KeysOf(relay), keys);
  // Sites serve no browser.
  EXPECT_TRUE(KeysOf("s1").empty());

  EXPECT_TRUE(Check(watch.token(), "d1", "cmd", EdgeAction::kWatch).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      Check(watch.token(), "p1", "cmd", EdgeAction::kWatch)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      Check(watch.token(), "d1", "cmd", EdgeAction::kPublish)));

  // The second mint uses the same key: no relay gets a new assignment.
  const int pushes = recorder_.pushes["d1"];
  MintEdgeTokenResponse again = Mint(Site("s3"));
  EXPECT_EQ(again.relay(), "d2");
  EXPECT_EQ(recorder_.pushes["d1"], pushes);
  EXPECT_EQ(KeysOf("d2"), keys);
  EXPECT_TRUE(Check(again.token(), "d2", "cmd", EdgeAction::kWatch).ok());
}

TEST_F(EdgeTest, MintIsInTheAuditTrail) {
  ApplyWithEdges();
  MintEdgeTokenResponse minted = Mint(Site("s1", /*publish=*/true));
  const std::string what =
      absl::StrCat("url publish s1-up at d1 for s1 until ");
  const Event& live = recorder_.events.back();
  EXPECT_EQ(live.kind(), Event::KIND_CHANGE);
  EXPECT_TRUE(absl::StartsWith(live.detail(), what)) << live.detail();
  EXPECT_TRUE(absl::StrContains(
      live.detail(),
      "(token " + minted.token_id() + ") by operator oscar (operator)"))
      << live.detail();

  // Still there after a restart: it was journaled.
  Start(options_);
  std::vector<Event> history;
  controller_->WithAuditHistory(
      10, [&](std::vector<Event> events) { history = std::move(events); });
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.back().audit().target().rfind("publish s1-up at d1", 0), 0u)
      << history.back().audit().target();
  EXPECT_EQ(history.back().audit().operator_(), "oscar");
}

TEST_F(EdgeTest, SitesGetTheirActiveParentAndStream) {
  ApplyWithEdges();
  MintEdgeTokenResponse publish = Mint(Site("s1", /*publish=*/true));
  EXPECT_EQ(publish.relay(), "d1");
  EXPECT_EQ(publish.stream(), "s1-up");
  EXPECT_EQ(
      publish.url(),
      "https://edge-d1.test:443/publish#stream=s1-up&token=" + publish.token());
  EXPECT_TRUE(Check(publish.token(), "d1", "s1-up", EdgeAction::kPublish).ok());

  // d1 failed over: s1's active parent is its standby p1.
  Change failover;
  failover.mutable_failover()->set_id("d1");
  ASSERT_TRUE(controller_->Submit(failover).ok());
  ASSERT_EQ(Parents("s1").front(), "p1");
  MintEdgeTokenResponse moved = Mint(Site("s1"));
  EXPECT_EQ(moved.relay(), "p1");
  EXPECT_EQ(moved.edge_address(), "edge-p1.test:443");
  EXPECT_TRUE(Check(moved.token(), "p1", "cmd", EdgeAction::kWatch).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      Check(moved.token(), "d1", "cmd", EdgeAction::kWatch)));
}

TEST_F(EdgeTest, CenterAtTheNationalRelay) {
  ApplyWithEdges();
  MintEdgeTokenResponse feed = Mint(Center("", /*publish=*/true));
  EXPECT_EQ(feed.relay(), "nat");
  EXPECT_EQ(feed.stream(), "cmd");
  EXPECT_TRUE(Check(feed.token(), "nat", "cmd", EdgeAction::kPublish).ok());

  MintEdgeTokenResponse watch = Mint(Center("s1", /*publish=*/false));
  EXPECT_EQ(watch.relay(), "nat");
  EXPECT_EQ(watch.stream(), "s1-up");
  EXPECT_EQ(watch.url().rfind("https://edge-nat.test:443/watch#", 0), 0u);
  EXPECT_TRUE(Check(watch.token(), "nat", "s1-up", EdgeAction::kWatch).ok());

  // No site: the program, as every site sees it (beside the selected ones).
  MintEdgeTokenResponse program = Mint(Center("", /*publish=*/false));
  EXPECT_EQ(program.relay(), "nat");
  EXPECT_EQ(program.stream(), "cmd");
  EXPECT_EQ(program.url().rfind("https://edge-nat.test:443/watch#", 0), 0u);
  EXPECT_TRUE(Check(program.token(), "nat", "cmd", EdgeAction::kWatch).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      Check(program.token(), "nat", "cmd", EdgeAction::kPublish)));
}

TEST_F(EdgeTest, CenterPublishAlsoGetsATokenForEveryOtherRootWithAnEdge) {
  // Two more roots: the standby national relay, and one without an edge.
  ApplyWithEdges(/*without=*/"nat-x", R"pb(
    nodes {
      id: "nat-sb"
      tier: TIER_NATIONAL
      role: ROLE_STANDBY
      media_address: "127.1.0.2:5004"
      capacity { max_children: 8 }
    }
    nodes {
      id: "nat-x"
      tier: TIER_NATIONAL
      role: ROLE_STANDBY
      media_address: "127.1.0.3:5004"
      capacity { max_children: 8 }
    })pb");
  RegisterAll({"nat-sb", "nat-x"});
  MintEdgeTokenResponse feed = Mint(Center("", /*publish=*/true));
  EXPECT_EQ(feed.relay(), "nat");
  ASSERT_EQ(feed.mirrors_size(), 1);
  const MintEdgeTokenResponse::Mirror& mirror = feed.mirrors(0);
  EXPECT_EQ(mirror.relay(), "nat-sb");
  EXPECT_EQ(mirror.edge_address(), "edge-nat-sb.test:443");
  EXPECT_NE(mirror.token_id(), feed.token_id());
  EXPECT_EQ(feed.url(),
            absl::StrCat("https://edge-nat.test:443/publish#stream=cmd&token=",
                         feed.token(), "&mirror=edge-nat-sb.test%3a443",
                         "&mirror_token=", mirror.token()));
  // Each token is good at its own relay only, for the same stream and
  // action, until the same time.
  EXPECT_TRUE(
      Check(mirror.token(), "nat-sb", "cmd", EdgeAction::kPublish).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      Check(mirror.token(), "nat", "cmd", EdgeAction::kPublish)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      Check(feed.token(), "nat-sb", "cmd", EdgeAction::kPublish)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      Check(mirror.token(), "nat-sb", "cmd", EdgeAction::kWatch)));
  absl::StatusOr<control::EdgeTokenVerifier> verifier =
      control::EdgeTokenVerifier::FromPublicKeys(KeysOf("nat-sb"));
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  const absl::Time expiry = absl::FromUnixMillis(feed.expires_unix_ms());
  EXPECT_TRUE(verifier
                  ->Verify(mirror.token(), "nat-sb", "cmd",
                           EdgeAction::kPublish, expiry - absl::Seconds(1))
                  .ok());
  EXPECT_TRUE(absl::IsUnauthenticated(verifier
                                          ->Verify(mirror.token(), "nat-sb",
                                                   "cmd", EdgeAction::kPublish,
                                                   expiry + absl::Seconds(1))
                                          .status()));
  // The audit record names both tokens.
  EXPECT_TRUE(absl::StrContains(
      recorder_.events.back().detail(),
      absl::StrCat("(token ", feed.token_id(), "; also at nat-sb, token ",
                   mirror.token_id(), ")")))
      << recorder_.events.back().detail();

  // Only the center's publish: its watch and the sites' links get none.
  for (const MintEdgeTokenRequest& request :
       {Center("", /*publish=*/false), Center("s1", /*publish=*/false),
        Site("s1"), Site("s1", /*publish=*/true)}) {
    MintEdgeTokenResponse minted = Mint(request);
    EXPECT_EQ(minted.mirrors_size(), 0) << request.ShortDebugString();
    EXPECT_FALSE(absl::StrContains(minted.url(), "mirror"));
  }
}

TEST_F(EdgeTest, TheUrlEscapesWhatAFragmentCannotCarry) {
  absl::StatusOr<TopologyText> parsed = ParseTopologyText(
      R"pb(nodes {
             id: "nat"
             tier: TIER_NATIONAL
             media_address: "127.1.0.1:5004"
             edge_address: "[::1]:8443"
             capacity { max_children: 2 }
           }
           nodes {
             id: "s1"
             tier: TIER_SITE
             parent: "nat"
             media_address: "127.10.0.1:5004"
           }
           streams { id: "cmd&hd#1%" direction: DIRECTION_DOWNSTREAM })pb",
      "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  Change change;
  *change.mutable_apply()->mutable_topology() = parsed->topology;
  ASSERT_TRUE(controller_->Submit(change).ok());
  MintEdgeTokenResponse minted = Mint(Site("s1"));
  EXPECT_EQ(minted.stream(), "cmd&hd#1%");
  EXPECT_EQ(minted.url(),
            "https://[::1]:8443/watch#stream=cmd%26hd%231%25&token=" +
                minted.token());
}

TEST_F(EdgeTest, RefusalsSayWhyAndMakeNoKey) {
  ApplyWithEdges(/*without=*/"d2");
  auto refused = [&](const MintEdgeTokenRequest& request, absl::StatusCode code,
                     const std::string& message) {
    MintResult minted = controller_->MintEdgeToken(request, Oscar());
    EXPECT_EQ(minted.status().code(), code) << minted.status();
    EXPECT_TRUE(absl::StrContains(minted.status().message(), message))
        << minted.status();
  };
  refused(Site("zz"), absl::StatusCode::kNotFound, "no node \"zz\"");
  refused(Site("d1"), absl::StatusCode::kFailedPrecondition,
          "node \"d1\" is not a site");
  refused(Site(""), absl::StatusCode::kInvalidArgument,
          "give a site, or the center");
  refused(Site("s3"), absl::StatusCode::kFailedPrecondition,
          "relay \"d2\" has no edge_address: set edge_address");
  refused(Site("s3", /*publish=*/true), absl::StatusCode::kFailedPrecondition,
          "site \"s3\" has no upstream stream");
  refused(Center("s1", /*publish=*/true), absl::StatusCode::kInvalidArgument,
          "give no site");
  refused(Center("s3", /*publish=*/false),
          absl::StatusCode::kFailedPrecondition,
          "site \"s3\" has no upstream stream");
  MintEdgeTokenRequest long_lived = Site("s1");
  long_lived.set_ttl_ms(absl::ToInt64Milliseconds(control::kMaxEdgeTokenTtl) +
                        1);
  refused(long_lived, absl::StatusCode::kInvalidArgument, "at most");
  long_lived.set_ttl_ms(-1);
  refused(long_lived, absl::StatusCode::kInvalidArgument, "positive");
  for (const std::string& relay : kRelays) EXPECT_TRUE(KeysOf(relay).empty());

  MintEdgeTokenRequest short_lived = Site("s1");
  short_lived.set_ttl_ms(60000);
  MintEdgeTokenResponse minted = Mint(short_lived);
  EXPECT_EQ(minted.expires_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + absl::Minutes(1)));
}

TEST_F(EdgeTest, RotationKeepsThePreviousKeyAndReplays) {
  ApplyWithEdges();
  MintEdgeTokenResponse first = Mint(Site("s1"));
  const std::vector<std::string> a = KeysOf("d1");
  ASSERT_EQ(a.size(), 1u);

  Change rotate;
  rotate.mutable_rotate_edge_key();
  ASSERT_TRUE(controller_->Submit(rotate).ok());
  const std::vector<std::string> ba = KeysOf("d1");
  ASSERT_EQ(ba.size(), 2u);
  EXPECT_NE(ba[0], a[0]);
  EXPECT_EQ(ba[1], a[0]);
  for (const std::string& relay : kRelays) EXPECT_EQ(KeysOf(relay), ba);
  // Signed by the key before: still good.
  EXPECT_TRUE(Check(first.token(), "d1", "cmd", EdgeAction::kWatch).ok());
  MintEdgeTokenResponse second = Mint(Site("s1"));
  EXPECT_TRUE(Check(second.token(), "d1", "cmd", EdgeAction::kWatch).ok());

  ASSERT_TRUE(controller_->Submit(rotate).ok());
  const std::vector<std::string> cb = KeysOf("d1");
  ASSERT_EQ(cb.size(), 2u);
  EXPECT_EQ(cb[1], ba[0]);
  EXPECT_NE(cb[0], ba[0]);
  EXPECT_NE(cb[0], a[0]);
  // Two rotations on: the first key is gone, and what it signed with it.
  EXPECT_TRUE(absl::IsUnauthenticated(
      Check(first.token(), "d1", "cmd", EdgeAction::kWatch)));
  EXPECT_TRUE(Check(second.token(), "d1", "cmd", EdgeAction::kWatch).ok());

  // A restart replays the snapshot and journal to the same keys.
  Start(options_);
  RegisterAll(kRelays);
  EXPECT_EQ(KeysOf("d1"), cb);
  EXPECT_EQ(KeysOf("nat"), cb);
  EXPECT_TRUE(Check(second.token(), "d1", "cmd", EdgeAction::kWatch).ok());
}

}  // namespace
}  // namespace cascade::topology
