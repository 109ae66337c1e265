#include "webrtc/edge/fuzz_seeds.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "media/rtp/rtcp.h"

namespace cascade::edge {

const char kFuzzOffer[] =
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-ufrag:fzRm\r\n"
    "a=ice-pwd:fuzzfuzzfuzzfuzzfuzz+/\r\n"
    "a=fingerprint:sha-256 "
    "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:"
    "10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F\r\n"
    "a=setup:actpass\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 nack\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 "
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:1\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n";

const char kFuzzWhipOffer[] =
    "v=0\r\n"
    "o=- 2 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-ufrag:fzPb\r\n"
    "a=ice-pwd:fuzzpublishfuzzpublish+/\r\n"
    "a=fingerprint:sha-256 "
    "20:21:22:23:24:25:26:27:28:29:2A:2B:2C:2D:2E:2F:"
    "30:31:32:33:34:35:36:37:38:39:3A:3B:3C:3D:3E:3F\r\n"
    "a=setup:actpass\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=ssrc:2882400001 cname:fuzz\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 106\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:1\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:106 H264/90000\r\n"
    "a=rtcp-fb:106 nack pli\r\n"
    "a=fmtp:106 "
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    "a=ssrc:1234567890 cname:fuzz\r\n";

ice::TransportAddress FuzzAddress(uint8_t selector) {
  return ice::TransportAddress::V4(0xC0A80000 + (selector % 4),
                                   static_cast<uint16_t>(50000 + selector));
}

bool DecodeRequest(absl::string_view text, HttpRequest* request) {
  const size_t head_end = text.find("\n\n");
  absl::string_view head = text.substr(0, head_end);
  request->body = head_end == absl::string_view::npos
                      ? ""
                      : std::string(text.substr(head_end + 2));
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  const std::pair<absl::string_view, absl::string_view> first =
      absl::StrSplit(lines[0], absl::MaxSplits(' ', 1));
  if (first.first.empty()) return false;
  request->method = std::string(first.first);
  request->path = std::string(first.second);
  request->headers.clear();
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::pair<absl::string_view, absl::string_view> header =
        absl::StrSplit(lines[i], absl::MaxSplits(':', 1));
    request->headers.push_back(
        {std::string(header.first),
         std::string(absl::StripPrefix(header.second, " "))});
  }
  return true;
}

std::string EncodeRequest(const HttpRequest& request) {
  std::string text = absl::StrCat(request.method, " ", request.path);
  for (const HttpHeader& h : request.headers) {
    absl::StrAppend(&text, "\n", h.name, ": ", h.value);
  }
  absl::StrAppend(&text, "\n\n", request.body);
  return text;
}

namespace {

Seed Http(std::string name, const HttpRequest& request) {
  const std::string text = EncodeRequest(request);
  std::vector<uint8_t> bytes = {kHttpInput};
  bytes.insert(bytes.end(), text.begin(), text.end());
  return {"http_" + name, std::move(bytes)};
}

Seed Datagram(std::string name, uint8_t address,
              const std::vector<uint8_t>& datagram) {
  std::vector<uint8_t> bytes = {kDatagramInput, address};
  bytes.insert(bytes.end(), datagram.begin(), datagram.end());
  return {"datagram_" + name, std::move(bytes)};
}

std::vector<uint8_t> Check(absl::string_view username) {
  std::vector<uint8_t> out(256);
  const ice::TransactionId id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  ice::StunBuilder b(absl::MakeSpan(out), ice::kBindingMethod,
                     ice::StunClass::kRequest, id);
  b.AddUsername(username);
  b.AddPriority(0x6e0001ff);
  b.AddIceControlling(1);
  b.AddUseCandidate();
  b.AddMessageIntegrity("fuzzfuzzfuzzfuzzfuzz+/");
  b.AddFingerprint();
  out.resize(b.Finish());
  return out;
}

}  // namespace

std::vector<Seed> WhepSeeds() {
  const std::string path = absl::StrCat("/whep/", kFuzzStream);
  const HttpHeader sdp = {"Content-Type", "application/sdp"};
  const HttpHeader forged = {"Authorization", "Bearer ce1.CgRmYWtlEgRmYWtl"};
  std::vector<Seed> seeds = {
      Http("options", {"OPTIONS", path, {}, ""}),
      Http("post_no_token", {"POST", path, {sdp}, kFuzzOffer}),
      Http("post_forged", {"POST", path, {sdp, forged}, kFuzzOffer}),
      Http("post_basic",
           {"POST", path, {sdp, {"Authorization", "Basic eDp5"}}, "v=0"}),
      Http("delete_unknown",
           {"DELETE", path + "/00112233445566778899aabbccddeeff", {}, ""}),
      Http("put", {"PUT", path, {}, ""}),
      Http("bad_path", {"GET", "/whep/a/b/c?x=1", {}, ""}),
  };
  const std::string whip = absl::StrCat("/whip/", kFuzzStream);
  for (Seed& seed : std::vector<Seed>{
           Http("whip_options", {"OPTIONS", whip, {}, ""}),
           Http("whip_post_no_token", {"POST", whip, {sdp}, kFuzzWhipOffer}),
           Http("whip_post_forged",
                {"POST", whip, {sdp, forged}, kFuzzWhipOffer}),
           Http("whip_delete_unknown",
                {"DELETE", whip + "/00112233445566778899aabbccddeeff", {}, ""}),
           Http("whip_patch", {"PATCH", whip + "/0011", {sdp}, "a=x"}),
       }) {
    seeds.push_back(std::move(seed));
  }
  seeds.push_back(Datagram("check_unknown_ufrag", 0, Check("nobody:fzRm")));
  seeds.push_back(Datagram("check_no_username", 1, Check("")));
  // A DTLS handshake record header and an RTCP PLI from unchecked sources.
  seeds.push_back(Datagram("dtls_record", 2,
                           {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}));
  std::vector<uint8_t> pli(64);
  pli.resize(rtp::BuildPli(1, 2, absl::MakeSpan(pli)));
  seeds.push_back(Datagram("rtcp_pli", 3, pli));
  seeds.push_back(Datagram("garbage", 0, {0x40, 0x41, 0x42}));
  // What looks like a publisher's SRTP packet from an unchecked source.
  seeds.push_back(Datagram(
      "rtp_unchecked", 1,
      {0x80, 106, 0, 1, 0, 0, 0, 9, 0x49, 0x96, 0x02, 0xD2, 0x65, 0x88, 0x80}));
  return seeds;
}

}  // namespace cascade::edge
