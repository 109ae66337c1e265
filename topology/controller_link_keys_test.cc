// Link key rotation on the controller's side: new node keys are journaled
// and survive a restart; during the overlap both ends of each rotated link
// get the new key and the one before, after it only the new one; the sites'
// links (configured where they run) never rotate; no view shows a key.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "control/link_key.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"

namespace cascade::topology {
namespace {

using cascade::v1::Assignment;
using cascade::v1::Change;
using cascade::v1::Peer;

constexpr absl::Duration kOverlap = absl::Minutes(10);

Change Rotate(const std::string& node) {
  Change change;
  change.mutable_rotate_link_keys()->set_node(node);
  return change;
}

const Peer* Find(const google::protobuf::RepeatedPtrField<Peer>& peers,
                 const std::string& id) {
  for (const Peer& peer : peers) {
    if (peer.id() == id) return &peer;
  }
  return nullptr;
}

class LinkKeysTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    options_.link_key_overlap = kOverlap;
    // Replay then goes through a snapshot and journal records after it.
    options_.snapshot_every = 3;
    Start(options_);
    ApplyReference();
    RegisterAll(kRelays);
  }
  // The link `child` -> `parent` as the child's assignment has it.
  Peer Uplink(const std::string& child, const std::string& parent) {
    std::shared_ptr<const Assignment> a = controller_->CurrentAssignment(child);
    EXPECT_NE(a, nullptr) << child;
    const Peer* peer = a == nullptr ? nullptr : Find(a->parents(), parent);
    EXPECT_NE(peer, nullptr) << child << " -> " << parent;
    return peer == nullptr ? Peer() : *peer;
  }
  // The same link as the parent's assignment has it.
  Peer Downlink(const std::string& parent, const std::string& child) {
    std::shared_ptr<const Assignment> a =
        controller_->CurrentAssignment(parent);
    EXPECT_NE(a, nullptr) << parent;
    const Peer* peer =
        a == nullptr ? nullptr : Find(a->active_children(), child);
    EXPECT_NE(peer, nullptr) << parent << " -> " << child;
    return peer == nullptr ? Peer() : *peer;
  }
  // A restart, then reports until it has learnt and sends again.
  void Restart() {
    Start(options_);
    RunFor(&clock_, controller_.get(), absl::Seconds(12), absl::Seconds(1),
           [] { return std::vector<std::string>{}; });
  }

  ControllerOptions options_;
};

TEST_F(LinkKeysTest, BothKeysDuringTheOverlapOnlyTheNewAfterAcrossRestarts) {
  const std::string old_key = Uplink("d1", "p1").key();
  const std::string other = Uplink("p1", "nat").key();
  const std::string site = Uplink("s1", "d1").key();
  ASSERT_FALSE(old_key.empty());
  EXPECT_TRUE(Uplink("d1", "p1").previous_key().empty());

  ChangeResult rotated = controller_->Submit(Rotate("d1"));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_GT(rotated->assignments_changed(), 0u);
  const Peer up = Uplink("d1", "p1");
  EXPECT_NE(up.key(), old_key);
  EXPECT_EQ(up.previous_key(), old_key);
  const Peer down = Downlink("p1", "d1");
  EXPECT_EQ(down.key(), up.key());
  EXPECT_EQ(down.previous_key(), old_key);
  // Other links keep their keys, with nothing before them.
  EXPECT_EQ(Uplink("p1", "nat").key(), other);
  EXPECT_TRUE(Uplink("p1", "nat").previous_key().empty());
  EXPECT_EQ(Uplink("s1", "d1").key(), site);

  // Journaled: a restarted controller has the new key, still in the
  // overlap.
  Restart();
  EXPECT_EQ(Uplink("d1", "p1").key(), up.key());
  EXPECT_EQ(Uplink("d1", "p1").previous_key(), old_key);
  EXPECT_EQ(Downlink("p1", "d1").previous_key(), old_key);

  // The overlap ends: both ends get the new key alone, pushed by the timer.
  const int pushes = recorder_.pushes["p1"];
  RunFor(&clock_, controller_.get(), kOverlap, absl::Seconds(30),
         [] { return std::vector<std::string>{}; });
  EXPECT_GT(recorder_.pushes["p1"], pushes);
  EXPECT_EQ(Uplink("d1", "p1").key(), up.key());
  EXPECT_TRUE(Uplink("d1", "p1").previous_key().empty());
  EXPECT_TRUE(Downlink("p1", "d1").previous_key().empty());
  Restart();
  EXPECT_EQ(Uplink("d1", "p1").key(), up.key());
  EXPECT_TRUE(Uplink("d1", "p1").previous_key().empty());
}

