// Seed inputs for stun_fuzz, built with this package's own builder so they
// stay valid as the code evolves. `make_corpus` writes them to
// corpus/stun_fuzz/ and `corpus_test` checks the committed files.
#ifndef CASCADE_WEBRTC_ICE_FUZZ_SEEDS_H_
#define CASCADE_WEBRTC_ICE_FUZZ_SEEDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cascade::ice {

// The credentials of the responder the fuzz target feeds.
inline constexpr absl::string_view kFuzzLocalUfrag = "fuzzLocl";
inline constexpr absl::string_view kFuzzLocalPwd = "fuzzfuzzfuzzfuzzfuzz+/";
inline constexpr absl::string_view kFuzzRemoteUfrag = "fuzzRemt";

struct Seed {
  // File name: "ok_" seeds parse, "bad_" seeds are rejected by ParseStun;
  // "ok_check" seeds are valid connectivity checks for the fuzz responder.
  std::string name;
  std::vector<uint8_t> bytes;
};

inline constexpr absl::string_view kFuzzTarget = "stun_fuzz";

std::vector<Seed> StunSeeds();

}  // namespace cascade::ice

#endif  // CASCADE_WEBRTC_ICE_FUZZ_SEEDS_H_
