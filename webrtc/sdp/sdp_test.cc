#include "webrtc/sdp/sdp.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "webrtc/sdp/testdata.h"

namespace cascade::sdp {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kMinimal =
    "v=0\r\n"
    "o=- 1 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE a\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=ice-pwd:0123456789abcdefghijkl\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:a\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:111 opus/48000/2\r\n";

// The error of parsing `text` (OK when it parses).
absl::Status ErrorOf(absl::string_view text) { return ParseSdp(text).status(); }

// kMinimal with `line` appended at the end.
std::string MinimalWith(absl::string_view line) {
  return absl::StrCat(kMinimal, line, "\r\n");
}

TEST(SdpTest, ChromeRecvonlyOffer) {
  const std::string text = TestOffer("chrome_whep_recvonly.sdp");
  ASSERT_FALSE(text.empty());
  absl::StatusOr<SessionDescription> sdp = ParseSdp(text);
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  EXPECT_TRUE(sdp->extmap_allow_mixed);
  EXPECT_FALSE(sdp->ice_lite);
  ASSERT_NE(sdp->Bundle(), nullptr);
  EXPECT_EQ(sdp->Bundle()->mids, (std::vector<std::string>{"0", "1"}));
  ASSERT_EQ(sdp->media.size(), 2u);

  const MediaSection& video = sdp->media[0];
  EXPECT_EQ(video.kind, MediaKind::kVideo);
  EXPECT_EQ(video.line, 8);
  EXPECT_EQ(video.port, 9);
  EXPECT_EQ(video.proto, "UDP/TLS/RTP/SAVPF");
  EXPECT_EQ(video.mid, "0");
  EXPECT_EQ(video.direction, Direction::kRecvOnly);
  EXPECT_EQ(video.ice_ufrag, "EsAw");
  EXPECT_EQ(video.ice_pwd, "bP+XJMM09aR8AiX1jdukzR6Y");
  EXPECT_EQ(video.setup, Setup::kActpass);
  ASSERT_EQ(video.fingerprints.size(), 1u);
  EXPECT_EQ(video.fingerprints[0].hash, "sha-256");
  EXPECT_EQ(video.fingerprints[0].digest.size(), 32u);
  EXPECT_EQ(video.fingerprints[0].digest[0], 0xC6);
  EXPECT_TRUE(video.rtcp_mux);
  EXPECT_TRUE(video.rtcp_rsize);
  EXPECT_EQ(video.codecs.size(), 25u);
  EXPECT_EQ(video.extmaps.size(), 11u);
  EXPECT_EQ(video.extmaps[8].id, 9);
  EXPECT_EQ(video.extmaps[8].uri, "urn:ietf:params:rtp-hdrext:sdes:mid");

  const Codec* h264 = video.FindCodec(106);
  ASSERT_NE(h264, nullptr);
  EXPECT_EQ(h264->name, "H264");
  EXPECT_EQ(h264->clock_rate, 90000u);
  ASSERT_NE(h264->Fmtp("profile-level-id"), nullptr);
  EXPECT_EQ(*h264->Fmtp("profile-level-id"), "42e01f");
  EXPECT_EQ(*h264->Fmtp("packetization-mode"), "1");
  EXPECT_TRUE(h264->HasFeedback("nack pli"));
  EXPECT_TRUE(h264->HasFeedback("ccm fir"));
  EXPECT_EQ(h264->rtcp_fb.size(), 5u);
  const Codec* rtx = video.FindCodec(107);
  ASSERT_NE(rtx, nullptr);
  EXPECT_EQ(*rtx->Fmtp("apt"), "106");
  EXPECT_EQ(video.FindCodec(118)->name, "ulpfec");

  const MediaSection& audio = sdp->media[1];
  EXPECT_EQ(audio.kind, MediaKind::kAudio);
  EXPECT_EQ(audio.mid, "1");
  EXPECT_FALSE(audio.rtcp_rsize);
  const Codec* opus = audio.FindCodec(111);
  ASSERT_NE(opus, nullptr);
  EXPECT_EQ(opus->name, "opus");
  EXPECT_EQ(opus->clock_rate, 48000u);
  EXPECT_EQ(opus->channels, 2);
  EXPECT_EQ(*opus->Fmtp("useinbandfec"), "1");
  EXPECT_EQ(*opus->Fmtp("minptime"), "10");
  // red's fmtp has no '=': the token is the parameter's name.
  ASSERT_EQ(audio.FindCodec(63)->fmtp.size(), 1u);
  EXPECT_EQ(audio.FindCodec(63)->fmtp[0].name, "111/111");
  EXPECT_EQ(audio.FindCodec(9)->channels, 0);
}

TEST(SdpTest, ChromeSendonlyOfferHasStreams) {
  absl::StatusOr<SessionDescription> sdp =
      ParseSdp(TestOffer("chrome_whip_sendonly.sdp"));
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  ASSERT_EQ(sdp->media.size(), 2u);
  const MediaSection& video = sdp->media[1];
  EXPECT_EQ(video.direction, Direction::kSendOnly);
  ASSERT_EQ(video.msids.size(), 1u);
  EXPECT_EQ(video.msids[0].stream_id, "f0d8a9c4-1b2e-4c3d-9e8f-7a6b5c4d3e2f");
  EXPECT_EQ(video.msids[0].track_id, "3c2b1a09-8f7e-4d6c-a5b4-c3d2e1f0a9b8");
  ASSERT_EQ(video.ssrc_groups.size(), 1u);
  EXPECT_EQ(video.ssrc_groups[0].semantics, "FID");
  EXPECT_EQ(video.ssrc_groups[0].ssrcs,
            (std::vector<uint32_t>{1234567890u, 987654321u}));
  ASSERT_EQ(video.ssrcs.size(), 4u);
  EXPECT_EQ(video.ssrcs[0].ssrc, 1234567890u);
  EXPECT_EQ(video.ssrcs[0].name, "cname");
  EXPECT_EQ(video.ssrcs[0].value, "Qh8lz2bS7n3K1vXy");
}

TEST(SdpTest, FirefoxOffersUseSessionLevelFingerprint) {
  for (const char* name :
       {"firefox_whep_recvonly.sdp", "firefox_whip_sendonly.sdp"}) {
    absl::StatusOr<SessionDescription> sdp = ParseSdp(TestOffer(name));
    ASSERT_TRUE(sdp.ok()) << name << ": " << sdp.status();
    ASSERT_EQ(sdp->media.size(), 2u);
    for (const MediaSection& m : sdp->media) {
      ASSERT_EQ(m.fingerprints.size(), 1u) << name;
      EXPECT_EQ(m.fingerprints[0].digest.size(), 32u);
      EXPECT_EQ(m.setup, Setup::kActpass);
      EXPECT_EQ(m.ice_ufrag.size(), 8u);
      EXPECT_EQ(m.ice_pwd.size(), 32u);
    }
    // fmtp before rtpmap, as Firefox writes them.
    const Codec* h264 = sdp->media[1].FindCodec(126);
    ASSERT_NE(h264, nullptr);
    EXPECT_EQ(h264->name, "H264");
    EXPECT_EQ(*h264->Fmtp("packetization-mode"), "1");
    EXPECT_EQ(sdp->media[0].FindCodec(101)->fmtp[0].name, "0-15");
  }
}

TEST(SdpTest, AcceptsLfAndCrlf) {
  const std::string crlf = TestOffer("chrome_whep_recvonly.sdp");
  const std::string lf = absl::StrReplaceAll(crlf, {{"\r\n", "\n"}});
  ASSERT_NE(lf, crlf);
  absl::StatusOr<SessionDescription> a = ParseSdp(crlf);
  absl::StatusOr<SessionDescription> b = ParseSdp(lf);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_EQ(a->media[0].codecs.size(), b->media[0].codecs.size());
  EXPECT_EQ(a->media[1].ice_pwd, b->media[1].ice_pwd);
  // A last line without its line end is still read.
  EXPECT_TRUE(ParseSdp(kMinimal.substr(0, kMinimal.size() - 2)).ok());
}

TEST(SdpTest, SessionDefaultsApplyToSections) {
  absl::StatusOr<SessionDescription> sdp = ParseSdp(kMinimal);
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  EXPECT_EQ(sdp->media[0].ice_ufrag, "abcd");
  EXPECT_EQ(sdp->media[0].direction, Direction::kSendRecv);
  EXPECT_EQ(sdp->media[0].setup, Setup::kNone);
  sdp = ParseSdp(MinimalWith("a=ice-ufrag:wxyz"));
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  EXPECT_EQ(sdp->media[0].ice_ufrag, "wxyz");
}

TEST(SdpTest, FingerprintRoundTrips) {
  absl::StatusOr<Fingerprint> f = ParseFingerprint(
      "SHA-256 c6:47:DF:9B:67:C0:5B:05:5F:20:C0:D5:E0:80:EA:91:A2:DF:C8:8C:"
      "D7:F4:0D:F4:FE:51:3F:24:8A:3D:D1:F1");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->ToString(),
            "sha-256 C6:47:DF:9B:67:C0:5B:05:5F:20:C0:D5:E0:80:EA:91:A2:DF:C8:"
            "8C:D7:F4:0D:F4:FE:51:3F:24:8A:3D:D1:F1");
  EXPECT_FALSE(ParseFingerprint("sha-256 C6:47").ok());  // short for sha-256
  EXPECT_FALSE(ParseFingerprint("sha-1 C6:4").ok());
  EXPECT_FALSE(ParseFingerprint("sha-1 C6::47").ok());
  EXPECT_FALSE(ParseFingerprint("sha-1 ZZ").ok());
  EXPECT_FALSE(ParseFingerprint("sha-1").ok());
}

