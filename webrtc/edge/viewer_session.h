// One WHEP viewer's WebRTC session on the relay's edge port: the transport
// (webrtc_transport.h) answers ICE checks, runs DTLS as the passive side and
// keys SRTP; the relay's RTP goes out rewritten to what the answer
// announced, numbered continuously across upstream changes
// (track_numbering.h), and the browser's RTCP feedback (NACK, PLI, FIR)
// goes up to the owner, a NACK in the numbering of the upstream it names.
//
// No socket and no clock: the owner hands in each datagram with its source
// and the time, sends what comes out through a DatagramSink, and calls
// OnTimer at NextTimeout(). Not thread-safe: the relay's loop owns it. The
// listener is called from within OnDatagram/OnTimer/SendRtp/Close; it may
// call SendRtp (to answer a NACK) but must not destroy the session.
#ifndef CASCADE_WEBRTC_EDGE_VIEWER_SESSION_H_
#define CASCADE_WEBRTC_EDGE_VIEWER_SESSION_H_

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
#include "media/rtp/rtcp.h"
#include "webrtc/dtls/certificate.h"
#include "webrtc/dtls/dtls_transport.h"
#include "webrtc/edge/track_numbering.h"
#include "webrtc/edge/webrtc_transport.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/answer.h"

namespace cascade::edge {

// What became of an authenticated packet from the viewer, or a send, that
// did not go through: one value per reason, for /metrics (the transport
// counts the rest: transport().counters()).
enum class ViewerDrop : uint8_t {
  kRtpFromViewer = 0,  // authenticated RTP from a WHEP viewer: it receives
  kRtcpMalformed,      // decrypted, but not a valid RTCP compound
  kSendNotConnected,   // a send before connected, or with consent expired
  kSendNoTrack,        // a send for a track the answer did not accept
  kSendBadRtp,         // SendRtp of bytes that are not RTP of a datagram
  kReportNotStarted,   // a sender report before any media of its upstream
  kCount,              // not a reason: the number of values
};

absl::string_view ViewerDropName(ViewerDrop drop);

struct ViewerCounters {
  std::array<uint64_t, static_cast<size_t>(ViewerDrop::kCount)> drops{};
  uint64_t rtcp_in = 0;  // valid RTCP compounds from the viewer
  uint64_t rtp_sent = 0;
  uint64_t sender_reports_sent = 0;
  uint64_t nacks = 0;              // NACK packets passed up
  uint64_t keyframe_requests = 0;  // PLI/FIR passed up
  uint64_t feedback_unmapped = 0;  // feedback for an SSRC we do not send
  uint64_t source_changes = 0;     // re-basings of an outgoing stream
};

class ViewerSession : private WebrtcTransport::Listener {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnStateChange(ViewerSession& session, SessionState state) = 0;
    // The browser lost `seqs` of the relay's upstream stream `source_ssrc`
    // (numbers translated back to the upstream's): resend them with SendRtp.
    virtual void OnNack(ViewerSession& session, uint32_t source_ssrc,
                        absl::Span<const uint16_t> seqs) = 0;
    // The browser asks for a keyframe (PLI or FIR on the video track).
    virtual void OnKeyframeRequest(ViewerSession& session) = 0;
  };

  // Consent lifetime, setup timeout and MTU.
  using Options = WebrtcTransport::Options;

  // `answer` is BuildAnswer's result for `answer_options` (its ICE
  // credentials are this side's, its video/audio SSRCs what the browser
  // sees). `certificate`, `sink` and `listener` must outlive the session.
  static absl::StatusOr<std::unique_ptr<ViewerSession>> Create(
      std::string id, const sdp::Answer& answer,
      const sdp::AnswerOptions& answer_options,
      const dtls::Certificate& certificate, DatagramSink* sink,
      Listener* listener, absl::Time now, Options options);
  static absl::StatusOr<std::unique_ptr<ViewerSession>> Create(
      std::string id, const sdp::Answer& answer,
      const sdp::AnswerOptions& answer_options,
      const dtls::Certificate& certificate, DatagramSink* sink,
      Listener* listener, absl::Time now) {
    return Create(std::move(id), answer, answer_options, certificate, sink,
                  listener, now, Options());
  }
  ~ViewerSession() override;
  ViewerSession(const ViewerSession&) = delete;
  ViewerSession& operator=(const ViewerSession&) = delete;

