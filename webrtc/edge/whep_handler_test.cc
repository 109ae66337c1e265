#include "webrtc/edge/whep_handler.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "control/edge_token.h"
#include "control/signature.h"
#include "gtest/gtest.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/test_browser.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::edge {
namespace {

const ice::TransportAddress kBrowserAddress =
    ice::TransportAddress::V4(0xC0A80002, 50000);
const ice::TransportAddress kStranger =
    ice::TransportAddress::V4(0x0A000007, 40000);
constexpr char kRelay[] = "p1-d01";
constexpr char kStream[] = "program";

size_t SizeOf(const std::vector<HttpHeader>& headers) {
  size_t size = 0;
  for (const HttpHeader& h : headers)
    size += h.name.size() + h.value.size() + 4;
  return size;
}
size_t SizeOf(const HttpRequest& r) {
  return r.method.size() + r.path.size() + SizeOf(r.headers) + r.body.size();
}
size_t SizeOf(const HttpResponse& r) {
  return 3 + SizeOf(r.headers) + r.body.size();
}
std::string Header(const HttpResponse& r, absl::string_view name) {
  const std::string* value = FindHeader(r.headers, name);
  return value == nullptr ? "<none>" : *value;
}

class WhepHandlerTest : public ::testing::Test, public ViewerSession::Listener {
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
    auto browser = TestBrowser::Create(kBrowserAddress);
    ASSERT_TRUE(browser.ok()) << browser.status();
    browser_ = *std::move(browser);
    MakeHandler(WhepHandler::Options());
  }

  void MakeHandler(WhepHandler::Options options) {
    options.relay_id = kRelay;
    options.candidates = {"192.0.2.1:4443"};
    handler_ = std::make_unique<WhepHandler>(
        options, StreamCatalogue{{{kStream, "42e01f", true}}}, verifier_.get(),
        certificate_.get(), &sink_, this);
  }