// Each malformed input is refused with the line it is on.
TEST(SdpTest, RefusesMalformedNamingTheLine) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::string m = std::string(kMinimal);
  const Case cases[] = {
      {"", "SDP: empty"},
      {std::string(kMaxSdpBytes + 1, 'a'), "more than 65536"},
      {"v=1\r\n", "line 1 (v=): version must be 0"},
      {"o=- 1 2 IN IP4 0.0.0.0\r\n", "line 1 (o=): an SDP starts with v="},
      {absl::StrReplaceAll(m, {{"s=-\r\n", ""}}), "line 3 (t=)"},
      {absl::StrReplaceAll(m, {{"o=- 1 2", "o=- x 2"}}), "line 2 (o=)"},
      {absl::StrReplaceAll(m, {{"t=0 0\r\n", ""}}), "m= before any t="},
      {absl::StrReplaceAll(m, {{"a=mid:a\r\n", "a=mid:a\r\nrtcp-mux\r\n"}}),
       "line 11: not of the form <letter>=<value>"},
      {absl::StrReplaceAll(m, {{"a=mid:a\r\n", "a=mid:a\r\n\r\n"}}),
       "line 11: empty line"},
      {absl::StrReplaceAll(m, {{"a=mid:a", "a=mid:a\x01"}}),
       "line 10: control character"},
      {absl::StrReplaceAll(m, {{"a=mid:a", "a=mid:a\rb"}}),
       "line 10: control character"},
      {MinimalWith(absl::StrCat("a=x:", std::string(kMaxLineBytes, 'y'))),
       "line 13: 4100 bytes"},
      {MinimalWith("x=unknown"),
       "line 13 (x=): not allowed in a media section"},
      {absl::StrReplaceAll(m, {{"t=0 0\r\n", "t=0 0\r\nx=1\r\n"}}),
       "line 5 (x=): unknown or misplaced"},
      {MinimalWith("A=upper"), "line 13: not of the form"},
      {MinimalWith("c=IN IP4 0.0.0.0"), "line 13 (c=): out of order"},
      {absl::StrReplaceAll(m, {{"t=0 0\r\n", "t=0 0\r\na=mid:x\r\n"}}),
       "line 5 (a=mid): only allowed in m= sections"},
      {absl::StrReplaceAll(m, {{"a=mid:a\r\n", ""}}),
       "line 8 (m=): media section has no a=mid"},
      {MinimalWith("a=mid:b"), "line 13 (a=mid): repeated"},
      {MinimalWith("a=rtpmap:96 VP8/90000"),
       "line 13 (a=rtpmap): payload type 96 is not on the m= line"},
      {MinimalWith("a=rtpmap:111 opus/48000/2"),
       "line 13 (a=rtpmap): second rtpmap"},
      {MinimalWith("a=fmtp:200 x=1"), "line 13 (a=fmtp): bad payload type"},
      {MinimalWith("a=fmtp:111 a=1;;b=2"), "line 13 (a=fmtp): empty"},
      {MinimalWith("a=rtcp-fb:112 nack"), "line 13 (a=rtcp-fb): payload"},
      {MinimalWith("a=extmap:0 urn:x"), "line 13 (a=extmap): bad id"},
      {MinimalWith("a=ssrc:4294967296 cname:x"), "line 13 (a=ssrc)"},
      {MinimalWith("a=ssrc-group:FID 1 x"), "line 13 (a=ssrc-group): bad"},
      {MinimalWith("a=msid:a b c"), "line 13 (a=msid)"},
      {MinimalWith("a=fingerprint:sha-256 00"), "line 13 (a=fingerprint)"},
      {MinimalWith("a=setup:server"), "line 13 (a=setup)"},
      {MinimalWith("a=ice-ufrag:a_b!"), "line 13 (a=ice-ufrag)"},
      {MinimalWith("a=ice-pwd:short"), "line 13 (a=ice-pwd)"},
      {MinimalWith("a=sendonly\r\na=recvonly"),
       "line 14 (a=recvonly): a second direction"},
      {MinimalWith("a=rtcp-mux:1"), "line 13 (a=rtcp-mux): takes no value"},
      {MinimalWith("m=video 70000 UDP/TLS/RTP/SAVPF 96"),
       "line 13 (m=): bad port"},
      {MinimalWith("m=video 9 UDP/TLS/RTP/SAVPF 128"),
       "line 13 (m=): bad payload type"},
      {MinimalWith("m=video 9 UDP/TLS/RTP/SAVPF 96 96"), "repeated format"},
      {MinimalWith("m=video 9 UDP/TLS/RTP/SAVPF"), "line 13 (m=): expected"},
      {MinimalWith("m=video  9 UDP/TLS/RTP/SAVPF 96"), "line 13 (m=)"},
      {MinimalWith("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:a"),
       "line 14 (a=mid): mid used twice"},
      {absl::StrReplaceAll(m, {{"BUNDLE a", "BUNDLE a b"}}),
       "line 5 (a=group): a=group names unknown mid 'b'"},
      {absl::StrReplaceAll(m, {{"BUNDLE a", "BUNDLE a a"}}),
       "line 5 (a=group): mid listed twice"},
  };
  for (const Case& c : cases) {
    const absl::Status status = ErrorOf(c.text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << c.error << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.error));
  }
}

