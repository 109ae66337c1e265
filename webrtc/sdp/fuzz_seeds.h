// Seed offers for sdp_fuzz, besides the browsers' offers of testdata/.
// `make_corpus` writes them to corpus/sdp_fuzz/ and `corpus_test` checks the
// committed files.
#ifndef CASCADE_WEBRTC_SDP_FUZZ_SEEDS_H_
#define CASCADE_WEBRTC_SDP_FUZZ_SEEDS_H_

#include <string>
#include <vector>

namespace cascade::sdp {

struct Seed {
  // File name; "ok_" seeds parse, "bad_" seeds are refused by ParseSdp.
  std::string name;
  std::string text;
};

std::vector<Seed> SdpSeeds();

}  // namespace cascade::sdp

#endif  // CASCADE_WEBRTC_SDP_FUZZ_SEEDS_H_
