// The WHEP and WHIP resources of one relay (RFC 9725) and its table of
// browser sessions, without an HTTP library or a socket: the relay's HTTP
// server hands in each request as a plain struct and writes the response
// back; the relay's edge socket hands in each datagram, which is routed to
// its session, viewer or publisher (STUN by the USERNAME's local ufrag,
// DTLS, SRTP and SRTCP by the address that passed ICE).
//
//   POST    /whep/STREAM     watch token, application/sdp offer -> 201,
//                            Location /whep/STREAM/ID, the answer
//   DELETE  /whep/STREAM/ID  -> 200, the session closed
//   POST    /whip/STREAM     publish token, sendonly offer -> 201,
//                            Location /whip/STREAM/ID, the answer
//   DELETE  /whip/STREAM/ID  -> 200, the publisher closed
//   OPTIONS any of them      -> 204 with CORS
//
// Refusals: 401 (no, forged or expired token; WWW-Authenticate: Bearer),
// 403 (a genuine token of another relay, stream or action), 404 (unknown
// stream or session; for WHIP also a stream not publishable, and every
// /whip/ path when the handler has no PublisherListener), 400 (malformed
// offer), 415 (not application/sdp, or no codec the relay can take), 413
// (body over the limit), 405 (another method), 409 (WHIP: the stream has a
// live publisher), 503 with Retry-After (viewer limit). Error bodies are one
// short line, at most kMaxErrorBody bytes. Every response allows any
// origin.
//
// One publisher per stream: a POST while the stream's publisher is
// connected and its media fresh (Options::publisher_silence) is refused
// with 409; otherwise the new publisher replaces the old one, which is
// closed once the new one has its answer. Publishers do not count against
// max_sessions (the catalogue bounds them).
//
// Not thread-safe: the relay's loop calls everything, and the listeners are
// called on it (from Handle, OnDatagram, OnTimer and CloseAll); a viewer
// listener may call a session's SendRtp, a PublisherListener may call
// RequestKeyframe, and neither may call anything else of the handler.
#ifndef CASCADE_WEBRTC_EDGE_WHEP_HANDLER_H_
#define CASCADE_WEBRTC_EDGE_WHEP_HANDLER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "control/edge_token.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/publisher_session.h"
#include "webrtc/edge/viewer_session.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/answer.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::edge {

inline constexpr size_t kMaxErrorBody = 200;
inline constexpr char kWhepPrefix[] = "/whep/";
inline constexpr char kWhipPrefix[] = "/whip/";

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method;  // "POST", ...
  std::string path;    // "/whep/program"; a query string is ignored
  std::vector<HttpHeader> headers;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::vector<HttpHeader> headers;
  std::string body;
};

// The value of the first header called `name` (any case), or nullptr.
const std::string* FindHeader(const std::vector<HttpHeader>& headers,
                              absl::string_view name);

// A stream this relay serves to browsers, or takes from one.
struct EdgeStream {
  std::string id;  // as in the URL and the token
  std::string h264_profile_level_id = "42e01f";
  bool has_audio = true;  // WHEP: viewers are offered audio
  bool watchable = true;  // WHEP viewers may watch it
  // A WHIP publisher may send it, rewritten to what the tree carries for
  // each track (an SSRC of 0: the tree has no such track, and the answer
  // refuses it).
  bool publishable = false;
  TreeTrack publish_video = {};
  TreeTrack publish_audio = {};
};

struct StreamCatalogue {
  std::vector<EdgeStream> streams;
};

// Why a request was refused: one value per reason, for /metrics.
enum class WhepRefusal : uint8_t {
  kUnauthorized = 0,  // 401
  kForbidden,         // 403
  kUnknownStream,     // 404
  kUnknownSession,    // 404
  kBadPath,           // 404: not a WHEP resource
  kMalformedSdp,      // 400
  kUnsupportedMedia,  // 415: content type or codecs
  kTooLarge,          // 413
  kMethodNotAllowed,  // 405
  kSessionLimit,      // 503
  kInternal,          // 500: the relay's own options or RAND_bytes
  kConflict,          // 409: WHIP, the stream has a live publisher
  kCount,
};

absl::string_view WhepRefusalName(WhepRefusal refusal);

// Why a datagram reached no session.
enum class EdgeDrop : uint8_t {
  kStunUnparsable = 0,  // STUN-looking but malformed, or without USERNAME
  kUnknownUfrag,        // USERNAME names no session
  kUnknownAddress,      // DTLS/RTP/other from an address no session checked
  kCount,
};

absl::string_view EdgeDropName(EdgeDrop drop);

