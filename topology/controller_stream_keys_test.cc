// Stream keys on the controller's side: the timers make each downstream
// stream's first key and rotate it when due, a rotation is refused while
// the one before is pending, only the newest two keys in use are kept, the
// keys survive a restart, only durable keys are handed out, and only to
// sites and a stream's source.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"
#include "topology/controller_timing.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;
using cascade::v1::GetStreamKeysResponse;

constexpr absl::Duration kRotation = absl::Hours(24);
constexpr absl::Duration kOverlap = absl::Minutes(2);

Change Rotate(const std::string& stream) {
  Change change;
  change.mutable_rotate_stream_key()->set_stream(stream);
  return change;
}

class StreamKeysTest : public ControllerTest {
 protected:
  void SetUp() override {
    ControllerTest::SetUp();
    options_.stream_key_rotation = kRotation;
    options_.stream_key_overlap = kOverlap;
    // Replay then goes through a snapshot and journal records after it.
    options_.snapshot_every = 3;
    Start(options_);
    ApplyReference();
  }
  // Runs the timers and waits for what they decided to be applied.
  void Tick() {
    controller_->Tick();
    controller_->AwaitCommitted();
  }
  // The key ids s3 (a site sourcing no upstream stream) gets, newest first.
  std::vector<uint32_t> Ids() {
    absl::StatusOr<GetStreamKeysResponse> keys =
        controller_->StreamKeys(std::vector<std::string>{"s3"});
    EXPECT_TRUE(keys.ok()) << keys.status();
    std::vector<uint32_t> ids;
    if (keys.ok()) {
      for (const auto& key : keys->keys()) ids.push_back(key.id());
    }
    return ids;
  }
  GetStreamKeysResponse Keys() {
    return controller_->StreamKeys(std::vector<std::string>{"s3"})
        .value_or(GetStreamKeysResponse());
  }

  ControllerOptions options_;
};

TEST_F(StreamKeysTest, TimersMakeTheFirstKeyThenRotateEveryPeriod) {
  EXPECT_TRUE(Ids().empty());
  Tick();
  GetStreamKeysResponse first = Keys();
  ASSERT_EQ(first.keys_size(), 1);
  EXPECT_EQ(first.keys(0).stream(), "cmd");
  EXPECT_EQ(first.keys(0).id(), 1u);
  EXPECT_EQ(first.keys(0).material().size(), 28u);
  // Nobody holds a first key yet: it is used at once.
  EXPECT_EQ(first.keys(0).send_from_unix_ms(),
            absl::ToUnixMillis(clock_.Now()));
  EXPECT_EQ(first.poll_interval_ms(), absl::ToInt64Milliseconds(kOverlap / 4));

  clock_.Advance(kRotation - absl::Minutes(1));
  Tick();
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{1}));
  clock_.Advance(absl::Minutes(1));
  Tick();
  GetStreamKeysResponse rotated = Keys();
  ASSERT_EQ(rotated.keys_size(), 2);
  EXPECT_EQ(rotated.keys(0).id(), 2u);
  EXPECT_NE(rotated.keys(0).material(), first.keys(0).material());
  EXPECT_EQ(rotated.keys(0).send_from_unix_ms(),
            absl::ToUnixMillis(clock_.Now() + kOverlap));
  // Due again only a period after the new key was made.
  clock_.Advance(kOverlap);
  Tick();
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{2, 1}));

  // A restart replays the same keys.
  Start(options_);
  GetStreamKeysResponse replayed = Keys();
  ASSERT_EQ(replayed.keys_size(), 2);
  EXPECT_EQ(replayed.keys(0).material(), rotated.keys(0).material());
  EXPECT_EQ(replayed.keys(1).material(), rotated.keys(1).material());
}

TEST_F(StreamKeysTest, RotationWaitsOutTheOverlapAndKeepsTwoKeysInUse) {
  ASSERT_TRUE(controller_->Submit(Rotate("cmd")).ok());
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{1}));
  ASSERT_TRUE(controller_->Submit(Rotate("")).ok());
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{2, 1}));

  ChangeResult pending = controller_->Submit(Rotate("cmd"));
  EXPECT_EQ(pending.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(pending.status().message(), "rotate again"))
      << pending.status();
  // An upstream stream is keyed too (s3 does not get its keys); no such
  // stream is NOT_FOUND.
  EXPECT_TRUE(controller_->Submit(Rotate("s1-up")).ok());
  EXPECT_EQ(controller_->Submit(Rotate("nope")).status().code(),
            absl::StatusCode::kNotFound);

  clock_.Advance(kOverlap);
  ASSERT_TRUE(controller_->Submit(Rotate("cmd")).ok());
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{3, 2, 1}));
  clock_.Advance(kOverlap);
  ASSERT_TRUE(controller_->Submit(Rotate("cmd")).ok());
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{4, 3, 2}));
}

