#include "webrtc/sdp/answer.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "webrtc/sdp/testdata.h"

namespace cascade::sdp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kRelayFingerprint[] =
    "sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"
    "FF:00:11:22:33:44:55:66:77:88:99";

AnswerOptions Options(RelayRole role) {
  AnswerOptions o;
  o.role = role;
  o.ice_ufrag = "rlyU";
  o.ice_pwd = "relaypassword0123456789";
  o.fingerprint = kRelayFingerprint;
  o.candidates = {"192.0.2.10:40000", "[2001:db8::10]:40000"};
  o.session_id = 42;
  o.msid_stream_id = "program";
  o.cname = "relay-d1";
  o.video = {1001, "video0"};
  o.audio = {1002, "audio0"};
  return o;
}

SessionDescription Offer(const std::string& text) {
  absl::StatusOr<SessionDescription> offer = ParseSdp(text);
  EXPECT_TRUE(offer.ok()) << offer.status();
  return offer.value_or(SessionDescription());
}

// Parses the answer back, checking what every answer of the relay holds.
SessionDescription ParseAnswer(const Answer& answer,
                               const AnswerOptions& options) {
  absl::StatusOr<SessionDescription> sdp = ParseSdp(answer.sdp);
  EXPECT_TRUE(sdp.ok()) << sdp.status() << "\n" << answer.sdp;
  if (!sdp.ok()) return SessionDescription();
  EXPECT_TRUE(sdp->ice_lite);
  EXPECT_TRUE(absl::StartsWith(sdp->origin, "- 42 1 IN IP4 192.0.2.10"));
  for (const MediaSection& m : sdp->media) {
    if (m.port == 0) continue;
    EXPECT_EQ(m.port, 40000);
    EXPECT_EQ(m.proto, "UDP/TLS/RTP/SAVPF");
    EXPECT_EQ(m.formats.size(), 1u);
    EXPECT_EQ(m.ice_ufrag, options.ice_ufrag);
    EXPECT_EQ(m.ice_pwd, options.ice_pwd);
    EXPECT_EQ(m.setup, Setup::kPassive);
    EXPECT_EQ(m.fingerprints.size(), 1u);
    if (m.fingerprints.size() == 1) {
      EXPECT_EQ(m.fingerprints[0].ToString(), kRelayFingerprint);
    }
    EXPECT_TRUE(m.rtcp_mux);
  }
  return *std::move(sdp);
}

// The lines of `sdp` that start with `prefix`.
std::vector<std::string> Lines(const std::string& sdp,
                               absl::string_view prefix) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(sdp, "\r\n")) {
    if (absl::StartsWith(line, prefix)) out.emplace_back(line);
  }
  return out;
}

