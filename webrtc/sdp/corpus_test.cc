// The committed seed corpus is what fuzz_seeds.cc generates, and each seed
// does what its name says ("ok_" parses, "bad_" is refused).
#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"
#include "webrtc/sdp/fuzz_seeds.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::sdp {
namespace {

TEST(CorpusTest, SeedsBehaveAsNamed) {
  const std::vector<Seed> seeds = SdpSeeds();
  EXPECT_GE(seeds.size(), 8u);
  for (const Seed& seed : seeds) {
    const bool ok = seed.name.rfind("ok_", 0) == 0;
    ASSERT_TRUE(ok || seed.name.rfind("bad_", 0) == 0) << seed.name;
    EXPECT_EQ(ParseSdp(seed.text).ok(), ok)
        << seed.name << ": " << ParseSdp(seed.text).status();
  }
}

TEST(CorpusTest, CommittedCorpusMatchesGenerator) {
  for (const Seed& seed : SdpSeeds()) {
    const std::string path = "webrtc/sdp/corpus/sdp_fuzz/" + seed.name;
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " missing: run //webrtc/sdp:make_corpus";
    const std::string text((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
    EXPECT_EQ(text, seed.text)
        << path << " is stale: run //webrtc/sdp:make_corpus";
  }
}

}  // namespace
}  // namespace cascade::sdp