// s2, a plain endpoint, names d1 as parent and p1 as standby: they decrypt
// for it, so their assignments carry the keys; no other relay's does.
TEST_F(StreamKeysTest, OnlyTheRelaysThatDecryptForEndpointsGetKeysToo) {
  RegisterAll(kRelays);
  Tick();
  auto keys_of = [&](const std::string& relay) {
    std::shared_ptr<const cascade::v1::Assignment> assignment =
        controller_->CurrentAssignment(relay);
    EXPECT_NE(assignment, nullptr) << relay;
    std::vector<uint32_t> ids;
    if (assignment == nullptr) return ids;
    for (const auto& key : assignment->stream_keys()) ids.push_back(key.id());
    return ids;
  };
  EXPECT_EQ(keys_of("d1"), (std::vector<uint32_t>{1}));
  EXPECT_EQ(keys_of("p1"), (std::vector<uint32_t>{1}));
  for (const char* relay : {"nat", "p1-sb", "p2", "d2", "d3"}) {
    EXPECT_TRUE(keys_of(relay).empty()) << relay;
  }
  // A site's upstream key is in no relay's assignment: its rotation
  // rebuilds none (at national scale a rebuild of all is a second).
  auto rebuilds_of_all = [&] {
    return controller_->timing()
        ->Take()
        .held[static_cast<size_t>(LockUse::kRecomputeAll)]
        .count();
  };
  const uint64_t version = controller_->CurrentAssignment("d1")->version();
  const uint64_t rebuilds = rebuilds_of_all();
  ASSERT_TRUE(controller_->Submit(Rotate("s1-up")).ok());
  EXPECT_EQ(rebuilds_of_all(), rebuilds);
  EXPECT_EQ(controller_->CurrentAssignment("d1")->version(), version);
  ASSERT_TRUE(controller_->Submit(Rotate("cmd")).ok());
  EXPECT_EQ(rebuilds_of_all(), rebuilds + 1);
  EXPECT_EQ(keys_of("d1"), (std::vector<uint32_t>{2, 1}));
  EXPECT_GT(controller_->CurrentAssignment("d1")->version(), version);
  EXPECT_TRUE(keys_of("nat").empty());
}

TEST_F(StreamKeysTest, OnlyDurableKeysAndOnlyToSitesAndTheSource) {
  gated_->Close();
  controller_->Tick();
  ASSERT_TRUE(gated_->AwaitArrivals(2, absl::Seconds(10)));
  // Decided, not durable: nobody gets it yet.
  EXPECT_TRUE(Ids().empty());
  gated_->Open();
  controller_->AwaitCommitted();
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{1}));

  auto code = [&](std::vector<std::string> nodes) {
    return controller_->StreamKeys(nodes).status().code();
  };
  EXPECT_EQ(code({"nat"}), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code({"d1"}), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code({"s1", "d1"}), absl::StatusCode::kPermissionDenied);
  // A plain endpoint cannot decrypt: its relay would have to.
  EXPECT_EQ(code({"s2"}), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code({"ghost"}), absl::StatusCode::kNotFound);
  EXPECT_EQ(code({}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({"s1", "s3"}), absl::StatusCode::kOk);

  // The stream's source, the command center, gets its keys; a relay named
  // as the source does not. A stream dropped from the topology takes its
  // keys with it.
  absl::StatusOr<TopologyText> parsed =
      ParseTopologyText(kReferenceTopology, "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  cascade::v1::Topology topology = parsed->topology;
  cascade::v1::Node* center = topology.add_nodes();
  center->set_id("cc");
  center->set_tier(cascade::v1::TIER_NATIONAL);
  center->set_media_address("127.0.0.9:5000");
  center->set_plain_endpoint(true);
  Change apply;
  EXPECT_EQ(code({"cc"}), absl::StatusCode::kNotFound);
  for (const char* source : {"nat", "cc"}) {
    topology.mutable_streams(0)->set_source_node(source);
    *apply.mutable_apply()->mutable_topology() = topology;
    ASSERT_TRUE(controller_->Submit(apply).ok());
  }
  EXPECT_EQ(code({"cc"}), absl::StatusCode::kOk);
  EXPECT_EQ(Ids(), (std::vector<uint32_t>{1}));
  topology.mutable_streams(0)->set_source_node("nat");
  *apply.mutable_apply()->mutable_topology() = topology;
  ASSERT_TRUE(controller_->Submit(apply).ok());
  EXPECT_EQ(code({"nat"}), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code({"cc"}), absl::StatusCode::kPermissionDenied);
  topology.mutable_streams()->DeleteSubrange(0, 1);
  *apply.mutable_apply()->mutable_topology() = topology;
  ASSERT_TRUE(controller_->Submit(apply).ok());
  EXPECT_EQ(code({"s3"}), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace cascade::topology
