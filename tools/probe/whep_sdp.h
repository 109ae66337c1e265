// The SDP of relay-probe's WHEP viewers (RFC 9725): the offer a viewer
// POSTs, and what it needs from the relay's answer. The offer is what a
// browser's recvonly offer carries and no more: one BUNDLE group, rtcp-mux,
// one ICE ufrag/pwd, the viewer's DTLS fingerprint (a=setup:actpass), H.264
// packetization-mode 1 with NACK and PLI, and Opus.
#ifndef CASCADE_TOOLS_PROBE_WHEP_SDP_H_
#define CASCADE_TOOLS_PROBE_WHEP_SDP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "media/endpoint.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/ice/ice_lite.h"

namespace cascade {
namespace probe {

struct WhepOfferOptions {
  ice::IceCredentials ice;        // the viewer's ufrag and pwd
  dtls::Fingerprint fingerprint;  // of the viewer's DTLS certificate
  uint64_t session_id = 1;        // the o= line's (positive)
};

std::string BuildWhepOffer(const WhepOfferOptions& options);

// What a viewer takes from the relay's answer.
struct WhepAnswer {
  std::string ice_ufrag;
  std::string ice_pwd;
  dtls::Fingerprint fingerprint;
  // IPv4 UDP host candidates, highest priority first (the probe's sockets
  // are IPv4).
  std::vector<media::Endpoint> candidates;
  int video_payload_type = -1;  // -1: video refused
  int audio_payload_type = -1;  // -1: audio refused (the stream has none)
  uint32_t video_ssrc = 0;      // 0: not announced
  uint32_t audio_ssrc = 0;
  bool nack = false;  // the relay takes generic NACK for video
  bool pli = false;   // and PLI
};

// Parses the answer (sdp::ParseSdp, then the a=candidate lines it leaves
// alone). InvalidArgument saying what is missing: video, ICE credentials, a
// usable fingerprint, a passive DTLS role, an IPv4 host candidate.
absl::StatusOr<WhepAnswer> ParseWhepAnswer(absl::string_view text);

}  // namespace probe
}  // namespace cascade

#endif  // CASCADE_TOOLS_PROBE_WHEP_SDP_H_
