#include "webrtc/edge/viewer_session.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/test_browser.h"
#include "webrtc/edge/webrtc_transport.h"
#include "webrtc/ice/demux.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/answer.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::edge {
namespace {

const ice::TransportAddress kBrowserAddress =
    ice::TransportAddress::V4(0xC0A80002, 50000);
const ice::TransportAddress kStranger =
    ice::TransportAddress::V4(0x0A000007, 40000);
constexpr uint32_t kVideoSsrc = 0x11111111;
constexpr uint32_t kAudioSsrc = 0x22222222;

std::vector<uint8_t> UpstreamRtp(uint32_t ssrc, uint16_t seq, uint32_t ts,
                                 std::vector<uint8_t> payload,
                                 bool marker = false,
                                 bool with_extension = false) {
  std::vector<uint8_t> out(1500);
  rtp::RtpHeader header;
  header.marker = marker;
  header.payload_type = 100;
  header.sequence_number = seq;
  header.timestamp = ts;
  header.ssrc = ssrc;
  const uint8_t abs_send_time[3] = {1, 2, 3};
  rtp::ExtensionElement element{2, abs_send_time};
  if (with_extension) header.extensions = absl::MakeConstSpan(&element, 1);
  out.resize(rtp::WriteRtpPacket(header, payload, absl::MakeSpan(out)));
  return out;
}

class ViewerSessionTest : public ::testing::Test,
                          public ViewerSession::Listener {
 protected:
  void SetUp() override {
    auto certificate = dtls::Certificate::Generate({kTestStart});
    ASSERT_TRUE(certificate.ok()) << certificate.status();
    relay_certificate_ = *std::move(certificate);
    auto browser = TestBrowser::Create(kBrowserAddress);
    ASSERT_TRUE(browser.ok()) << browser.status();
    browser_ = *std::move(browser);

    auto credentials = ice::RandomIceCredentials();
    ASSERT_TRUE(credentials.ok());
    options_.role = sdp::RelayRole::kSend;
    options_.ice_ufrag = credentials->ufrag;
    options_.ice_pwd = credentials->pwd;
    const dtls::Fingerprint& fp = relay_certificate_->fingerprint();
    options_.fingerprint = fp.algorithm + " " + fp.value;
    options_.candidates = {"192.0.2.1:4443"};
    options_.session_id = 7;
    options_.msid_stream_id = "cascade";
    options_.cname = "cascade";
    options_.video = {kVideoSsrc, "video"};
    options_.audio = {kAudioSsrc, "audio"};
    auto offer = sdp::ParseSdp(browser_->offer());
    ASSERT_TRUE(offer.ok()) << offer.status();
    auto answer = sdp::BuildAnswer(*offer, options_);
    ASSERT_TRUE(answer.ok()) << answer.status();
    answer_ = *std::move(answer);
    ASSERT_TRUE(answer_.video.has_value());
    ASSERT_TRUE(answer_.audio.has_value());

    auto session = ViewerSession::Create(
        "s1", answer_, options_, *relay_certificate_, &sink_, this, kTestStart);
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
  }

  void OnStateChange(ViewerSession&, SessionState state) override {
    states_.push_back(state);
  }
  void OnNack(ViewerSession&, uint32_t ssrc,
              absl::Span<const uint16_t> seqs) override {
    nacks_.push_back({ssrc, {seqs.begin(), seqs.end()}});
  }
  void OnKeyframeRequest(ViewerSession&) override { ++keyframes_; }

  void Check(absl::Time now) {
    session_->OnDatagram(
        browser_->BindingRequest(options_.ice_ufrag, options_.ice_pwd),
        kBrowserAddress, now);
  }

  // ICE check, then the DTLS handshake over the session, both sides fed
  // until both are connected (bounded rounds).
  void Connect(absl::Time now) {
    Check(now);
    ASSERT_TRUE(
        browser_->StartDtls(relay_certificate_->fingerprint(), now).ok());
    for (int round = 0;
         round < 20 && !(browser_->dtls_connected() &&
                         session_->state() == SessionState::kConnected);
         ++round) {
      while (!browser_->dtls_out().empty()) {
        std::vector<uint8_t> d = std::move(browser_->dtls_out().front());
        browser_->dtls_out().pop_front();
        session_->OnDatagram(d, kBrowserAddress, now);
      }
      std::vector<RecordingSink::Datagram> sent = std::move(sink_.sent);
      sink_.sent.clear();
      browser_->FeedDtls(sent, now);
    }
    ASSERT_TRUE(browser_->dtls_connected());
    ASSERT_EQ(session_->state(), SessionState::kConnected);
    sink_.sent.clear();
  }

  // The RTP packets the session sent to the browser, decrypted by the
  // browser's SRTP session; the sink is emptied.
  std::vector<std::vector<uint8_t>> ReceivedRtp() {
    std::vector<std::vector<uint8_t>> out;
    for (RecordingSink::Datagram& d : sink_.sent) {
      EXPECT_EQ(d.to, kBrowserAddress);
      if (ice::Classify(d.bytes) != ice::DatagramKind::kRtp) continue;
      size_t size = d.bytes.size();
      EXPECT_EQ(browser_->srtp()->UnprotectRtp(absl::MakeSpan(d.bytes), &size),
                dtls::SrtpSessionError::kOk);
      d.bytes.resize(size);
      out.push_back(std::move(d.bytes));
    }
    sink_.sent.clear();
    return out;
  }

  // One RTCP packet from the browser, SRTCP-protected.
  void SendRtcp(std::vector<uint8_t> rtcp, absl::Time now) {
    size_t size = rtcp.size();
    rtcp.resize(size + 64);
    ASSERT_EQ(browser_->srtp()->ProtectRtcp(absl::MakeSpan(rtcp), &size),
              dtls::SrtpSessionError::kOk);
    rtcp.resize(size);
    session_->OnDatagram(rtcp, kBrowserAddress, now);
  }

  uint64_t Drops(ViewerDrop drop) const {
    return session_->counters().drops[static_cast<size_t>(drop)];
  }
  uint64_t Drops(TransportDrop drop) const {
    return session_->transport().counters().drops[static_cast<size_t>(drop)];
  }

  std::unique_ptr<dtls::Certificate> relay_certificate_;
  std::unique_ptr<TestBrowser> browser_;
  sdp::AnswerOptions options_;
  sdp::Answer answer_;
  RecordingSink sink_;
  std::unique_ptr<ViewerSession> session_;
  std::vector<SessionState> states_;
  std::vector<std::pair<uint32_t, std::vector<uint16_t>>> nacks_;
  int keyframes_ = 0;
};

TEST_F(ViewerSessionTest, CheckIsAnsweredToItsSource) {
  Check(kTestStart);
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].to, kBrowserAddress);
  ice::StunMessage reply;
  ASSERT_EQ(ice::ParseStun(sink_.sent[0].bytes, &reply), ice::StunError::kOk);
  EXPECT_EQ(reply.cls, ice::StunClass::kSuccess);
  EXPECT_TRUE(ice::IntegrityValid(reply, options_.ice_pwd));
  EXPECT_EQ(session_->state(), SessionState::kChecking);
  EXPECT_EQ(session_->selected(), kBrowserAddress);
}