TEST(AnswerTest, ChromeWhep) {
  const AnswerOptions options = Options(RelayRole::kSend);
  absl::StatusOr<Answer> answer =
      BuildAnswer(Offer(TestOffer("chrome_whep_recvonly.sdp")), options);
  ASSERT_TRUE(answer.ok()) << answer.status();
  // 106 is the first H264 in Constrained Baseline with packetization-mode
  // 1 (102 is Baseline, 104 and 108 are mode 0, 127 is Main).
  ASSERT_TRUE(answer->video.has_value());
  EXPECT_EQ(answer->video->payload_type, 106);
  EXPECT_EQ(answer->video->mid, "0");
  EXPECT_EQ(answer->video->direction, Direction::kSendOnly);
  EXPECT_TRUE(answer->video->nack && answer->video->pli && answer->video->fir);
  EXPECT_TRUE(answer->video->rtcp_rsize);
  EXPECT_EQ(answer->video->profile_level_id, "42e01f");
  ASSERT_TRUE(answer->audio.has_value());
  EXPECT_EQ(answer->audio->payload_type, 111);
  EXPECT_FALSE(answer->audio->rtcp_rsize);
  EXPECT_EQ(answer->remote_ice_ufrag, "EsAw");
  EXPECT_EQ(answer->remote_ice_pwd, "bP+XJMM09aR8AiX1jdukzR6Y");
  ASSERT_EQ(answer->remote_fingerprints.size(), 1u);
  EXPECT_EQ(answer->remote_fingerprints[0].digest[0], 0xC6);

  const SessionDescription sdp = ParseAnswer(*answer, options);
  ASSERT_NE(sdp.Bundle(), nullptr);
  EXPECT_THAT(sdp.Bundle()->mids, ElementsAre("0", "1"));
  ASSERT_EQ(sdp.media.size(), 2u);
  const MediaSection& video = sdp.media[0];
  EXPECT_EQ(video.mid, "0");
  EXPECT_EQ(video.direction, Direction::kSendOnly);
  EXPECT_TRUE(video.rtcp_rsize);
  EXPECT_THAT(video.formats, ElementsAre("106"));
  const Codec* h264 = video.FindCodec(106);
  ASSERT_NE(h264, nullptr);
  EXPECT_EQ(h264->name, "H264");
  EXPECT_EQ(*h264->Fmtp("packetization-mode"), "1");
  EXPECT_EQ(*h264->Fmtp("profile-level-id"), "42e01f");
  EXPECT_EQ(*h264->Fmtp("level-asymmetry-allowed"), "1");
  EXPECT_THAT(h264->rtcp_fb, ElementsAre("nack", "nack pli", "ccm fir"));
  ASSERT_EQ(video.msids.size(), 1u);
  EXPECT_EQ(video.msids[0].stream_id, "program");
  EXPECT_EQ(video.msids[0].track_id, "video0");
  ASSERT_EQ(video.ssrcs.size(), 2u);
  EXPECT_EQ(video.ssrcs[0].ssrc, 1001u);
  EXPECT_EQ(video.ssrcs[0].value, "relay-d1");

  const MediaSection& audio = sdp.media[1];
  EXPECT_EQ(audio.direction, Direction::kSendOnly);
  EXPECT_FALSE(audio.rtcp_rsize);
  const Codec* opus = audio.FindCodec(111);
  ASSERT_NE(opus, nullptr);
  EXPECT_EQ(opus->channels, 2);
  EXPECT_EQ(*opus->Fmtp("minptime"), "10");
  EXPECT_EQ(*opus->Fmtp("useinbandfec"), "1");
  EXPECT_TRUE(opus->rtcp_fb.empty());
  EXPECT_EQ(audio.ssrcs[0].ssrc, 1002u);

  // Candidates in the answerer-tagged section only; priorities per
  // RFC 8445 5.1.2.1 (type 126, local preference 65535 then 65534).
  EXPECT_THAT(Lines(answer->sdp, "a=candidate"),
              ElementsAre("a=candidate:1 1 udp 2130706431 192.0.2.10 40000 "
                          "typ host",
                          "a=candidate:2 1 udp 2130706175 2001:db8::10 40000 "
                          "typ host"));
  EXPECT_EQ(Lines(answer->sdp, "a=end-of-candidates").size(), 1u);
  EXPECT_LT(answer->sdp.find("a=end-of-candidates"),
            answer->sdp.find("m=audio"));
}

TEST(AnswerTest, CandidatePriority) {
  EXPECT_EQ(HostCandidatePriority(0), (126u << 24) + (65535u << 8) + 255u);
  EXPECT_EQ(HostCandidatePriority(1), (126u << 24) + (65534u << 8) + 255u);
  EXPECT_GT(HostCandidatePriority(0), HostCandidatePriority(1));
}

TEST(AnswerTest, ChromeWhip) {
  const AnswerOptions options = Options(RelayRole::kReceive);
  absl::StatusOr<Answer> answer =
      BuildAnswer(Offer(TestOffer("chrome_whip_sendonly.sdp")), options);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_TRUE(answer->video && answer->audio);
  EXPECT_EQ(answer->video->payload_type, 106);
  EXPECT_EQ(answer->video->mid, "1");
  EXPECT_EQ(answer->video->direction, Direction::kRecvOnly);
  EXPECT_THAT(answer->video->remote_ssrcs,
              ElementsAre(1234567890u, 987654321u));
  EXPECT_EQ(answer->audio->payload_type, 111);
  EXPECT_THAT(answer->audio->remote_ssrcs, ElementsAre(2882400001u));

  const SessionDescription sdp = ParseAnswer(*answer, options);
  EXPECT_THAT(sdp.Bundle()->mids, ElementsAre("0", "1"));
  for (const MediaSection& m : sdp.media) {
    EXPECT_EQ(m.direction, Direction::kRecvOnly);
    EXPECT_TRUE(m.ssrcs.empty());  // the relay sends nothing
    EXPECT_TRUE(m.msids.empty());
  }
  EXPECT_EQ(sdp.media[0].kind, MediaKind::kAudio);
}