  // One datagram from `from` on the edge port (any bytes are safe).
  void OnDatagram(absl::Span<const uint8_t> datagram,
                  const ice::TransportAddress& from, absl::Time now) {
    transport_->OnDatagram(datagram, from, now);
  }

  // Sends one RTP packet of the relay's upstream for `track`: SSRC and
  // payload type rewritten to the answer's, header extensions dropped (the
  // answer negotiates none), sequence numbers and timestamps continuous
  // across a change of the upstream SSRC. True when it was sent.
  bool SendRtp(Track track, absl::Span<const uint8_t> packet, absl::Time now);

  // Sends the upstream's sender report for `track` (RFC 3550 6.4.1),
  // which maps its RTP time to wall-clock time (lip sync between the two
  // tracks): the SSRC and RTP timestamp rewritten as SendRtp rewrites
  // media, the counts this session's own. Only for the upstream whose media
  // goes out now (`source_ssrc`); true when it was sent.
  bool SendSenderReport(Track track, uint32_t source_ssrc,
                        const rtp::SenderInfo& info, absl::Time now);

  // Runs DTLS retransmission, consent and setup deadlines.
  void OnTimer(absl::Time now) { transport_->OnTimer(now); }
  // When OnTimer is due next; InfiniteFuture once ended.
  absl::Time NextTimeout(absl::Time now) const {
    return transport_->NextTimeout(now);
  }

  // Sends close_notify when connected and ends the session (kClosed).
  void Close(CloseReason reason) { transport_->Close(reason); }

  const std::string& id() const { return id_; }
  SessionState state() const { return transport_->state(); }
  bool ended() const { return transport_->ended(); }
  CloseReason close_reason() const { return transport_->close_reason(); }
  // Why it failed (DTLS's or SRTP's error), OK otherwise.
  const absl::Status& error() const { return transport_->error(); }
  const std::string& local_ufrag() const { return transport_->local_ufrag(); }
  // Where media goes, once ICE selected an address.
  std::optional<ice::TransportAddress> selected() const {
    return transport_->selected();
  }
  bool IsValidated(const ice::TransportAddress& address) const {
    return transport_->IsValidated(address);
  }
  const ice::IceLite& ice() const { return transport_->ice(); }
  const dtls::DtlsTransport& dtls() const { return transport_->dtls(); }
  const WebrtcTransport& transport() const { return *transport_; }
  const ViewerCounters& counters() const { return counters_; }

 private:
  // One outgoing track: what the browser was told, and its numbering.
  struct OutTrack {
    explicit OutTrack(uint32_t clock_rate) : numbering(clock_rate) {}
    bool accepted = false;
    int payload_type = 0;
    uint32_t ssrc = 0;
    TrackNumbering numbering;
  };
  class RtcpHandler;

  ViewerSession(std::string id, Listener* listener);

  // WebrtcTransport::Listener
  void OnTransportState(SessionState state) override;
  void OnRtp(absl::Span<const uint8_t> packet, absl::Time now) override;
  void OnRtcp(absl::Span<const uint8_t> packet, absl::Time now) override;

  // Feedback from the browser, by the SSRC it names.
  void HandleNack(uint32_t media_ssrc, absl::Span<const uint16_t> seqs);
  void HandleKeyframeRequest(uint32_t media_ssrc);
  void Drop(ViewerDrop drop) { ++counters_.drops[static_cast<size_t>(drop)]; }

  const std::string id_;
  Listener* const listener_;
  std::unique_ptr<WebrtcTransport> transport_;
  std::array<OutTrack, 2> out_;  // by Track
  // Scratch buffers, so the packet path does not allocate.
  std::vector<uint8_t> send_buffer_;
  std::vector<uint16_t> nack_seqs_;      // as the browser named them
  std::vector<uint16_t> current_seqs_;   // of the current upstream
  std::vector<uint16_t> previous_seqs_;  // of the one before the change
  ViewerCounters counters_;
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_VIEWER_SESSION_H_
