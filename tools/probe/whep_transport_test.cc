// The viewer's WebRTC transport against the relay's own session code
// (webrtc/edge's ViewerSession), socket-free: the test carries datagrams
// both ways and passes the time in.
#include "tools/probe/whep_transport.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "tools/probe/whep_sdp.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/viewer_session.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/answer.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::probe {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1800000000);
constexpr char kCandidate[] = "192.0.2.1:4443";
constexpr uint32_t kVideoSsrc = 0x5CA5C0DE;
constexpr uint32_t kAudioSsrc = 0x5CA5A0D1;
// Where the relay sees the viewer.
const media::Endpoint kViewer{0xC0A80002, 50000};

struct Datagram {
  media::Endpoint to;
  std::vector<uint8_t> bytes;
};

// The viewer's socket.
struct ViewerSink : SiteTransport::Sink {
  void SendDatagram(const media::Endpoint& to,
                    absl::Span<const uint8_t> datagram) override {
    sent.push_back({to, {datagram.begin(), datagram.end()}});
  }
  std::vector<Datagram> sent;
};

// The relay's edge socket.
struct RelaySink : edge::DatagramSink {
  void Send(absl::Span<const uint8_t> datagram,
            const ice::TransportAddress& to) override {
    EXPECT_EQ(to, ice::TransportAddress::V4(kViewer.ip, kViewer.port));
    sent.emplace_back(datagram.begin(), datagram.end());
  }
  std::vector<std::vector<uint8_t>> sent;
};

std::vector<uint8_t> UpstreamRtp(uint32_t ssrc, uint16_t seq,
                                 std::vector<uint8_t> payload) {
  std::vector<uint8_t> out(1500);
  rtp::RtpHeader header;
  header.marker = true;
  header.payload_type = 100;
  header.sequence_number = seq;
  header.timestamp = seq * 3000u;
  header.ssrc = ssrc;
  out.resize(rtp::WriteRtpPacket(header, payload, absl::MakeSpan(out)));
  return out;
}