TEST_F(ViewerSessionTest, HandshakeThenRewrittenContinuousMediaAndFeedback) {
  Connect(kTestStart);
  EXPECT_EQ(states_, (std::vector<SessionState>{SessionState::kChecking,
                                                SessionState::kConnected}));
  const int video_pt = answer_.video->payload_type;
  const int audio_pt = answer_.audio->payload_type;

  // Three packets of the first upstream across the 16-bit wrap, then the
  // relay's parent fails over: a new SSRC with unrelated numbering.
  absl::Time t = kTestStart + absl::Seconds(1);
  const std::vector<uint8_t> payload = {0x65, 0x88, 0x84, 0x00};
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xAAAA, 65534, 1000, payload), t));
  ASSERT_TRUE(session_->SendRtp(
      Track::kVideo, UpstreamRtp(0xAAAA, 65535, 4000, payload, false, true),
      t + absl::Milliseconds(33)));
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xAAAA, 0, 7000, payload, true),
                                t + absl::Milliseconds(66)));
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xBBBB, 20000, 123456, payload),
                                t + absl::Milliseconds(166)));
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xBBBB, 20001, 126456, payload),
                                t + absl::Milliseconds(200)));
  ASSERT_TRUE(session_->SendRtp(Track::kAudio,
                                UpstreamRtp(0xCCCC, 5, 960, {1, 2, 3}), t));

  const std::vector<std::vector<uint8_t>> got = ReceivedRtp();
  ASSERT_EQ(got.size(), 6u);
  std::vector<rtp::RtpView> views(got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(rtp::ParseRtp(got[i], &views[i]), rtp::RtpError::kOk);
  }
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(views[i].ssrc, kVideoSsrc) << i;
    EXPECT_EQ(views[i].payload_type, video_pt) << i;
    EXPECT_FALSE(views[i].has_extension) << i;
    EXPECT_EQ(
        std::vector<uint8_t>(views[i].payload.begin(), views[i].payload.end()),
        payload);
    if (i > 0) {
      EXPECT_EQ(static_cast<uint16_t>(views[i].sequence_number -
                                      views[i - 1].sequence_number),
                1)
          << i;
    }
  }
  EXPECT_TRUE(views[2].marker);
  EXPECT_EQ(views[1].timestamp - views[0].timestamp, 3000u);
  // 100 ms passed between the last packet of the old upstream and the first
  // of the new one: 9000 ticks at 90 kHz; the new one's own steps follow.
  EXPECT_EQ(views[3].timestamp - views[2].timestamp, 9000u);
  EXPECT_EQ(views[4].timestamp - views[3].timestamp, 3000u);
  EXPECT_EQ(views[5].ssrc, kAudioSsrc);
  EXPECT_EQ(views[5].payload_type, audio_pt);
  EXPECT_EQ(session_->counters().source_changes, 1u);

  // The browser NACKs one packet of each upstream; each reaches the owner
  // in its upstream's numbering.
  std::vector<uint8_t> rtcp(64);
  const uint16_t lost[] = {views[1].sequence_number, views[4].sequence_number};
  rtcp.resize(rtp::BuildNack(0x5EED, kVideoSsrc, lost, absl::MakeSpan(rtcp)));
  SendRtcp(rtcp, t);
  ASSERT_EQ(nacks_.size(), 2u);
  EXPECT_EQ(nacks_[0],
            (std::pair<uint32_t, std::vector<uint16_t>>{0xAAAA, {65535}}));
  EXPECT_EQ(nacks_[1],
            (std::pair<uint32_t, std::vector<uint16_t>>{0xBBBB, {20001}}));

  // A resend of the old upstream's packet keeps its old number (read from
  // the SRTP header, which is not encrypted: the browser already has the
  // packet and its SRTP would refuse it as a replay).
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xAAAA, 65535, 4000, payload), t));
  ASSERT_EQ(sink_.sent.size(), 1u);
  rtp::RtpView view;
  ASSERT_EQ(rtp::ParseRtp(sink_.sent[0].bytes, &view), rtp::RtpError::kOk);
  sink_.sent.clear();
  EXPECT_EQ(view.sequence_number, views[1].sequence_number);
  EXPECT_EQ(view.timestamp, views[1].timestamp);

  // PLI and FIR for our video ask for a keyframe; a PLI for another SSRC
  // does not.
  rtcp.assign(64, 0);
  rtcp.resize(rtp::BuildPli(0x5EED, kVideoSsrc, absl::MakeSpan(rtcp)));
  SendRtcp(rtcp, t);
  EXPECT_EQ(keyframes_, 1);
  rtcp.assign(64, 0);
  const rtp::FirEntry fir[] = {{kVideoSsrc, 1}};
  rtcp.resize(rtp::BuildFir(0x5EED, fir, absl::MakeSpan(rtcp)));
  SendRtcp(rtcp, t);
  EXPECT_EQ(keyframes_, 2);
  rtcp.assign(64, 0);
  rtcp.resize(rtp::BuildPli(0x5EED, 0x99999999, absl::MakeSpan(rtcp)));
  SendRtcp(rtcp, t);
  EXPECT_EQ(keyframes_, 2);
  EXPECT_EQ(session_->counters().feedback_unmapped, 1u);
  EXPECT_EQ(session_->counters().rtcp_in, 4u);
}

