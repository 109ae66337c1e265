// What the SRTP fuzz target holds and its seed inputs, built with the
// package's own sender so they stay valid as the code evolves. A fuzz input
// is a run of packets, each after its size (2 bytes, big-endian), fed in
// order to one fresh receiver: streams, rotations, replays and late joins
// are inputs like any other.
#ifndef CASCADE_MEDIA_SRTP_FUZZ_SEEDS_H_
#define CASCADE_MEDIA_SRTP_FUZZ_SEEDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "media/srtp/keys.h"

namespace cascade::srtp {

inline constexpr uint32_t kFuzzSsrc = 0x5151;

// The receiver's keys: ids 01 and 02.
std::vector<StreamKey> FuzzKeys();

// The packets of a fuzz input (a size running past the end takes the rest).
std::vector<absl::Span<const uint8_t>> SplitPackets(
    absl::Span<const uint8_t> input);

struct Seed {
  // File name; with "ok_" every packet is accepted, with "bad_" one is not.
  std::string name;
  std::vector<uint8_t> bytes;
};

std::vector<Seed> SrtpSeeds();

}  // namespace cascade::srtp

#endif  // CASCADE_MEDIA_SRTP_FUZZ_SEEDS_H_
