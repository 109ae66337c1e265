// The browser edge of one relay (docs/webrtc.md): WHEP viewers served on
// the relay's own UDP socket, demultiplexed by first byte (RFC 7983). It
// binds webrtc/edge's socket-free WhepHandler to relayd: datagrams from the
// socket, sends into it through the packet pool, a libuv timer for the
// sessions' deadlines, the core's down streams fanned out to every
// connected viewer, a viewer's NACK answered from the retransmission ring
// and its first picture from the keyframe cache. At a relay holding stream
// keys, what the core gives it is decrypted first (stream_decryptor.h), so
// the browsers get the program under their own DTLS-SRTP only.
//
// Loop thread only: the edge's HTTP listener (edge_http.h) reaches Handle
// through the dispatcher.
#ifndef CASCADE_RELAY_EDGE_H_
#define CASCADE_RELAY_EDGE_H_

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "base/token_bucket.h"
#include "base/uv_handle.h"
#include "control/edge_token.h"
#include "media/endpoint.h"
#include "relay/packet_pool.h"
#include "relay/relay_core.h"
#include "relay/relay_options.h"
#include "relay/stream_decryptor.h"
#include "relay/udp_socket.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/viewer_session.h"
#include "webrtc/edge/whep_handler.h"

namespace cascade::relay {

struct EdgeOptions {
  // Where browsers reach the HTTP(S) listener (edge_http.h).
  media::Endpoint http;
  // PEM certificate and key for HTTPS; both empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // The host candidates put in answers, "IP:PORT": how browsers reach the
  // relay's UDP socket. Empty: the socket's own address, which must then
  // not be 0.0.0.0.
  std::vector<std::string> candidates;
  size_t max_viewers = 500;
  // Session requests (POST) one client address may make: a flood gets
  // 429 before any token is checked. Generous, since a district's sites
  // may share one NAT and all come back after a relay restart.
  double posts_per_second_per_address = 20;
  double post_burst_per_address = 200;
};

class RelayEdge : public LocalViewers,
                  public edge::DatagramSink,
                  public edge::ViewerSession::Listener,
                  public edge::PublisherListener {
 public:
  // `certificate`, `loop`, `clock`, `pool`, `socket`, `core` and
  // `decryptor` must outlive the edge. Registers with the core as its local
  // viewers.
  static absl::StatusOr<std::unique_ptr<RelayEdge>> Create(
      const EdgeOptions& options, const RelayOptions& relay,
      const dtls::Certificate* certificate, uv_loop_t* loop, Clock* clock,
      PacketPool* pool, UdpSocket* socket, RelayCore* core,
      StreamDecryptor* decryptor);
  // Unregisters from the core; the sessions end without a word (Close
  // first for close_notify).
  ~RelayEdge() override;
  RelayEdge(const RelayEdge&) = delete;
  RelayEdge& operator=(const RelayEdge&) = delete;

  // True when `datagram` is the edge's: STUN or DTLS by its first byte, or
  // anything from an address a viewer's ICE check validated.
  bool Claims(absl::Span<const uint8_t> datagram,
              const media::Endpoint& from) const;
  void OnDatagram(absl::Span<const uint8_t> datagram,
                  const media::Endpoint& from);
  // One WHEP request from `client` (its IP address, as the HTTP server saw
  // it). The edge flushes what the request makes it send.
  edge::HttpResponse Handle(const edge::HttpRequest& request,
                            absl::string_view client);
  // New streams and token keys from a new assignment or config.
  void Apply(const RelayOptions& relay);
  // Ends every session with close_notify (relay shutdown).
  void CloseAll();
  void RenderMetrics(std::string* out) const;

  const edge::WhepHandler& handler() const { return *handler_; }

  // LocalViewers
  void OnStreamPacket(const StreamOptions& stream,
                      const PacketRef& packet) override;
  void OnDownSenderReport(const StreamOptions& stream,
                          const rtp::SenderReportView& sr) override;
  void OnPublishedKeyframeRequest(const StreamOptions& stream) override;
  // edge::DatagramSink
  void Send(absl::Span<const uint8_t> datagram,
            const ice::TransportAddress& to) override;
  absl::Span<uint8_t> LendBuffer() override;
  // edge::ViewerSession::Listener
  void OnStateChange(edge::ViewerSession& session,
                     edge::SessionState state) override;
  void OnNack(edge::ViewerSession& session, uint32_t source_ssrc,
              absl::Span<const uint16_t> seqs) override;
  void OnKeyframeRequest(edge::ViewerSession& session) override;
  // edge::PublisherListener: a WHIP publisher's media enters the tree here.
  void OnPublishedRtp(absl::string_view stream, edge::Track track,
                      absl::Span<const uint8_t> packet) override;
  void OnPublishedSenderReport(absl::string_view stream, edge::Track track,
                               absl::Span<const uint8_t> packet) override;
  void OnPublisherState(absl::string_view stream,
                        const edge::PublisherSession& session,
                        edge::SessionState state) override;

 private:
  // A down stream's track as the edge serves it.
  struct TrackInfo {
    std::string stream_id;
    edge::Track track = edge::Track::kVideo;
  };

  // A client address's budget of session requests.
  struct PostBudget {
    TokenBucket bucket;
    absl::Time last_used;
  };

  RelayEdge(const EdgeOptions& options, Clock* clock, PacketPool* pool,
            UdpSocket* socket, RelayCore* core, StreamDecryptor* decryptor);
  // Takes one POST from `client`'s budget; false when it has none left.
  bool AllowPost(absl::string_view client, absl::Time now);
  // The tracks of `relay`'s streams that browsers may ask for.
  void SetStreams(const RelayOptions& relay);
  void SetKeys(const std::vector<std::string>& keys);
  // The video SSRC of the stream `session` watches, 0 when it has none.
  uint32_t VideoSsrcOf(const edge::ViewerSession& session) const;
  // Sends the cached keyframe of the session's video: its first picture.
  void SendCachedKeyframe(edge::ViewerSession& session);
  // Flushes, and re-arms the timer at the handler's next deadline (a scan
  // of every session: after timers and requests, not per datagram).
  void Settle();
  // Arms the timer for `due` unless it is armed for earlier already.
  void ArmNoLaterThan(absl::Time due);
  void Arm(absl::Time due);

  const double post_rate_;
  const double post_burst_;
  Clock* const clock_;
  PacketPool* const pool_;
  UdpSocket* const socket_;
  RelayCore* const core_;
  StreamDecryptor* const decryptor_;
  control::EdgeTokenVerifier verifier_;
  size_t token_keys_ = 0;
  std::unique_ptr<edge::WhepHandler> handler_;
  absl::flat_hash_map<uint32_t, TrackInfo> tracks_;  // by upstream SSRC
  UvHandle<uv_timer_t> timer_;
  absl::Time timer_due_ = absl::InfiniteFuture();
  // The pool slot lent for the next viewer packet (LendBuffer).
  PacketRef lent_;
  absl::flat_hash_map<std::string, PostBudget> post_budgets_;

  uint64_t packets_to_viewers_ = 0;
  uint64_t packets_from_publishers_ = 0;
  uint64_t reports_to_viewers_ = 0;
  uint64_t keyframe_packets_to_viewers_ = 0;
  uint64_t resent_to_viewers_ = 0;
  uint64_t send_pool_empty_ = 0;
  uint64_t posts_rate_limited_ = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_EDGE_H_
