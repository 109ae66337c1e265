// The input format of whep_fuzz (WHEP and WHIP) and its seeds. `make_corpus`
// writes the seeds to corpus/whep_fuzz/ and `corpus_test` checks the committed
// files.
//
// An input is one byte of kind, then:
//   'H': an HTTP request as text, "METHOD PATH\nName: value\n...\n\nbody";
//   'D': one byte choosing the source address (from kFuzzAddresses), then a
//        datagram for the edge port.
#ifndef CASCADE_WEBRTC_EDGE_FUZZ_SEEDS_H_
#define CASCADE_WEBRTC_EDGE_FUZZ_SEEDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "webrtc/edge/whep_handler.h"
#include "webrtc/ice/stun.h"

namespace cascade::edge {

inline constexpr absl::string_view kFuzzTarget = "whep_fuzz";
inline constexpr char kFuzzRelay[] = "fuzz-relay";
inline constexpr char kFuzzStream[] = "program";
inline constexpr uint8_t kHttpInput = 'H';
inline constexpr uint8_t kDatagramInput = 'D';

// A small WHEP offer (H.264 and Opus, recvonly, BUNDLE) the fuzz target
// opens its one viewer with, and the WHIP offer (sendonly) of its one
// publisher.
extern const char kFuzzOffer[];
extern const char kFuzzWhipOffer[];

// The source addresses a datagram input may name.
ice::TransportAddress FuzzAddress(uint8_t selector);

// Decodes an 'H' input's text; false when it has no request line.
bool DecodeRequest(absl::string_view text, HttpRequest* request);
std::string EncodeRequest(const HttpRequest& request);

struct Seed {
  // "http_" seeds decode to a request, "datagram_" ones are datagrams.
  std::string name;
  std::vector<uint8_t> bytes;
};

std::vector<Seed> WhepSeeds();

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_FUZZ_SEEDS_H_