  std::string Token(std::string relay = kRelay, std::string stream = kStream,
                    control::EdgeAction action = control::EdgeAction::kWatch,
                    absl::Time expires = kTestStart + absl::Hours(1)) {
    control::EdgeToken token;
    token.relay = std::move(relay);
    token.stream = std::move(stream);
    token.action = action;
    token.issued =
        std::min(kTestStart - absl::Minutes(1), expires - absl::Hours(1));
    token.expires = expires;
    token.holder = "p1-d01-s003";
    auto text = control::MintEdgeToken(key_.get(), token);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  HttpRequest Post(const std::string& token, std::string body,
                   std::string path = absl::StrCat("/whep/", kStream)) {
    HttpRequest request{"POST", std::move(path), {}, std::move(body)};
    request.headers.push_back({"Content-Type", "application/sdp"});
    if (!token.empty()) {
      request.headers.push_back({"Authorization", "Bearer " + token});
    }
    return request;
  }

  HttpResponse Handle(const HttpRequest& request, absl::Time now = kTestStart) {
    HttpResponse response = handler_->Handle(request, now);
    EXPECT_EQ(Header(response, "Access-Control-Allow-Origin"), "*");
    if (response.status >= 400) {
      EXPECT_LE(response.body.size(), kMaxErrorBody);
      EXPECT_TRUE(absl::EndsWith(response.body, "\n"));
      EXPECT_EQ(response.body.find('\n'), response.body.size() - 1);
    }
    return response;
  }

  // POSTs the browser's offer; the answer's ICE credentials.
  ice::IceCredentials Open(std::string* location = nullptr) {
    const HttpResponse response = Handle(Post(Token(), browser_->offer()));
    EXPECT_EQ(response.status, 201) << response.body;
    if (location != nullptr) *location = Header(response, "Location");
    auto answer = sdp::ParseSdp(response.body);
    EXPECT_TRUE(answer.ok()) << answer.status();
    if (!answer.ok() || answer->media.empty()) return {};
    return {answer->media[0].ice_ufrag, answer->media[0].ice_pwd};
  }

  void OnStateChange(ViewerSession&, SessionState state) override {
    states_.push_back(state);
  }
  void OnNack(ViewerSession&, uint32_t, absl::Span<const uint16_t>) override {}
  void OnKeyframeRequest(ViewerSession&) override {}

  uint64_t Refusals(WhepRefusal refusal) const {
    return handler_->counters().refusals[static_cast<size_t>(refusal)];
  }
  uint64_t Drops(EdgeDrop drop) const {
    return handler_->counters().drops[static_cast<size_t>(drop)];
  }

  control::KeyPtr key_;
  std::unique_ptr<control::EdgeTokenVerifier> verifier_;
  std::unique_ptr<dtls::Certificate> certificate_;
  std::unique_ptr<TestBrowser> browser_;
  RecordingSink sink_;
  std::unique_ptr<WhepHandler> handler_;
  std::vector<SessionState> states_;
};

TEST_F(WhepHandlerTest, PostAnswersWithLocationAndSdp) {
  const HttpResponse response = Handle(Post(Token(), browser_->offer()));
  ASSERT_EQ(response.status, 201) << response.body;
  EXPECT_EQ(Header(response, "Content-Type"), "application/sdp");
  const std::string location = Header(response, "Location");
  ASSERT_TRUE(absl::StartsWith(location, "/whep/program/")) << location;
  const std::string id = location.substr(strlen("/whep/program/"));
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto answer = sdp::ParseSdp(response.body);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(answer->ice_lite);
  ASSERT_EQ(handler_->session_count(), 1u);
  ViewerSession* session = handler_->FindById(id);
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(handler_->FindByUfrag(answer->media[0].ice_ufrag), session);
  EXPECT_EQ(handler_->StreamOf(id), kStream);
  ASSERT_EQ(handler_->SessionsOf(kStream).size(), 1u);
  EXPECT_EQ(handler_->SessionsOf(kStream)[0], session);
  EXPECT_EQ(handler_->counters().sessions_created, 1u);

  // Each session has its own id and credentials.
  const HttpResponse second = Handle(Post(Token(), browser_->offer()));
  ASSERT_EQ(second.status, 201);
  EXPECT_NE(Header(second, "Location"), location);
  EXPECT_EQ(handler_->SessionsOf(kStream).size(), 2u);
}

TEST_F(WhepHandlerTest, DatagramsAreRoutedByUfragThenByAddress) {
  const ice::IceCredentials relay = Open();
  ViewerSession* session = handler_->FindByUfrag(relay.ufrag);
  ASSERT_NE(session, nullptr);

  // A check naming no session gets nothing, nor does DTLS from nowhere;
  // neither moves a deadline.
  EXPECT_EQ(
      handler_->OnDatagram(browser_->BindingRequest("nosuchufrag", relay.pwd),
                           kBrowserAddress, kTestStart),
      absl::InfiniteFuture());
  EXPECT_EQ(Drops(EdgeDrop::kUnknownUfrag), 1u);
  ASSERT_TRUE(
      browser_->StartDtls(certificate_->fingerprint(), kTestStart).ok());
  handler_->OnDatagram(browser_->dtls_out().front(), kBrowserAddress,
                       kTestStart);
  EXPECT_EQ(Drops(EdgeDrop::kUnknownAddress), 1u);
  EXPECT_TRUE(sink_.sent.empty());

  // A datagram that reaches a session says when that session is due: the
  // owner's timer need not look at every session after each datagram.
  EXPECT_EQ(
      handler_->OnDatagram(browser_->BindingRequest(relay.ufrag, relay.pwd),
                           kBrowserAddress, kTestStart),
      session->NextTimeout(kTestStart));
  EXPECT_EQ(handler_->NextTimeout(kTestStart),
            session->NextTimeout(kTestStart));
  ASSERT_EQ(sink_.sent.size(), 1u);
  EXPECT_EQ(handler_->FindByAddress(kBrowserAddress), session);
  EXPECT_EQ(handler_->FindByAddress(kStranger), nullptr);
  for (int round = 0; round < 20 && !browser_->dtls_connected(); ++round) {
    while (!browser_->dtls_out().empty()) {
      handler_->OnDatagram(browser_->dtls_out().front(), kBrowserAddress,
                           kTestStart);
      browser_->dtls_out().pop_front();
    }
    std::vector<RecordingSink::Datagram> sent = std::move(sink_.sent);
    sink_.sent.clear();
    browser_->FeedDtls(sent, kTestStart);
  }
  EXPECT_TRUE(browser_->dtls_connected());
  EXPECT_EQ(session->state(), SessionState::kConnected);

  // Consent lapses 30 s after that check: the timer removes the session.
  EXPECT_LE(handler_->NextTimeout(kTestStart), kTestStart + absl::Seconds(30));
  handler_->OnTimer(kTestStart + absl::Seconds(29));
  EXPECT_EQ(handler_->session_count(), 1u);
  handler_->OnTimer(kTestStart + absl::Seconds(30));
  EXPECT_EQ(handler_->session_count(), 0u);
  EXPECT_EQ(handler_->FindByUfrag(relay.ufrag), nullptr);
  EXPECT_EQ(handler_->FindByAddress(kBrowserAddress), nullptr);
  EXPECT_TRUE(handler_->SessionsOf(kStream).empty());
  EXPECT_EQ(
      handler_->counters()
          .sessions_ended[static_cast<size_t>(CloseReason::kConsentExpired)],
      1u);
  EXPECT_EQ(handler_->NextTimeout(kTestStart), absl::InfiniteFuture());
}

TEST_F(WhepHandlerTest, UncheckedSessionIsRemovedAtTheSetupDeadline) {
  Open();
  handler_->OnTimer(kTestStart + absl::Seconds(29));
  EXPECT_EQ(handler_->session_count(), 1u);
  handler_->OnTimer(kTestStart + absl::Seconds(30));
  EXPECT_EQ(handler_->session_count(), 0u);
  EXPECT_EQ(states_.back(), SessionState::kFailed);
}

TEST_F(WhepHandlerTest, DeleteClosesAndRemovesTheSession) {
  std::string location;
  const ice::IceCredentials relay = Open(&location);
  EXPECT_EQ(Handle({"DELETE", location, {}, ""}).status, 200);
  EXPECT_EQ(handler_->session_count(), 0u);
  EXPECT_EQ(handler_->FindByUfrag(relay.ufrag), nullptr);
  EXPECT_EQ(states_.back(), SessionState::kClosed);
  EXPECT_EQ(Handle({"DELETE", location, {}, ""}).status, 404);
  EXPECT_EQ(Refusals(WhepRefusal::kUnknownSession), 1u);
  // The id under another stream's URL is not that session.
  Open(&location);
  const std::string elsewhere =
      absl::StrReplaceAll(location, {{"/program/", "/other/"}});
  EXPECT_EQ(Handle({"DELETE", elsewhere, {}, ""}).status, 404);
  EXPECT_EQ(handler_->session_count(), 1u);
}

TEST_F(WhepHandlerTest, CloseAllEndsAndRemovesEverySession) {
  const ice::IceCredentials first = Open();
  Open();
  ASSERT_EQ(handler_->session_count(), 2u);
  handler_->CloseAll();
  EXPECT_EQ(handler_->session_count(), 0u);
  EXPECT_EQ(handler_->FindByUfrag(first.ufrag), nullptr);
  EXPECT_TRUE(handler_->SessionsOf(kStream).empty());
  EXPECT_EQ(handler_->counters()
                .sessions_ended[static_cast<size_t>(CloseReason::kDeleted)],
            2u);
  EXPECT_EQ(handler_->NextTimeout(kTestStart), absl::InfiniteFuture());
}

TEST_F(WhepHandlerTest, OptionsAnswersCors) {
  const HttpResponse response = Handle({"OPTIONS", "/whep/program", {}, ""});
  EXPECT_EQ(response.status, 204);
  EXPECT_EQ(Header(response, "Access-Control-Allow-Methods"),
            "POST, DELETE, OPTIONS");
  EXPECT_EQ(Header(response, "Access-Control-Allow-Headers"),
            "Authorization, Content-Type");
  EXPECT_EQ(Header(response, "Access-Control-Expose-Headers"), "Location");
  EXPECT_TRUE(response.body.empty());
}

TEST_F(WhepHandlerTest, TokensAreChecked) {
  const std::string offer = browser_->offer();
  for (const std::string& token :
       {std::string(), std::string("ce1.AAAA"),
        Token(kRelay, kStream, control::EdgeAction::kWatch,
              kTestStart - absl::Minutes(10))}) {
    const HttpResponse response = Handle(Post(token, offer));
    EXPECT_EQ(response.status, 401) << token;
    EXPECT_EQ(Header(response, "WWW-Authenticate"), "Bearer");
  }
  HttpRequest basic = Post("", offer);
  basic.headers.push_back({"authorization", "Basic dXNlcjpwYXNz"});
  EXPECT_EQ(Handle(basic).status, 401);
  EXPECT_EQ(Refusals(WhepRefusal::kUnauthorized), 4u);

  for (const std::string& token :
       {Token("p1-d02"), Token(kRelay, "other"),
        Token(kRelay, kStream, control::EdgeAction::kPublish)}) {
    const HttpResponse response = Handle(Post(token, offer));
    EXPECT_EQ(response.status, 403) << response.body;
    EXPECT_EQ(Header(response, "WWW-Authenticate"), "<none>");
  }
  EXPECT_EQ(handler_->session_count(), 0u);
}

TEST_F(WhepHandlerTest, TenThousandForgedTokensCreateNothing) {
  const std::string genuine = Token();
  const std::string offer = browser_->offer();
  std::string forged = genuine;
  for (int i = 0; i < 10000; ++i) {
    // Flip one character of the genuine token (never the prefix), or cut it.
    forged = genuine;
    const size_t at = 4 + static_cast<size_t>(i * 7919) % (genuine.size() - 4);
    if (i % 10 == 9) {
      forged.resize(at);
    } else {
      forged[at] = forged[at] == 'A' ? 'B' : 'A';
    }
    if (forged == genuine) continue;
    const HttpRequest request = Post(forged, offer);
    const HttpResponse response = handler_->Handle(request, kTestStart);
    ASSERT_EQ(response.status, 401) << i;
    ASSERT_LE(SizeOf(response), SizeOf(request)) << i;
  }
  EXPECT_EQ(handler_->session_count(), 0u);
  EXPECT_EQ(handler_->counters().sessions_created, 0u);
  EXPECT_GE(Refusals(WhepRefusal::kUnauthorized), 9990u);
}

TEST_F(WhepHandlerTest, OfferProblemsAreRefused) {
  // Unknown stream with a genuine token for it.
  EXPECT_EQ(Handle(Post(Token(kRelay, "nostream"), browser_->offer(),
                        "/whep/nostream"))
                .status,
            404);
  EXPECT_EQ(Refusals(WhepRefusal::kUnknownStream), 1u);

  HttpRequest text = Post(Token(), browser_->offer());
  text.headers[0].value = "text/plain";
  EXPECT_EQ(Handle(text).status, 415);

  // No codec the relay can send.
  const std::string no_codecs = absl::StrReplaceAll(
      browser_->offer(), {{"H264/90000", "H265/90000"}, {"opus/", "opal/"}});
  EXPECT_EQ(Handle(Post(Token(), no_codecs)).status, 415);
  EXPECT_EQ(Refusals(WhepRefusal::kUnsupportedMedia), 2u);

  const HttpResponse malformed =
      Handle(Post(Token(), "v=0\r\no=garbage\r\n" + std::string(500, 'x')));
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Refusals(WhepRefusal::kMalformedSdp), 1u);