TEST_F(LinkKeysTest, EveryRelayButTheSitesAndTheCallersKeysAreIgnored) {
  const std::string d1 = Uplink("d1", "p1").key();
  const std::string p1 = Uplink("p1", "nat").key();
  const std::string site = Uplink("s1", "d1").key();
  Change change = Rotate("");
  cascade::v1::NodeKey* chosen = change.mutable_rotate_link_keys()->add_keys();
  chosen->set_node("d1");
  chosen->set_key(std::string(32, 'c'));
  ASSERT_TRUE(controller_->Submit(change).ok());
  EXPECT_NE(Uplink("d1", "p1").key(), d1);
  EXPECT_NE(Uplink("d1", "p1").key(),
            control::LinkKey(std::string(32, 'c'), "p1"));
  EXPECT_EQ(Uplink("d1", "p1").previous_key(), d1);
  EXPECT_NE(Uplink("p1", "nat").key(), p1);
  EXPECT_EQ(Uplink("p1", "nat").previous_key(), p1);
  EXPECT_EQ(Uplink("s1", "d1").key(), site);
  EXPECT_TRUE(Uplink("s1", "d1").previous_key().empty());

  // A second rotation within the overlap: the key before is the first
  // rotation's, and the original is no longer accepted.
  const std::string first = Uplink("d1", "p1").key();
  ASSERT_TRUE(controller_->Submit(Rotate("d1")).ok());
  EXPECT_EQ(Uplink("d1", "p1").previous_key(), first);
}

// A removed node added again gets a fresh key and no key before.
TEST_F(LinkKeysTest, ARemovedNodeLeavesNoKeyBefore) {
  ASSERT_TRUE(controller_->Submit(Rotate("p2")).ok());
  ASSERT_FALSE(Uplink("p2", "nat").previous_key().empty());
  Change remove;
  remove.mutable_remove()->set_id("p2");
  ASSERT_TRUE(controller_->Submit(remove).ok());
  Change add;
  cascade::v1::Node* p2 = add.mutable_add()->mutable_node();
  p2->set_id("p2");
  p2->set_tier(cascade::v1::TIER_PROVINCIAL);
  p2->set_parent("nat");
  p2->set_media_address("127.2.2.1:5004");
  p2->mutable_capacity()->set_max_children(4);
  ASSERT_TRUE(controller_->Submit(add).ok());
  RegisterAll({"p2"});
  EXPECT_TRUE(Uplink("p2", "nat").previous_key().empty());
}

TEST_F(LinkKeysTest, RefusesSitesAndUnknownNodes) {
  EXPECT_EQ(Code(Rotate("s1")), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Code(Rotate("nobody")), absl::StatusCode::kNotFound);
}

TEST_F(LinkKeysTest, NoViewShowsAKey) {
  ASSERT_TRUE(controller_->Submit(Rotate("d1")).ok());
  const Peer up = Uplink("d1", "p1");
  absl::StatusOr<cascade::v1::GetTopologyResponse> tree =
      controller_->GetTopology("");
  ASSERT_TRUE(tree.ok());
  absl::StatusOr<cascade::v1::NodeView> node = controller_->GetNode("d1");
  ASSERT_TRUE(node.ok());
  for (const std::string& view :
       {tree->SerializeAsString(), node->SerializeAsString()}) {
    EXPECT_FALSE(absl::StrContains(view, up.key()));
    EXPECT_FALSE(absl::StrContains(view, up.previous_key()));
  }
}

}  // namespace
}  // namespace cascade::topology