struct WhepCounters {
  std::array<uint64_t, static_cast<size_t>(WhepRefusal::kCount)> refusals{};
  std::array<uint64_t, static_cast<size_t>(EdgeDrop::kCount)> drops{};
  uint64_t sessions_created = 0;
  // Sessions removed, by why they ended (CloseReason).
  std::array<uint64_t, kCloseReasonCount> sessions_ended{};
  // WHIP requests refused, by reason (`refusals` counts WHEP's).
  std::array<uint64_t, static_cast<size_t>(WhepRefusal::kCount)>
      whip_refusals{};
  uint64_t publishers_created = 0;
  // Publishers removed, by why they ended; a replaced one is kDeleted.
  std::array<uint64_t, kCloseReasonCount> publishers_ended{};
  uint64_t publishers_replaced = 0;  // closed for a new POST
};

// What the relay hears of its publishers, by stream. Called on the loop,
// from within the handler (see above).
class PublisherListener {
 public:
  virtual ~PublisherListener() = default;
  // One RTP packet of `stream`'s `track`, with the tree's SSRC and payload
  // type (publisher_session.h says what else is rewritten); the bytes live
  // through the call.
  virtual void OnPublishedRtp(absl::string_view stream, Track track,
                              absl::Span<const uint8_t> packet) = 0;
  // One RTCP SR of it from the tree's SSRC, for lip sync down the tree.
  virtual void OnPublishedSenderReport(absl::string_view stream, Track track,
                                       absl::Span<const uint8_t> packet) = 0;
  // `stream`'s publisher changed state; kClosed or kFailed: it is gone
  // (session.close_reason() says why), and a replacing one may follow.
  virtual void OnPublisherState(absl::string_view stream,
                                const PublisherSession& session,
                                SessionState state) = 0;
};

class WhepHandler {
 public:
  struct Options {
    std::string relay_id;  // tokens must name it
    // The edge socket's host candidates, "IP:PORT" / "[IPv6]:PORT".
    std::vector<std::string> candidates;
    size_t max_sessions = 500;
    size_t max_body_bytes = sdp::kMaxSdpBytes;
    absl::Duration retry_after = absl::Seconds(10);
    // The SSRCs every viewer sees (each session has its own SRTP context).
    uint32_t video_ssrc = 0x5CA5C0DE;
    uint32_t audio_ssrc = 0x5CA5A0D1;
    ViewerSession::Options session;
    // Publishers; each stream's tree tracks replace video and audio.
    PublisherSession::Options publisher;
    // A connected publisher without media this long may be replaced by a
    // new POST (one that vanished without DELETE holds the stream this
    // long, not until its consent expires).
    absl::Duration publisher_silence = absl::Seconds(5);
  };

  // `verifier`, `certificate`, `sink` and the listeners must outlive the
  // handler; `listener` receives every viewer's events, `publishers` every
  // publisher's (nullptr: WHIP is not served).
  WhepHandler(Options options, StreamCatalogue catalogue,
              const control::EdgeTokenVerifier* verifier,
              const dtls::Certificate* certificate, DatagramSink* sink,
              ViewerSession::Listener* listener, PublisherListener* publishers);
  WhepHandler(Options options, StreamCatalogue catalogue,
              const control::EdgeTokenVerifier* verifier,
              const dtls::Certificate* certificate, DatagramSink* sink,
              ViewerSession::Listener* listener)
      : WhepHandler(std::move(options), std::move(catalogue), verifier,
                    certificate, sink, listener, nullptr) {}
  ~WhepHandler();
  WhepHandler(const WhepHandler&) = delete;
  WhepHandler& operator=(const WhepHandler&) = delete;

  // Streams added or removed; sessions and publishers of a removed stream
  // stay until they end (the relay closes them if it must).
  void SetCatalogue(StreamCatalogue catalogue);

  HttpResponse Handle(const HttpRequest& request, absl::Time now);

  // One datagram from the edge socket, routed to its session. A session
  // that ended on it is removed before this returns. Returns when that
  // session's timer is due next (InfiniteFuture when it reached none or
  // ended): only its deadline moved, so NextTimeout is at most that or
  // what it was before.
  absl::Time OnDatagram(absl::Span<const uint8_t> datagram,
                        const ice::TransportAddress& from, absl::Time now);

  // Closes every session and publisher (close_notify to the connected) and
  // removes it: the relay is going.
  void CloseAll();

  // Runs due session timers and removes ended sessions (consent expired,
  // failed, closed).
  void OnTimer(absl::Time now);
  // The earliest session timer; InfiniteFuture with no session. Looks at
  // every session: for after OnTimer and requests, not per datagram.
  absl::Time NextTimeout(absl::Time now) const;

  // Asks `stream`'s publisher for a keyframe (the tree wants one): a PLI,
  // paced by the session. False without a connected publisher, or paced.
  bool RequestKeyframe(absl::string_view stream, absl::Time now);
  // The publisher of `stream`, nullptr without one.
  const PublisherSession* PublisherOf(absl::string_view stream) const;
  // Whether a viewer or a publisher checked `address`: its SRTP and SRTCP
  // are the edge's.
  bool IsCheckedAddress(const ice::TransportAddress& address) const {
    return by_address_.contains(address);
  }