TEST(AnswerTest, FirefoxWhepAndWhip) {
  struct Case {
    const char* file;
    RelayRole role;
    Direction direction;
  };
  for (const Case& c : {Case{"firefox_whep_recvonly.sdp", RelayRole::kSend,
                             Direction::kSendOnly},
                        Case{"firefox_whip_sendonly.sdp", RelayRole::kReceive,
                             Direction::kRecvOnly}}) {
    const AnswerOptions options = Options(c.role);
    absl::StatusOr<Answer> answer =
        BuildAnswer(Offer(TestOffer(c.file)), options);
    ASSERT_TRUE(answer.ok()) << c.file << ": " << answer.status();
    // 126 is H264 mode 1; 97 (the same profile) has no packetization-mode.
    EXPECT_EQ(answer->video->payload_type, 126) << c.file;
    EXPECT_EQ(answer->audio->payload_type, 109) << c.file;
    EXPECT_EQ(answer->remote_ice_ufrag.size(), 8u);
    const SessionDescription sdp = ParseAnswer(*answer, options);
    ASSERT_EQ(sdp.media.size(), 2u);
    EXPECT_THAT(sdp.Bundle()->mids, ElementsAre("0", "1"));
    EXPECT_EQ(sdp.media[0].direction, c.direction);
    const Codec* opus = sdp.media[0].FindCodec(109);
    ASSERT_NE(opus, nullptr);
    EXPECT_EQ(*opus->Fmtp("useinbandfec"), "1");
    EXPECT_EQ(opus->Fmtp("minptime"), nullptr);  // not offered
    EXPECT_THAT(sdp.media[1].FindCodec(126)->rtcp_fb,
                ElementsAre("nack", "nack pli", "ccm fir"));
  }
}

// A WHEP session with only video: audio (the offerer-tagged mid 0) gets
// port 0 and leaves the group; video becomes the answerer-tagged section.
TEST(AnswerTest, OnlyMediaTheRelayHas) {
  AnswerOptions options = Options(RelayRole::kSend);
  options.has_audio = false;
  absl::StatusOr<Answer> answer =
      BuildAnswer(Offer(TestOffer("firefox_whep_recvonly.sdp")), options);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_FALSE(answer->audio.has_value());
  ASSERT_TRUE(answer->video.has_value());
  const SessionDescription sdp = ParseAnswer(*answer, options);
  EXPECT_THAT(sdp.Bundle()->mids, ElementsAre("1"));
  EXPECT_EQ(sdp.media[0].port, 0);
  EXPECT_EQ(sdp.media[0].mid, "0");
  EXPECT_EQ(sdp.media[1].port, 40000);
  EXPECT_GT(answer->sdp.find("a=candidate"), answer->sdp.find("m=video"));

  options = Options(RelayRole::kSend);
  options.has_video = false;
  answer = BuildAnswer(Offer(TestOffer("chrome_whep_recvonly.sdp")), options);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_FALSE(answer->video.has_value());
  EXPECT_EQ(ParseAnswer(*answer, options).media[0].port, 0);
}

TEST(AnswerTest, AnswersBaselineWhenNoConstrainedBaselineIsOffered) {
  std::string text = TestOffer("chrome_whep_recvonly.sdp");
  text = absl::StrReplaceAll(
      text, {{"packetization-mode=1;profile-level-id=42e01f",
              "packetization-mode=0;profile-level-id=42e01f"}});
  absl::StatusOr<Answer> answer =
      BuildAnswer(Offer(text), Options(RelayRole::kSend));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->video->payload_type, 102);
  EXPECT_EQ(answer->video->profile_level_id, "42001f");
}

// Rewrites `file` line by line: lines starting with `drop` go, and `from`
// becomes `to` everywhere.
std::string Edited(const char* file, absl::string_view drop,
                   absl::string_view from = "", absl::string_view to = "") {
  std::string out;
  for (absl::string_view line :
       absl::StrSplit(TestOffer(file), "\r\n", absl::SkipEmpty())) {
    if (!drop.empty() && absl::StartsWith(line, drop)) continue;
    absl::StrAppend(&out, line, "\r\n");
  }
  return from.empty() ? out : absl::StrReplaceAll(out, {{from, to}});
}

