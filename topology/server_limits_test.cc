#include "topology/server_limits.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "proto/controller.pb.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

// The receive limit is sized for Admin's largest routine message: the
// national reference topology applied whole (about 1.2 MB), with room.
TEST(ServerLimitsTest, TheNationalTopologyFitsTheDefaultReceiveLimit) {
  absl::StatusOr<TopologyText> national =
      ReadTopologyFile("topology/reference/national.textproto");
  ASSERT_TRUE(national.ok()) << national.status();
  cascade::v1::ApplyTopologyRequest apply;
  *apply.mutable_topology() = national->topology;
  apply.set_source("topology/reference/national.textproto");
  const size_t bytes = apply.ByteSizeLong();
  EXPECT_GT(bytes, 1000u * 1000u);
  EXPECT_LT(bytes, 1400u * 1000u);
  const ServerLimits defaults;
  EXPECT_LT(bytes, static_cast<size_t>(defaults.max_receive_bytes));
  // Below gRPC's own default (4 MB), which unauthenticated callers would
  // otherwise get to use.
  EXPECT_LT(defaults.max_receive_bytes, 4 << 20);
}

TEST(ServerLimitsTest, OutOfRangeLimitsAreNamed) {
  EXPECT_TRUE(ValidateServerLimits(ServerLimits()).ok());
  ServerLimits limits;
  limits.max_receive_bytes = 1000;
  EXPECT_TRUE(absl::StrContains(ValidateServerLimits(limits).message(),
                                "max receive size"));
  limits = ServerLimits();
  limits.max_streams_per_connection = 1;
  EXPECT_FALSE(ValidateServerLimits(limits).ok());
  limits = ServerLimits();
  limits.keepalive_timeout = absl::ZeroDuration();
  EXPECT_TRUE(absl::StrContains(ValidateServerLimits(limits).message(),
                                "keepalive timeout"));
}

}  // namespace
}  // namespace cascade::topology