TEST_F(ViewerSessionTest, MediaIsBuiltInTheBufferTheSinkLends) {
  Connect(kTestStart);
  const std::vector<uint8_t> payload = {0x65, 0x88, 0x84, 0x00};
  const absl::Time t = kTestStart + absl::Seconds(1);
  sink_.sent.clear();

  // Too small to hold a packet of the MTU: not used.
  sink_.lent.assign(64, 0);
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xAAAA, 1, 1000, payload), t));
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_FALSE(sink_.sent[0].from_lent);

  // Large enough: the packet is rewritten and protected in it, and sent
  // from it; the browser reads it as before.
  sink_.lent.assign(2048, 0);
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xAAAA, 2, 4000, payload), t));
  ASSERT_EQ(sink_.sent.size(), 2u);
  EXPECT_TRUE(sink_.sent[1].from_lent);
  const std::vector<std::vector<uint8_t>> got = ReceivedRtp();
  ASSERT_EQ(got.size(), 2u);
  rtp::RtpView first, second;
  ASSERT_EQ(rtp::ParseRtp(got[0], &first), rtp::RtpError::kOk);
  ASSERT_EQ(rtp::ParseRtp(got[1], &second), rtp::RtpError::kOk);
  EXPECT_EQ(second.ssrc, kVideoSsrc);
  EXPECT_EQ(
      static_cast<uint16_t>(second.sequence_number - first.sequence_number), 1);
  EXPECT_EQ(std::vector<uint8_t>(second.payload.begin(), second.payload.end()),
            payload);
}

