#ifndef CASCADE_TOOLS_MEDIA_SDP_H_
#define CASCADE_TOOLS_MEDIA_SDP_H_

// The SDP (RFC 8866) a receiver such as ffmpeg or ffplay needs to decode a
// Cascade stream: H.264 (RFC 6184, packetization-mode 1) and optionally Opus
// (RFC 7587), with the send-time header extension declared (RFC 8285), and
// on video the frame marking (RFC 9626).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace cascade {
namespace media {

// The header extension carrying each frame's send time: 64-bit NTP time
// (32.32 fixed point), the first 8 bytes of WebRTC's abs-capture-time.
inline constexpr char kSendTimeExtensionUri[] =
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";
inline constexpr uint8_t kSendTimeExtensionId = 1;
inline constexpr uint8_t kVideoPayloadType = 96;
inline constexpr uint8_t kAudioPayloadType = 111;
inline constexpr int kVideoClockRate = 90000;

struct SdpOptions {
  std::string session_name = "Cascade";
  std::string origin_address = "127.0.0.1";
  std::string dest_address = "127.0.0.1";  // c= line
  int video_port = 0;
  uint32_t video_ssrc = 0;
  // The first SPS and PPS (without start codes) give profile-level-id and
  // sprop-parameter-sets; both optional.
  std::vector<uint8_t> sps;
  std::vector<uint8_t> pps;
  int audio_port = 0;  // 0: no audio
  uint32_t audio_ssrc = 0;
  // The streams are SRTP (media/srtp.h): profile RTP/SAVP and the rollover
  // counter's extension. No a=crypto: the key is never written here, a
  // receiver has it from its key file.
  bool srtp = false;
};

std::string WriteSdp(const SdpOptions& options);

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_SDP_H_
