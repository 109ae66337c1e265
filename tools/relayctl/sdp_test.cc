#include "tools/relayctl/sdp.h"

#include <gtest/gtest.h>

#include <string>

namespace cascade::relayctl {
namespace {

using Streams = google::protobuf::RepeatedPtrField<cascade::v1::Stream>;

// A plain endpoint with separate ports, and the national stream.
cascade::v1::NodeView Site() {
  cascade::v1::NodeView site;
  site.set_id("hcm-d01-s001");
  site.set_plain_endpoint(true);
  site.set_media_address("127.10.0.1:5004");
  site.set_audio_address("127.10.0.1:5006");
  return site;
}

Streams Command() {
  Streams streams;
  cascade::v1::Stream* command = streams.Add();
  command->set_id("command");
  command->set_direction(cascade::v1::DIRECTION_DOWNSTREAM);
  auto* video = command->add_tracks();
  video->set_ssrc(7);
  video->set_media("video");
  video->set_payload_type(96);
  video->set_encoding("H264/90000");
  auto* audio = command->add_tracks();
  audio->set_ssrc(8);
  audio->set_media("audio");
  audio->set_payload_type(111);
  audio->set_encoding("opus/48000/2");
  // A site's upstream stream never reaches a plain endpoint.
  cascade::v1::Stream* up = streams.Add();
  up->set_direction(cascade::v1::DIRECTION_UPSTREAM);
  up->add_tracks()->set_media("video");
  return streams;
}

TEST(SdpTest, VideoAndAudioEachOnTheirOwnPort) {
  absl::StatusOr<std::string> sdp = SiteSdp(Site(), Command());
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  EXPECT_EQ(*sdp,
            "v=0\r\no=- 0 0 IN IP4 127.10.0.1\r\ns=Cascade hcm-d01-s001\r\n"
            "c=IN IP4 127.10.0.1\r\nt=0 0\r\n"
            "m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
            "a=fmtp:96 packetization-mode=1\r\na=rtcp-mux\r\n"
            "a=ssrc:7 cname:command\r\na=recvonly\r\n"
            "m=audio 5006 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
            "a=rtcp-mux\r\na=ssrc:8 cname:command\r\na=recvonly\r\n");
}

TEST(SdpTest, AudioOnAnotherHostGetsItsOwnConnectionLine) {
  cascade::v1::NodeView site = Site();
  site.set_audio_address("[::1]:6000");
  absl::StatusOr<std::string> sdp = SiteSdp(site, Command());
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  EXPECT_NE(sdp->find("m=audio 6000 RTP/AVP 111\r\nc=IN IP6 ::1\r\n"),
            std::string::npos)
      << *sdp;
}

TEST(SdpTest, VideoOnlyNeedsNoAudioPort) {
  cascade::v1::NodeView site = Site();
  site.clear_audio_address();
  Streams streams = Command();
  streams.Mutable(0)->mutable_tracks()->RemoveLast();
  absl::StatusOr<std::string> sdp = SiteSdp(site, streams);
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  EXPECT_EQ(sdp->find("m=audio"), std::string::npos);
}

TEST(SdpTest, WhatNoPlayerCouldOpenIsRefusedSayingWhy) {
  auto refused = [](const cascade::v1::NodeView& site, const Streams& streams) {
    absl::StatusOr<std::string> sdp = SiteSdp(site, streams);
    EXPECT_EQ(sdp.status().code(), absl::StatusCode::kFailedPrecondition);
    return std::string(sdp.status().message());
  };
  cascade::v1::NodeView site = Site();
  site.clear_audio_address();
  EXPECT_EQ(
      refused(site, Command())
          .rfind("\"hcm-d01-s001\" has no audio_address: its audio would share "
                 "the video's port",
                 0),
      0u);
  site = Site();
  site.set_plain_endpoint(false);
  EXPECT_EQ(refused(site, Command())
                .rfind("\"hcm-d01-s001\" is not a plain endpoint", 0),
            0u);
  Streams two = Command();
  two.Add()->CopyFrom(two.Get(0));
  EXPECT_EQ(refused(Site(), two),
            "\"hcm-d01-s001\" gets 2 downstream video tracks on one port; a "
            "player plays one");
  EXPECT_EQ(refused(Site(), Streams()),
            "\"hcm-d01-s001\" gets no downstream video or audio track");
}

}  // namespace
}  // namespace cascade::relayctl
