#include "tools/probe/whep_sdp.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "webrtc/sdp/answer.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::probe {
namespace {

constexpr char kViewerFingerprint[] =
    "11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:"
    "99:AA:BB:CC:DD:EE:FF:00";
constexpr char kRelayFingerprint[] =
    "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"
    "FF:00:11:22:33:44:55:66:77:88:99";

WhepOfferOptions ViewerOptions() {
  WhepOfferOptions o;
  o.ice = {"vwrU", "viewerpassword01234567"};
  o.fingerprint = {"sha-256", kViewerFingerprint};
  o.session_id = 77;
  return o;
}

// As webrtc/edge's WhepHandler answers a viewer of a stream with audio.
sdp::AnswerOptions RelayOptions() {
  sdp::AnswerOptions o;
  o.role = sdp::RelayRole::kSend;
  o.ice_ufrag = "rlyUfrag";
  o.ice_pwd = "relaypassword0123456789";
  o.fingerprint = kRelayFingerprint;
  o.candidates = {"192.0.2.10:40000", "127.0.0.1:40000",
                  "[2001:db8::10]:40000"};
  o.session_id = 42;
  o.msid_stream_id = "cascade";
  o.cname = "cascade";
  o.video = {0x5CA5C0DE, "video"};
  o.audio = {0x5CA5A0D1, "audio"};
  return o;
}

sdp::Answer Answer(const std::string& offer_text,
                   const sdp::AnswerOptions& options) {
  absl::StatusOr<sdp::SessionDescription> offer = sdp::ParseSdp(offer_text);
  EXPECT_TRUE(offer.ok()) << offer.status() << "\n" << offer_text;
  if (!offer.ok()) return {};
  absl::StatusOr<sdp::Answer> answer = sdp::BuildAnswer(*offer, options);
  EXPECT_TRUE(answer.ok()) << answer.status() << "\n" << offer_text;
  return answer.value_or(sdp::Answer());
}

TEST(WhepOfferTest, ParsesAsARecvonlyBundledOfferWithTheViewersTransport) {
  const std::string text = BuildWhepOffer(ViewerOptions());
  absl::StatusOr<sdp::SessionDescription> offer = sdp::ParseSdp(text);
  ASSERT_TRUE(offer.ok()) << offer.status() << "\n" << text;
  EXPECT_FALSE(offer->ice_lite);
  ASSERT_NE(offer->Bundle(), nullptr);
  EXPECT_EQ(offer->Bundle()->mids, (std::vector<std::string>{"0", "1"}));
  ASSERT_EQ(offer->media.size(), 2u);
  for (const sdp::MediaSection& m : offer->media) {
    EXPECT_EQ(m.proto, "UDP/TLS/RTP/SAVPF");
    EXPECT_EQ(m.direction, sdp::Direction::kRecvOnly);
    EXPECT_TRUE(m.rtcp_mux);
    EXPECT_EQ(m.ice_ufrag, "vwrU");
    EXPECT_EQ(m.ice_pwd, "viewerpassword01234567");
    EXPECT_EQ(m.setup, sdp::Setup::kActpass);
    ASSERT_EQ(m.fingerprints.size(), 1u);
    EXPECT_EQ(m.fingerprints[0].ToString(),
              std::string("sha-256 ") + kViewerFingerprint);
  }
  const sdp::MediaSection& video = offer->media[0];
  EXPECT_EQ(video.kind, sdp::MediaKind::kVideo);
  for (const sdp::Codec& codec : video.codecs) {
    EXPECT_EQ(codec.name, "H264");
    ASSERT_NE(codec.Fmtp("packetization-mode"), nullptr);
    EXPECT_EQ(*codec.Fmtp("packetization-mode"), "1");
    EXPECT_TRUE(codec.HasFeedback("nack"));
    EXPECT_TRUE(codec.HasFeedback("nack pli"));
  }
  const sdp::MediaSection& audio = offer->media[1];
  EXPECT_EQ(audio.kind, sdp::MediaKind::kAudio);
  ASSERT_EQ(audio.codecs.size(), 1u);
  EXPECT_EQ(audio.codecs[0].name, "opus");
  EXPECT_EQ(audio.codecs[0].clock_rate, 48000u);
  EXPECT_EQ(audio.codecs[0].channels, 2);
}

TEST(WhepOfferTest, TheRelaysAnswerAcceptsVideoWithFeedbackAndAudio) {
  const sdp::Answer answer =
      Answer(BuildWhepOffer(ViewerOptions()), RelayOptions());
  ASSERT_TRUE(answer.video.has_value());
  ASSERT_TRUE(answer.audio.has_value());
  EXPECT_EQ(answer.video->payload_type, 96);  // 42e01f, the relay's profile
  EXPECT_TRUE(answer.video->nack);
  EXPECT_TRUE(answer.video->pli);
  EXPECT_EQ(answer.audio->payload_type, 111);
  EXPECT_EQ(answer.remote_ice_ufrag, "vwrU");
  EXPECT_EQ(answer.remote_ice_pwd, "viewerpassword01234567");
  ASSERT_EQ(answer.remote_fingerprints.size(), 1u);
}

TEST(WhepOfferTest, ARelayStreamInAnotherProfileGetsItsPayloadType) {
  const std::pair<const char*, int> cases[] = {
      {"4d001f", 98}, {"640c1f", 100}, {"640028", 102}};
  for (const auto& [profile, payload_type] : cases) {
    sdp::AnswerOptions options = RelayOptions();
    options.h264_profile_level_id = profile;
    const sdp::Answer answer = Answer(BuildWhepOffer(ViewerOptions()), options);
    ASSERT_TRUE(answer.video.has_value()) << profile;
    EXPECT_EQ(answer.video->payload_type, payload_type) << profile;
  }
}

TEST(WhepAnswerTest, TakesTransportCodecsAndIpv4CandidatesInPriorityOrder) {
  const sdp::Answer answer =
      Answer(BuildWhepOffer(ViewerOptions()), RelayOptions());
  absl::StatusOr<WhepAnswer> parsed = ParseWhepAnswer(answer.sdp);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << answer.sdp;
  EXPECT_EQ(parsed->ice_ufrag, "rlyUfrag");
  EXPECT_EQ(parsed->ice_pwd, "relaypassword0123456789");
  EXPECT_EQ(parsed->fingerprint.algorithm, "sha-256");
  EXPECT_EQ(std::string("sha-256 ") + parsed->fingerprint.value,
            kRelayFingerprint);
  // The IPv6 one is left out: the probe's sockets are IPv4.
  ASSERT_EQ(parsed->candidates.size(), 2u);
  EXPECT_EQ(parsed->candidates[0].ToString(), "192.0.2.10:40000");
  EXPECT_EQ(parsed->candidates[1].ToString(), "127.0.0.1:40000");
  EXPECT_EQ(parsed->video_payload_type, 96);
  EXPECT_EQ(parsed->audio_payload_type, 111);
  EXPECT_EQ(parsed->video_ssrc, 0x5CA5C0DEu);
  EXPECT_EQ(parsed->audio_ssrc, 0x5CA5A0D1u);
  EXPECT_TRUE(parsed->nack);
  EXPECT_TRUE(parsed->pli);
}

TEST(WhepAnswerTest, AStreamWithoutAudioHasNoAudioPayloadType) {
  sdp::AnswerOptions options = RelayOptions();
  options.has_audio = false;
  const sdp::Answer answer = Answer(BuildWhepOffer(ViewerOptions()), options);
  absl::StatusOr<WhepAnswer> parsed = ParseWhepAnswer(answer.sdp);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->video_payload_type, 96);
  EXPECT_EQ(parsed->audio_payload_type, -1);
}

TEST(WhepAnswerTest, RefusesWhatAViewerCannotUse) {
  const std::string good =
      Answer(BuildWhepOffer(ViewerOptions()), RelayOptions()).sdp;
  ASSERT_FALSE(good.empty());
  struct Case {
    std::string sdp;
    std::string why;
  };
  const Case cases[] = {
      {"v=0\r\nbogus\r\n", "answer: "},
      {absl::StrReplaceAll(good, {{"a=setup:passive", "a=setup:active"}}),
       "not passive"},
      // Only the IPv6 candidate is left for RTP (component 1).
      {absl::StrReplaceAll(good,
                           {{"a=candidate:1 1 udp", "a=candidate:1 2 udp"},
                            {"a=candidate:2 1 udp", "a=candidate:2 2 udp"}}),
       "no IPv4 UDP candidate"},
      {absl::StrReplaceAll(good, {{"m=video 40000", "m=video 0"}}),
       "refused the video"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<WhepAnswer> parsed = ParseWhepAnswer(c.sdp);
    ASSERT_FALSE(parsed.ok()) << c.why;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), c.why))
        << parsed.status();
  }
}

}  // namespace
}  // namespace cascade::probe
