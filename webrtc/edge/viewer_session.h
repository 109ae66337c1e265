// One WHEP viewer's WebRTC session on the relay's edge port: ICE-lite
// answers the browser's checks, DTLS (the relay is a=setup:passive, the
// server) keys a hop-by-hop SRTP session, the relay's RTP goes out rewritten
// to what the answer announced, and the browser's SRTCP feedback (NACK,
// PLI, FIR) goes up to the owner.
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
#include "webrtc/dtls/srtp_session.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/answer.h"

namespace cascade::edge {

// Where the session's datagrams leave: the relay's edge socket.
class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  // `datagram` lives only through the call.
  virtual void Send(absl::Span<const uint8_t> datagram,
                    const ice::TransportAddress& to) = 0;
};

enum class SessionState : uint8_t {
  kNew,        // answered, no valid ICE check yet
  kChecking,   // ICE checks passed and/or DTLS under way
  kConnected,  // DTLS done, SRTP keyed, consent fresh: media flows
  kClosed,     // ended normally (see CloseReason)
  kFailed,     // ended by an error (see CloseReason and error())
};

absl::string_view SessionStateName(SessionState state);

enum class CloseReason : uint8_t {
  kNone = 0,
  kDeleted,         // the owner closed it (WHEP DELETE, relay shutdown)
  kDtlsClosed,      // the browser sent close_notify
  kConsentExpired,  // no valid ICE check for the consent lifetime (RFC 7675)
  kSetupTimeout,    // not connected within Options::setup_timeout
  kDtlsFailed,      // handshake error or wrong fingerprint: error() says
  kSrtpFailed,      // the DTLS keys did not open an SRTP session
};
inline constexpr size_t kCloseReasonCount = 7;

absl::string_view CloseReasonName(CloseReason reason);

// The relay's two outgoing tracks.
enum class Track : uint8_t { kVideo = 0, kAudio = 1 };

// What became of a datagram or a SendRtp call that did not go through: one
// value per reason, for /metrics.
enum class ViewerDrop : uint8_t {
  kNotWebrtc = 0,     // neither STUN, DTLS nor RTP/RTCP (RFC 7983)
  kStunRefused,       // IceLite did not answer it (see ice().counters())
  kDtlsUnchecked,     // DTLS from an address that passed no ICE check
  kDtlsRejected,      // DtlsTransport refused it (see dtls counters)
  kRtpFromViewer,     // RTP from a WHEP viewer: it only receives
  kRtcpNotConnected,  // SRTCP before DTLS finished
  kRtcpUnchecked,     // SRTCP from an address that passed no ICE check
  kRtcpOversize,      // larger than a datagram we read
  kRtcpUnprotect,     // SRTCP authentication, replay or form failed
  kRtcpMalformed,     // decrypted, but not a valid RTCP compound
  kSendNotConnected,  // SendRtp before connected, or consent expired
  kSendNoTrack,       // SendRtp for a track the answer did not accept
  kSendBadRtp,        // SendRtp of bytes that are not RTP
  kSendTooLarge,      // the packet with SRTP's tag exceeds the MTU
  kSendProtect,       // SRTP protect failed
  kReportNotStarted,  // a sender report before any media of its upstream
  kCount,             // not a reason: the number of values
};

absl::string_view ViewerDropName(ViewerDrop drop);

struct ViewerCounters {
  std::array<uint64_t, static_cast<size_t>(ViewerDrop::kCount)> drops{};
  uint64_t stun_answered = 0;
  uint64_t dtls_in = 0;
  uint64_t rtcp_in = 0;
  uint64_t rtp_sent = 0;
  uint64_t sender_reports_sent = 0;
  uint64_t nacks = 0;              // NACK packets passed up
  uint64_t keyframe_requests = 0;  // PLI/FIR passed up
  uint64_t feedback_unmapped = 0;  // feedback for an SSRC we do not send
  uint64_t source_changes = 0;     // re-basings of an outgoing stream
};

class ViewerSession {
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

  struct Options {
    // RFC 7675: media stops 30 s after the last valid check.
    absl::Duration consent_lifetime = absl::Seconds(30);
    // ICE and DTLS must be done this long after creation.
    absl::Duration setup_timeout = absl::Seconds(30);
    // No SRTP datagram sent is larger.
    size_t mtu = 1200;
  };

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
  ~ViewerSession();
  ViewerSession(const ViewerSession&) = delete;
  ViewerSession& operator=(const ViewerSession&) = delete;

