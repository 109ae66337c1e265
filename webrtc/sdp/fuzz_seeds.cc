#include "webrtc/sdp/fuzz_seeds.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace cascade::sdp {
namespace {

// A small offer of the shape browsers send: BUNDLE, video then audio.
constexpr char kOffer[] =
    "v=0\r\n"
    "o=- 7 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 106 107\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Fz9q\r\n"
    "a=ice-pwd:Vq8nC1u+Lh3Pz0xW7yRt5sKe\r\n"
    "a=fingerprint:sha-256 "
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:106 H264/90000\r\n"
    "a=rtcp-fb:106 nack\r\n"
    "a=rtcp-fb:106 nack pli\r\n"
    "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;"
    "profile-level-id=42e01f\r\n"
    "a=rtpmap:107 rtx/90000\r\n"
    "a=fmtp:107 apt=106\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Fz9q\r\n"
    "a=ice-pwd:Vq8nC1u+Lh3Pz0xW7yRt5sKe\r\n"
    "a=fingerprint:sha-256 "
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

std::string Replaced(absl::string_view from, absl::string_view to) {
  return absl::StrReplaceAll(kOffer, {{from, to}});
}

}  // namespace

std::vector<Seed> SdpSeeds() {
  return {
      {"ok_whep", kOffer},
      {"ok_whip", absl::StrReplaceAll(kOffer, {{"a=recvonly", "a=sendonly"}})},
      {"ok_lf", absl::StrReplaceAll(kOffer, {{"\r\n", "\n"}})},
      {"ok_bundle_only",
       Replaced("m=audio 9", "m=audio 0").append("a=bundle-only\r\n")},
      {"ok_datachannel",
       absl::StrCat(kOffer,
                    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                    "c=IN IP4 0.0.0.0\r\n"
                    "a=mid:2\r\n"
                    "a=sctp-port:5000\r\n")},
      {"ok_no_h264", Replaced("H264", "VP9")},
      {"ok_setup_passive", Replaced("setup:actpass", "setup:passive")},
      {"bad_no_equals", Replaced("a=rtcp-rsize", "rtcp-rsize")},
      {"bad_unknown_payload_type", Replaced("a=rtpmap:0 ", "a=rtpmap:8 ")},
      {"bad_group_unknown_mid", Replaced("BUNDLE 0 1", "BUNDLE 0 1 2")},
      {"bad_fingerprint", Replaced("AA:BB", "AA:BG")},
      {"bad_binary", std::string("v=0\r\n\x00\xff\x80\x7f", 9)},
  };
}

}  // namespace cascade::sdp
