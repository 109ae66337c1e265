// Fuzzes WhepHandler with HTTP requests and edge datagrams (the input
// format: fuzz_seeds.h) against a handler holding one genuine viewer and one
// genuine publisher: every response allows any origin, error bodies are one
// bounded line, no request without a genuine token opens or replaces a
// session, and no datagram is answered to anyone but its source nor with
// more bytes than it had, nor goes up as published media.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "control/edge_token.h"
#include "control/signature.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/fuzz_seeds.h"
#include "webrtc/edge/publisher_session.h"
#include "webrtc/edge/viewer_session.h"
#include "webrtc/edge/whep_handler.h"

#define FUZZ_CHECK(condition)                                          \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #condition);                              \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

namespace cascade::edge {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

struct Sink : DatagramSink {
  void Send(absl::Span<const uint8_t> datagram,
            const ice::TransportAddress& to) override {
    sent.push_back({datagram.size(), to});
  }
  std::vector<std::pair<size_t, ice::TransportAddress>> sent;
};

struct Quiet : ViewerSession::Listener, PublisherListener {
  void OnStateChange(ViewerSession&, SessionState) override {}
  void OnNack(ViewerSession&, uint32_t, absl::Span<const uint16_t>) override {}
  void OnKeyframeRequest(ViewerSession&) override {}
  void OnPublishedRtp(absl::string_view, Track,
                      absl::Span<const uint8_t>) override {
    ++published;
  }
  void OnPublishedSenderReport(absl::string_view, Track,
                               absl::Span<const uint8_t>) override {
    ++published;
  }
  void OnPublisherState(absl::string_view, const PublisherSession&,
                        SessionState) override {}
  int published = 0;
};

// Made once: keys and certificates are slow to make.
struct World {
  World() {
    control::KeyPtr key = *control::NewEcdsaKey();
    verifier = std::make_unique<control::EdgeTokenVerifier>(
        *control::EdgeTokenVerifier::FromPublicKeys(
            {*control::PublicKeyDer(key.get())}));
    certificate = *dtls::Certificate::Generate({kNow});
    control::EdgeToken claims;
    claims.relay = kFuzzRelay;
    claims.stream = kFuzzStream;
    claims.issued = kNow - absl::Minutes(1);
    claims.expires = kNow + absl::Hours(1);
    claims.holder = "fuzzer";
    token = *control::MintEdgeToken(key.get(), claims);
    claims.action = control::EdgeAction::kPublish;
    publish_token = *control::MintEdgeToken(key.get(), claims);
  }
  std::unique_ptr<control::EdgeTokenVerifier> verifier;
  std::unique_ptr<dtls::Certificate> certificate;
  std::string token;
  std::string publish_token;
};

HttpRequest Open(const char* prefix, const char* offer,
                 const std::string& token) {
  HttpRequest open{"POST", absl::StrCat(prefix, kFuzzStream), {}, offer};
  open.headers = {{"Content-Type", "application/sdp"},
                  {"Authorization", "Bearer " + token}};
  return open;
}

void CheckResponse(const HttpResponse& response) {
  const std::string* origin =
      FindHeader(response.headers, "Access-Control-Allow-Origin");
  FUZZ_CHECK(origin != nullptr && *origin == "*");
  if (response.status >= 400) {
    FUZZ_CHECK(response.body.size() <= kMaxErrorBody);
    FUZZ_CHECK(!response.body.empty() &&
               response.body.find('\n') == response.body.size() - 1);
  }
}

}  // namespace
}  // namespace cascade::edge

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::edge;
  static World* world = new World();
  Sink sink;
  Quiet quiet;
  WhepHandler::Options options;
  options.relay_id = kFuzzRelay;
  options.candidates = {"192.0.2.1:4443"};
  options.max_sessions = 2;
  StreamCatalogue catalogue{{{kFuzzStream}}};
  catalogue.streams[0].publishable = true;
  catalogue.streams[0].publish_video = {4369, 96};
  catalogue.streams[0].publish_audio = {8738, 111};
  WhepHandler handler(options, std::move(catalogue), world->verifier.get(),
                      world->certificate.get(), &sink, &quiet, &quiet);
  for (const HttpRequest& open :
       {Open(kWhepPrefix, kFuzzOffer, world->token),
        Open(kWhipPrefix, kFuzzWhipOffer, world->publish_token)}) {
    const HttpResponse opened = handler.Handle(open, kNow);
    if (opened.status != 201) std::fprintf(stderr, "%s", opened.body.c_str());
    FUZZ_CHECK(opened.status == 201);
  }
  const PublisherSession* publisher = handler.PublisherOf(kFuzzStream);
  FUZZ_CHECK(publisher != nullptr);
  const std::string publisher_id = publisher->id();
  if (size < 1) return 0;

  if (data[0] == kHttpInput) {
    HttpRequest request;
    const absl::string_view text(reinterpret_cast<const char*>(data + 1),
                                 size - 1);
    if (!DecodeRequest(text, &request)) return 0;
    const HttpResponse response = handler.Handle(request, kNow);
    CheckResponse(response);
    FUZZ_CHECK(response.status != 201);
    FUZZ_CHECK(handler.session_count() == 1);
    FUZZ_CHECK(handler.publisher_count() == 1);
    FUZZ_CHECK(handler.PublisherOf(kFuzzStream)->id() == publisher_id);
  } else if (data[0] == kDatagramInput && size >= 2) {
    const cascade::ice::TransportAddress from = FuzzAddress(data[1]);
    const absl::Span<const uint8_t> datagram(data + 2, size - 2);
    handler.OnDatagram(datagram, from, kNow);
    for (const auto& [bytes, to] : sink.sent) {
      FUZZ_CHECK(to == from);
      FUZZ_CHECK(bytes <= datagram.size());
    }
    FUZZ_CHECK(quiet.published == 0);
    handler.OnTimer(kNow + absl::Seconds(31));
    FUZZ_CHECK(handler.session_count() == 0);
    FUZZ_CHECK(handler.publisher_count() == 0);
  }
  return 0;
}