class WhepTransportTest : public ::testing::Test,
                          public edge::ViewerSession::Listener {
 protected:
  void SetUp() override {
    auto relay_certificate = dtls::Certificate::Generate({kStart});
    ASSERT_TRUE(relay_certificate.ok());
    relay_certificate_ = *std::move(relay_certificate);
    auto viewer_certificate = dtls::Certificate::Generate({kStart});
    ASSERT_TRUE(viewer_certificate.ok());
    viewer_certificate_ = *std::move(viewer_certificate);
    auto local = ice::RandomIceCredentials();
    ASSERT_TRUE(local.ok());
    local_ = *local;

    // The relay's side, as its WhepHandler makes it.
    auto relay_ice = ice::RandomIceCredentials();
    ASSERT_TRUE(relay_ice.ok());
    options_.role = sdp::RelayRole::kSend;
    options_.ice_ufrag = relay_ice->ufrag;
    options_.ice_pwd = relay_ice->pwd;
    const dtls::Fingerprint& fp = relay_certificate_->fingerprint();
    options_.fingerprint = fp.algorithm + " " + fp.value;
    options_.candidates = {kCandidate};
    options_.session_id = 7;
    options_.msid_stream_id = "cascade";
    options_.cname = "cascade";
    options_.video = {kVideoSsrc, "video"};
    options_.audio = {kAudioSsrc, "audio"};
    WhepOfferOptions offer;
    offer.ice = local_;
    offer.fingerprint = viewer_certificate_->fingerprint();
    auto parsed_offer = sdp::ParseSdp(BuildWhepOffer(offer));
    ASSERT_TRUE(parsed_offer.ok()) << parsed_offer.status();
    auto answer = sdp::BuildAnswer(*parsed_offer, options_);
    ASSERT_TRUE(answer.ok()) << answer.status();
    auto session = edge::ViewerSession::Create("s1", *answer, options_,
                                               *relay_certificate_,
                                               &relay_sink_, this, kStart);
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);

    auto parsed = ParseWhepAnswer(answer->sdp);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    answer_ = *std::move(parsed);
  }

  void MakeTransport(WhepTransportOptions options = {}) {
    auto transport =
        WhepTransport::Create(local_, answer_, *viewer_certificate_, options);
    ASSERT_TRUE(transport.ok()) << transport.status();
    transport_ = *std::move(transport);
    transport_->Bind(&viewer_sink_);
  }

  // Carries what each side sent to the other (the viewer's only when
  // `deliver_checks`, for STUN); the relay's plain packets that came out
  // of the viewer's transport are kept in `plain_`.
  void Exchange(absl::Time now, bool deliver_checks = true) {
    std::vector<Datagram> up = std::move(viewer_sink_.sent);
    viewer_sink_.sent.clear();
    for (const Datagram& d : up) {
      EXPECT_EQ(d.to.ToString(), kCandidate);
      const bool stun = !d.bytes.empty() && d.bytes[0] <= 3;
      if (stun && !deliver_checks) continue;
      session_->OnDatagram(
          d.bytes, ice::TransportAddress::V4(kViewer.ip, kViewer.port), now);
    }
    std::vector<std::vector<uint8_t>> down = std::move(relay_sink_.sent);
    relay_sink_.sent.clear();
    for (const std::vector<uint8_t>& d : down) {
      absl::Span<const uint8_t> plain = transport_->Receive(Relay(), d, now);
      if (!plain.empty()) plain_.emplace_back(plain.begin(), plain.end());
    }
  }

  // Ticks and exchanges until connected (bounded rounds).
  void Connect(absl::Time now) {
    for (int round = 0;
         round < 20 && transport_->state() != WhepState::kConnected; ++round) {
      transport_->OnTick(now);
      Exchange(now);
    }
    ASSERT_EQ(transport_->state(), WhepState::kConnected)
        << transport_->error();
    ASSERT_EQ(session_->state(), edge::SessionState::kConnected);
  }

  static media::Endpoint Relay() { return *media::Endpoint::Parse(kCandidate); }

  void OnStateChange(edge::ViewerSession&, edge::SessionState) override {}
  void OnNack(edge::ViewerSession&, uint32_t ssrc,
              absl::Span<const uint16_t> seqs) override {
    nacks_.push_back({ssrc, {seqs.begin(), seqs.end()}});
  }
  void OnKeyframeRequest(edge::ViewerSession&) override { ++keyframes_; }

  std::unique_ptr<dtls::Certificate> relay_certificate_;
  std::unique_ptr<dtls::Certificate> viewer_certificate_;
  ice::IceCredentials local_;
  sdp::AnswerOptions options_;
  WhepAnswer answer_;
  RelaySink relay_sink_;
  ViewerSink viewer_sink_;
  std::unique_ptr<edge::ViewerSession> session_;
  std::unique_ptr<WhepTransport> transport_;
  std::vector<std::vector<uint8_t>> plain_;
  std::vector<std::pair<uint32_t, std::vector<uint16_t>>> nacks_;
  int keyframes_ = 0;
};

TEST_F(WhepTransportTest, ChecksAreSignedControllingAndNominating) {
  MakeTransport();
  transport_->OnTick(kStart);
  ASSERT_EQ(viewer_sink_.sent.size(), 1u);
  ice::StunMessage check;
  ASSERT_EQ(ice::ParseStun(viewer_sink_.sent[0].bytes, &check),
            ice::StunError::kOk);
  EXPECT_EQ(check.cls, ice::StunClass::kRequest);
  EXPECT_EQ(check.username, options_.ice_ufrag + ":" + local_.ufrag);
  EXPECT_TRUE(check.use_candidate);
  EXPECT_TRUE(check.ice_controlling.has_value());
  EXPECT_TRUE(check.priority.has_value());
  EXPECT_TRUE(ice::IntegrityValid(check, options_.ice_pwd));
  EXPECT_TRUE(ice::FingerprintValid(check));
  // Nothing more until the check interval has passed.
  transport_->OnTick(kStart + absl::Milliseconds(20));
  EXPECT_EQ(viewer_sink_.sent.size(), 1u);
  transport_->OnTick(kStart + absl::Milliseconds(50));
  EXPECT_EQ(viewer_sink_.sent.size(), 2u);
}

