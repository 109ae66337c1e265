// The relay's SDP answer to a browser's WHIP or WHEP offer (RFC 9725).
//
// The relay is an ICE-lite agent (a=ice-lite) and the DTLS server
// (a=setup:passive) on one UDP port shared by every accepted m= section
// (BUNDLE, rtcp-mux). It speaks H.264 with packetization-mode 1 in the
// relay's profile (Constrained Baseline 42e01f by default) and Opus
// 48000/2, and accepts at most one audio and one video section, only for
// media the relay has. Sections it cannot serve are answered with port 0.
//
// Errors, for the HTTP layer to map:
//   InvalidArgument     -> 400: the offer is malformed or unusable (no
//                          ICE credentials, no fingerprint, a=setup:passive,
//                          an ICE-lite offerer, no BUNDLE with several
//                          sections, directions the session cannot serve).
//   FailedPrecondition  -> 415-worthy: unsupported codecs or media (no H.264
//                          packetization-mode 1 in a compatible profile and
//                          no Opus for what the relay has).
//   Internal            -> 500: AnswerOptions are invalid (the relay's own
//                          configuration, never the client's fault).
#ifndef CASCADE_WEBRTC_SDP_ANSWER_H_
#define CASCADE_WEBRTC_SDP_ANSWER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::sdp {

// What the relay does with the session's media.
enum class RelayRole {
  kSend,     // WHEP playback: the browser receives
  kReceive,  // WHIP ingest: the browser sends
};

// A stream the relay sends (kSend only).
struct SentStream {
  uint32_t ssrc = 0;
  std::string track_id;  // msid appdata (RFC 8830 token, 1-64 chars)
};

struct AnswerOptions {
  RelayRole role = RelayRole::kSend;
  // The media the relay has for this session.
  bool has_video = true;
  bool has_audio = true;
  // The relay's H.264 profile-level-id; packetization-mode is always 1.
  std::string h264_profile_level_id = "42e01f";
  // The relay's ICE-lite credentials (RFC 8839 sizes) and its DTLS
  // certificate's fingerprint, "sha-256 AB:CD:...".
  std::string ice_ufrag;
  std::string ice_pwd;
  std::string fingerprint;
  // Host candidates, "IP:PORT" or "[IPv6]:PORT", all on one port.
  std::vector<std::string> candidates;
  // The o= line's session id.
  uint64_t session_id = 0;
  // kSend only: the msid stream id, the RTCP CNAME and the streams sent.
  std::string msid_stream_id;
  std::string cname;
  SentStream video;
  SentStream audio;
};

// What was agreed for one kind of media.
struct AcceptedMedia {
  std::string mid;
  int payload_type = 0;
  Direction direction = Direction::kInactive;  // the relay's, as answered
  bool rtcp_rsize = false;
  // RTCP feedback agreed (video): generic NACK, PLI, FIR.
  bool nack = false;
  bool pli = false;
  bool fir = false;
  std::string profile_level_id;  // video: as answered
  // The SSRCs the browser announced (a=ssrc), for kReceive.
  std::vector<uint32_t> remote_ssrcs;
};

struct Answer {
  std::string sdp;
  std::optional<AcceptedMedia> video;
  std::optional<AcceptedMedia> audio;
  // The browser's transport for the BUNDLE group, for ICE and DTLS.
  std::string remote_ice_ufrag;
  std::string remote_ice_pwd;
  std::vector<Fingerprint> remote_fingerprints;
};

// Builds the answer to `offer` (see the error codes above).
absl::StatusOr<Answer> BuildAnswer(const SessionDescription& offer,
                                   const AnswerOptions& options);

// Whether `candidates` (AnswerOptions::candidates) can go in an answer:
// 1 to 16 of IP:PORT or [IP]:PORT, all on one port (the BUNDLE transport).
// BuildAnswer refuses the same with an internal error, so a relay checks
// its list once at start.
absl::Status CheckCandidates(const std::vector<std::string>& candidates);

// RFC 8445 section 5.1.2.1 priority of a host candidate for component 1,
// `index` being its place in AnswerOptions::candidates (earlier preferred).
uint32_t HostCandidatePriority(size_t index);

}  // namespace cascade::sdp

#endif  // CASCADE_WEBRTC_SDP_ANSWER_H_
