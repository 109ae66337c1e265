// One WHIP publisher's WebRTC session on the relay's edge port (RFC 9725):
// a browser (or OBS) sends H.264 and Opus, and the relay feeds them into
// its tree. The transport (webrtc_transport.h) answers ICE checks, runs
// DTLS as the passive side and opens SRTP; each authenticated RTP packet is
// validated and handed to the listener rewritten to what the tree carries
// for its track:
//   - the tree's SSRC and payload type (Options::video, Options::audio);
//   - no header extensions and no CSRCs: the answer negotiates no
//     extension, and an id the browser mapped to something else could read
//     as the tree's frame-marking element (relay/keyframe_start.h), which a
//     relay trusts over the payload; without it the H.264 payload decides;
//   - no padding: a padding-only packet goes on with an empty payload, so
//     the sequence numbers stay gapless (a browser's jitter buffer takes an
//     empty packet as padding);
//   - sequence numbers and timestamps passed through per browser SSRC and
//     continuous over a change of it (an encoder restart: track_numbering.h).
// The publisher's SRTCP is authenticated; its sender reports go up
// rewritten alike (the tree's SSRC, the RTP time re-based, the counts of
// what was forwarded) for lip sync down the tree. The session sends receiver
// reports (losses, jitter, round trip: a browser sizes its bitrate from
// them when nothing else is negotiated), when asked, a PLI paced to at
// most one per Options::keyframe_request_interval, and, where the answer
// agreed generic NACK, requests for the packets missing from the current
// browser SSRC, scheduled and paced as a relay asks its parent
// (child/nack_scheduler.h); the browser resends them, and they go up late.
//
// No socket and no clock, as the transport. Not thread-safe. The listener
// is called from within OnDatagram, OnTimer and Close; it may call
// RequestKeyframe but must not destroy the session.
#ifndef CASCADE_WEBRTC_EDGE_PUBLISHER_SESSION_H_
#define CASCADE_WEBRTC_EDGE_PUBLISHER_SESSION_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "child/nack_scheduler.h"
#include "media/rtp/rtp.h"
#include "media/rtp/seq.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/edge/receive_statistics.h"
#include "webrtc/edge/track_numbering.h"
#include "webrtc/edge/webrtc_transport.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/answer.h"

namespace cascade::edge {

// What the relay's tree carries for one track of a published stream.
struct TreeTrack {
  uint32_t ssrc = 0;  // 0: the tree has no such track
  uint8_t payload_type = 0;
};

// What became of a publisher's authenticated packet that did not go up:
// one value per reason, for /metrics (the transport counts the rest).
enum class PublisherDrop : uint8_t {
  kRtpMalformed = 0,   // not valid RTP
  kRtpUnknownPayload,  // a payload type of no accepted track
  kRtcpMalformed,      // not a valid RTCP compound
  kReportUnmapped,     // an SR of an SSRC whose media is not going up
  kCount,              // not a reason: the number of values
};

absl::string_view PublisherDropName(PublisherDrop drop);

struct PublisherCounters {
  std::array<uint64_t, static_cast<size_t>(PublisherDrop::kCount)> drops{};
  uint64_t rtp_forwarded = 0;
  uint64_t padding_only = 0;  // of those, forwarded with an empty payload
  uint64_t sender_reports_forwarded = 0;
  uint64_t receiver_reports_sent = 0;
  uint64_t keyframe_requests_sent = 0;
  // RequestKeyframe calls within the interval of the last PLI.
  uint64_t keyframe_requests_paced = 0;
  // ... or that could not send one: not connected, no video, no PLI
  // negotiated, no SSRC known to name.
  uint64_t keyframe_requests_unsent = 0;
  uint64_t nacks_sent = 0;      // NACK packets
  uint64_t nacked_packets = 0;  // sequence numbers in them, retries too
  uint64_t repaired = 0;        // asked-for packets that then arrived
};

class PublisherSession : private WebrtcTransport::Listener {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnStateChange(PublisherSession& session,
                               SessionState state) = 0;
    // One RTP packet of `track`, rewritten for the tree (see above); the
    // bytes live through the call.
    virtual void OnRtp(PublisherSession& session, Track track,
                       absl::Span<const uint8_t> packet) = 0;
    // One RTCP SR packet of `track` from the tree's SSRC, no report blocks.
    virtual void OnSenderReport(PublisherSession& session, Track track,
                                absl::Span<const uint8_t> packet) = 0;
  };

  struct Options {
    WebrtcTransport::Options transport;
    // What each accepted track becomes; an accepted track needs an SSRC.
    TreeTrack video;
    TreeTrack audio;
    // The SSRC of the session's own RTCP (it sends no media).
    uint32_t rtcp_ssrc = 1;
    std::string cname = "cascade";
    absl::Duration keyframe_request_interval = absl::Milliseconds(500);
    absl::Duration report_interval = absl::Seconds(1);
    // When and how often a missing packet is asked for, and the pace.
    child::NackOptions nack;
    // How often due NACKs are taken while packets are missing (relayd's
    // busy tick).
    absl::Duration nack_interval = absl::Milliseconds(5);
  };

