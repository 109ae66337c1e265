// The committed seed corpus is what fuzz_seeds.cc generates (GCM under a
// fixed key, counter and sequence is deterministic), and each seed does what
// its name says.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "media/srtp/fuzz_seeds.h"
#include "media/srtp/srtp.h"

namespace cascade::srtp {
namespace {

TEST(CorpusTest, SeedsBehaveAsNamed) {
  for (const Seed& seed : SrtpSeeds()) {
    auto receiver = SrtpReceiver::Create(kFuzzSsrc, FuzzKeys());
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    bool all_accepted = true;
    for (absl::Span<const uint8_t> packet : SplitPackets(seed.bytes)) {
      std::vector<uint8_t> out(packet.size());
      size_t size = 0;
      all_accepted &= (*receiver)->Unprotect(packet, absl::MakeSpan(out),
                                             &size) == SrtpError::kOk;
    }
    EXPECT_EQ(all_accepted, seed.name.rfind("ok_", 0) == 0) << seed.name;
  }
}

TEST(CorpusTest, CommittedCorpusMatchesGenerator) {
  for (const Seed& seed : SrtpSeeds()) {
    const std::string path = "media/srtp/corpus/srtp_fuzz/" + seed.name;
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " missing: run //media/srtp:make_corpus";
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, seed.bytes)
        << path << " is stale: run //media/srtp:make_corpus";
  }
}

}  // namespace
}  // namespace cascade::srtp