  // Viewers only (publishers: PublisherOf).
  ViewerSession* FindById(absl::string_view id) const;
  ViewerSession* FindByUfrag(absl::string_view local_ufrag) const;
  ViewerSession* FindByAddress(const ice::TransportAddress& address) const;
  // The stream a session watches, "" for an unknown id.
  absl::string_view StreamOf(absl::string_view id) const;
  // The sessions of `stream`, for fanning its RTP out with SendRtp. Valid
  // until the next Handle, OnDatagram or OnTimer.
  absl::Span<ViewerSession* const> SessionsOf(absl::string_view stream) const;

  size_t session_count() const { return sessions_.size(); }  // viewers
  size_t publisher_count() const { return publishers_.size(); }
  const WhepCounters& counters() const { return counters_; }

 private:
  enum class Protocol : uint8_t { kWhep, kWhip };
  struct AddressHash {
    size_t operator()(const ice::TransportAddress& a) const;
  };
  struct Entry {
    std::string stream;
    std::unique_ptr<ViewerSession> session;
    // Addresses indexed in by_address_ for this session.
    std::vector<ice::TransportAddress> addresses;
  };
  class PublisherRelay;  // a publisher's events, up by stream
  struct PublisherEntry {
    ~PublisherEntry();  // where PublisherRelay is complete
    std::string stream;
    std::unique_ptr<PublisherRelay> relay;  // outlives the session
    std::unique_ptr<PublisherSession> session;
    std::vector<ice::TransportAddress> addresses;
  };
  // The session a ufrag or address routes to: one of the two.
  struct Route {
    ViewerSession* viewer = nullptr;
    PublisherEntry* publisher = nullptr;
    bool operator==(const Route& other) const {
      return viewer == other.viewer && publisher == other.publisher;
    }
  };
  // What a POST agreed with the browser.
  struct Negotiated {
    std::string id;
    sdp::AnswerOptions answer_options;
    sdp::Answer answer;
  };

  HttpResponse Post(const HttpRequest& request, absl::string_view stream,
                    absl::Time now);
  HttpResponse Delete(absl::string_view stream, absl::string_view id);
  HttpResponse PostWhip(const HttpRequest& request, absl::string_view stream,
                        absl::Time now);
  HttpResponse DeleteWhip(absl::string_view stream, absl::string_view id);
  // The bearer token of `request` checked for `stream` and the protocol's
  // action (watch, publish); a refusal when it does not pass.
  std::optional<HttpResponse> Authorize(const HttpRequest& request,
                                        absl::string_view stream,
                                        Protocol protocol, absl::Time now);
  // The content type and size of an offer; a refusal when wrong.
  std::optional<HttpResponse> CheckBody(const HttpRequest& request,
                                        Protocol protocol);
  // Parses the offer and answers it as the protocol's side (sending or
  // receiving), with fresh credentials and a session id; false with
  // *refusal set when it cannot.
  bool Negotiate(const HttpRequest& request, const EdgeStream& stream,
                 Protocol protocol, Negotiated* out, HttpResponse* refusal);
  // An empty response of `status` that allows any origin.
  static HttpResponse WithCors(int status);
  HttpResponse Created(Protocol protocol, absl::string_view stream,
                       absl::string_view id, const std::string& answer) const;
  HttpResponse Refuse(Protocol protocol, WhepRefusal refusal,
                      absl::string_view detail = "");
  const EdgeStream* FindStream(absl::string_view id) const;
  // Indexes the session's addresses that passed ICE.
  void IndexAddresses(Route route, std::vector<ice::TransportAddress>& list,
                      const ice::TransportAddress& from);
  void Unindex(Route route, const std::string& ufrag,
               const std::vector<ice::TransportAddress>& addresses);
  // As OnDatagram, for a publisher's.
  absl::Time OnPublisherDatagram(PublisherEntry* entry,
                                 absl::Span<const uint8_t> datagram,
                                 const ice::TransportAddress& from,
                                 absl::Time now);
  void Remove(const std::string& id);
  void RemovePublisher(const std::string& stream);

  const Options options_;
  StreamCatalogue catalogue_;
  const control::EdgeTokenVerifier* const verifier_;
  const dtls::Certificate* const certificate_;
  DatagramSink* const sink_;
  ViewerSession::Listener* const listener_;
  PublisherListener* const publisher_listener_;
  absl::flat_hash_map<std::string, Entry> sessions_;
  // By stream; entries stay put for by_ufrag_ and by_address_.
  absl::flat_hash_map<std::string, std::unique_ptr<PublisherEntry>> publishers_;
  absl::flat_hash_map<std::string, Route> by_ufrag_;
  absl::flat_hash_map<ice::TransportAddress, Route, AddressHash> by_address_;
  absl::flat_hash_map<std::string, std::vector<ViewerSession*>> by_stream_;
  WhepCounters counters_;
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_WHEP_HANDLER_H_
