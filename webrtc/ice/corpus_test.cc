// The committed seed corpus is what fuzz_seeds.cc generates, and each seed
// does what its name says ("ok_" parses, "bad_" is rejected, "ok_check" is
// answered by the fuzz target's responder).
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "webrtc/ice/fuzz_seeds.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/ice/stun.h"

namespace cascade::ice {
namespace {

bool StartsWith(const std::string& s, absl::string_view prefix) {
  return absl::string_view(s).substr(0, prefix.size()) == prefix;
}

TEST(CorpusTest, SeedsBehaveAsNamed) {
  const std::vector<Seed> seeds = StunSeeds();
  EXPECT_GE(seeds.size(), 10u);
  IceLite::Options options;
  options.local = {std::string(kFuzzLocalUfrag), std::string(kFuzzLocalPwd)};
  options.remote_ufrag = std::string(kFuzzRemoteUfrag);
  for (const Seed& seed : seeds) {
    ASSERT_TRUE(StartsWith(seed.name, "ok_") || StartsWith(seed.name, "bad_"))
        << seed.name;
    StunMessage message;
    EXPECT_EQ(ParseStun(seed.bytes, &message) == StunError::kOk,
              StartsWith(seed.name, "ok_"))
        << seed.name;
    absl::StatusOr<IceLite> agent = IceLite::Create(options);
    ASSERT_TRUE(agent.ok());
    uint8_t out[IceLite::kMaxReplySize];
    const IceLite::Reply reply =
        agent->OnStun(seed.bytes, TransportAddress::V4(0x7F000001, 5000),
                      absl::UnixEpoch(), absl::MakeSpan(out));
    EXPECT_EQ(reply.outcome == IceOutcome::kAnswered,
              StartsWith(seed.name, "ok_check"))
        << seed.name;
  }
}

TEST(CorpusTest, CommittedCorpusMatchesGenerator) {
  for (const Seed& seed : StunSeeds()) {
    const std::string path =
        "webrtc/ice/corpus/" + std::string(kFuzzTarget) + "/" + seed.name;
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path << " missing: run //webrtc/ice:make_corpus";
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, seed.bytes)
        << path << " is stale: run //webrtc/ice:make_corpus";
  }
}

}  // namespace
}  // namespace cascade::ice
