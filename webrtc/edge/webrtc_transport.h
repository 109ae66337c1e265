// The transport of one browser session on the relay's edge port, whichever
// way its media flows (a WHEP viewer, a WHIP publisher): ICE-lite answers
// the browser's checks, DTLS as the passive side (the server) runs only
// with an address that passed one, and its keys open an SRTP session. The
// port's datagrams are told apart by first byte (RFC 7983); SRTP and SRTCP
// from a checked address are authenticated and handed up in the clear, and
// what the session sends is protected and goes only to the address ICE
// selected, while consent is fresh (RFC 7675).
//
// No socket and no clock: the owner hands in each datagram with its source
// and the time, and calls OnTimer at NextTimeout(). Not thread-safe. The
// listener is called from within OnDatagram, OnTimer and Close; it may call
// SendRtp and SendRtcp but must not destroy the transport.
#ifndef CASCADE_WEBRTC_EDGE_WEBRTC_TRANSPORT_H_
#define CASCADE_WEBRTC_EDGE_WEBRTC_TRANSPORT_H_

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
#include "webrtc/dtls/certificate.h"
#include "webrtc/dtls/dtls_transport.h"
#include "webrtc/dtls/srtp_session.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/ice/stun.h"
#include "webrtc/sdp/answer.h"

namespace cascade::edge {

// Where a session's datagrams leave: the relay's edge socket.
class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  // `datagram` lives only through the call. When it starts the buffer
  // LendBuffer returned, the sink keeps that buffer instead of copying it.
  virtual void Send(absl::Span<const uint8_t> datagram,
                    const ice::TransportAddress& to) = 0;
  // A buffer the next media packet may be built and protected in, so that
  // sending it copies nothing; the same one until Send takes it. Empty when
  // the sink lends none.
  virtual absl::Span<uint8_t> LendBuffer() { return {}; }
};

// Where a browser session stands, viewer's or publisher's.
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

// A session's two media tracks, as the relay's tree carries them.
enum class Track : uint8_t { kVideo = 0, kAudio = 1 };

// What became of a datagram, or of a packet to send, that did not go
// through: one value per reason, for /metrics.
enum class TransportDrop : uint8_t {
  kNotWebrtc = 0,     // neither STUN, DTLS nor RTP/RTCP (RFC 7983)
  kStunRefused,       // IceLite did not answer it (see ice().counters())
  kDtlsUnchecked,     // DTLS from an address that passed no ICE check
  kDtlsRejected,      // DtlsTransport refused it (see dtls counters)
  kSrtpNotConnected,  // SRTP or SRTCP before DTLS finished
  kSrtpUnchecked,     // SRTP or SRTCP from an address that passed no check
  kSrtpOversize,      // larger than a datagram we read
  kRtpUnprotect,      // SRTP authentication, replay or form failed
  kRtcpUnprotect,     // the same for SRTCP
  kSendNotConnected,  // a send before connected, or with consent expired
  kSendTooLarge,      // the packet with SRTP's tag exceeds the MTU
  kSendProtect,       // SRTP protect failed
  kCount,             // not a reason: the number of values
};

absl::string_view TransportDropName(TransportDrop drop);

struct TransportCounters {
  std::array<uint64_t, static_cast<size_t>(TransportDrop::kCount)> drops{};
  uint64_t stun_answered = 0;
  uint64_t dtls_in = 0;
  uint64_t rtp_in = 0;  // authenticated, handed up
  uint64_t rtcp_in = 0;
  uint64_t rtp_sent = 0;
  uint64_t rtcp_sent = 0;
};

