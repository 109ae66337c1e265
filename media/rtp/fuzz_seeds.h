// Seed inputs for the fuzz targets of this package, built with the package's
// own builders so they stay valid as the code evolves. `make_corpus` writes
// them to corpus/<target>/ and `corpus_test` checks the committed files.
#ifndef CASCADE_MEDIA_RTP_FUZZ_SEEDS_H_
#define CASCADE_MEDIA_RTP_FUZZ_SEEDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cascade::rtp {

// The per-node key the activation fuzz target verifies with.
inline constexpr absl::string_view kFuzzActivationKey = "fuzz-node-key";

struct Seed {
  // File name; "ok_" seeds parse without error, "bad_" seeds are rejected.
  std::string name;
  std::vector<uint8_t> bytes;
};

// The fuzz targets with a seed corpus.
std::vector<std::string> FuzzTargets();

// Seeds for one of FuzzTargets() (empty for any other name).
std::vector<Seed> SeedsFor(absl::string_view target);

}  // namespace cascade::rtp

#endif  // CASCADE_MEDIA_RTP_FUZZ_SEEDS_H_
