#include "tools/probe/whep_sdp.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "webrtc/sdp/sdp.h"

namespace cascade {
namespace probe {
namespace {

// H.264 in the profiles a relay's stream may have (constrained baseline,
// main, constrained high, high; level 3.1, level-asymmetry-allowed): the
// answer picks the relay's (profiles match exactly). FFmpeg decodes each.
struct H264Offer {
  int payload_type;
  const char* profile_level_id;
};
constexpr H264Offer kH264[] = {
    {96, "42e01f"}, {98, "4d001f"}, {100, "640c1f"}, {102, "64001f"}};
constexpr int kOpusPayloadType = 111;

void Line(std::string* out, absl::string_view line) {
  absl::StrAppend(out, line, "\r\n");
}

// What both sections carry: BUNDLE makes them one transport.
void Transport(std::string* out, const WhepOfferOptions& o,
               absl::string_view mid) {
  Line(out, "c=IN IP4 0.0.0.0");
  Line(out, absl::StrCat("a=ice-ufrag:", o.ice.ufrag));
  Line(out, absl::StrCat("a=ice-pwd:", o.ice.pwd));
  Line(out, absl::StrCat("a=fingerprint:", o.fingerprint.algorithm, " ",
                         o.fingerprint.value));
  // RFC 8842: an offer says actpass; the relay answers passive, so the
  // viewer is the DTLS client.
  Line(out, "a=setup:actpass");
  Line(out, absl::StrCat("a=mid:", mid));
  Line(out, "a=recvonly");
  Line(out, "a=rtcp-mux");
  Line(out, "a=rtcp-rsize");
}

struct Candidate {
  uint32_t priority = 0;
  media::Endpoint address;
};

// "a=candidate:F 1 udp PRIORITY IP PORT typ TYPE ..." with an IPv4 address;
// nullopt for anything else (IPv6, TCP, RTCP's component).
std::optional<Candidate> ParseCandidate(absl::string_view value) {
  const std::vector<absl::string_view> f =
      absl::StrSplit(value, ' ', absl::SkipEmpty());
  Candidate candidate;
  if (f.size() < 8 || f[1] != "1" || !absl::EqualsIgnoreCase(f[2], "udp") ||
      !absl::SimpleAtoi(f[3], &candidate.priority) || f[6] != "typ") {
    return std::nullopt;
  }
  absl::StatusOr<media::Endpoint> address =
      media::Endpoint::Parse(absl::StrCat(f[4], ":", f[5]));
  if (!address.ok() || address->ip == 0 || address->port == 0) {
    return std::nullopt;
  }
  candidate.address = *address;
  return candidate;
}

}  // namespace

std::string BuildWhepOffer(const WhepOfferOptions& o) {
  std::string out;
  Line(&out, "v=0");
  Line(&out, absl::StrCat("o=- ", o.session_id, " 2 IN IP4 127.0.0.1"));
  Line(&out, "s=-");
  Line(&out, "t=0 0");
  Line(&out, "a=group:BUNDLE 0 1");

  std::string video_formats;
  for (const H264Offer& h264 : kH264) {
    absl::StrAppend(&video_formats, " ", h264.payload_type);
  }
  Line(&out, absl::StrCat("m=video 9 UDP/TLS/RTP/SAVPF", video_formats));
  Transport(&out, o, "0");
  for (const H264Offer& h264 : kH264) {
    const std::string pt = absl::StrCat(h264.payload_type);
    Line(&out, absl::StrCat("a=rtpmap:", pt, " H264/90000"));
    Line(&out, absl::StrCat("a=rtcp-fb:", pt, " nack"));
    Line(&out, absl::StrCat("a=rtcp-fb:", pt, " nack pli"));
    Line(&out, absl::StrCat("a=fmtp:", pt,
                            " level-asymmetry-allowed=1;packetization-mode=1;"
                            "profile-level-id=",
                            h264.profile_level_id));
  }

  const std::string opus = absl::StrCat(kOpusPayloadType);
  Line(&out, absl::StrCat("m=audio 9 UDP/TLS/RTP/SAVPF ", opus));
  Transport(&out, o, "1");
  Line(&out, absl::StrCat("a=rtpmap:", opus, " opus/48000/2"));
  Line(&out, absl::StrCat("a=fmtp:", opus, " minptime=10;useinbandfec=1"));
  return out;
}

absl::StatusOr<WhepAnswer> ParseWhepAnswer(absl::string_view text) {
  absl::StatusOr<sdp::SessionDescription> sdp = sdp::ParseSdp(text);
  if (!sdp.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("answer: ", sdp.status().message()));
  }
  WhepAnswer answer;
  const sdp::MediaSection* transport = nullptr;
  for (const sdp::MediaSection& m : sdp->media) {
    if (m.port == 0 || m.codecs.empty()) continue;  // refused
    if (transport == nullptr) transport = &m;
    const sdp::Codec& codec = m.codecs.front();
    const uint32_t ssrc = m.ssrcs.empty() ? 0 : m.ssrcs.front().ssrc;
    if (m.kind == sdp::MediaKind::kVideo &&
        absl::EqualsIgnoreCase(codec.name, "H264")) {
      answer.video_payload_type = codec.payload_type;
      answer.video_ssrc = ssrc;
      answer.nack = codec.HasFeedback("nack");
      answer.pli = codec.HasFeedback("nack pli");
    } else if (m.kind == sdp::MediaKind::kAudio &&
               absl::EqualsIgnoreCase(codec.name, "opus")) {
      answer.audio_payload_type = codec.payload_type;
      answer.audio_ssrc = ssrc;
    }
  }
  if (answer.video_payload_type < 0) {
    return absl::InvalidArgumentError("answer: the relay refused the video");
  }
  if (transport->ice_ufrag.empty() || transport->ice_pwd.empty()) {
    return absl::InvalidArgumentError("answer: no a=ice-ufrag/a=ice-pwd");
  }
  answer.ice_ufrag = transport->ice_ufrag;
  answer.ice_pwd = transport->ice_pwd;
  if (transport->setup != sdp::Setup::kPassive) {
    return absl::InvalidArgumentError(
        "answer: a=setup is not passive (the viewer is the DTLS client)");
  }
  if (transport->fingerprints.empty()) {
    return absl::InvalidArgumentError("answer: no a=fingerprint");
  }
  const sdp::Fingerprint& fingerprint = transport->fingerprints.front();
  const std::string written = fingerprint.ToString();
  absl::StatusOr<dtls::Fingerprint> parsed = dtls::ParseFingerprint(
      fingerprint.hash, absl::string_view(written).substr(std::min(
                            written.size(), fingerprint.hash.size() + 1)));
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("answer: a=fingerprint: ", parsed.status().message()));
  }
  answer.fingerprint = *std::move(parsed);

  std::vector<Candidate> candidates;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripSuffix(line, "\r");
    if (!absl::ConsumePrefix(&line, "a=candidate:")) continue;
    if (std::optional<Candidate> c = ParseCandidate(line)) {
      candidates.push_back(*c);
    }
  }
  if (candidates.empty()) {
    return absl::InvalidArgumentError(
        "answer: no IPv4 UDP candidate for component 1");
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     return a.priority > b.priority;
                   });
  for (const Candidate& c : candidates) {
    if (std::find(answer.candidates.begin(), answer.candidates.end(),
                  c.address) == answer.candidates.end()) {
      answer.candidates.push_back(c.address);
    }
  }
  return answer;
}

}  // namespace probe
}  // namespace cascade
