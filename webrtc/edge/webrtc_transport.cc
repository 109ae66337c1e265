#include "webrtc/edge/webrtc_transport.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "media/rtp/demux.h"
#include "webrtc/edge/srtp_gcm_openssl.h"
#include "webrtc/ice/demux.h"

namespace cascade::edge {
namespace {

// sdp's "sha-256 AB:CD:..." as dtls's Fingerprint: the first one of the
// offer that DTLS can pin a key with.
absl::StatusOr<dtls::Fingerprint> RemoteFingerprint(
    const std::vector<sdp::Fingerprint>& fingerprints) {
  for (const sdp::Fingerprint& f : fingerprints) {
    const std::string text = f.ToString();
    const std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(text, absl::MaxSplits(' ', 1));
    auto parsed = dtls::ParseFingerprint(parts.first, parts.second);
    if (parsed.ok()) return parsed;
  }
  return absl::InvalidArgumentError("no usable DTLS fingerprint in the offer");
}

}  // namespace

absl::string_view SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kNew:
      return "new";
    case SessionState::kChecking:
      return "checking";
    case SessionState::kConnected:
      return "connected";
    case SessionState::kClosed:
      return "closed";
    case SessionState::kFailed:
      return "failed";
  }
  return "unknown";
}

absl::string_view CloseReasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::kNone:
      return "none";
    case CloseReason::kDeleted:
      return "deleted";
    case CloseReason::kDtlsClosed:
      return "dtls_closed";
    case CloseReason::kConsentExpired:
      return "consent_expired";
    case CloseReason::kSetupTimeout:
      return "setup_timeout";
    case CloseReason::kDtlsFailed:
      return "dtls_failed";
    case CloseReason::kSrtpFailed:
      return "srtp_failed";
  }
  return "unknown";
}

