// A standalone relayd with a browser edge, set up without a controller: the
// config naming the plain source parent, the stream's SSRCs and the public
// half of the key tokens are minted with, and the watch tokens themselves.
// Shared by relay-probe's WHEP integration test and relay-bench's whep
// section.
#ifndef CASCADE_TOOLS_PROBE_EDGE_RELAY_H_
#define CASCADE_TOOLS_PROBE_EDGE_RELAY_H_

#include <openssl/evp.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/relay_config.pb.h"

namespace cascade::probe {

struct EdgeRelaySetup {
  std::string relay_id;
  std::string listen = "127.0.0.1:0";
  // The plain parent "source" (relay-source --bind).
  std::string source_address;
  uint32_t video_ssrc = 0;
  uint32_t audio_ssrc = 0;
  std::string stream_id = "program";
  // DER public key the relay checks watch tokens with.
  std::string token_key_der;
};

// Both SSRCs as DOWN streams of `stream_id` (the video one H.264).
cascade::v1::RelayConfig EdgeRelayConfig(const EdgeRelaySetup& setup);

// EdgeRelayConfig as text, written to `path` (relayd --config).
absl::Status WriteEdgeRelayConfig(const EdgeRelaySetup& setup,
                                  const std::string& path);

// A watch token for `relay_id`'s `stream`, valid from a minute before `now`
// for an hour, signed with `key`.
absl::StatusOr<std::string> MintWatchToken(EVP_PKEY* key,
                                           const std::string& relay_id,
                                           const std::string& stream,
                                           absl::Time now);

}  // namespace cascade::probe

#endif  // CASCADE_TOOLS_PROBE_EDGE_RELAY_H_
