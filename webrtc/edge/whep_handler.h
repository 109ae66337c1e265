// The WHEP resource of one relay (RFC 9725) and its table of viewer
// sessions, without an HTTP library or a socket: the relay's HTTP server
// hands in each request as a plain struct and writes the response back;
// the relay's edge socket hands in each datagram, which is routed to its
// session (STUN by the USERNAME's local ufrag, DTLS and SRTCP by the
// address that passed ICE).
//
//   POST    /whep/STREAM     Bearer token, application/sdp offer -> 201,
//                            Location /whep/STREAM/ID, the answer
//   DELETE  /whep/STREAM/ID  -> 200, the session closed
//   OPTIONS any /whep/ path  -> 204 with CORS
//
// Refusals: 401 (no, forged or expired token; WWW-Authenticate: Bearer),
// 403 (a genuine token of another relay, stream or action), 404 (unknown
// stream or session), 400 (malformed offer), 415 (not application/sdp, or
// no codec the relay can send), 413 (body over the limit), 405 (another
// method), 503 with Retry-After (session limit). Error bodies are one short
// line, at most kMaxErrorBody bytes. Every response allows any origin.
//
// Not thread-safe: the relay's loop calls everything, and the listener is
// called on it (from Handle, OnDatagram and OnTimer); the listener may call
// a session's SendRtp but not back into the handler.
#ifndef CASCADE_WEBRTC_EDGE_WHEP_HANDLER_H_
#define CASCADE_WEBRTC_EDGE_WHEP_HANDLER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "control/edge_token.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/viewer_session.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/sdp.h"

namespace cascade::edge {

inline constexpr size_t kMaxErrorBody = 200;
inline constexpr char kWhepPrefix[] = "/whep/";

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

// A stream this relay serves to browsers.
struct EdgeStream {
  std::string id;  // as in the URL and the token
  std::string h264_profile_level_id = "42e01f";
  bool has_audio = true;
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
  };

  // `verifier`, `certificate`, `sink` and `listener` must outlive the
  // handler; `listener` receives every session's events.
  WhepHandler(Options options, StreamCatalogue catalogue,
              const control::EdgeTokenVerifier* verifier,
              const dtls::Certificate* certificate, DatagramSink* sink,
              ViewerSession::Listener* listener);
  ~WhepHandler();
  WhepHandler(const WhepHandler&) = delete;
  WhepHandler& operator=(const WhepHandler&) = delete;

  // Streams added or removed; sessions of a removed stream stay until they
  // end (the relay closes them if it must).
  void SetCatalogue(StreamCatalogue catalogue);

  HttpResponse Handle(const HttpRequest& request, absl::Time now);

  // One datagram from the edge socket, routed to its session. A session
  // that ended on it is removed before this returns.
  void OnDatagram(absl::Span<const uint8_t> datagram,
                  const ice::TransportAddress& from, absl::Time now);

  // Closes every session (close_notify to the connected) and removes it:
  // the relay is going.
  void CloseAll();

  // Runs due session timers and removes ended sessions (consent expired,
  // failed, closed).
  void OnTimer(absl::Time now);
  // The earliest session timer; InfiniteFuture with no session.
  absl::Time NextTimeout(absl::Time now) const;

  ViewerSession* FindById(absl::string_view id) const;
  ViewerSession* FindByUfrag(absl::string_view local_ufrag) const;
  ViewerSession* FindByAddress(const ice::TransportAddress& address) const;
  // The stream a session watches, "" for an unknown id.
  absl::string_view StreamOf(absl::string_view id) const;
  // The sessions of `stream`, for fanning its RTP out with SendRtp. Valid
  // until the next Handle, OnDatagram or OnTimer.
  absl::Span<ViewerSession* const> SessionsOf(absl::string_view stream) const;

  size_t session_count() const { return sessions_.size(); }
  const WhepCounters& counters() const { return counters_; }

 private:
  struct AddressHash {
    size_t operator()(const ice::TransportAddress& a) const;
  };
  struct Entry {
    std::string stream;
    std::unique_ptr<ViewerSession> session;
    // Addresses indexed in by_address_ for this session.
    std::vector<ice::TransportAddress> addresses;
  };

  HttpResponse Post(const HttpRequest& request, absl::string_view stream,
                    absl::Time now);
  HttpResponse Delete(absl::string_view stream, absl::string_view id);
  HttpResponse Refuse(WhepRefusal refusal, absl::string_view detail = "");
  const EdgeStream* FindStream(absl::string_view id) const;
  // Indexes the session's addresses that passed ICE.
  void IndexAddresses(Entry& entry, const ice::TransportAddress& from);
  void Remove(const std::string& id);

  const Options options_;
  StreamCatalogue catalogue_;
  const control::EdgeTokenVerifier* const verifier_;
  const dtls::Certificate* const certificate_;
  DatagramSink* const sink_;
  ViewerSession::Listener* const listener_;
  absl::flat_hash_map<std::string, Entry> sessions_;
  absl::flat_hash_map<std::string, ViewerSession*> by_ufrag_;
  absl::flat_hash_map<ice::TransportAddress, ViewerSession*, AddressHash>
      by_address_;
  absl::flat_hash_map<std::string, std::vector<ViewerSession*>> by_stream_;
  WhepCounters counters_;
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_WHEP_HANDLER_H_