absl::string_view TransportDropName(TransportDrop drop) {
  static constexpr absl::string_view kNames[] = {
      "not_webrtc",         "stun_refused",       "dtls_unchecked",
      "dtls_rejected",      "srtp_not_connected", "srtp_unchecked",
      "srtp_oversize",      "rtp_unprotect",      "rtcp_unprotect",
      "send_not_connected", "send_too_large",     "send_protect",
  };
  static_assert(std::size(kNames) ==
                static_cast<size_t>(TransportDrop::kCount));
  const size_t i = static_cast<size_t>(drop);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

absl::StatusOr<std::unique_ptr<WebrtcTransport>> WebrtcTransport::Create(
    const sdp::Answer& answer, const sdp::AnswerOptions& answer_options,
    const dtls::Certificate& certificate, DatagramSink* sink,
    Listener* listener, absl::Time now, Options options) {
  if (sink == nullptr || listener == nullptr) {
    return absl::InvalidArgumentError(
        "a WebRTC transport needs a sink and a listener");
  }
  auto fingerprint = RemoteFingerprint(answer.remote_fingerprints);
  if (!fingerprint.ok()) return fingerprint.status();
  auto ice =
      ice::IceLite::Create({{answer_options.ice_ufrag, answer_options.ice_pwd},
                            answer.remote_ice_ufrag,
                            options.consent_lifetime});
  if (!ice.ok()) return ice.status();

  std::unique_ptr<WebrtcTransport> transport(
      new WebrtcTransport(*std::move(ice), options, sink, listener, now));
  dtls::DtlsOptions dtls_options;
  dtls_options.role = dtls::DtlsRole::kServer;
  dtls_options.remote_fingerprint = *fingerprint;
  dtls_options.mtu = options.mtu;
  auto dtls =
      dtls::DtlsTransport::Create(certificate, dtls_options, transport.get());
  if (!dtls.ok()) return dtls.status();
  transport->dtls_ = *std::move(dtls);
  return transport;
}

WebrtcTransport::WebrtcTransport(ice::IceLite ice, Options options,
                                 DatagramSink* sink, Listener* listener,
                                 absl::Time now)
    : options_(options),
      sink_(sink),
      listener_(listener),
      setup_deadline_(now + options.setup_timeout),
      ice_(std::move(ice)),
      receive_buffer_(dtls::kMaxDatagramSize) {}

WebrtcTransport::~WebrtcTransport() = default;

void WebrtcTransport::OnDtlsSend(absl::Span<const uint8_t> datagram) {
  sink_->Send(datagram, dtls_peer_);
}

void WebrtcTransport::OnDatagram(absl::Span<const uint8_t> datagram,
                                 const ice::TransportAddress& from,
                                 absl::Time now) {
  if (ended()) return;
  switch (ice::Classify(datagram)) {
    case ice::DatagramKind::kStun:
      OnStun(datagram, from, now);
      break;
    case ice::DatagramKind::kDtls:
      OnDtls(datagram, from, now);
      break;
    case ice::DatagramKind::kRtp:
      OnSrtp(datagram, from, now);
      break;
    case ice::DatagramKind::kOther:
      Drop(TransportDrop::kNotWebrtc);
      break;
  }
  Update(now);
}

void WebrtcTransport::OnStun(absl::Span<const uint8_t> datagram,
                             const ice::TransportAddress& from,
                             absl::Time now) {
  const ice::IceLite::Reply reply =
      ice_.OnStun(datagram, from, now, absl::MakeSpan(stun_reply_));
  if (reply.outcome == ice::IceOutcome::kAnswered) {
    ++counters_.stun_answered;
  } else {
    Drop(TransportDrop::kStunRefused);
  }
  // IceLite decides whether anything goes back, and never more than asked.
  if (reply.size > 0)
    sink_->Send(absl::MakeConstSpan(stun_reply_.data(), reply.size), from);
}

void WebrtcTransport::OnDtls(absl::Span<const uint8_t> datagram,
                             const ice::TransportAddress& from,
                             absl::Time now) {
  // DTLS only on a path ICE checked: else the handshake would be a
  // reflector toward any forged source.
  if (!ice_.IsValidated(from)) {
    Drop(TransportDrop::kDtlsUnchecked);
    return;
  }
  dtls_peer_ = from;
  if (dtls_->Feed(datagram, now) != dtls::DtlsInput::kAccepted) {
    Drop(TransportDrop::kDtlsRejected);
    return;
  }
  ++counters_.dtls_in;
}

void WebrtcTransport::OnSrtp(absl::Span<const uint8_t> datagram,
                             const ice::TransportAddress& from,
                             absl::Time now) {
  if (srtp_ == nullptr) {
    Drop(TransportDrop::kSrtpNotConnected);
    return;
  }
  if (!ice_.IsValidated(from)) {
    Drop(TransportDrop::kSrtpUnchecked);
    return;
  }
  if (datagram.size() > receive_buffer_.size()) {
    Drop(TransportDrop::kSrtpOversize);
    return;
  }
  std::copy(datagram.begin(), datagram.end(), receive_buffer_.begin());
  const absl::Span<uint8_t> packet(receive_buffer_.data(), datagram.size());
  size_t size = datagram.size();
  if (rtp::Classify(datagram) == rtp::PacketKind::kRtcp) {
    if (srtp_->UnprotectRtcp(packet, &size) != dtls::SrtpSessionError::kOk) {
      Drop(TransportDrop::kRtcpUnprotect);
      return;
    }
    ++counters_.rtcp_in;
    listener_->OnRtcp(absl::MakeConstSpan(receive_buffer_.data(), size), now);
    return;
  }
  if (srtp_->UnprotectRtp(packet, &size) != dtls::SrtpSessionError::kOk) {
    Drop(TransportDrop::kRtpUnprotect);
    return;
  }
  ++counters_.rtp_in;
  listener_->OnRtp(absl::MakeConstSpan(receive_buffer_.data(), size), now);
}

bool WebrtcTransport::CanSend(absl::Time now) const {
  return state_ == SessionState::kConnected && ice_.selected().has_value() &&
         !ice_.ConsentExpired(now);
}

size_t WebrtcTransport::rtp_overhead() const {
  return srtp_ == nullptr ? 0 : srtp_->rtp_overhead();
}

size_t WebrtcTransport::rtcp_overhead() const {
  return srtp_ == nullptr ? 0 : srtp_->rtcp_overhead();
}

bool WebrtcTransport::SendRtp(absl::Span<uint8_t> buffer, size_t size,
                              absl::Time now) {
  return Send(buffer, size, /*rtcp=*/false, now);
}

bool WebrtcTransport::SendRtcp(absl::Span<uint8_t> buffer, size_t size,
                               absl::Time now) {
  return Send(buffer, size, /*rtcp=*/true, now);
}

bool WebrtcTransport::Send(absl::Span<uint8_t> buffer, size_t size, bool rtcp,
                           absl::Time now) {
  if (!CanSend(now)) {
    Drop(TransportDrop::kSendNotConnected);
    return false;
  }
  const size_t overhead = rtcp ? rtcp_overhead() : rtp_overhead();
  if (size + overhead > options_.mtu || size + overhead > buffer.size()) {
    Drop(TransportDrop::kSendTooLarge);
    return false;
  }
  const dtls::SrtpSessionError error = rtcp ? srtp_->ProtectRtcp(buffer, &size)
                                            : srtp_->ProtectRtp(buffer, &size);
  if (error != dtls::SrtpSessionError::kOk) {
    Drop(TransportDrop::kSendProtect);
    return false;
  }
  sink_->Send(absl::MakeConstSpan(buffer.data(), size), *ice_.selected());
  ++(rtcp ? counters_.rtcp_sent : counters_.rtp_sent);
  return true;
}

void WebrtcTransport::OnTimer(absl::Time now) {
  if (ended()) return;
  dtls_->OnTimer(now);
  Update(now);
}

absl::Time WebrtcTransport::NextTimeout(absl::Time now) const {
  if (ended()) return absl::InfiniteFuture();
  absl::Time next = dtls_->NextTimeout(now);
  if (state_ != SessionState::kConnected) {
    next = std::min(next, setup_deadline_);
  }
  if (ice_.selected().has_value()) {
    if (const std::optional<absl::Time> last = ice_.last_consent()) {
      next = std::min(next, *last + options_.consent_lifetime);
    }
  }
  return next;
}

void WebrtcTransport::Close(CloseReason reason) {
  if (ended()) return;
  dtls_->Close();
  End(SessionState::kClosed, reason, absl::OkStatus());
}

void WebrtcTransport::Update(absl::Time now) {
  if (ended()) return;
  switch (dtls_->state()) {
    case dtls::DtlsState::kFailed:
      End(SessionState::kFailed, CloseReason::kDtlsFailed, dtls_->error());
      return;
    case dtls::DtlsState::kClosed:
      End(SessionState::kClosed, CloseReason::kDtlsClosed, absl::OkStatus());
      return;
    case dtls::DtlsState::kConnected:
      if (srtp_ == nullptr) {
        // Once a process: libsrtp's AES-GCM on OpenSSL, not NSS.
        if (absl::Status fast = UseOpenSslForSrtpGcm(); !fast.ok()) {
          End(SessionState::kFailed, CloseReason::kSrtpFailed, fast);
          return;
        }
        auto srtp = dtls::SrtpSession::Create(*dtls_->srtp_keys(),
                                              dtls::DtlsRole::kServer);
        if (!srtp.ok()) {
          End(SessionState::kFailed, CloseReason::kSrtpFailed, srtp.status());
          return;
        }
        srtp_ = *std::move(srtp);
      }
      break;
    default:
      break;
  }
  const bool selected = ice_.selected().has_value();
  // Nothing more toward a browser that stopped checking (RFC 7675).
  if (selected && ice_.ConsentExpired(now)) {
    End(SessionState::kClosed, CloseReason::kConsentExpired, absl::OkStatus());
    return;
  }
  if (srtp_ == nullptr && now >= setup_deadline_) {
    End(SessionState::kFailed, CloseReason::kSetupTimeout,
        absl::DeadlineExceededError(
            absl::StrCat("not connected within ",
                         absl::FormatDuration(options_.setup_timeout))));
    return;
  }
  if (srtp_ != nullptr && selected) {
    SetState(SessionState::kConnected);
  } else if (selected || dtls_->state() == dtls::DtlsState::kHandshaking) {
    SetState(SessionState::kChecking);
  }
}

void WebrtcTransport::End(SessionState state, CloseReason reason,
                          absl::Status error) {
  close_reason_ = reason;
  error_ = std::move(error);
  SetState(state);
}

void WebrtcTransport::SetState(SessionState state) {
  if (state == state_) return;
  state_ = state;
  listener_->OnTransportState(state);
}

}  // namespace cascade::edge
