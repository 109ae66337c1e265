// WhepHandler's WHIP resource: publishers, one per stream.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "control/edge_token.h"
#include "control/signature.h"
#include "gtest/gtest.h"
#include "media/rtp/rtp.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/publisher_session.h"
#include "webrtc/edge/test_browser.h"
#include "webrtc/edge/whep_handler.h"
#include "webrtc/ice/demux.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::edge {
namespace {

const ice::TransportAddress kBrowserAddress =
    ice::TransportAddress::V4(0xC0A80002, 50000);
const ice::TransportAddress kSecondAddress =
    ice::TransportAddress::V4(0xC0A80003, 50001);
const ice::TransportAddress kStranger =
    ice::TransportAddress::V4(0x0A000007, 40000);
constexpr char kRelay[] = "p1-d01";
constexpr char kStream[] = "program";
constexpr char kWatchOnly[] = "lecture";
constexpr uint32_t kBrowserVideo = 1234567890;  // chrome_whip_sendonly.sdp

std::string Header(const HttpResponse& r, absl::string_view name) {
  const std::string* value = FindHeader(r.headers, name);
  return value == nullptr ? "<none>" : *value;
}

// One publishing browser and what the test knows of its session.
struct Publisher {
  std::unique_ptr<TestBrowser> browser;
  ice::IceCredentials relay;  // the answer's
  std::string location;
};

class WhipHandlerTest : public ::testing::Test,
                        public ViewerSession::Listener,
                        public PublisherListener {
 protected:
  void SetUp() override {
    auto key = control::NewEcdsaKey();
    ASSERT_TRUE(key.ok());
    key_ = *std::move(key);
    auto der = control::PublicKeyDer(key_.get());
    ASSERT_TRUE(der.ok());
    auto verifier = control::EdgeTokenVerifier::FromPublicKeys({*der});
    ASSERT_TRUE(verifier.ok());
    verifier_ = std::make_unique<control::EdgeTokenVerifier>(*verifier);
    auto certificate = dtls::Certificate::Generate({kTestStart});
    ASSERT_TRUE(certificate.ok());
    certificate_ = *std::move(certificate);

    StreamCatalogue catalogue;
    catalogue.streams.push_back({kStream});
    catalogue.streams.back().publishable = true;
    catalogue.streams.back().publish_video = {4369, 96};
    catalogue.streams.back().publish_audio = {8738, 111};
    catalogue.streams.push_back({kWatchOnly});
    WhepHandler::Options options;
    options.relay_id = kRelay;
    options.candidates = {"192.0.2.1:4443"};
    handler_ =
        std::make_unique<WhepHandler>(options, catalogue, verifier_.get(),
                                      certificate_.get(), &sink_, this, this);
  }

  std::string Token(control::EdgeAction action = control::EdgeAction::kPublish,
                    std::string stream = kStream) {
    control::EdgeToken token;
    token.relay = kRelay;
    token.stream = std::move(stream);
    token.action = action;
    token.issued = kTestStart - absl::Minutes(1);
    token.expires = kTestStart + absl::Hours(1);
    token.holder = "p1-d01-s003";
    auto text = control::MintEdgeToken(key_.get(), token);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  HttpResponse Handle(const HttpRequest& request, absl::Time now = kTestStart) {
    HttpResponse response = handler_->Handle(request, now);
    EXPECT_EQ(Header(response, "Access-Control-Allow-Origin"), "*");
    if (response.status >= 400) {
      EXPECT_LE(response.body.size(), kMaxErrorBody);
      EXPECT_EQ(response.body.find('\n'), response.body.size() - 1);
    }
    return response;
  }

  HttpResponse Post(const std::string& token, const std::string& offer,
                    absl::Time now = kTestStart,
                    std::string path = absl::StrCat(kWhipPrefix, kStream)) {
    HttpRequest request{"POST", std::move(path), {}, offer};
    request.headers.push_back({"Content-Type", "application/sdp"});
    request.headers.push_back({"Authorization", "Bearer " + token});
    return Handle(request, now);
  }

  // A browser at `address` POSTs its offer; its session's credentials.
  Publisher Open(const ice::TransportAddress& address,
                 absl::Time now = kTestStart) {
    Publisher p;
    auto browser = TestBrowser::CreatePublisher(address);
    EXPECT_TRUE(browser.ok()) << browser.status();
    if (!browser.ok()) return p;
    p.browser = *std::move(browser);
    const HttpResponse response = Post(Token(), p.browser->offer(), now);
    EXPECT_EQ(response.status, 201) << response.body;
    p.location = Header(response, "Location");
    auto answer = sdp::ParseSdp(response.body);
    EXPECT_TRUE(answer.ok()) << answer.status();
    if (answer.ok() && !answer->media.empty()) {
      p.relay = {answer->media[0].ice_ufrag, answer->media[0].ice_pwd};
    }
    return p;
  }

  // Checks and DTLS through the handler until connected (bounded rounds).
  void Connect(Publisher& p, absl::Time now = kTestStart) {
    const ice::TransportAddress& from = p.browser->address();
    handler_->OnDatagram(p.browser->BindingRequest(p.relay.ufrag, p.relay.pwd),
                         from, now);
    ASSERT_TRUE(p.browser->StartDtls(certificate_->fingerprint(), now).ok());
    for (int round = 0; round < 20 && !p.browser->dtls_connected(); ++round) {
      while (!p.browser->dtls_out().empty()) {
        std::vector<uint8_t> d = std::move(p.browser->dtls_out().front());
        p.browser->dtls_out().pop_front();
        handler_->OnDatagram(d, from, now);
      }
      p.browser->FeedDtls(sink_.sent, now);
      sink_.sent.clear();
    }
    ASSERT_TRUE(p.browser->dtls_connected());
    const PublisherSession* session = handler_->PublisherOf(kStream);
    ASSERT_NE(session, nullptr);
    ASSERT_EQ(session->state(), SessionState::kConnected);
  }

  // One H.264 packet from the browser's video SSRC.
  void SendVideo(Publisher& p, uint16_t seq, absl::Time now) {
    std::vector<uint8_t> plain(64);
    rtp::RtpHeader header;
    header.payload_type = video_pt_;
    header.sequence_number = seq;
    header.timestamp = seq * 3000u;
    header.ssrc = kBrowserVideo;
    const uint8_t payload[] = {0x65, 0x88, 0x80};
    plain.resize(rtp::WriteRtpPacket(header, payload, absl::MakeSpan(plain)));
    handler_->OnDatagram(p.browser->Protect(plain), p.browser->address(), now);
  }

  // ViewerSession::Listener
  void OnStateChange(ViewerSession&, SessionState) override {}
  void OnNack(ViewerSession&, uint32_t, absl::Span<const uint16_t>) override {}
  void OnKeyframeRequest(ViewerSession&) override {}
  // PublisherListener
  void OnPublishedRtp(absl::string_view stream, Track track,
                      absl::Span<const uint8_t> packet) override {
    EXPECT_EQ(stream, kStream);
    EXPECT_EQ(track, Track::kVideo);
    rtp::RtpView view;
    ASSERT_EQ(rtp::ParseRtp(packet, &view), rtp::RtpError::kOk);
    published_ssrcs_.push_back(view.ssrc);
  }
  void OnPublishedSenderReport(absl::string_view, Track,
                               absl::Span<const uint8_t>) override {}
  void OnPublisherState(absl::string_view stream,
                        const PublisherSession& session,
                        SessionState state) override {
    EXPECT_EQ(stream, kStream);
    states_.push_back({session.id(), state});
  }

  uint64_t Refusals(WhepRefusal refusal) const {
    return handler_->counters().whip_refusals[static_cast<size_t>(refusal)];
  }
  // The states reported for the session at `location`.
  std::vector<SessionState> StatesOf(const std::string& location) const {
    std::vector<SessionState> out;
    for (const auto& [id, state] : states_) {
      if (absl::EndsWith(location, "/" + id)) out.push_back(state);
    }
    return out;
  }

  control::KeyPtr key_;
  std::unique_ptr<control::EdgeTokenVerifier> verifier_;
  std::unique_ptr<dtls::Certificate> certificate_;
  RecordingSink sink_;
  std::unique_ptr<WhepHandler> handler_;
  // The H.264 payload type Chrome's offer gets for the relay's 42e01f.
  uint8_t video_pt_ = 106;
  std::vector<uint32_t> published_ssrcs_;
  std::vector<std::pair<std::string, SessionState>> states_;
};

TEST_F(WhipHandlerTest, PostAnswersASendonlyOfferWithRecvonly) {
  Publisher p = Open(kBrowserAddress);
  EXPECT_TRUE(
      absl::StartsWith(p.location, absl::StrCat("/whip/", kStream, "/")))
      << p.location;
  EXPECT_EQ(handler_->publisher_count(), 1u);
  EXPECT_EQ(handler_->session_count(), 0u);  // viewers
  EXPECT_EQ(handler_->counters().publishers_created, 1u);
  const PublisherSession* session = handler_->PublisherOf(kStream);
  ASSERT_NE(session, nullptr);
  EXPECT_TRUE(absl::EndsWith(p.location, session->id()));
}

TEST_F(WhipHandlerTest, TokensMustBePublishTokensOfThisStream) {
  auto browser = TestBrowser::CreatePublisher(kBrowserAddress);
  ASSERT_TRUE(browser.ok());
  const std::string offer = (*browser)->offer();
  EXPECT_EQ(Post(Token(control::EdgeAction::kWatch), offer).status, 403);
  EXPECT_EQ(Post("ce1.forged", offer).status, 401);
  EXPECT_EQ(Refusals(WhepRefusal::kForbidden), 1u);
  EXPECT_EQ(Refusals(WhepRefusal::kUnauthorized), 1u);
  // A publish token is no watch token either.
  EXPECT_EQ(Post(Token(), offer, kTestStart, absl::StrCat(kWhepPrefix, kStream))
                .status,
            403);
  EXPECT_EQ(handler_->counters()
                .refusals[static_cast<size_t>(WhepRefusal::kForbidden)],
            1u);
  // A stream the catalogue does not let anyone publish.
  EXPECT_EQ(Post(Token(control::EdgeAction::kPublish, kWatchOnly), offer,
                 kTestStart, absl::StrCat(kWhipPrefix, kWatchOnly))
                .status,
            404);
  EXPECT_EQ(handler_->publisher_count(), 0u);
}

TEST_F(WhipHandlerTest, AWhepOfferIsNoWhipOffer) {
  auto viewer = TestBrowser::Create(kBrowserAddress);
  ASSERT_TRUE(viewer.ok());
  const HttpResponse response = Post(Token(), (*viewer)->offer());
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_EQ(handler_->publisher_count(), 0u);
}

TEST_F(WhipHandlerTest, MediaGoesUpByStreamAndItsAddressIsChecked) {
  Publisher p = Open(kBrowserAddress);
  Connect(p);
  EXPECT_TRUE(handler_->IsCheckedAddress(kBrowserAddress));
  EXPECT_FALSE(handler_->IsCheckedAddress(kStranger));
  EXPECT_EQ(handler_->FindByAddress(kBrowserAddress), nullptr);  // no viewer
  EXPECT_EQ(StatesOf(p.location).back(), SessionState::kConnected);
  SendVideo(p, 1, kTestStart);
  SendVideo(p, 2, kTestStart);
  EXPECT_EQ(published_ssrcs_, (std::vector<uint32_t>{4369, 4369}));
}

TEST_F(WhipHandlerTest, ASecondPublisherOfALiveStreamGetsConflict) {
  Publisher first = Open(kBrowserAddress);
  Connect(first);
  SendVideo(first, 1, kTestStart);
  auto second = TestBrowser::CreatePublisher(kSecondAddress);
  ASSERT_TRUE(second.ok());
  const HttpResponse response =
      Post(Token(), (*second)->offer(), kTestStart + absl::Seconds(1));
  EXPECT_EQ(response.status, 409);
  EXPECT_EQ(response.body, "the stream has a live publisher\n");
  EXPECT_EQ(Refusals(WhepRefusal::kConflict), 1u);
  EXPECT_EQ(handler_->PublisherOf(kStream)->state(), SessionState::kConnected);
}

TEST_F(WhipHandlerTest, ASilentOrUnconnectedPublisherIsReplaced) {
  // Never connected: the next POST replaces it at once.
  Publisher stale = Open(kBrowserAddress);
  Publisher first = Open(kSecondAddress);
  EXPECT_EQ(StatesOf(stale.location).back(), SessionState::kClosed);
  EXPECT_EQ(handler_->counters().publishers_replaced, 1u);
  Connect(first);
  SendVideo(first, 1, kTestStart);

  // Its media stops (the encoder hung, the laptop slept): after
  // publisher_silence a new POST takes the stream.
  const absl::Time later = kTestStart + absl::Seconds(5);
  Publisher second = Open(kBrowserAddress, later);
  EXPECT_EQ(StatesOf(first.location).back(), SessionState::kClosed);
  EXPECT_EQ(handler_->counters().publishers_replaced, 2u);
  EXPECT_EQ(handler_->counters()
                .publishers_ended[static_cast<size_t>(CloseReason::kDeleted)],
            2u);
  EXPECT_EQ(handler_->publisher_count(), 1u);
  EXPECT_TRUE(
      absl::EndsWith(second.location, handler_->PublisherOf(kStream)->id()));
  // The old session's address routes nowhere now.
  EXPECT_FALSE(handler_->IsCheckedAddress(kSecondAddress));
}

TEST_F(WhipHandlerTest, DeleteEndsThePublisher) {
  Publisher p = Open(kBrowserAddress);
  Connect(p);
  EXPECT_EQ(
      Handle({"DELETE", absl::StrCat(kWhipPrefix, kStream, "/nope"), {}, ""})
          .status,
      404);
  EXPECT_EQ(Handle({"DELETE", p.location, {}, ""}).status, 200);
  EXPECT_EQ(handler_->publisher_count(), 0u);
  EXPECT_FALSE(handler_->IsCheckedAddress(kBrowserAddress));
  EXPECT_EQ(StatesOf(p.location).back(), SessionState::kClosed);
  // Its close_notify went to the browser, and nothing else follows.
  sink_.sent.clear();
  SendVideo(p, 1, kTestStart);
  EXPECT_TRUE(sink_.sent.empty());
  EXPECT_TRUE(published_ssrcs_.empty());
}

TEST_F(WhipHandlerTest, OptionsAnswersWithCors) {
  const HttpResponse response =
      Handle({"OPTIONS", absl::StrCat(kWhipPrefix, kStream), {}, ""});
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(Header(response, "Accept-Post"), "application/sdp");
  EXPECT_EQ(Header(response, "Access-Control-Allow-Methods"),
            "POST, DELETE, OPTIONS");
  EXPECT_EQ(Handle({"PATCH", absl::StrCat(kWhipPrefix, kStream, "/x"), {}, ""})
                .status,
            405);
}

TEST_F(WhipHandlerTest, KeyframeRequestsReachThePublisherPaced) {
  EXPECT_FALSE(handler_->RequestKeyframe(kStream, kTestStart));
  Publisher p = Open(kBrowserAddress);
  Connect(p);
  sink_.sent.clear();
  EXPECT_TRUE(handler_->RequestKeyframe(kStream, kTestStart));
  EXPECT_FALSE(
      handler_->RequestKeyframe(kStream, kTestStart + absl::Milliseconds(200)));
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(sink_.sent[0].to, kBrowserAddress);
  EXPECT_EQ(ice::Classify(sink_.sent[0].bytes), ice::DatagramKind::kRtp);
  EXPECT_TRUE(
      handler_->RequestKeyframe(kStream, kTestStart + absl::Milliseconds(500)));
}

TEST_F(WhipHandlerTest, ConsentExpiryRemovesThePublisher) {
  Publisher p = Open(kBrowserAddress);
  Connect(p);
  absl::Time now = kTestStart;
  for (int i = 0; i < 100 && handler_->publisher_count() > 0; ++i) {
    now = handler_->NextTimeout(now);
    handler_->OnTimer(now);
  }
  EXPECT_EQ(handler_->publisher_count(), 0u);
  EXPECT_EQ(now, kTestStart + absl::Seconds(30));
  EXPECT_EQ(
      handler_->counters()
          .publishers_ended[static_cast<size_t>(CloseReason::kConsentExpired)],
      1u);
  EXPECT_EQ(StatesOf(p.location).back(), SessionState::kClosed);
  EXPECT_FALSE(handler_->IsCheckedAddress(kBrowserAddress));
  EXPECT_EQ(handler_->NextTimeout(now), absl::InfiniteFuture());
}

TEST_F(WhipHandlerTest, WithoutAPublisherListenerWhipIsNotServed) {
  WhepHandler::Options options;
  options.relay_id = kRelay;
  options.candidates = {"192.0.2.1:4443"};
  StreamCatalogue catalogue;
  catalogue.streams.push_back({kStream});
  catalogue.streams.back().publishable = true;
  catalogue.streams.back().publish_video = {4369, 96};
  handler_ = std::make_unique<WhepHandler>(options, catalogue, verifier_.get(),
                                           certificate_.get(), &sink_, this);
  auto browser = TestBrowser::CreatePublisher(kBrowserAddress);
  ASSERT_TRUE(browser.ok());
  EXPECT_EQ(Post(Token(), (*browser)->offer()).status, 404);
  EXPECT_EQ(handler_->publisher_count(), 0u);
}

}  // namespace
}  // namespace cascade::edge