  // One datagram from `from` on the edge port (any bytes are safe).
  void OnDatagram(absl::Span<const uint8_t> datagram,
                  const ice::TransportAddress& from, absl::Time now);

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
  void OnTimer(absl::Time now);
  // When OnTimer is due next; InfiniteFuture once ended.
  absl::Time NextTimeout(absl::Time now) const;

  // Sends close_notify when connected and ends the session (kClosed).
  void Close(CloseReason reason);

  const std::string& id() const { return id_; }
  SessionState state() const { return state_; }
  bool ended() const {
    return state_ == SessionState::kClosed || state_ == SessionState::kFailed;
  }
  CloseReason close_reason() const { return close_reason_; }
  // Why it failed (DTLS's error), OK otherwise.
  const absl::Status& error() const { return error_; }
  const std::string& local_ufrag() const { return ice_.local().ufrag; }
  // Where media goes, once ICE selected an address.
  std::optional<ice::TransportAddress> selected() const {
    return ice_.selected();
  }
  bool IsValidated(const ice::TransportAddress& address) const {
    return ice_.IsValidated(address);
  }
  const ice::IceLite& ice() const { return ice_; }
  const dtls::DtlsTransport& dtls() const { return *dtls_; }
  const ViewerCounters& counters() const { return counters_; }

 private:
  // One outgoing stream: what the browser was told, and the offsets that
  // keep its numbering continuous over the relay's upstream changes.
  struct OutStream {
    bool accepted = false;
    int payload_type = 0;
    uint32_t ssrc = 0;
    uint32_t clock_rate = 90000;
    bool started = false;
    uint32_t source_ssrc = 0;
    uint16_t seq_offset = 0;  // outgoing = upstream + offset
    uint32_t ts_offset = 0;
    uint16_t first_seq = 0;  // the first outgoing number of source_ssrc
    // The source before the last change, for its late packets and NACKs.
    bool has_previous = false;
    uint32_t previous_source_ssrc = 0;
    uint16_t previous_seq_offset = 0;
    uint32_t previous_ts_offset = 0;
    uint16_t last_seq = 0;  // the newest sequence number sent
    uint32_t last_ts = 0;   // its timestamp
    absl::Time last_time = absl::InfinitePast();  // when it was sent
    // What the browser got, for this stream's sender reports.
    uint32_t packets_sent = 0;
    uint32_t octets_sent = 0;  // payload bytes
  };

  class DtlsListener;
  class RtcpHandler;

  ViewerSession(std::string id, ice::IceLite ice, Options options,
                DatagramSink* sink, Listener* listener, absl::Time now);

  void OnStun(absl::Span<const uint8_t> datagram,
              const ice::TransportAddress& from, absl::Time now);
  void OnDtls(absl::Span<const uint8_t> datagram,
              const ice::TransportAddress& from, absl::Time now);
  void OnRtcp(absl::Span<const uint8_t> datagram,
              const ice::TransportAddress& from);
  // Feedback from the browser, by the SSRC it names.
  void HandleNack(uint32_t media_ssrc, absl::Span<const uint16_t> seqs);
  void HandleKeyframeRequest(uint32_t media_ssrc);
  // Moves the state on from what ICE, DTLS and SRTP say now.
  void Update(absl::Time now);
  void End(SessionState state, CloseReason reason, absl::Status error);
  void SetState(SessionState state);
  void Drop(ViewerDrop drop) { ++counters_.drops[static_cast<size_t>(drop)]; }

  const std::string id_;
  const Options options_;
  DatagramSink* const sink_;
  Listener* const listener_;
  const absl::Time setup_deadline_;
  ice::IceLite ice_;
  std::unique_ptr<DtlsListener> dtls_listener_;
  std::unique_ptr<dtls::DtlsTransport> dtls_;
  std::unique_ptr<dtls::SrtpSession> srtp_;
  // Where DTLS replies go: the validated source of the last DTLS datagram.
  ice::TransportAddress dtls_peer_;
  std::array<OutStream, 2> out_;  // by Track
  SessionState state_ = SessionState::kNew;
  CloseReason close_reason_ = CloseReason::kNone;
  absl::Status error_;
  // Scratch buffers, so the packet path does not allocate.
  std::vector<uint8_t> send_buffer_;
  std::vector<uint8_t> rtcp_buffer_;
  std::vector<uint16_t> nack_seqs_;
  std::array<uint8_t, ice::IceLite::kMaxReplySize> stun_reply_{};
  ViewerCounters counters_;
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_VIEWER_SESSION_H_
