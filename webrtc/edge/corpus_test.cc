// The committed seed corpus is what fuzz_seeds.cc generates, and each seed
// is what its name says ("http_" decodes to a request, "datagram_" is one).
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "webrtc/edge/fuzz_seeds.h"

namespace cascade::edge {
namespace {

bool StartsWith(const std::string& s, absl::string_view prefix) {
  return absl::string_view(s).substr(0, prefix.size()) == prefix;
}

TEST(CorpusTest, SeedsAreWhatTheyAreNamed) {
  const std::vector<Seed> seeds = WhepSeeds();
  EXPECT_GE(seeds.size(), 10u);
  for (const Seed& seed : seeds) {
    ASSERT_FALSE(seed.bytes.empty()) << seed.name;
    if (StartsWith(seed.name, "http_")) {
      EXPECT_EQ(seed.bytes[0], kHttpInput) << seed.name;
      HttpRequest request;
      const std::string text(seed.bytes.begin() + 1, seed.bytes.end());
      ASSERT_TRUE(DecodeRequest(text, &request)) << seed.name;
      EXPECT_EQ(EncodeRequest(request), text) << seed.name;
    } else {
      ASSERT_TRUE(StartsWith(seed.name, "datagram_")) << seed.name;
      EXPECT_EQ(seed.bytes[0], kDatagramInput) << seed.name;
      EXPECT_GE(seed.bytes.size(), 3u) << seed.name;
    }
  }
}

TEST(CorpusTest, CommittedCorpusMatchesGenerator) {
  for (const Seed& seed : WhepSeeds()) {
    const std::string path =
        "webrtc/edge/corpus/" + std::string(kFuzzTarget) + "/" + seed.name;
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " missing: run //webrtc/edge:make_corpus";
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, seed.bytes)
        << path << " is stale: run //webrtc/edge:make_corpus";
  }
}

}  // namespace
}  // namespace cascade::edge