  EXPECT_EQ(
      Handle(Post(Token(), std::string(sdp::kMaxSdpBytes + 1, 'v'))).status,
      413);
  EXPECT_EQ(handler_->session_count(), 0u);
}

TEST_F(WhepHandlerTest, OtherMethodsAndPathsAreRefused) {
  HttpResponse put = Handle({"PUT", "/whep/program", {}, ""});
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(Header(put, "Allow"), "POST, OPTIONS");
  std::string location;
  Open(&location);
  HttpResponse patch = Handle({"PATCH", location, {}, ""});
  EXPECT_EQ(patch.status, 405);
  EXPECT_EQ(Header(patch, "Allow"), "DELETE, OPTIONS");
  EXPECT_EQ(Handle({"GET", "/whip/program", {}, ""}).status, 404);
  EXPECT_EQ(Handle({"POST", "/whep/", {}, ""}).status, 404);
  EXPECT_EQ(Handle({"POST", "/whep/a/b/c", {}, ""}).status, 404);
  EXPECT_EQ(Refusals(WhepRefusal::kMethodNotAllowed), 2u);
  EXPECT_EQ(Refusals(WhepRefusal::kBadPath), 3u);
}

TEST_F(WhepHandlerTest, CatalogueDecidesWhichStreamsAreServed) {
  handler_->SetCatalogue({{{"news", "42e01f", false}}});
  EXPECT_EQ(Handle(Post(Token(), browser_->offer())).status, 404);
  const HttpResponse news =
      Handle(Post(Token(kRelay, "news"), browser_->offer(), "/whep/news"));
  ASSERT_EQ(news.status, 201) << news.body;
  // A stream without audio: the audio section is refused (port 0).
  auto answer = sdp::ParseSdp(news.body);
  ASSERT_TRUE(answer.ok());
  ASSERT_EQ(answer->media.size(), 2u);
  EXPECT_EQ(answer->media[1].port, 0);
}

TEST_F(WhepHandlerTest, SessionLimitSaysWhenToComeBack) {
  WhepHandler::Options options;
  options.max_sessions = 2;
  options.retry_after = absl::Seconds(7);
  MakeHandler(options);
  Open();
  Open();
  const HttpResponse response = Handle(Post(Token(), browser_->offer()));
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(Header(response, "Retry-After"), "7");
  EXPECT_EQ(handler_->session_count(), 2u);
  EXPECT_EQ(Refusals(WhepRefusal::kSessionLimit), 1u);
}

}  // namespace
}  // namespace cascade::edge
