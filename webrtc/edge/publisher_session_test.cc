#include "webrtc/edge/publisher_session.h"

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
// The browser's SSRCs in chrome_whip_sendonly.sdp.
constexpr uint32_t kBrowserVideo = 1234567890;
constexpr uint32_t kBrowserAudio = 2882400001;
constexpr TreeTrack kTreeVideo = {4369, 96};
constexpr TreeTrack kTreeAudio = {8738, 111};

std::vector<uint8_t> Rtp(uint32_t ssrc, uint8_t pt, uint16_t seq, uint32_t ts,
                         std::vector<uint8_t> payload, bool marker = false) {
  std::vector<uint8_t> out(1500);
  rtp::RtpHeader header;
  header.marker = marker;
  header.payload_type = pt;
  header.sequence_number = seq;
  header.timestamp = ts;
  header.ssrc = ssrc;
  // What Chrome would put there had the answer negotiated it.
  const uint8_t abs_send_time[3] = {1, 2, 3};
  const rtp::ExtensionElement element{2, abs_send_time};
  header.extensions = absl::MakeConstSpan(&element, 1);
  out.resize(rtp::WriteRtpPacket(header, payload, absl::MakeSpan(out)));
  return out;
}

std::vector<uint8_t> SenderReport(uint32_t ssrc, uint64_t ntp, uint32_t ts) {
  std::vector<uint8_t> out(256);
  size_t size = rtp::BuildSenderReport(ssrc, {ntp, ts, 10, 1000}, {},
                                       absl::MakeSpan(out));
  size += rtp::BuildSdesCname(ssrc, "Qh8lz2bS7n3K1vXy",
                              absl::MakeSpan(out).subspan(size));
  out.resize(size);
  return out;
}

struct Collect : rtp::RtcpVisitor {
  void OnSenderReport(const rtp::SenderReportView& sr) override {
    srs.push_back(sr.sender_ssrc);
    info = sr.info;
    sr_blocks = sr.blocks.size();
  }
  void OnReceiverReport(const rtp::ReceiverReportView& rr) override {
    ++rrs;
    for (size_t i = 0; i < rr.blocks.size(); ++i)
      blocks.push_back(rr.blocks[i]);
  }
  void OnSdes(const rtp::SdesView&) override { ++sdes; }
  void OnPli(const rtp::PliView& pli) override {
    plis.push_back(pli.media_ssrc);
  }
  void OnNack(const rtp::NackView& nack) override {
    std::vector<uint16_t> seqs;
    nack.ForEachSequenceNumber([&](uint16_t seq) { seqs.push_back(seq); });
    nacks.push_back({nack.media_ssrc, std::move(seqs)});
  }
  std::vector<uint32_t> srs;
  rtp::SenderInfo info;
  size_t sr_blocks = 0;
  int rrs = 0;
  int sdes = 0;
  std::vector<rtp::ReportBlock> blocks;
  std::vector<uint32_t> plis;
  std::vector<std::pair<uint32_t, std::vector<uint16_t>>> nacks;
};

