#include "tools/media/sdp.h"

#include <gtest/gtest.h>

namespace cascade {
namespace media {
namespace {

TEST(SdpTest, VideoAndAudioWithParameterSets) {
  SdpOptions options;
  options.dest_address = "127.0.0.5";
  options.video_port = 5004;
  options.video_ssrc = 1234;
  options.sps = {0x67, 0x42, 0xc0, 0x1e, 0xda};
  options.pps = {0x68, 0xce, 0x3c, 0x80};
  options.audio_port = 5006;
  options.audio_ssrc = 99;
  const std::string sdp = WriteSdp(options);
  EXPECT_EQ(sdp.rfind("v=0\r\n", 0), 0u);
  for (const char* line :
       {"c=IN IP4 127.0.0.5\r\n", "m=video 5004 RTP/AVP 96\r\n",
        "a=rtpmap:96 H264/90000\r\n",
        "a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;"
        "sprop-parameter-sets=Z0LAHto=,aM48gA==\r\n",
        "a=extmap:1 "
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time\r\n",
        "a=extmap:2 urn:ietf:params:rtp-hdrext:framemarking\r\n",
        "a=ssrc:1234 cname:cascade-source\r\n", "m=audio 5006 RTP/AVP 111\r\n",
        "a=rtpmap:111 opus/48000/2\r\n",
        "a=ssrc:99 cname:cascade-source\r\n"}) {
    EXPECT_NE(sdp.find(line), std::string::npos) << line << "\nin\n" << sdp;
  }
  // Audio follows video.
  EXPECT_LT(sdp.find("m=video"), sdp.find("m=audio"));
  // Frame marking is for video only; plain RTP has no counter extension.
  EXPECT_EQ(sdp.find("framemarking", sdp.find("m=audio")), std::string::npos);
  EXPECT_EQ(sdp.find("srtp-roc"), std::string::npos);
}

TEST(SdpTest, EncryptedStreamsSaySoWithoutTheKey) {
  SdpOptions options;
  options.video_port = 5004;
  options.audio_port = 5006;
  options.srtp = true;
  const std::string sdp = WriteSdp(options);
  for (const char* line :
       {"m=video 5004 RTP/SAVP 96\r\n", "m=audio 5006 RTP/SAVP 111\r\n"}) {
    EXPECT_NE(sdp.find(line), std::string::npos) << line << "\nin\n" << sdp;
  }
  const size_t video_roc = sdp.find("a=extmap:3 urn:cascade:srtp-roc\r\n");
  ASSERT_NE(video_roc, std::string::npos);
  EXPECT_NE(sdp.find("a=extmap:3 urn:cascade:srtp-roc\r\n", video_roc + 1),
            std::string::npos);
  EXPECT_EQ(sdp.find("a=crypto"), std::string::npos);
}

TEST(SdpTest, VideoOnlyWithoutParameterSets) {
  SdpOptions options;
  options.dest_address = "::1";
  options.video_port = 7000;
  const std::string sdp = WriteSdp(options);
  EXPECT_NE(sdp.find("c=IN IP6 ::1\r\n"), std::string::npos);
  EXPECT_NE(sdp.find("a=fmtp:96 packetization-mode=1\r\n"), std::string::npos);
  EXPECT_EQ(sdp.find("m=audio"), std::string::npos);
}

}  // namespace
}  // namespace media
}  // namespace cascade
