#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "testing/fake_clock.h"
#include "topology/controller.h"
#include "topology/journal.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

// Paths relative to the runfiles root, the test's working directory.
constexpr char kDir[] = "topology/reference/";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

std::string RunGenerator(const std::string& profile) {
  std::string command =
      std::string(kDir) + "generate --profile=" + profile + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  if (pipe == nullptr) return "";
  std::string out;
  std::array<char, 1 << 16> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    out.append(buffer.data(), n);
  }
  EXPECT_EQ(pclose(pipe), 0);
  return out;
}

struct Expected {
  const char* profile;
  int provinces;  // primaries; each has a standby too
  int districts;
  int sites;
};

class ReferenceTest : public ::testing::TestWithParam<Expected> {};

TEST_P(ReferenceTest, FileIsGeneratorOutputAndValid) {
  const Expected& expected = GetParam();
  const std::string path = std::string(kDir) + expected.profile + ".textproto";
  const std::string text = ReadAll(path);
  ASSERT_FALSE(text.empty()) << path;
  EXPECT_TRUE(text == RunGenerator(expected.profile))
      << path << " is stale: regenerate it with generate --profile="
      << expected.profile;

  absl::StatusOr<TopologyText> parsed = ReadTopologyFile(path);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(
      ValidateTopology(parsed->topology, path, parsed->node_lines).ok());
  std::map<cascade::v1::Tier, int> tiers;
  for (const auto& node : parsed->topology.nodes()) ++tiers[node.tier()];
  EXPECT_EQ(tiers[cascade::v1::TIER_NATIONAL], 2);
  EXPECT_EQ(tiers[cascade::v1::TIER_PROVINCIAL], 2 * expected.provinces);
  EXPECT_EQ(tiers[cascade::v1::TIER_DISTRICT], expected.districts);
  EXPECT_EQ(tiers[cascade::v1::TIER_SITE], expected.sites);
  ASSERT_EQ(parsed->topology.streams_size(), 1);
  EXPECT_EQ(parsed->topology.streams(0).tracks_size(), 2);

  // The controller takes it as it is and finds every node a primary and a
  // standby parent.
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/" + expected.profile;
  mkdir(dir.c_str(), 0700);
  FakeClock clock;
  JournalStore store(dir);
  Controller controller(&clock, &store, ControllerOptions());
  ASSERT_TRUE(controller.Recover().ok());
  cascade::v1::Change change;
  *change.mutable_apply()->mutable_topology() = parsed->topology;
  ASSERT_TRUE(controller.Submit(change).ok());
  absl::StatusOr<cascade::v1::GetTopologyResponse> topology =
      controller.GetTopology("");
  ASSERT_TRUE(topology.ok());
  int roots = 0;
  for (const auto& node : topology->nodes()) {
    if (node.desired_parent().empty()) {
      ++roots;
      continue;
    }
    ASSERT_EQ(node.parents_size(), 2) << node.id();
    EXPECT_EQ(node.parents(0), node.desired_parent()) << node.id();
  }
  EXPECT_EQ(roots, 2);
  EXPECT_EQ(controller.GetStats().orphans(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Profiles, ReferenceTest,
                         ::testing::Values(Expected{"south19", 19, 204, 2594},
                                           Expected{"national", 63, 700,
                                                    10600}),
                         [](const auto& info) { return info.param.profile; });

}  // namespace
}  // namespace cascade::topology