TEST_F(ViewerSessionTest, SenderReportsFollowTheMediaRewrite) {
  const absl::Time t = kTestStart + absl::Seconds(1);
  rtp::SenderInfo info;
  info.ntp_timestamp = 0x0123456789ABCDEFull;
  info.rtp_timestamp = 91000;
  info.packet_count = 777;  // the upstream's count: not the browser's
  info.octet_count = 99999;
  // Before the session is connected nothing goes out.
  EXPECT_FALSE(session_->SendSenderReport(Track::kVideo, 0xAAAA, info, t));
  Connect(kTestStart);
  // Nor before the first media of that upstream.
  EXPECT_FALSE(session_->SendSenderReport(Track::kVideo, 0xAAAA, info, t));
  EXPECT_EQ(Drops(ViewerDrop::kReportNotStarted), 1u);

  const std::vector<uint8_t> payload = {0x65, 0x88, 0x84, 0x00};
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xAAAA, 100, 1000, payload), t));
  ASSERT_TRUE(session_->SendRtp(Track::kVideo,
                                UpstreamRtp(0xAAAA, 101, 4000, payload), t));
  const std::vector<std::vector<uint8_t>> media = ReceivedRtp();
  ASSERT_EQ(media.size(), 2u);
  rtp::RtpView first;
  ASSERT_EQ(rtp::ParseRtp(media[0], &first), rtp::RtpError::kOk);

  // Another upstream's report maps another clock: not sent.
  EXPECT_FALSE(session_->SendSenderReport(Track::kVideo, 0xBBBB, info, t));
  ASSERT_TRUE(session_->SendSenderReport(Track::kVideo, 0xAAAA, info, t));
  ASSERT_EQ(sink_.sent.size(), 1u);
  std::vector<uint8_t> report = sink_.sent[0].bytes;
  sink_.sent.clear();
  size_t size = report.size();
  ASSERT_EQ(browser_->srtp()->UnprotectRtcp(absl::MakeSpan(report), &size),
            dtls::SrtpSessionError::kOk);
  report.resize(size);
  struct Reports : rtp::RtcpVisitor {
    void OnSenderReport(const rtp::SenderReportView& sr) override {
      got.push_back(sr);
    }
    std::vector<rtp::SenderReportView> got;
  } reports;
  ASSERT_EQ(rtp::ParseRtcpCompound(report, &reports), rtp::RtcpError::kOk);
  ASSERT_EQ(reports.got.size(), 1u);
  const rtp::SenderReportView& sr = reports.got[0];
  EXPECT_EQ(sr.sender_ssrc, kVideoSsrc);
  EXPECT_EQ(sr.info.ntp_timestamp, info.ntp_timestamp);
  // The offset the media got: RTP time 1000 went out as first.timestamp.
  EXPECT_EQ(sr.info.rtp_timestamp, info.rtp_timestamp - 1000 + first.timestamp);
  EXPECT_EQ(sr.info.packet_count, 2u);
  EXPECT_EQ(sr.info.octet_count, 2 * payload.size());
  EXPECT_EQ(session_->counters().sender_reports_sent, 1u);
}

TEST_F(ViewerSessionTest, ForgedSrtcpIsCountedAndIgnored) {
  Connect(kTestStart);
  std::vector<uint8_t> rtcp(64);
  rtcp.resize(rtp::BuildPli(0x5EED, kVideoSsrc, absl::MakeSpan(rtcp)));
  rtcp.resize(rtcp.size() + 14, 0xAB);  // a made-up index and tag
  session_->OnDatagram(rtcp, kBrowserAddress, kTestStart);
  EXPECT_EQ(Drops(TransportDrop::kRtcpUnprotect), 1u);
  EXPECT_EQ(keyframes_, 0);
  EXPECT_TRUE(sink_.sent.empty());
}

