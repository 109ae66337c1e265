#include "tools/media/sdp.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "media/rtp/frame_marking.h"
#include "media/srtp/srtp.h"

namespace cascade {
namespace media {
namespace {

std::string Base64(const std::vector<uint8_t>& bytes) {
  return absl::Base64Escape(absl::string_view(
      reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

std::string WriteSdp(const SdpOptions& options) {
  const char* family =
      options.dest_address.find(':') == std::string::npos ? "IP4" : "IP6";
  std::string sdp = absl::StrCat(
      "v=0\r\n", "o=- ", options.video_ssrc, " 1 IN ", family, " ",
      options.origin_address, "\r\n", "s=", options.session_name, "\r\n",
      "c=IN ", family, " ", options.dest_address, "\r\n", "t=0 0\r\n");
  std::string fmtp = "packetization-mode=1";
  if (options.sps.size() >= 4) {
    // profile_idc, constraint flags, level_idc follow the NAL header.
    absl::StrAppend(
        &fmtp, absl::StrFormat(";profile-level-id=%02x%02x%02x", options.sps[1],
                               options.sps[2], options.sps[3]));
    if (!options.pps.empty()) {
      absl::StrAppend(&fmtp, ";sprop-parameter-sets=", Base64(options.sps), ",",
                      Base64(options.pps));
    }
  }
  const char* profile = options.srtp ? "RTP/SAVP" : "RTP/AVP";
  const std::string send_time = absl::StrCat(
      "a=extmap:", kSendTimeExtensionId, " ", kSendTimeExtensionUri, "\r\n");
  const std::string roc =
      options.srtp ? absl::StrCat("a=extmap:", srtp::kRocExtensionId, " ",
                                  srtp::kRocExtensionUri, "\r\n")
                   : "";
  absl::StrAppend(&sdp, "m=video ", options.video_port, " ", profile, " ",
                  kVideoPayloadType, "\r\n", "a=rtpmap:", kVideoPayloadType,
                  " H264/", kVideoClockRate, "\r\n",
                  "a=fmtp:", kVideoPayloadType, " ", fmtp, "\r\n", send_time,
                  "a=extmap:", rtp::kFrameMarkingExtensionId, " ",
                  rtp::kFrameMarkingExtensionUri, "\r\n", roc,
                  "a=ssrc:", options.video_ssrc, " cname:cascade-source\r\n");
  if (options.audio_port != 0) {
    absl::StrAppend(&sdp, "m=audio ", options.audio_port, " ", profile, " ",
                    kAudioPayloadType, "\r\n", "a=rtpmap:", kAudioPayloadType,
                    " opus/48000/2\r\n", "a=fmtp:", kAudioPayloadType,
                    " minptime=20;useinbandfec=0\r\n", send_time, roc,
                    "a=ssrc:", options.audio_ssrc, " cname:cascade-source\r\n");
  }
  return sdp;
}

}  // namespace media
}  // namespace cascade
