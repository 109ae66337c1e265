// The committed seed corpus is what fuzz_seeds.cc generates, and each seed
// does what its name says ("ok_" parses, "bad_" is rejected).
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "media/rtp/activation.h"
#include "media/rtp/frame_marking.h"
#include "media/rtp/fuzz_seeds.h"
#include "media/rtp/h264.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"

namespace cascade::rtp {
namespace {

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Whether `bytes` is accepted by the parser the target fuzzes.
bool Accepted(const std::string& target, const std::vector<uint8_t>& bytes) {
  const absl::Span<const uint8_t> input = absl::MakeConstSpan(bytes);
  if (target == "rtp_fuzz") {
    RtpView view;
    return ParseRtp(input, &view) == RtpError::kOk;
  }
  if (target == "rtcp_fuzz") {
    return ParseRtcpCompound(input, nullptr) == RtcpError::kOk;
  }
  if (target == "frame_marking_fuzz") {
    RtpView view;
    FrameMarking marking;
    return ParseRtp(input, &view) == RtpError::kOk &&
           FindFrameMarking(view, kFrameMarkingExtensionId, &marking) ==
               FrameMarkingError::kOk;
  }
  if (target == "h264_fuzz") {
    H264PayloadInfo info;
    return InspectH264(input, &info) == H264Error::kOk;
  }
  // activation_fuzz: every activation in the compound verifies.
  struct Verifier : RtcpVisitor {
    int verified = 0, failed = 0;
    void OnApp(const AppView& app) override {
      ActivationRequest request;
      const absl::Span<const uint8_t> key(
          reinterpret_cast<const uint8_t*>(kFuzzActivationKey.data()),
          kFuzzActivationKey.size());
      ++(VerifyActivation(app, key, &request) == ActivationResult::kOk
             ? verified
             : failed);
    }
  } verifier;
  return ParseRtcpCompound(input, &verifier) == RtcpError::kOk &&
         verifier.verified > 0 && verifier.failed == 0;
}

TEST(CorpusTest, SeedsBehaveAsNamed) {
  for (const std::string& target : FuzzTargets()) {
    const std::vector<Seed> seeds = SeedsFor(target);
    EXPECT_GE(seeds.size(), 4u) << target;
    for (const Seed& seed : seeds) {
      ASSERT_TRUE(StartsWith(seed.name, "ok_") || StartsWith(seed.name, "bad_"))
          << seed.name;
      EXPECT_EQ(Accepted(target, seed.bytes), StartsWith(seed.name, "ok_"))
          << target << "/" << seed.name;
    }
  }
}

TEST(CorpusTest, CommittedCorpusMatchesGenerator) {
  for (const std::string& target : FuzzTargets()) {
    for (const Seed& seed : SeedsFor(target)) {
      const std::string path = "media/rtp/corpus/" + target + "/" + seed.name;
      std::ifstream in(path, std::ios::binary);
      ASSERT_TRUE(in) << path << " missing: run //media/rtp:make_corpus";
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                       std::istreambuf_iterator<char>());
      EXPECT_EQ(bytes, seed.bytes)
          << path << " is stale: run //media/rtp:make_corpus";
    }
  }
}

}  // namespace
}  // namespace cascade::rtp
