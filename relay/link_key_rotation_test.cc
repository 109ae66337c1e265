// A link key rotation at the parent's end (topologyd's RotateLinkKeys): an
// activated child stays activated across it, and an activation signed with
// the key before is good during the overlap only.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "media/rtp/activation.h"
#include "proto/relay_config.pb.h"
#include "proto/topology.pb.h"
#include "relay/assignment.h"
#include "relay/config.h"
#include "relay/core_test_support.h"
#include "relay/relay_core.h"
#include "testing/fake_clock.h"

namespace cascade::relay {
namespace {

const media::Endpoint kChild = Ep("127.0.0.1:6001");
const media::Endpoint kElsewhere = Ep("127.0.0.1:6002");
constexpr uint32_t kVideo = 0x1111;
const std::string kOldKey(32, 'o');
const std::string kNewKey(32, 'n');

// Relay "r1" with one activated child "c1" under `key` (and `previous`).
RelayOptions Options(const std::string& key, const std::string& previous) {
  RelayOptions o;
  o.node_id = "r1";
  o.listen = Ep("127.0.0.1:0");
  ChildOptions child;
  child.id = "c1";
  child.key = key;
  child.previous_key = previous;
  o.children.push_back(child);
  StreamOptions video;
  video.ssrc = kVideo;
  o.streams.push_back(video);
  return o;
}

class LinkKeyRotationTest : public ::testing::Test {
 protected:
  LinkKeyRotationTest()
      : pool_(1024), core_(Options(kOldKey, ""), &clock_, &pool_, &out_) {}

  // c1's activation from `from`, signed with `key`.
  void Activate(const media::Endpoint& from, const std::string& key) {
    rtp::ActivationRequest r;
    r.kind = rtp::ActivationKind::kActivate;
    r.node_id = "c1";
    r.timestamp_ms = absl::ToUnixMillis(clock_.Now());
    r.nonce = ++nonce_;
    std::vector<uint8_t> out(256);
    out.resize(
        rtp::BuildActivation(r, rtp::KeyBytes(key), absl::MakeSpan(out)));
    core_.OnDatagram(from, pool_.Copy(out));
  }
  std::vector<media::Endpoint> Active() const { return core_.ActiveChildren(); }

  FakeClock clock_;
  PacketPool pool_;
  FakeTransport out_;
  RelayCore core_;
  uint64_t nonce_ = 0;
};

TEST_F(LinkKeyRotationTest, TheChildStaysAndBothKeysActivateDuringTheOverlap) {
  Activate(kChild, kOldKey);
  ASSERT_EQ(Active(), std::vector<media::Endpoint>{kChild});
  core_.Apply(Options(kNewKey, kOldKey));
  // Not dropped for the new key: it needs no new activation.
  EXPECT_EQ(Active(), std::vector<media::Endpoint>{kChild});
  // An activation under the key before is still good (it moves the child).
  Activate(kElsewhere, kOldKey);
  EXPECT_EQ(Active(), std::vector<media::Endpoint>{kElsewhere});
  Activate(kChild, kNewKey);
  EXPECT_EQ(Active(), std::vector<media::Endpoint>{kChild});
  EXPECT_EQ(core_.drops("activation", "bad_mac"), 0u);
}

TEST_F(LinkKeyRotationTest, TheKeyBeforeIsRefusedOnceTheOverlapIsOver) {
  Activate(kChild, kOldKey);
  core_.Apply(Options(kNewKey, kOldKey));
  core_.Apply(Options(kNewKey, ""));
  EXPECT_EQ(Active(), std::vector<media::Endpoint>{kChild});
  Activate(kElsewhere, kOldKey);
  EXPECT_EQ(Active(), std::vector<media::Endpoint>{kChild});
  EXPECT_EQ(core_.drops("activation", "bad_mac"), 1u);
  Activate(kElsewhere, kNewKey);
  EXPECT_EQ(Active(), std::vector<media::Endpoint>{kElsewhere});
}

TEST_F(LinkKeyRotationTest, AnUnrelatedNewKeyStillNeedsANewActivation) {
  Activate(kChild, kOldKey);
  core_.Apply(Options(kNewKey, std::string(32, 'x')));
  EXPECT_TRUE(Active().empty());
}

// The assignment's previous key reaches the core's options.
TEST(LinkKeyRotationConfigTest, ThePreviousKeyTravelsFromTheAssignment) {
  cascade::v1::Assignment assignment;
  assignment.set_node_id("r1");
  assignment.set_media_address("127.0.0.1:5004");
  cascade::v1::Peer* child = assignment.add_active_children();
  child->set_id("c1");
  child->set_key(kNewKey);
  child->set_previous_key(kOldKey);
  cascade::v1::RelayConfig local;
  local.set_node_id("r1");
  local.set_listen("127.0.0.1:0");
  absl::StatusOr<cascade::v1::RelayConfig> config =
      AssignmentToConfig(assignment, local);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->children_size(), 1);
  EXPECT_EQ(config->children(0).previous_key_hex(),
            absl::BytesToHexString(kOldKey));
  absl::StatusOr<RelayOptions> options = ToOptions(*config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->children[0].key, kNewKey);
  EXPECT_EQ(options->children[0].previous_key, kOldKey);
}

}  // namespace
}  // namespace cascade::relay