  // `answer` is BuildAnswer's result for `answer_options`, whose role is
  // kReceive. `certificate`, `sink` and `listener` must outlive the
  // session.
  static absl::StatusOr<std::unique_ptr<PublisherSession>> Create(
      std::string id, const sdp::Answer& answer,
      const sdp::AnswerOptions& answer_options,
      const dtls::Certificate& certificate, DatagramSink* sink,
      Listener* listener, absl::Time now, Options options);
  ~PublisherSession() override;
  PublisherSession(const PublisherSession&) = delete;
  PublisherSession& operator=(const PublisherSession&) = delete;

  // One datagram from `from` on the edge port (any bytes are safe).
  void OnDatagram(absl::Span<const uint8_t> datagram,
                  const ice::TransportAddress& from, absl::Time now);

  // Sends the publisher a PLI for its video. False when paced (one per
  // keyframe_request_interval) or it cannot be sent; counted either way.
  bool RequestKeyframe(absl::Time now);

  // Runs the transport's timers and the receiver reports.
  void OnTimer(absl::Time now);
  // When OnTimer is due next; InfiniteFuture once ended.
  absl::Time NextTimeout(absl::Time now) const;

  // Sends close_notify when connected and ends the session (kClosed).
  void Close(CloseReason reason);

  const std::string& id() const { return id_; }
  SessionState state() const { return transport_->state(); }
  bool ended() const { return transport_->ended(); }
  CloseReason close_reason() const { return transport_->close_reason(); }
  const absl::Status& error() const { return transport_->error(); }
  const std::string& local_ufrag() const { return transport_->local_ufrag(); }
  bool IsValidated(const ice::TransportAddress& address) const {
    return transport_->IsValidated(address);
  }
  // The last RTP packet that went up, or when the session connected if
  // none did yet; InfinitePast before.
  absl::Time last_media() const { return last_media_; }
  // The browser SSRC whose media goes up as `track` (0 before any).
  uint32_t source_ssrc(Track track) const;
  // Changes of browser SSRC on `track`.
  uint64_t source_changes(Track track) const;
  const WebrtcTransport& transport() const { return *transport_; }
  const PublisherCounters& counters() const { return counters_; }

 private:
  struct InTrack {
    explicit InTrack(uint32_t clock_rate) : numbering(clock_rate) {}
    bool accepted = false;
    int payload_type = 0;                   // as negotiated with the browser
    std::vector<uint32_t> announced_ssrcs;  // the offer's a=ssrc
    bool pli = false;                       // PLI negotiated (video)
    bool nack = false;                      // generic NACK negotiated
    bool rtcp_rsize = false;
    TreeTrack tree;
    TrackNumbering numbering;
    // Of the current browser SSRC: its report, and its gaps (with nack).
    std::optional<ReceiveStatistics> stats;
    rtp::SeqUnwrapper unwrapper;
    std::optional<child::NackScheduler> missing;
  };
  class RtcpHandler;

  PublisherSession(std::string id, Options options, Listener* listener);

  // WebrtcTransport::Listener
  void OnTransportState(SessionState state) override;
  void OnRtp(absl::Span<const uint8_t> packet, absl::Time now) override;
  void OnRtcp(absl::Span<const uint8_t> packet, absl::Time now) override;

  // The track a packet of `payload_type` from `ssrc` belongs to, if any.
  InTrack* TrackOf(uint8_t payload_type, uint32_t ssrc);
  void HandleSenderReport(uint32_t ssrc, const rtp::SenderInfo& info,
                          absl::Time now);
  // Records a packet of the current browser SSRC for its report and gaps.
  void Receive(InTrack& in, const rtp::RtpView& view, absl::Time now);
  // Asks for each track's missing packets that are due.
  void SendNacks(absl::Time now);
  // Starts the reports once connected.
  void Settle(absl::Time now);
  // An RR with a block per browser source and an SDES CNAME: the head of
  // every compound the session sends. Its size in rtcp_buffer_, 0 on error.
  size_t WriteReportHead(bool with_blocks, absl::Time now);
  void SendReports(absl::Time now);
  void Drop(PublisherDrop drop) {
    ++counters_.drops[static_cast<size_t>(drop)];
  }

  const std::string id_;
  const Options options_;
  Listener* const listener_;
  std::unique_ptr<WebrtcTransport> transport_;
  std::array<InTrack, 2> in_;  // by Track
  absl::Time last_media_ = absl::InfinitePast();
  absl::Time last_keyframe_request_ = absl::InfinitePast();
  absl::Time next_report_ = absl::InfiniteFuture();
  // InfiniteFuture while nothing is missing.
  absl::Time next_nack_ = absl::InfiniteFuture();
  // Scratch buffers, so the packet path does not allocate.
  std::vector<uint8_t> rtp_buffer_;
  std::vector<uint8_t> rtcp_buffer_;
  std::vector<int64_t> due_;
  std::vector<uint16_t> nack_seqs_;
  PublisherCounters counters_;
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_PUBLISHER_SESSION_H_