class PublisherSessionTest : public ::testing::Test,
                             public PublisherSession::Listener {
 protected:
  void SetUp() override {
    auto certificate = dtls::Certificate::Generate({kTestStart});
    ASSERT_TRUE(certificate.ok()) << certificate.status();
    relay_certificate_ = *std::move(certificate);
    auto browser = TestBrowser::CreatePublisher(kBrowserAddress);
    ASSERT_TRUE(browser.ok()) << browser.status();
    browser_ = *std::move(browser);

    auto credentials = ice::RandomIceCredentials();
    ASSERT_TRUE(credentials.ok());
    answer_options_.role = sdp::RelayRole::kReceive;
    answer_options_.ice_ufrag = credentials->ufrag;
    answer_options_.ice_pwd = credentials->pwd;
    const dtls::Fingerprint& fp = relay_certificate_->fingerprint();
    answer_options_.fingerprint = fp.algorithm + " " + fp.value;
    answer_options_.candidates = {"192.0.2.1:4443"};
    answer_options_.session_id = 7;
    auto offer = sdp::ParseSdp(browser_->offer());
    ASSERT_TRUE(offer.ok()) << offer.status();
    auto answer = sdp::BuildAnswer(*offer, answer_options_);
    ASSERT_TRUE(answer.ok()) << answer.status();
    answer_ = *std::move(answer);
    ASSERT_TRUE(answer_.video.has_value());
    ASSERT_TRUE(answer_.audio.has_value());
    video_pt_ = static_cast<uint8_t>(answer_.video->payload_type);
    audio_pt_ = static_cast<uint8_t>(answer_.audio->payload_type);

    options_.video = kTreeVideo;
    options_.audio = kTreeAudio;
    auto session = PublisherSession::Create("p1", answer_, answer_options_,
                                            *relay_certificate_, &sink_, this,
                                            kTestStart, options_);
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
  }

  void TearDown() override {
    // Whatever the session sent went to an address that passed a check.
    for (const RecordingSink::Datagram& d : all_sent_) {
      if (d.to != kBrowserAddress) {
        EXPECT_EQ(ice::Classify(d.bytes), ice::DatagramKind::kStun);
      }
    }
  }

  void OnStateChange(PublisherSession&, SessionState state) override {
    states_.push_back(state);
  }
  void OnRtp(PublisherSession&, Track track,
             absl::Span<const uint8_t> packet) override {
    rtp_.push_back({track, {packet.begin(), packet.end()}});
  }
  void OnSenderReport(PublisherSession&, Track track,
                      absl::Span<const uint8_t> packet) override {
    srs_.push_back({track, {packet.begin(), packet.end()}});
  }

  void Check(absl::Time now) {
    session_->OnDatagram(browser_->BindingRequest(answer_options_.ice_ufrag,
                                                  answer_options_.ice_pwd),
                         kBrowserAddress, now);
  }

  // Takes what the session sent, keeping a record for TearDown.
  std::vector<RecordingSink::Datagram> TakeSent() {
    std::vector<RecordingSink::Datagram> sent = std::move(sink_.sent);
    sink_.sent.clear();
    all_sent_.insert(all_sent_.end(), sent.begin(), sent.end());
    return sent;
  }

  // ICE check, then DTLS, both sides fed until connected (bounded rounds).
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
      browser_->FeedDtls(TakeSent(), now);
    }
    ASSERT_TRUE(browser_->dtls_connected());
    ASSERT_EQ(session_->state(), SessionState::kConnected);
    TakeSent();
  }

  // The browser sends `plain` (RTP or RTCP) over its SRTP session.
  void Send(std::vector<uint8_t> plain, absl::Time now,
            const ice::TransportAddress& from = kBrowserAddress) {
    const std::vector<uint8_t> packet = browser_->Protect(std::move(plain));
    ASSERT_FALSE(packet.empty());
    session_->OnDatagram(packet, from, now);
  }

  // The RTCP the session sent the browser, decrypted and parsed.
  Collect ReceivedRtcp() {
    Collect collect;
    for (RecordingSink::Datagram& d : TakeSent()) {
      EXPECT_EQ(d.to, kBrowserAddress);
      size_t size = d.bytes.size();
      EXPECT_EQ(browser_->srtp()->UnprotectRtcp(absl::MakeSpan(d.bytes), &size),
                dtls::SrtpSessionError::kOk);
      EXPECT_EQ(rtp::ParseRtcpCompound(
                    absl::MakeConstSpan(d.bytes.data(), size), &collect),
                rtp::RtcpError::kOk);
    }
    return collect;
  }

  uint64_t Dropped(TransportDrop drop) const {
    return session_->transport().counters().drops[static_cast<size_t>(drop)];
  }
  uint64_t Dropped(PublisherDrop drop) const {
    return session_->counters().drops[static_cast<size_t>(drop)];
  }

  std::unique_ptr<dtls::Certificate> relay_certificate_;
  std::unique_ptr<TestBrowser> browser_;
  sdp::AnswerOptions answer_options_;
  sdp::Answer answer_;
  uint8_t video_pt_ = 0;
  uint8_t audio_pt_ = 0;
  PublisherSession::Options options_;
  RecordingSink sink_;
  std::vector<RecordingSink::Datagram> all_sent_;
  std::unique_ptr<PublisherSession> session_;
  std::vector<SessionState> states_;
  std::vector<std::pair<Track, std::vector<uint8_t>>> rtp_;
  std::vector<std::pair<Track, std::vector<uint8_t>>> srs_;
};

