#include "webrtc/sdp/answer.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "webrtc/sdp/h264_profile.h"
#include "webrtc/sdp/text.h"

namespace cascade::sdp {
namespace {

constexpr absl::string_view kProto = "UDP/TLS/RTP/SAVPF";
constexpr size_t kMaxCandidates = 16;
constexpr size_t kMaxIdLength = 64;

struct HostCandidate {
  std::string ip;  // canonical text form, no brackets
  bool v6 = false;
  uint16_t port = 0;
};

// AnswerOptions, checked and parsed.
struct Relay {
  std::vector<HostCandidate> candidates;
  ProfileLevelId h264;
  std::string fingerprint;
};

absl::Status BadOptions(absl::string_view what) {
  return absl::InternalError(absl::StrCat("relay answer options: ", what));
}

absl::StatusOr<HostCandidate> ParseCandidate(absl::string_view text) {
  HostCandidate candidate;
  absl::string_view host, port;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return BadOptions(
          absl::StrCat("candidate '", text, "' is not [IP]:PORT"));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    candidate.v6 = true;
  } else {
    const size_t colon = text.find(':');
    if (colon == absl::string_view::npos) {
      return BadOptions(absl::StrCat("candidate '", text, "' is not IP:PORT"));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const std::string host_z(host);
  unsigned char addr[sizeof(in6_addr)];
  char canonical[INET6_ADDRSTRLEN];
  const int family = candidate.v6 ? AF_INET6 : AF_INET;
  uint64_t number;
  if (inet_pton(family, host_z.c_str(), addr) != 1 ||
      inet_ntop(family, addr, canonical, sizeof(canonical)) == nullptr ||
      !ParseDecimal(port, 65535, &number) || number == 0) {
    return BadOptions(absl::StrCat("candidate '", text, "' is not IP:PORT"));
  }
  candidate.ip = canonical;
  candidate.port = static_cast<uint16_t>(number);
  return candidate;
}

bool IsId(absl::string_view id) {
  return id.size() <= kMaxIdLength && IsToken(id);
}

absl::StatusOr<std::vector<HostCandidate>> ParseCandidates(
    const std::vector<std::string>& texts) {
  if (texts.empty() || texts.size() > kMaxCandidates) {
    return BadOptions("1 to 16 candidates needed");
  }
  std::vector<HostCandidate> candidates;
  for (const std::string& text : texts) {
    absl::StatusOr<HostCandidate> candidate = ParseCandidate(text);
    if (!candidate.ok()) return candidate.status();
    if (!candidates.empty() && candidate->port != candidates[0].port) {
      return BadOptions("candidates on different ports (BUNDLE uses one)");
    }
    candidates.push_back(*std::move(candidate));
  }
  return candidates;
}

absl::StatusOr<Relay> CheckOptions(const AnswerOptions& o) {
  Relay relay;
  if (!o.has_video && !o.has_audio) return BadOptions("no media");
  absl::StatusOr<std::vector<HostCandidate>> candidates =
      ParseCandidates(o.candidates);
  if (!candidates.ok()) return candidates.status();
  relay.candidates = *std::move(candidates);
  if (!IsValidIceUfrag(o.ice_ufrag) || !IsValidIcePwd(o.ice_pwd)) {
    return BadOptions("ICE ufrag or pwd not of RFC 8839's size and chars");
  }
  absl::StatusOr<Fingerprint> fingerprint = ParseFingerprint(o.fingerprint);
  if (!fingerprint.ok()) {
    return BadOptions(
        absl::StrCat("fingerprint: ", fingerprint.status().message()));
  }
  relay.fingerprint = fingerprint->ToString();
  absl::StatusOr<ProfileLevelId> h264 =
      ParseProfileLevelId(o.h264_profile_level_id);
  if (o.has_video && !h264.ok()) return BadOptions(h264.status().message());
  if (h264.ok()) relay.h264 = *h264;
  if (o.role == RelayRole::kSend) {
    if (!IsId(o.msid_stream_id) || !IsId(o.cname)) {
      return BadOptions("msid stream id and cname must be 1-64 token chars");
    }
    if ((o.has_video && (!IsId(o.video.track_id) || o.video.ssrc == 0)) ||
        (o.has_audio && (!IsId(o.audio.track_id) || o.audio.ssrc == 0))) {
      return BadOptions("a sent stream needs a track id and a nonzero SSRC");
    }
    if (o.has_video && o.has_audio && o.video.ssrc == o.audio.ssrc) {
      return BadOptions("video and audio share an SSRC");
    }
  }
  return relay;
}

absl::Status Refuse(const MediaSection& m, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(
      "SDP line ", m.line, " (m=", m.media, ", mid ", m.mid, "): ", what));
}

// What the offer must carry for the relay to be its DTLS server and its
// ICE-lite peer.
absl::Status CheckTransport(const MediaSection& m) {
  if (m.ice_ufrag.empty()) return Refuse(m, "no a=ice-ufrag");
  if (m.ice_pwd.empty()) return Refuse(m, "no a=ice-pwd");
  if (m.fingerprints.empty()) return Refuse(m, "no a=fingerprint");
  if (m.setup == Setup::kPassive || m.setup == Setup::kHoldconn) {
    return Refuse(m, "a=setup must be actpass or active: the relay is passive");
  }
  return absl::OkStatus();
}

bool Live(const MediaSection& m) { return m.port != 0 || m.bundle_only; }

// The decision on one m= section.
struct Verdict {
  bool accepted = false;
  bool unsupported = false;  // refused for codecs or media (415)
  std::string why;
  const Codec* codec = nullptr;
  ProfileLevelId h264;  // as answered
  bool level_asymmetry = false;
};

// The first H.264 payload type with packetization-mode 1 in the relay's
// profile, else the first in a profile the relay's stream also obeys.
bool ChooseH264(const MediaSection& m, const ProfileLevelId& relay,
                Verdict* verdict) {
  for (ProfileMatch wanted : {ProfileMatch::kExact, ProfileMatch::kSubset}) {
    for (const Codec& codec : m.codecs) {
      const std::string* mode = codec.Fmtp("packetization-mode");
      if (!absl::EqualsIgnoreCase(codec.name, "H264") ||
          codec.clock_rate != 90000 || mode == nullptr || *mode != "1") {
        continue;
      }
      const std::string* text = codec.Fmtp("profile-level-id");
      absl::StatusOr<ProfileLevelId> offered =
          ParseProfileLevelId(text != nullptr ? *text : kDefaultProfileLevelId);
      if (!offered.ok() || MatchProfile(*offered, relay) != wanted) continue;
      const std::string* asymmetry = codec.Fmtp("level-asymmetry-allowed");
      verdict->codec = &codec;
      verdict->level_asymmetry = asymmetry != nullptr && *asymmetry == "1";
      verdict->h264 =
          AnswerProfileLevelId(*offered, relay, verdict->level_asymmetry);
      return true;
    }
  }
  return false;
}

const Codec* ChooseOpus(const MediaSection& m) {
  for (const Codec& codec : m.codecs) {
    if (absl::EqualsIgnoreCase(codec.name, "opus") &&
        codec.clock_rate == 48000 && codec.channels == 2) {
      return &codec;
    }
  }
  return nullptr;
}

Verdict Decide(const MediaSection& m, const Group* bundle,
               const AnswerOptions& options, const Relay& relay,
               bool kind_taken) {
  Verdict v;
  const bool video = m.kind == MediaKind::kVideo;
  const bool send = options.role == RelayRole::kSend;
  if (!Live(m)) {
    v.why = "disabled in the offer";
  } else if (bundle != nullptr &&
             std::find(bundle->mids.begin(), bundle->mids.end(), m.mid) ==
                 bundle->mids.end()) {
    v.why = "not in the BUNDLE group";
  } else if (m.kind == MediaKind::kOther) {
    v.unsupported = true;
    v.why = absl::StrCat("m=", m.media, " is not served");
  } else if (m.proto != kProto) {
    v.why = absl::StrCat("proto ", m.proto, " is not ", kProto);
  } else if (!(video ? options.has_video : options.has_audio)) {
    v.unsupported = true;
    v.why = absl::StrCat("the relay has no ", m.media, " for this session");
  } else if (kind_taken) {
    v.unsupported = true;
    v.why = absl::StrCat("a second ", m.media, " section");
  } else if (m.direction == Direction::kInactive ||
             m.direction ==
                 (send ? Direction::kSendOnly : Direction::kRecvOnly)) {
    v.why = absl::StrCat(send ? "WHEP" : "WHIP", " cannot answer ",
                         DirectionName(m.direction));
  } else if (!m.rtcp_mux) {
    v.why = "no a=rtcp-mux";
  } else if (video && !ChooseH264(m, relay.h264, &v)) {
    v.unsupported = true;
    v.why = absl::StrCat("no H264 with packetization-mode=1 compatible with ",
                         relay.h264.ToString());
  } else if (!video && (v.codec = ChooseOpus(m)) == nullptr) {
    v.unsupported = true;
    v.why = "no opus/48000/2";
  } else {
    v.accepted = true;
  }
  return v;
}

void Line(std::string* out, std::initializer_list<absl::string_view> parts) {
  for (absl::string_view part : parts) out->append(part.data(), part.size());
  out->append("\r\n");
}

}  // namespace

absl::Status CheckCandidates(const std::vector<std::string>& candidates) {
  return ParseCandidates(candidates).status();
}

uint32_t HostCandidatePriority(size_t index) {
  constexpr uint32_t kHostTypePreference = 126;
  const uint32_t local_preference =
      65535 - static_cast<uint32_t>(std::min<size_t>(index, 65535));
  constexpr uint32_t kComponent = 1;
  return (kHostTypePreference << 24) + (local_preference << 8) +
         (256 - kComponent);
}

absl::StatusOr<Answer> BuildAnswer(const SessionDescription& offer,
                                   const AnswerOptions& options) {
  absl::StatusOr<Relay> relay = CheckOptions(options);
  if (!relay.ok()) return relay.status();
  if (offer.ice_lite) {
    // Between two lite agents nobody runs connectivity checks (RFC 8445),
    // and the relay only answers them.
    return absl::InvalidArgumentError(
        "SDP: the offer is ICE-lite and so is the relay");
  }
  const Group* bundle = offer.Bundle();
  auto bundled = [&](const MediaSection& m) {
    return bundle == nullptr ||
           std::find(bundle->mids.begin(), bundle->mids.end(), m.mid) !=
               bundle->mids.end();
  };
  const MediaSection* transport = nullptr;
  size_t live = 0;
  for (const MediaSection& m : offer.media) {
    if (!Live(m)) continue;
    ++live;
    if (!bundled(m) || m.bundle_only) continue;
    if (absl::Status s = CheckTransport(m); !s.ok()) return s;
    if (transport == nullptr) transport = &m;
  }
  if (bundle == nullptr && live > 1) {
    return absl::InvalidArgumentError(
        "SDP: several m= sections without a=group:BUNDLE (WHIP and WHEP "
        "use max-bundle)");
  }

  std::vector<Verdict> verdicts;
  bool video_taken = false, audio_taken = false;
  bool any_accepted = false, any_unsupported = false;
  std::vector<std::string> reasons;
  for (const MediaSection& m : offer.media) {
    bool& taken = m.kind == MediaKind::kVideo ? video_taken : audio_taken;
    verdicts.push_back(Decide(m, bundle, options, *relay, taken));
    const Verdict& v = verdicts.back();
    if (v.accepted && m.kind != MediaKind::kOther) taken = true;
    any_accepted |= v.accepted;
    any_unsupported |= v.unsupported;
    if (!v.accepted)
      reasons.push_back(absl::StrCat("mid ", m.mid, ": ", v.why));
  }
  if (!any_accepted) {
    const std::string why = absl::StrJoin(reasons, "; ");
    if (any_unsupported) {
      return absl::FailedPreconditionError(
          absl::StrCat("unsupported codecs or media: ", why));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("SDP: nothing the relay can answer: ", why));
  }

  if (transport == nullptr) {
    return absl::InvalidArgumentError(
        "SDP: only bundle-only m= sections, none with ICE and DTLS attributes");
  }

  // The answerer-tagged section (RFC 8843 section 7.3.1) is the first
  // accepted one in the offer's group order; candidates go there.
  std::vector<std::string> group;
  if (bundle != nullptr) {
    for (const std::string& mid : bundle->mids) {
      for (size_t i = 0; i < offer.media.size(); ++i) {
        if (offer.media[i].mid == mid && verdicts[i].accepted) {
          group.push_back(mid);
        }
      }
    }
  } else {
    for (size_t i = 0; i < offer.media.size(); ++i) {
      if (verdicts[i].accepted) group.push_back(offer.media[i].mid);
    }
  }

  Answer answer;
  answer.remote_ice_ufrag = transport->ice_ufrag;
  answer.remote_ice_pwd = transport->ice_pwd;
  answer.remote_fingerprints = transport->fingerprints;
  const HostCandidate& first = relay->candidates[0];
  const std::string address =
      absl::StrCat(first.v6 ? "IP6 " : "IP4 ", first.ip);
  const std::string port = absl::StrCat(first.port);
  const bool send = options.role == RelayRole::kSend;
  std::string& out = answer.sdp;
  Line(&out, {"v=0"});
  Line(&out, {"o=- ", absl::StrCat(options.session_id), " 1 IN ", address});
  Line(&out, {"s=-"});
  Line(&out, {"t=0 0"});
  Line(&out, {"a=ice-lite"});
  if (bundle != nullptr) {
    Line(&out, {"a=group:BUNDLE ", absl::StrJoin(group, " ")});
  }
  for (size_t i = 0; i < offer.media.size(); ++i) {
    const MediaSection& m = offer.media[i];
    const Verdict& v = verdicts[i];
    if (!v.accepted) {
      Line(&out, {"m=", m.media, " 0 ", m.proto, " ", m.formats[0]});
      Line(&out, {"c=IN IP4 0.0.0.0"});
      Line(&out, {"a=mid:", m.mid});
      continue;
    }
    const bool video = m.kind == MediaKind::kVideo;
    const std::string pt = absl::StrCat(v.codec->payload_type);
    AcceptedMedia accepted;
    accepted.mid = m.mid;
    accepted.payload_type = v.codec->payload_type;
    accepted.direction = send ? Direction::kSendOnly : Direction::kRecvOnly;
    accepted.rtcp_rsize = m.rtcp_rsize;
    Line(&out, {"m=", m.media, " ", port, " ", kProto, " ", pt});
    Line(&out, {"c=IN ", address});
    Line(&out, {"a=mid:", m.mid});
    Line(&out, {"a=ice-ufrag:", options.ice_ufrag});
    Line(&out, {"a=ice-pwd:", options.ice_pwd});
    Line(&out, {"a=fingerprint:", relay->fingerprint});
    Line(&out, {"a=setup:passive"});
    Line(&out, {"a=", DirectionName(accepted.direction)});
    Line(&out, {"a=rtcp-mux"});
    if (m.rtcp_rsize) Line(&out, {"a=rtcp-rsize"});
    if (video) {
      Line(&out, {"a=rtpmap:", pt, " ", v.codec->name, "/90000"});
      accepted.nack = v.codec->HasFeedback("nack");
      accepted.pli = v.codec->HasFeedback("nack pli");
      accepted.fir = v.codec->HasFeedback("ccm fir");
      if (accepted.nack) Line(&out, {"a=rtcp-fb:", pt, " nack"});
      if (accepted.pli) Line(&out, {"a=rtcp-fb:", pt, " nack pli"});
      if (accepted.fir) Line(&out, {"a=rtcp-fb:", pt, " ccm fir"});
      accepted.profile_level_id = v.h264.ToString();
      Line(&out, {"a=fmtp:", pt, " ",
                  v.level_asymmetry ? "level-asymmetry-allowed=1;" : "",
                  "packetization-mode=1;profile-level-id=",
                  accepted.profile_level_id});
    } else {
      Line(&out, {"a=rtpmap:", pt, " ", v.codec->name, "/48000/2"});
      std::vector<std::string> fmtp;
      for (absl::string_view name : {"minptime", "useinbandfec"}) {
        const std::string* value = v.codec->Fmtp(name);
        // Values are echoed only when plain numbers.
        uint64_t number;
        if (value != nullptr && ParseDecimal(*value, 1000, &number)) {
          fmtp.push_back(absl::StrCat(name, "=", number));
        }
      }
      if (!fmtp.empty()) {
        Line(&out, {"a=fmtp:", pt, " ", absl::StrJoin(fmtp, ";")});
      }
    }
    if (send) {
      const SentStream& stream = video ? options.video : options.audio;
      const std::string ssrc = absl::StrCat(stream.ssrc);
      Line(&out, {"a=msid:", options.msid_stream_id, " ", stream.track_id});
      Line(&out, {"a=ssrc:", ssrc, " cname:", options.cname});
      Line(&out, {"a=ssrc:", ssrc, " msid:", options.msid_stream_id, " ",
                  stream.track_id});
    } else {
      for (const SsrcAttribute& a : m.ssrcs) {
        if (std::find(accepted.remote_ssrcs.begin(),
                      accepted.remote_ssrcs.end(),
                      a.ssrc) == accepted.remote_ssrcs.end()) {
          accepted.remote_ssrcs.push_back(a.ssrc);
        }
      }
    }
    if (m.mid == group.front()) {
      for (size_t c = 0; c < relay->candidates.size(); ++c) {
        const HostCandidate& candidate = relay->candidates[c];
        Line(&out, {"a=candidate:", absl::StrCat(c + 1), " 1 udp ",
                    absl::StrCat(HostCandidatePriority(c)), " ", candidate.ip,
                    " ", absl::StrCat(candidate.port), " typ host"});
      }
      Line(&out, {"a=end-of-candidates"});
    }
    (video ? answer.video : answer.audio) = std::move(accepted);
  }
  return answer;
}

}  // namespace cascade::sdp
