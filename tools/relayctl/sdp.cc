#include "tools/relayctl/sdp.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace cascade::relayctl {
namespace {

struct Address {
  std::string host;  // without brackets
  int port = 0;
};

// HOST:PORT or [V6]:PORT; topologyd has checked the port.
Address Split(absl::string_view text) {
  Address address;
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return address;
  absl::string_view host = text.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  address.host = std::string(host);
  (void)absl::SimpleAtoi(text.substr(colon + 1), &address.port);
  return address;
}

std::string Connection(const Address& address) {
  return absl::StrCat("IN ",
                      absl::StrContains(address.host, ':') ? "IP6 " : "IP4 ",
                      address.host);
}

absl::Status Refuse(const cascade::v1::NodeView& site, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("\"", site.id(), "\" ", why));
}

}  // namespace

absl::StatusOr<std::string> SiteSdp(
    const cascade::v1::NodeView& site,
    const google::protobuf::RepeatedPtrField<cascade::v1::Stream>& streams) {
  if (!site.plain_endpoint()) {
    return Refuse(site,
                  "is not a plain endpoint: its parent sends nothing until it "
                  "activates itself in band, which a player cannot do");
  }
  struct Section {
    const cascade::v1::Stream* stream;
    const cascade::v1::Track* track;
  };
  std::vector<Section> video, audio;
  for (const auto& stream : streams) {
    if (stream.direction() != cascade::v1::DIRECTION_DOWNSTREAM) continue;
    for (const auto& track : stream.tracks()) {
      if (track.media() == "video") video.push_back({&stream, &track});
      if (track.media() == "audio") audio.push_back({&stream, &track});
    }
  }
  for (const auto* kind : {&video, &audio}) {
    if (kind->size() > 1) {
      return Refuse(site, absl::StrCat("gets ", kind->size(), " downstream ",
                                       kind->front().track->media(),
                                       " tracks on one port; a player plays "
                                       "one"));
    }
  }
  if (video.empty() && audio.empty()) {
    return Refuse(site, "gets no downstream video or audio track");
  }
  if (!audio.empty() && site.audio_address().empty()) {
    return Refuse(site,
                  "has no audio_address: its audio would share the video's "
                  "port, and a player binds one port per m= line; give the "
                  "node an audio_address at least 2 ports from its "
                  "media_address (relayctl apply)");
  }
  const Address video_at = Split(site.media_address());
  const Address audio_at = Split(site.audio_address());
  const Address& session = video.empty() ? audio_at : video_at;
  std::string sdp = absl::StrCat(
      "v=0\r\n", "o=- 0 0 ", Connection(session), "\r\n", "s=Cascade ",
      site.id(), "\r\n", "c=", Connection(session), "\r\n", "t=0 0\r\n");
  auto section = [&](const Section& s, const Address& at) {
    const cascade::v1::Track& t = *s.track;
    absl::StrAppend(&sdp, "m=", t.media(), " ", at.port, " RTP/AVP ",
                    t.payload_type(), "\r\n");
    if (at.host != session.host) {
      absl::StrAppend(&sdp, "c=", Connection(at), "\r\n");
    }
    absl::StrAppend(&sdp, "a=rtpmap:", t.payload_type(), " ", t.encoding(),
                    "\r\n");
    if (absl::StartsWithIgnoreCase(t.encoding(), "H264/")) {
      absl::StrAppend(&sdp, "a=fmtp:", t.payload_type(),
                      " packetization-mode=1\r\n");
    }
    // RTCP (the source's SRs, for lip sync) comes on the media port.
    absl::StrAppend(&sdp, "a=rtcp-mux\r\n", "a=ssrc:", t.ssrc(),
                    " cname:", s.stream->id(), "\r\n", "a=recvonly\r\n");
  };
  if (!video.empty()) section(video[0], video_at);
  if (!audio.empty()) section(audio[0], audio_at);
  return sdp;
}

}  // namespace cascade::relayctl
