// The committed seed corpus has a file for every seed fuzz_seeds.cc makes,
// and each file still does what its name says: a stale ClientHello today's
// server no longer answers fails here. The SRTP seeds, under fixed keys, are
// what the generator makes byte for byte.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "webrtc/dtls/dtls_transport.h"
#include "webrtc/dtls/fuzz_seeds.h"

namespace cascade::dtls {
namespace {

struct Recorder : DtlsTransport::Listener {
  void OnDtlsSend(absl::Span<const uint8_t> datagram) override {
    sent.emplace_back(datagram.begin(), datagram.end());
  }
  void OnDtlsState(DtlsState, const absl::Status&) override {}
  std::vector<std::vector<uint8_t>> sent;
};

// The server's datagrams in answer to the seed `bytes`.
std::vector<std::vector<uint8_t>> Answer(const std::vector<uint8_t>& bytes) {
  Recorder recorder;
  std::unique_ptr<DtlsTransport> server = FuzzServer(&recorder);
  for (absl::Span<const uint8_t> datagram : SplitDatagrams(bytes)) {
    server->Feed(datagram, absl::UnixEpoch());
  }
  return recorder.sent;
}

std::vector<uint8_t> ReadSeed(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path << " missing: run //webrtc/dtls:make_corpus";
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

TEST(CorpusTest, GeneratedSeedsBehaveAsNamed) {
  const std::vector<Seed> seeds = DtlsSeeds();
  ASSERT_FALSE(seeds.empty());
  for (const Seed& seed : seeds) {
    EXPECT_EQ(!Answer(seed.bytes).empty(), seed.name.rfind("ok_", 0) == 0)
        << seed.name;
  }
}

TEST(CorpusTest, CommittedSeedsBehaveAsNamed) {
  for (const Seed& seed : DtlsSeeds()) {
    const std::string path = "webrtc/dtls/corpus/dtls_fuzz/" + seed.name;
    const std::vector<std::vector<uint8_t>> answer = Answer(ReadSeed(path));
    EXPECT_EQ(!answer.empty(), seed.name.rfind("ok_", 0) == 0)
        << path << " is stale: run //webrtc/dtls:make_corpus";
    // An answer to a ClientHello starts with a ServerHello.
    if (!answer.empty()) {
      ASSERT_GT(answer[0].size(), 13u);
      EXPECT_EQ(answer[0][0], 22) << path;
      EXPECT_EQ(answer[0][13], 2) << path;
    }
  }
}

TEST(CorpusTest, SrtpSeedsBehaveAsNamed) {
  const std::vector<Seed> seeds = SrtpSessionSeeds();
  ASSERT_FALSE(seeds.empty());
  for (const Seed& seed : seeds) {
    const std::vector<SrtpFuzzResult> results = RunSrtpSessionInput(seed.bytes);
    ASSERT_FALSE(results.empty()) << seed.name;
    bool all_accepted = true;
    for (const SrtpFuzzResult& result : results) {
      all_accepted &= result.error == SrtpSessionError::kOk;
    }
    EXPECT_EQ(all_accepted, seed.name.rfind("ok_", 0) == 0) << seed.name;
  }
}

TEST(CorpusTest, CommittedSrtpSeedsMatchTheGenerator) {
  for (const Seed& seed : SrtpSessionSeeds()) {
    const std::string path =
        "webrtc/dtls/corpus/srtp_session_fuzz/" + seed.name;
    EXPECT_EQ(ReadSeed(path), seed.bytes)
        << path << " is stale: run //webrtc/dtls:make_corpus";
  }
}

}  // namespace
}  // namespace cascade::dtls