TEST_F(ViewerSessionTest, DtlsFromAnUncheckedAddressIsDropped) {
  ASSERT_TRUE(
      browser_->StartDtls(relay_certificate_->fingerprint(), kTestStart).ok());
  ASSERT_FALSE(browser_->dtls_out().empty());
  const std::vector<uint8_t> hello = browser_->dtls_out().front();
  session_->OnDatagram(hello, kBrowserAddress, kTestStart);
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_EQ(Drops(TransportDrop::kDtlsUnchecked), 1u);
  EXPECT_EQ(session_->state(), SessionState::kNew);

  // Once one address passed ICE, another still may not speak DTLS.
  Check(kTestStart);
  sink_.sent.clear();
  session_->OnDatagram(hello, kStranger, kTestStart);
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_EQ(Drops(TransportDrop::kDtlsUnchecked), 2u);
  EXPECT_EQ(session_->dtls().counters().accepted, 0u);
}

TEST_F(ViewerSessionTest, WrongIceCredentialsGetNoSessionTraffic) {
  const std::vector<uint8_t> request =
      browser_->BindingRequest(options_.ice_ufrag, "wrongwrongwrongwrongwrong");
  session_->OnDatagram(request, kBrowserAddress, kTestStart);
  for (const RecordingSink::Datagram& d : sink_.sent) {
    ice::StunMessage reply;
    ASSERT_EQ(ice::ParseStun(d.bytes, &reply), ice::StunError::kOk);
    EXPECT_EQ(reply.cls, ice::StunClass::kError);
    EXPECT_LE(d.bytes.size(), request.size());
  }
  EXPECT_FALSE(session_->IsValidated(kBrowserAddress));
  EXPECT_EQ(session_->state(), SessionState::kNew);
  EXPECT_EQ(Drops(TransportDrop::kStunRefused), 1u);
  // Nor does its DTLS get an answer.
  sink_.sent.clear();
  ASSERT_TRUE(
      browser_->StartDtls(relay_certificate_->fingerprint(), kTestStart).ok());
  session_->OnDatagram(browser_->dtls_out().front(), kBrowserAddress,
                       kTestStart);
  EXPECT_TRUE(sink_.sent.empty());
}

TEST_F(ViewerSessionTest, ConsentExpiryClosesTheSessionAt30Seconds) {
  Connect(kTestStart);
  const std::vector<uint8_t> packet = UpstreamRtp(0xAAAA, 1, 1, {1});
  // A refresh at 10 s moves the expiry to 40 s.
  Check(kTestStart + absl::Seconds(10));
  const absl::Time expiry = kTestStart + absl::Seconds(40);
  EXPECT_LE(session_->NextTimeout(kTestStart + absl::Seconds(11)), expiry);
  session_->OnTimer(expiry - absl::Milliseconds(1));
  EXPECT_EQ(session_->state(), SessionState::kConnected);
  EXPECT_TRUE(
      session_->SendRtp(Track::kVideo, packet, expiry - absl::Milliseconds(1)));
  session_->OnTimer(expiry);
  EXPECT_EQ(session_->state(), SessionState::kClosed);
  EXPECT_EQ(session_->close_reason(), CloseReason::kConsentExpired);
  EXPECT_EQ(states_.back(), SessionState::kClosed);
  sink_.sent.clear();
  EXPECT_FALSE(session_->SendRtp(Track::kVideo, packet, expiry));
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_EQ(session_->NextTimeout(expiry), absl::InfiniteFuture());
}

TEST_F(ViewerSessionTest, DtlsPeerWithoutTheOfferedFingerprintFails) {
  // Someone who knows the ICE credentials but holds another certificate.
  auto impostor = TestBrowser::Create(kBrowserAddress);
  ASSERT_TRUE(impostor.ok());
  TestBrowser& other = **impostor;
  session_->OnDatagram(
      other.BindingRequest(options_.ice_ufrag, options_.ice_pwd),
      kBrowserAddress, kTestStart);
  ASSERT_TRUE(
      other.StartDtls(relay_certificate_->fingerprint(), kTestStart).ok());
  for (int round = 0; round < 20 && !session_->ended(); ++round) {
    while (!other.dtls_out().empty()) {
      session_->OnDatagram(other.dtls_out().front(), kBrowserAddress,
                           kTestStart);
      other.dtls_out().pop_front();
    }
    std::vector<RecordingSink::Datagram> sent = std::move(sink_.sent);
    sink_.sent.clear();
    other.FeedDtls(sent, kTestStart);
  }
  EXPECT_EQ(session_->state(), SessionState::kFailed);
  EXPECT_EQ(session_->close_reason(), CloseReason::kDtlsFailed);
  EXPECT_FALSE(session_->error().ok());
  EXPECT_FALSE(
      session_->SendRtp(Track::kVideo, UpstreamRtp(1, 1, 1, {1}), kTestStart));
}