class WebrtcTransport : private dtls::DtlsTransport::Listener {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void OnTransportState(SessionState state) = 0;
    // An authenticated packet from a checked address, in the clear; the
    // bytes live through the call. RTP and RTCP are told apart (RFC 5761)
    // but not parsed.
    virtual void OnRtp(absl::Span<const uint8_t> packet, absl::Time now) = 0;
    virtual void OnRtcp(absl::Span<const uint8_t> packet, absl::Time now) = 0;
  };

  struct Options {
    // RFC 7675: media stops 30 s after the last valid check.
    absl::Duration consent_lifetime = absl::Seconds(30);
    // ICE and DTLS must be done this long after creation.
    absl::Duration setup_timeout = absl::Seconds(30);
    // No datagram sent is larger.
    size_t mtu = 1200;
  };

  // `answer` is BuildAnswer's result for `answer_options` (its ICE
  // credentials are this side's; the browser's ufrag and fingerprint come
  // from the answer). `certificate`, `sink` and `listener` must outlive the
  // transport. InvalidArgument for an offer without a usable fingerprint.
  static absl::StatusOr<std::unique_ptr<WebrtcTransport>> Create(
      const sdp::Answer& answer, const sdp::AnswerOptions& answer_options,
      const dtls::Certificate& certificate, DatagramSink* sink,
      Listener* listener, absl::Time now, Options options);
  ~WebrtcTransport() override;
  WebrtcTransport(const WebrtcTransport&) = delete;
  WebrtcTransport& operator=(const WebrtcTransport&) = delete;

  // One datagram from `from` on the edge port (any bytes are safe).
  void OnDatagram(absl::Span<const uint8_t> datagram,
                  const ice::TransportAddress& from, absl::Time now);

  // Connected, an address selected and its consent fresh.
  bool CanSend(absl::Time now) const;
  // Protects the packet of `size` bytes at the start of `buffer` in place
  // (room for the overhead below) and sends it to the selected address.
  // False, counted, when it cannot be sent.
  bool SendRtp(absl::Span<uint8_t> buffer, size_t size, absl::Time now);
  bool SendRtcp(absl::Span<uint8_t> buffer, size_t size, absl::Time now);
  // Where to build the next packet for SendRtp: the sink's lent buffer
  // when it has one of at least `min_size` bytes, else empty.
  absl::Span<uint8_t> LentBuffer(size_t min_size) {
    const absl::Span<uint8_t> lent = sink_->LendBuffer();
    return lent.size() >= min_size ? lent : absl::Span<uint8_t>();
  }
  // Bytes SRTP adds; 0 before keyed.
  size_t rtp_overhead() const;
  size_t rtcp_overhead() const;

  // Runs DTLS retransmission, consent and setup deadlines.
  void OnTimer(absl::Time now);
  // When OnTimer is due next; InfiniteFuture once ended.
  absl::Time NextTimeout(absl::Time now) const;

  // Sends close_notify when connected and ends the transport (kClosed).
  void Close(CloseReason reason);

  SessionState state() const { return state_; }
  bool ended() const {
    return state_ == SessionState::kClosed || state_ == SessionState::kFailed;
  }
  CloseReason close_reason() const { return close_reason_; }
  // Why it failed (DTLS's or SRTP's error), OK otherwise.
  const absl::Status& error() const { return error_; }
  const std::string& local_ufrag() const { return ice_.local().ufrag; }
  std::optional<ice::TransportAddress> selected() const {
    return ice_.selected();
  }
  bool IsValidated(const ice::TransportAddress& address) const {
    return ice_.IsValidated(address);
  }
  const ice::IceLite& ice() const { return ice_; }
  const dtls::DtlsTransport& dtls() const { return *dtls_; }
  const TransportCounters& counters() const { return counters_; }

 private:
  WebrtcTransport(ice::IceLite ice, Options options, DatagramSink* sink,
                  Listener* listener, absl::Time now);

  // dtls::DtlsTransport::Listener: replies go where DTLS last came from;
  // the state is read back by Update once the call has returned.
  void OnDtlsSend(absl::Span<const uint8_t> datagram) override;
  void OnDtlsState(dtls::DtlsState, const absl::Status&) override {}

  void OnStun(absl::Span<const uint8_t> datagram,
              const ice::TransportAddress& from, absl::Time now);
  void OnDtls(absl::Span<const uint8_t> datagram,
              const ice::TransportAddress& from, absl::Time now);
  void OnSrtp(absl::Span<const uint8_t> datagram,
              const ice::TransportAddress& from, absl::Time now);
  bool Send(absl::Span<uint8_t> buffer, size_t size, bool rtcp, absl::Time now);
  // Moves the state on from what ICE, DTLS and SRTP say now.
  void Update(absl::Time now);
  void End(SessionState state, CloseReason reason, absl::Status error);
  void SetState(SessionState state);
  void Drop(TransportDrop drop) {
    ++counters_.drops[static_cast<size_t>(drop)];
  }

  const Options options_;
  DatagramSink* const sink_;
  Listener* const listener_;
  const absl::Time setup_deadline_;
  ice::IceLite ice_;
  std::unique_ptr<dtls::DtlsTransport> dtls_;
  std::unique_ptr<dtls::SrtpSession> srtp_;
  // Where DTLS replies go: the checked source of the last DTLS datagram.
  ice::TransportAddress dtls_peer_;
  SessionState state_ = SessionState::kNew;
  CloseReason close_reason_ = CloseReason::kNone;
  absl::Status error_;
  // Scratch buffers, so the packet path does not allocate.
  std::vector<uint8_t> receive_buffer_;
  std::array<uint8_t, ice::IceLite::kMaxReplySize> stun_reply_{};
  TransportCounters counters_;
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_WEBRTC_TRANSPORT_H_