TEST(AnswerTest, Refusals) {
  struct Case {
    std::string name;
    std::string offer;
    RelayRole role;
    absl::StatusCode code;
    std::string error;
  };
  const RelayRole send = RelayRole::kSend, receive = RelayRole::kReceive;
  const auto invalid = absl::StatusCode::kInvalidArgument;
  const auto unsupported = absl::StatusCode::kFailedPrecondition;
  const std::string no_opus =
      Edited("chrome_whep_recvonly.sdp", "a=rtpmap:111");
  const Case cases[] = {
      {"no H264 mode 1, no opus",
       absl::StrReplaceAll(no_opus,
                           {{"packetization-mode=1", "packetization-mode=0"}}),
       send, unsupported, "mid 0: no H264 with packetization-mode=1"},
      {"only High profile and no opus",
       Edited("firefox_whep_recvonly.sdp", "a=rtpmap:109", "42e01f", "64001f"),
       send, unsupported, "compatible with 42e01f"},
      {"no ice-ufrag", Edited("chrome_whep_recvonly.sdp", "a=ice-ufrag"), send,
       invalid, "SDP line 8 (m=video, mid 0): no a=ice-ufrag"},
      {"no ice-pwd", Edited("firefox_whip_sendonly.sdp", "a=ice-pwd"), receive,
       invalid, "no a=ice-pwd"},
      {"no fingerprint", Edited("firefox_whep_recvonly.sdp", "a=fingerprint"),
       send, invalid, "(m=audio, mid 0): no a=fingerprint"},
      {"setup passive",
       Edited("chrome_whep_recvonly.sdp", "", "setup:actpass", "setup:passive"),
       send, invalid, "a=setup must be actpass or active"},
      {"WHEP offer that sends", Edited("chrome_whip_sendonly.sdp", ""), send,
       invalid, "WHEP cannot answer sendonly"},
      {"WHIP offer that receives", Edited("chrome_whep_recvonly.sdp", ""),
       receive, invalid, "WHIP cannot answer recvonly"},
      {"ICE-lite offer",
       Edited("chrome_whep_recvonly.sdp", "", "t=0 0", "t=0 0\r\na=ice-lite"),
       send, invalid, "ICE-lite"},
      {"no BUNDLE", Edited("chrome_whep_recvonly.sdp", "a=group:BUNDLE"), send,
       invalid, "without a=group:BUNDLE"},
      {"no rtcp-mux", Edited("chrome_whep_recvonly.sdp", "a=rtcp-mux"), send,
       invalid, "no a=rtcp-mux"},
      {"plain RTP",
       Edited("chrome_whep_recvonly.sdp", "", "UDP/TLS/RTP/SAVPF", "RTP/AVP"),
       send, invalid, "proto RTP/AVP"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SessionDescription> offer = ParseSdp(c.offer);
    ASSERT_TRUE(offer.ok()) << c.name << ": " << offer.status();
    absl::StatusOr<Answer> answer = BuildAnswer(*offer, Options(c.role));
    EXPECT_EQ(answer.status().code(), c.code)
        << c.name << ": " << answer.status();
    EXPECT_THAT(std::string(answer.status().message()), HasSubstr(c.error))
        << c.name;
  }
}

TEST(AnswerTest, DisabledSectionsStayDisabled) {
  const std::string text =
      Edited("chrome_whep_recvonly.sdp", "", "m=audio 9", "m=audio 0");
  absl::StatusOr<Answer> answer =
      BuildAnswer(Offer(text), Options(RelayRole::kSend));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_FALSE(answer->audio.has_value());
  EXPECT_THAT(Lines(answer->sdp, "m=audio"),
              ElementsAre("m=audio 0 UDP/TLS/RTP/SAVPF 111"));
  EXPECT_THAT(Lines(answer->sdp, "a=group"), ElementsAre("a=group:BUNDLE 0"));
  const std::string both_off =
      absl::StrReplaceAll(text, {{"m=video 9", "m=video 0"}});
  EXPECT_EQ(
      BuildAnswer(Offer(both_off), Options(RelayRole::kSend)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(AnswerTest, CandidatesAreCheckedAsBuildAnswerChecksThem) {
  EXPECT_TRUE(CheckCandidates({"192.0.2.1:40000", "[2001:db8::1]:40000"}).ok());
  EXPECT_FALSE(CheckCandidates({}).ok());
  EXPECT_FALSE(CheckCandidates({"192.0.2.1:1", "192.0.2.2:2"}).ok());
  EXPECT_FALSE(CheckCandidates({"2001:db8::1:40000"}).ok());
}

TEST(AnswerTest, BadRelayOptionsAreInternal) {
  const SessionDescription offer = Offer(TestOffer("chrome_whep_recvonly.sdp"));
  std::vector<AnswerOptions> bad(8, Options(RelayRole::kSend));
  bad[0].candidates.clear();
  bad[1].candidates = {"192.0.2.1:1", "192.0.2.2:2"};
  bad[2].candidates = {"2001:db8::1:40000"};
  bad[3].ice_pwd = "short";
  bad[4].fingerprint = "sha-256 AA";
  bad[5].h264_profile_level_id = "42e0";
  bad[6].audio.ssrc = bad[6].video.ssrc;
  bad[7].has_audio = bad[7].has_video = false;
  for (const AnswerOptions& options : bad) {
    EXPECT_EQ(BuildAnswer(offer, options).status().code(),
              absl::StatusCode::kInternal)
        << BuildAnswer(offer, options).status();
  }
}

}  // namespace
}  // namespace cascade::sdp