TEST_F(WhepTransportTest, ConnectsThenDecryptsMediaAndEncryptsFeedback) {
  MakeTransport();
  Connect(kStart);
  EXPECT_EQ(transport_->selected(), Relay());
  ASSERT_TRUE(transport_->connected_after().has_value());
  EXPECT_EQ(transport_->counters().check_answers, 1);
  ASSERT_TRUE(transport_->counters().last_rtt.has_value());

  const absl::Time t = kStart + absl::Milliseconds(100);
  const std::vector<uint8_t> payload = {0x65, 0x88, 0x84, 0x00};
  ASSERT_TRUE(session_->SendRtp(edge::Track::kVideo,
                                UpstreamRtp(0xAAAA, 10, payload), t));
  ASSERT_TRUE(session_->SendRtp(edge::Track::kAudio,
                                UpstreamRtp(0xBBBB, 20, {1, 2, 3}), t));
  plain_.clear();
  Exchange(t);
  ASSERT_EQ(plain_.size(), 2u);
  rtp::RtpView video, audio;
  ASSERT_EQ(rtp::ParseRtp(plain_[0], &video), rtp::RtpError::kOk);
  ASSERT_EQ(rtp::ParseRtp(plain_[1], &audio), rtp::RtpError::kOk);
  EXPECT_EQ(video.ssrc, kVideoSsrc);
  EXPECT_EQ(video.payload_type, answer_.video_payload_type);
  EXPECT_EQ(std::vector<uint8_t>(video.payload.begin(), video.payload.end()),
            payload);
  EXPECT_EQ(audio.ssrc, kAudioSsrc);
  EXPECT_EQ(audio.payload_type, answer_.audio_payload_type);

  // A NACK and a PLI, as the site builds them, reach the relay's session.
  uint8_t nack[64];
  const uint16_t lost[] = {video.sequence_number};
  const size_t nack_size =
      rtp::BuildNack(0x5EED, kVideoSsrc, lost, absl::MakeSpan(nack));
  ASSERT_TRUE(transport_->SendRtcp(absl::MakeConstSpan(nack, nack_size)));
  uint8_t pli[16];
  const size_t pli_size =
      rtp::BuildPli(0x5EED, kVideoSsrc, absl::MakeSpan(pli));
  ASSERT_TRUE(transport_->SendRtcp(absl::MakeConstSpan(pli, pli_size)));
  Exchange(t);
  ASSERT_EQ(nacks_.size(), 1u);
  EXPECT_EQ(nacks_[0],
            (std::pair<uint32_t, std::vector<uint16_t>>{0xAAAA, {10}}));
  EXPECT_EQ(keyframes_, 1);
  EXPECT_EQ(transport_->counters().rtcp_sent, 2);

  // Packets from anyone but the selected candidate are not taken.
  ASSERT_TRUE(session_->SendRtp(edge::Track::kVideo,
                                UpstreamRtp(0xAAAA, 11, payload), t));
  ASSERT_EQ(relay_sink_.sent.size(), 1u);
  EXPECT_TRUE(
      transport_
          ->Receive(media::Endpoint{0x0A000001, 4443}, relay_sink_.sent[0], t)
          .empty());
  EXPECT_EQ(transport_->counters().strangers, 1);
}

