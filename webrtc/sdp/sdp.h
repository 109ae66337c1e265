// A strict parser of the SDP offers browsers send to a WHIP/WHEP endpoint
// (RFC 9725): SDP syntax (RFC 8866) as JSEP (RFC 8829) uses it, with BUNDLE
// (RFC 8843). The input is untrusted: it is bounded (kMaxSdpBytes,
// kMaxLineBytes, kMaxMediaSections) and any malformed line is an
// InvalidArgument naming the line number and its field.
//
// What is checked here is syntax and internal consistency (every rtpmap,
// fmtp and rtcp-fb names a payload type of its m= line, mids are unique,
// groups name existing mids). Whether an offer is usable by the relay
// (ICE credentials present, DTLS role, codecs) is answer.h's business.
#ifndef CASCADE_WEBRTC_SDP_SDP_H_
#define CASCADE_WEBRTC_SDP_SDP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade::sdp {

// A browser's offer is 5-15 KiB; Firefox with simulcast stays below 20 KiB.
inline constexpr size_t kMaxSdpBytes = 64 * 1024;
inline constexpr size_t kMaxLineBytes = 4096;
inline constexpr size_t kMaxMediaSections = 32;

enum class MediaKind { kAudio, kVideo, kOther };
enum class Direction { kSendRecv, kSendOnly, kRecvOnly, kInactive };
// kNone: no a=setup (RFC 4145 then implies "active" for an offer).
enum class Setup { kNone, kActpass, kActive, kPassive, kHoldconn };

absl::string_view DirectionName(Direction direction);

struct Fingerprint {
  std::string hash;             // lower case: "sha-256"
  std::vector<uint8_t> digest;  // the bytes of the hex pairs

  // "sha-256 AB:CD:..." (upper-case hex), the form a=fingerprint carries.
  std::string ToString() const;
  bool operator==(const Fingerprint& o) const {
    return hash == o.hash && digest == o.digest;
  }
};

// Parses a=fingerprint's value: a hash function token, one space, and
// colon-separated hex pairs (digest length checked for the SHA family).
absl::StatusOr<Fingerprint> ParseFingerprint(absl::string_view value);

// RFC 8839 ice-char strings: ufrag 4..256, pwd 22..256 characters.
bool IsValidIceUfrag(absl::string_view ufrag);
bool IsValidIcePwd(absl::string_view pwd);

struct FmtpParameter {
  std::string name;  // lower case; a parameter without '=' has its token
  std::string value;
};

struct Codec {
  int payload_type = 0;
  std::string name;  // rtpmap encoding name as sent; empty without rtpmap
  uint32_t clock_rate = 0;
  int channels = 0;  // 0 when the rtpmap gives none
  std::vector<FmtpParameter> fmtp;
  std::vector<std::string> rtcp_fb;  // "nack", "nack pli", "ccm fir", ...

  // The value of fmtp parameter `name` (lower case), or nullptr.
  const std::string* Fmtp(absl::string_view name) const;
  bool HasFeedback(absl::string_view feedback) const;
};

struct Extmap {
  int id = 0;
  std::string uri;
};

struct SsrcAttribute {
  uint32_t ssrc = 0;
  std::string name;   // "cname", "msid", ...
  std::string value;  // what follows ':' (may be empty)
};

struct SsrcGroup {
  std::string semantics;  // "FID", "SIM", ...
  std::vector<uint32_t> ssrcs;
};

struct Msid {
  std::string stream_id;
  std::string track_id;  // may be empty
};

struct Group {
  std::string semantics;  // "BUNDLE", "LS", ...
  std::vector<std::string> mids;
};

struct MediaSection {
  int line = 0;  // line number of the m= line (1-based)
  MediaKind kind = MediaKind::kOther;
  std::string media;  // "audio", "video", "application", ...
  int port = 0;
  std::string proto;                 // "UDP/TLS/RTP/SAVPF", ...
  std::vector<std::string> formats;  // as on the m= line
  std::string mid;
  Direction direction = Direction::kSendRecv;
  bool bundle_only = false;
  bool rtcp_mux = false;
  bool rtcp_rsize = false;
  // Transport attributes, the session-level ones applied when the section
  // has none of its own.
  std::string ice_ufrag;
  std::string ice_pwd;
  std::vector<Fingerprint> fingerprints;
  Setup setup = Setup::kNone;
  // audio and video only: one per payload type of the m= line, in its order.
  std::vector<Codec> codecs;
  std::vector<Extmap> extmaps;
  std::vector<SsrcAttribute> ssrcs;
  std::vector<SsrcGroup> ssrc_groups;
  std::vector<Msid> msids;

  const Codec* FindCodec(int payload_type) const;
};

struct SessionDescription {
  std::string origin;  // the o= line's value
  std::string session_name;
  bool ice_lite = false;
  bool extmap_allow_mixed = false;
  std::vector<Group> groups;
  std::vector<MediaSection> media;

  // The first a=group:BUNDLE, or nullptr.
  const Group* Bundle() const;
  // The section with this mid, or nullptr.
  const MediaSection* FindMid(absl::string_view mid) const;
};

// Parses `text` (CRLF or LF line ends). InvalidArgument on anything
// malformed or beyond the limits, naming the line.
absl::StatusOr<SessionDescription> ParseSdp(absl::string_view text);

}  // namespace cascade::sdp

#endif  // CASCADE_WEBRTC_SDP_SDP_H_