TEST_F(ViewerSessionTest, NoCheckFailsTheSessionAtTheSetupDeadline) {
  EXPECT_EQ(session_->NextTimeout(kTestStart), kTestStart + absl::Seconds(30));
  session_->OnTimer(kTestStart + absl::Seconds(30));
  EXPECT_EQ(session_->state(), SessionState::kFailed);
  EXPECT_EQ(session_->close_reason(), CloseReason::kSetupTimeout);
  EXPECT_FALSE(session_->error().ok());
}

TEST_F(ViewerSessionTest, NothingIsSentBeforeConnected) {
  Check(kTestStart);
  sink_.sent.clear();
  EXPECT_FALSE(
      session_->SendRtp(Track::kVideo, UpstreamRtp(1, 1, 1, {1}), kTestStart));
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_EQ(Drops(ViewerDrop::kSendNotConnected), 1u);
}

TEST_F(ViewerSessionTest, CloseSendsCloseNotify) {
  Connect(kTestStart);
  session_->Close(CloseReason::kDeleted);
  EXPECT_EQ(session_->state(), SessionState::kClosed);
  EXPECT_EQ(session_->close_reason(), CloseReason::kDeleted);
  ASSERT_FALSE(sink_.sent.empty());
  browser_->FeedDtls(sink_.sent, kTestStart);
  EXPECT_FALSE(browser_->dtls_connected());
}

TEST_F(ViewerSessionTest, GarbageIsCounted) {
  const std::vector<uint8_t> junk = {0x40, 1, 2, 3};
  session_->OnDatagram(junk, kBrowserAddress, kTestStart);
  session_->OnDatagram({}, kBrowserAddress, kTestStart);
  EXPECT_EQ(Drops(TransportDrop::kNotWebrtc), 2u);
  Connect(kTestStart);
  // RTP from the viewer: unauthenticated, or genuine but unwanted.
  session_->OnDatagram(UpstreamRtp(1, 1, 1, {1}), kBrowserAddress, kTestStart);
  EXPECT_EQ(Drops(TransportDrop::kRtpUnprotect), 1u);
  const std::vector<uint8_t> genuine =
      browser_->Protect(UpstreamRtp(1, 2, 1, {1}));
  ASSERT_FALSE(genuine.empty());
  session_->OnDatagram(genuine, kBrowserAddress, kTestStart);
  EXPECT_EQ(Drops(ViewerDrop::kRtpFromViewer), 1u);
  EXPECT_EQ(Drops(TransportDrop::kRtpUnprotect), 1u);
  // Authenticated RTCP that is no compound.
  std::vector<uint8_t> bad_rtcp(64);
  bad_rtcp.resize(rtp::BuildPli(0x5EED, kVideoSsrc, absl::MakeSpan(bad_rtcp)));
  bad_rtcp[3] += 1;  // the length word claims more than there is
  SendRtcp(bad_rtcp, kTestStart);
  EXPECT_EQ(Drops(ViewerDrop::kRtcpMalformed), 1u);
  EXPECT_EQ(keyframes_, 0);

  EXPECT_FALSE(session_->SendRtp(Track::kVideo, junk, kTestStart));
  EXPECT_EQ(Drops(ViewerDrop::kSendBadRtp), 1u);
  // Over the MTU once SRTP's tag is added: the transport refuses it.
  EXPECT_FALSE(session_->SendRtp(
      Track::kVideo, UpstreamRtp(1, 3, 1, std::vector<uint8_t>(1190, 0x41)),
      kTestStart));
  EXPECT_EQ(Drops(TransportDrop::kSendTooLarge), 1u);
  EXPECT_TRUE(ReceivedRtp().empty());
  EXPECT_EQ(session_->counters().rtp_sent, 0u);
}

}  // namespace
}  // namespace cascade::edge