TEST_F(PublisherSessionTest, CreateRefusesAViewersAnswerAndAMissingTreeTrack) {
  sdp::AnswerOptions viewer = answer_options_;
  viewer.role = sdp::RelayRole::kSend;
  EXPECT_EQ(PublisherSession::Create("x", answer_, viewer, *relay_certificate_,
                                     &sink_, this, kTestStart, options_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  PublisherSession::Options no_audio = options_;
  no_audio.audio = {};
  EXPECT_EQ(PublisherSession::Create("x", answer_, answer_options_,
                                     *relay_certificate_, &sink_, this,
                                     kTestStart, no_audio)
                .status()
                .code(),
            absl::StatusCode::kInternal);
}

TEST_F(PublisherSessionTest, RtpGoesUpWithTheTreesSsrcAndPayloadType) {
  Connect(kTestStart);
  EXPECT_EQ(states_.back(), SessionState::kConnected);
  Send(Rtp(kBrowserVideo, video_pt_, 40000, 123456, {0x65, 1, 2, 3}, true),
       kTestStart);
  Send(Rtp(kBrowserAudio, audio_pt_, 7, 960, {0xFC, 9}), kTestStart);
  ASSERT_EQ(rtp_.size(), 2u);

  EXPECT_EQ(rtp_[0].first, Track::kVideo);
  rtp::RtpView video;
  ASSERT_EQ(rtp::ParseRtp(rtp_[0].second, &video), rtp::RtpError::kOk);
  EXPECT_EQ(video.ssrc, kTreeVideo.ssrc);
  EXPECT_EQ(video.payload_type, kTreeVideo.payload_type);
  EXPECT_EQ(video.sequence_number, 40000);
  EXPECT_EQ(video.timestamp, 123456u);
  EXPECT_TRUE(video.marker);
  EXPECT_FALSE(video.has_extension);  // the browser's ids mean nothing here
  EXPECT_EQ(std::vector<uint8_t>(video.payload.begin(), video.payload.end()),
            (std::vector<uint8_t>{0x65, 1, 2, 3}));

  EXPECT_EQ(rtp_[1].first, Track::kAudio);
  rtp::RtpView audio;
  ASSERT_EQ(rtp::ParseRtp(rtp_[1].second, &audio), rtp::RtpError::kOk);
  EXPECT_EQ(audio.ssrc, kTreeAudio.ssrc);
  EXPECT_EQ(audio.payload_type, kTreeAudio.payload_type);
  EXPECT_EQ(audio.sequence_number, 7);
  EXPECT_EQ(session_->counters().rtp_forwarded, 2u);
  EXPECT_EQ(session_->source_ssrc(Track::kVideo), kBrowserVideo);
  // The session answers nothing to media.
  EXPECT_TRUE(TakeSent().empty());
}

TEST_F(PublisherSessionTest, NumberingStaysContinuousAcrossAnSsrcChange) {
  Connect(kTestStart);
  for (uint16_t i = 0; i < 3; ++i) {
    Send(Rtp(kBrowserVideo, video_pt_, 100 + i, 9000 + 3000 * i, {0x41}),
         kTestStart + absl::Milliseconds(33) * i);
  }
  // The encoder restarts: a new SSRC with unrelated numbers, 100 ms later.
  const absl::Time restart = kTestStart + absl::Milliseconds(166);
  Send(Rtp(0x0BADCAFE, video_pt_, 5, 77, {0x65}), restart);
  Send(Rtp(0x0BADCAFE, video_pt_, 6, 3077, {0x41}), restart);
  ASSERT_EQ(rtp_.size(), 5u);
  std::vector<uint16_t> seqs;
  std::vector<uint32_t> timestamps;
  for (const auto& [track, bytes] : rtp_) {
    rtp::RtpView view;
    ASSERT_EQ(rtp::ParseRtp(bytes, &view), rtp::RtpError::kOk);
    EXPECT_EQ(view.ssrc, kTreeVideo.ssrc);
    seqs.push_back(view.sequence_number);
    timestamps.push_back(view.timestamp);
  }
  EXPECT_EQ(seqs, (std::vector<uint16_t>{100, 101, 102, 103, 104}));
  // 100 ms after the newest packet (15000): 9000 ticks on.
  EXPECT_EQ(timestamps[3], 15000u + 9000u);
  EXPECT_EQ(timestamps[4], 15000u + 9000u + 3000u);
  EXPECT_EQ(session_->source_ssrc(Track::kVideo), 0x0BADCAFEu);
  EXPECT_EQ(session_->source_changes(Track::kVideo), 1u);
}

TEST_F(PublisherSessionTest, APaddingOnlyPacketGoesUpEmpty) {
  Connect(kTestStart);
  std::vector<uint8_t> padding = Rtp(kBrowserVideo, video_pt_, 9, 0, {});
  padding[0] |= 0x20;  // P: the last byte counts the padding
  padding.insert(padding.end(), {0, 0, 0, 4});
  Send(padding, kTestStart);
  ASSERT_EQ(rtp_.size(), 1u);
  rtp::RtpView view;
  ASSERT_EQ(rtp::ParseRtp(rtp_[0].second, &view), rtp::RtpError::kOk);
  EXPECT_EQ(view.sequence_number, 9);
  EXPECT_TRUE(view.payload.empty());
  EXPECT_EQ(view.padding_size, 0);
  EXPECT_EQ(session_->counters().padding_only, 1u);
}

TEST_F(PublisherSessionTest, UnauthenticatedOrUnknownPacketsAreDropped) {
  // Before DTLS there is no key to check anything with.
  session_->OnDatagram(Rtp(kBrowserVideo, video_pt_, 1, 1, {1}),
                       kBrowserAddress, kTestStart);
  EXPECT_EQ(Dropped(TransportDrop::kSrtpNotConnected), 1u);
  Connect(kTestStart);

  std::vector<uint8_t> forged =
      browser_->Protect(Rtp(kBrowserVideo, video_pt_, 2, 2, {1, 2, 3}));
  forged[14] ^= 0xFF;  // a payload byte
  session_->OnDatagram(forged, kBrowserAddress, kTestStart);
  EXPECT_EQ(Dropped(TransportDrop::kRtpUnprotect), 1u);

  const std::vector<uint8_t> genuine =
      browser_->Protect(Rtp(kBrowserVideo, video_pt_, 3, 3, {1}));
  session_->OnDatagram(genuine, kBrowserAddress, kTestStart);
  session_->OnDatagram(genuine, kBrowserAddress, kTestStart);  // a replay
  EXPECT_EQ(Dropped(TransportDrop::kRtpUnprotect), 2u);

  // A genuine packet from an address that passed no check.
  Send(Rtp(kBrowserVideo, video_pt_, 4, 4, {1}), kTestStart, kStranger);
  EXPECT_EQ(Dropped(TransportDrop::kSrtpUnchecked), 1u);

  // A payload type the answer did not take (VP8's).
  Send(Rtp(kBrowserVideo, 96, 5, 5, {1}), kTestStart);
  EXPECT_EQ(Dropped(PublisherDrop::kRtpUnknownPayload), 1u);

  // Only the genuine packet went up, once.
  ASSERT_EQ(rtp_.size(), 1u);
  EXPECT_EQ(session_->counters().rtp_forwarded, 1u);
  EXPECT_EQ(session_->state(), SessionState::kConnected);
}

TEST_F(PublisherSessionTest, SenderReportsGoUpRewritten) {
  Connect(kTestStart);
  const uint64_t ntp = 0xE1000000'80000000ull;
  // Before any media of the SSRC there is nothing to map it to.
  Send(SenderReport(kBrowserVideo, ntp, 500), kTestStart);
  EXPECT_EQ(Dropped(PublisherDrop::kReportUnmapped), 1u);

  Send(Rtp(kBrowserVideo, video_pt_, 100, 1000, {0x65, 0, 0}), kTestStart);
  Send(SenderReport(kBrowserVideo, ntp, 4000), kTestStart);
  ASSERT_EQ(srs_.size(), 1u);
  EXPECT_EQ(srs_[0].first, Track::kVideo);
  Collect first;
  ASSERT_EQ(rtp::ParseRtcpCompound(srs_[0].second, &first),
            rtp::RtcpError::kOk);
  EXPECT_EQ(first.srs, std::vector<uint32_t>{kTreeVideo.ssrc});
  EXPECT_EQ(first.sr_blocks, 0u);
  EXPECT_EQ(first.info.ntp_timestamp, ntp);
  EXPECT_EQ(first.info.rtp_timestamp, 4000u);
  // The tree's counts: what went up, not what the browser sent.
  EXPECT_EQ(first.info.packet_count, 1u);
  EXPECT_EQ(first.info.octet_count, 3u);

  // After an SSRC change the new source's time is re-based, and the old
  // source's reports map to nothing.
  const absl::Time restart = kTestStart + absl::Seconds(1);
  Send(Rtp(0x0BADCAFE, video_pt_, 1, 50, {0x65}), restart);
  Send(SenderReport(0x0BADCAFE, ntp + (1ull << 32), 50), restart);
  Send(SenderReport(kBrowserVideo, ntp + (1ull << 32), 94000), restart);
  ASSERT_EQ(srs_.size(), 2u);
  Collect second;
  ASSERT_EQ(rtp::ParseRtcpCompound(srs_[1].second, &second),
            rtp::RtcpError::kOk);
  EXPECT_EQ(second.info.rtp_timestamp, 1000u + 90000u);
  EXPECT_EQ(second.info.packet_count, 2u);
  EXPECT_EQ(Dropped(PublisherDrop::kReportUnmapped), 2u);
}

TEST_F(PublisherSessionTest, KeyframeRequestsArePaced) {
  EXPECT_FALSE(session_->RequestKeyframe(kTestStart));  // not connected
  EXPECT_EQ(session_->counters().keyframe_requests_unsent, 1u);
  EXPECT_TRUE(TakeSent().empty());
  Connect(kTestStart);
  // Before the first packet: the SSRC the offer announced.
  EXPECT_TRUE(session_->RequestKeyframe(kTestStart));
  Collect first = ReceivedRtcp();
  EXPECT_EQ(first.plis, std::vector<uint32_t>{kBrowserVideo});
  // Chrome agreed to reduced-size RTCP for video: a lone PLI.
  EXPECT_EQ(first.rrs, 0);

  Send(Rtp(0x0BADCAFE, video_pt_, 1, 50, {0x41}), kTestStart);
  EXPECT_FALSE(session_->RequestKeyframe(kTestStart + absl::Milliseconds(100)));
  EXPECT_FALSE(session_->RequestKeyframe(kTestStart + absl::Milliseconds(499)));
  EXPECT_EQ(session_->counters().keyframe_requests_paced, 2u);
  EXPECT_TRUE(ReceivedRtcp().plis.empty());
  EXPECT_TRUE(session_->RequestKeyframe(kTestStart + absl::Milliseconds(500)));
  // Now the SSRC whose media arrives.
  EXPECT_EQ(ReceivedRtcp().plis, std::vector<uint32_t>{0x0BADCAFE});
  EXPECT_EQ(session_->counters().keyframe_requests_sent, 2u);
}

TEST_F(PublisherSessionTest, ReceiverReportsTellTheBrowserWhatWasLost) {
  Connect(kTestStart);
  for (uint16_t seq : {0, 1, 3}) {
    Send(Rtp(kBrowserVideo, video_pt_, seq, seq * 3000u, {0x41}), kTestStart);
  }
  Send(Rtp(kBrowserAudio, audio_pt_, 50, 0, {0xFC}), kTestStart);
  // 2 is asked for on the way (GapsAreNackedUntilRepairedOrGivenUp), and
  // never comes.
  const absl::Time due = kTestStart + options_.report_interval;
  absl::Time now = session_->NextTimeout(kTestStart);
  for (int i = 0; i < 1000 && now < due; ++i) {
    session_->OnTimer(now);
    now = session_->NextTimeout(now);
  }
  EXPECT_EQ(now, due);
  EXPECT_EQ(ReceivedRtcp().rrs, 0);
  session_->OnTimer(due);
  const Collect report = ReceivedRtcp();
  EXPECT_EQ(report.rrs, 1);
  EXPECT_EQ(report.sdes, 1);
  ASSERT_EQ(report.blocks.size(), 2u);
  EXPECT_EQ(report.blocks[0].ssrc, kBrowserVideo);
  EXPECT_EQ(report.blocks[0].fraction_lost, 256 / 4);
  EXPECT_EQ(report.blocks[0].cumulative_lost, 1);
  EXPECT_EQ(report.blocks[0].extended_highest_sequence, 3u);
  EXPECT_EQ(report.blocks[1].ssrc, kBrowserAudio);
  EXPECT_EQ(report.blocks[1].fraction_lost, 0);
  EXPECT_EQ(session_->counters().receiver_reports_sent, 1u);
  EXPECT_EQ(session_->NextTimeout(due), due + options_.report_interval);
}

TEST_F(PublisherSessionTest, GapsAreNackedUntilRepairedOrGivenUp) {
  using Nack = std::pair<uint32_t, std::vector<uint16_t>>;
  Connect(kTestStart);
  for (uint16_t seq : {10, 11, 14}) {
    Send(Rtp(kBrowserVideo, video_pt_, seq, seq * 3000u, {0x41}), kTestStart);
  }
  // Chrome offers no NACK for Opus: its gap is only reported.
  Send(Rtp(kBrowserAudio, audio_pt_, 50, 0, {0xFC}), kTestStart);
  Send(Rtp(kBrowserAudio, audio_pt_, 52, 1920, {0xFC}), kTestStart);
  EXPECT_TRUE(TakeSent().empty());

  const absl::Time due = session_->NextTimeout(kTestStart);
  EXPECT_EQ(due, kTestStart + options_.nack_interval);
  session_->OnTimer(due);
  Collect first = ReceivedRtcp();
  EXPECT_EQ(first.nacks, (std::vector<Nack>{{kBrowserVideo, {12, 13}}}));
  EXPECT_EQ(first.rrs, 0);  // reduced-size RTCP agreed: a lone NACK
  EXPECT_EQ(session_->counters().nacks_sent, 1u);

  // The browser resends 12: it goes up late, and is asked for no more.
  Send(Rtp(kBrowserVideo, video_pt_, 12, 36000, {0x41}), due);
  EXPECT_EQ(session_->counters().repaired, 1u);
  EXPECT_EQ(rtp_.size(), 6u);
  // 13 is asked for again after doubling waits, until its fifth request;
  // nothing else goes out before the first receiver report.
  std::vector<absl::Time> retries;
  absl::Time now = due;
  for (int i = 0; i < 1000; ++i) {
    now = session_->NextTimeout(now);
    if (now >= kTestStart + options_.report_interval) break;
    session_->OnTimer(now);
    const Collect got = ReceivedRtcp();
    EXPECT_EQ(got.rrs, 0);
    for (const Nack& nack : got.nacks) {
      EXPECT_EQ(nack, (Nack{kBrowserVideo, {13}}));
      retries.push_back(now);
    }
  }
  EXPECT_EQ(retries,
            (std::vector<absl::Time>{
                due + absl::Milliseconds(60), due + absl::Milliseconds(180),
                due + absl::Milliseconds(420), due + absl::Milliseconds(900)}));
  EXPECT_EQ(session_->counters().nacks_sent, 5u);
  EXPECT_EQ(session_->counters().nacked_packets, 6u);
  EXPECT_EQ(now, kTestStart + options_.report_interval);

  // A new browser SSRC: its own gaps, in its own numbers.
  const absl::Time restart = kTestStart + absl::Seconds(2);
  Send(Rtp(0x0BADCAFE, video_pt_, 1000, 0, {0x65}), restart);
  Send(Rtp(0x0BADCAFE, video_pt_, 1002, 6000, {0x41}), restart);
  session_->OnTimer(restart + options_.nack_interval);
  EXPECT_EQ(ReceivedRtcp().nacks, (std::vector<Nack>{{0x0BADCAFE, {1001}}}));
}

TEST_F(PublisherSessionTest, NothingGoesToAnAddressThatPassedNoCheck) {
  // The browser's DTLS hello from an address that passed no check.
  ASSERT_TRUE(
      browser_->StartDtls(relay_certificate_->fingerprint(), kTestStart).ok());
  ASSERT_FALSE(browser_->dtls_out().empty());
  session_->OnDatagram(browser_->dtls_out().front(), kStranger, kTestStart);
  EXPECT_EQ(Dropped(TransportDrop::kDtlsUnchecked), 1u);
  // A check signed with the wrong password: at most an error no larger.
  const std::vector<uint8_t> bad = browser_->BindingRequest(
      answer_options_.ice_ufrag, "wrongwrongwrongwrongwrong");
  session_->OnDatagram(bad, kStranger, kTestStart);
  for (const RecordingSink::Datagram& d : TakeSent()) {
    EXPECT_EQ(ice::Classify(d.bytes), ice::DatagramKind::kStun);
    EXPECT_LE(d.bytes.size(), bad.size());
  }
  EXPECT_FALSE(session_->IsValidated(kStranger));
  EXPECT_EQ(session_->state(), SessionState::kNew);
}

TEST_F(PublisherSessionTest, ConsentExpiryEndsTheSession) {
  Connect(kTestStart);
  Send(Rtp(kBrowserVideo, video_pt_, 1, 1, {0x65}), kTestStart);
  // No check after the first: the timer runs reports until consent ends.
  absl::Time now = kTestStart;
  for (int i = 0; i < 100 && !session_->ended(); ++i) {
    now = session_->NextTimeout(now);
    session_->OnTimer(now);
  }
  ASSERT_TRUE(session_->ended());
  EXPECT_EQ(session_->close_reason(), CloseReason::kConsentExpired);
  EXPECT_EQ(now, kTestStart + absl::Seconds(30));
  EXPECT_EQ(states_.back(), SessionState::kClosed);
  TakeSent();
  EXPECT_FALSE(session_->RequestKeyframe(now));
  Send(Rtp(kBrowserVideo, video_pt_, 2, 2, {0x41}), now);
  EXPECT_EQ(rtp_.size(), 1u);
  EXPECT_TRUE(TakeSent().empty());
  EXPECT_EQ(session_->NextTimeout(now), absl::InfiniteFuture());
}

TEST_F(PublisherSessionTest, ASessionNotConnectedInTimeFails) {
  // The browser got its answer and never checked.
  const absl::Time deadline = kTestStart + absl::Seconds(30);
  EXPECT_EQ(session_->NextTimeout(kTestStart), deadline);
  session_->OnTimer(deadline - absl::Milliseconds(1));
  EXPECT_EQ(session_->state(), SessionState::kNew);
  session_->OnTimer(deadline);
  EXPECT_EQ(session_->state(), SessionState::kFailed);
  EXPECT_EQ(session_->close_reason(), CloseReason::kSetupTimeout);
}

}  // namespace
}  // namespace cascade::edge