TEST(SdpTest, RefusesTooManyMediaSections) {
  std::string text = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  for (size_t i = 0; i <= kMaxMediaSections; ++i) {
    absl::StrAppend(&text, "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:", i,
                    "\r\n");
  }
  const absl::Status status = ErrorOf(text);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("more than 32 media sections"));
}

TEST(SdpTest, RefusesBinaryGarbage) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) {
    garbage.push_back(static_cast<char>((i * 7919 + 13) & 0xff));
  }
  EXPECT_EQ(ErrorOf(garbage).code(), absl::StatusCode::kInvalidArgument);
  std::string nul_inside = std::string(kMinimal);
  nul_inside[20] = '\0';
  EXPECT_EQ(ErrorOf(nul_inside).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SdpTest, IgnoresUnknownAttributesAndApplicationSections) {
  absl::StatusOr<SessionDescription> sdp = ParseSdp(
      MinimalWith("a=x-unknown:whatever it says\r\n"
                  "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                  "c=IN IP4 0.0.0.0\r\n"
                  "a=mid:dc\r\n"
                  "a=sctp-port:5000"));
  ASSERT_TRUE(sdp.ok()) << sdp.status();
  ASSERT_EQ(sdp->media.size(), 2u);
  EXPECT_EQ(sdp->media[1].kind, MediaKind::kOther);
  EXPECT_EQ(sdp->media[1].formats,
            (std::vector<std::string>{"webrtc-datachannel"}));
  EXPECT_TRUE(sdp->media[1].codecs.empty());
}

}  // namespace
}  // namespace cascade::sdp
