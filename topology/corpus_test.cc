// The committed seed corpus of topology_fuzz is what fuzz_seeds.cc makes,
// each seed does what its name says ("ok_" parses and validates, "bad_" is
// refused for the reason it stands for), and the reference topologies the
// fuzz target replays too are valid.
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "base/files.h"
#include "gtest/gtest.h"
#include "topology/fuzz_seeds.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

// OK, or why the text is refused (parser or validation).
absl::Status Check(const std::string& text) {
  absl::StatusOr<TopologyText> parsed = ParseTopologyText(text, "seed");
  if (!parsed.ok()) return parsed.status();
  return ValidateTopology(parsed->topology, "seed", parsed->node_lines);
}

TEST(TopologyCorpusTest, SeedsBehaveAsNamed) {
  int ok = 0, bad = 0;
  for (const TopologySeed& seed : TopologySeeds()) {
    const absl::Status status = Check(seed.text);
    if (absl::StartsWith(seed.name, "ok_")) {
      ++ok;
      EXPECT_TRUE(status.ok()) << seed.name << ": " << status;
      continue;
    }
    ASSERT_TRUE(absl::StartsWith(seed.name, "bad_")) << seed.name;
    ++bad;
    ASSERT_FALSE(seed.refusal.empty()) << seed.name;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << seed.name;
    EXPECT_TRUE(absl::StrContains(status.message(), seed.refusal))
        << seed.name << ": " << status;
  }
  EXPECT_GE(ok, 4);
  EXPECT_GE(bad, 15);
}

TEST(TopologyCorpusTest, CommittedCorpusMatchesGenerator) {
  for (const TopologySeed& seed : TopologySeeds()) {
    const std::string path = "topology/corpus/topology_fuzz/" + seed.name;
    absl::StatusOr<std::string> committed = ReadFile(path);
    ASSERT_TRUE(committed.ok())
        << path << " missing: run //topology:make_corpus";
    EXPECT_EQ(*committed, seed.text)
        << path << " is stale: run //topology:make_corpus";
  }
}

TEST(TopologyCorpusTest, ReferenceTopologiesAreValid) {
  for (const char* path : {"topology/reference/south19.textproto"}) {
    absl::StatusOr<std::string> text = ReadFile(path);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_TRUE(Check(*text).ok()) << path << ": " << Check(*text);
  }
}

}  // namespace
}  // namespace cascade::topology