TEST_F(WhepTransportTest, ConsentIsRefreshedAndLostWithoutAnswers) {
  WhepTransportOptions options;
  options.consent_interval = absl::Seconds(5);
  options.consent_lifetime = absl::Seconds(30);
  MakeTransport(options);
  Connect(kStart);
  const int64_t checks = transport_->counters().checks_sent;
  // Within 4-6 s one check goes out, and its answer keeps consent.
  absl::Time t = kStart;
  for (int i = 0; i < 60; ++i) {
    t += absl::Milliseconds(100);
    transport_->OnTick(t);
    Exchange(t);
  }
  EXPECT_EQ(transport_->counters().checks_sent, checks + 1);
  EXPECT_EQ(transport_->counters().check_answers, 2);
  // Then the relay answers nothing: consent ends 30 s after the last answer.
  const absl::Time last_answer = t;
  while (transport_->state() == WhepState::kConnected &&
         t < last_answer + absl::Seconds(40)) {
    t += absl::Milliseconds(500);
    transport_->OnTick(t);
    Exchange(t, /*deliver_checks=*/false);
  }
  EXPECT_EQ(transport_->state(), WhepState::kFailed);
  EXPECT_GE(t - last_answer, absl::Seconds(24));
  EXPECT_TRUE(absl::StrContains(transport_->error().message(), "consent lost"))
      << transport_->error();
  EXPECT_FALSE(transport_->SendRtcp(std::vector<uint8_t>(8)));
}

TEST_F(WhepTransportTest, UnansweredChecksFailTheSetupNamingTheCandidate) {
  WhepTransportOptions options;
  options.setup_timeout = absl::Seconds(2);
  MakeTransport(options);
  absl::Time t = kStart;
  while (transport_->state() == WhepState::kChecking &&
         t < kStart + absl::Seconds(5)) {
    transport_->OnTick(t);
    Exchange(t, /*deliver_checks=*/false);
    t += absl::Milliseconds(50);
  }
  EXPECT_EQ(transport_->state(), WhepState::kFailed);
  EXPECT_GE(t - kStart, absl::Seconds(2));
  EXPECT_GE(transport_->counters().checks_sent, 30);
  EXPECT_TRUE(absl::StrContains(transport_->error().message(),
                                "ICE: no answer to checks to 192.0.2.1:4443"))
      << transport_->error();
  EXPECT_FALSE(transport_->connected_after().has_value());
}

TEST_F(WhepTransportTest, AForgedAnswerIsDropped) {
  MakeTransport();
  transport_->OnTick(kStart);
  ASSERT_EQ(viewer_sink_.sent.size(), 1u);
  ice::StunMessage check;
  ASSERT_EQ(ice::ParseStun(viewer_sink_.sent[0].bytes, &check),
            ice::StunError::kOk);
  // The right transaction, but not signed with the relay's pwd.
  uint8_t forged[128];
  const size_t size = ice::BuildBindingSuccess(
      check.transaction_id, ice::TransportAddress::V4(kViewer.ip, kViewer.port),
      "not-the-relays-password-at-all", absl::MakeSpan(forged));
  ASSERT_GT(size, 0u);
  EXPECT_TRUE(
      transport_->Receive(Relay(), absl::MakeConstSpan(forged, size), kStart)
          .empty());
  EXPECT_EQ(transport_->counters().stun_dropped, 1);
  EXPECT_EQ(transport_->state(), WhepState::kChecking);
  EXPECT_FALSE(transport_->selected().has_value());
}

TEST_F(WhepTransportTest, ARelayWithAnotherCertificateFailsTheHandshake) {
  auto other = dtls::Certificate::Generate({kStart});
  ASSERT_TRUE(other.ok());
  answer_.fingerprint = (*other)->fingerprint();
  MakeTransport();
  for (int round = 0; round < 20 && transport_->state() != WhepState::kFailed;
       ++round) {
    transport_->OnTick(kStart);
    Exchange(kStart);
  }
  EXPECT_EQ(transport_->state(), WhepState::kFailed);
  EXPECT_TRUE(absl::StartsWith(transport_->error().message(), "DTLS: "))
      << transport_->error();
  EXPECT_FALSE(transport_->SendRtcp(std::vector<uint8_t>(8)));
}

}  // namespace
}  // namespace cascade::probe
