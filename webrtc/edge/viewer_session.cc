#include "webrtc/edge/viewer_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "media/rtp/seq.h"
#include "webrtc/ice/demux.h"

namespace cascade::edge {

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

absl::string_view ViewerDropName(ViewerDrop drop) {
  static constexpr absl::string_view kNames[] = {
      "not_webrtc",         "stun_refused",       "dtls_unchecked",
      "dtls_rejected",      "rtp_from_viewer",    "rtcp_not_connected",
      "rtcp_unchecked",     "rtcp_oversize",      "rtcp_unprotect",
      "rtcp_malformed",     "send_not_connected", "send_no_track",
      "send_bad_rtp",       "send_too_large",     "send_protect",
      "report_not_started",
  };
  static_assert(std::size(kNames) == static_cast<size_t>(ViewerDrop::kCount));
  const size_t i = static_cast<size_t>(drop);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

// DTLS's datagrams go to the address its last datagram came from; its state
// is read back by Update once the call into the transport has returned.
class ViewerSession::DtlsListener : public dtls::DtlsTransport::Listener {
 public:
  explicit DtlsListener(ViewerSession* session) : session_(session) {}
  void OnDtlsSend(absl::Span<const uint8_t> datagram) override {
    session_->sink_->Send(datagram, session_->dtls_peer_);
  }
  void OnDtlsState(dtls::DtlsState, const absl::Status&) override {}

 private:
  ViewerSession* const session_;
};

class ViewerSession::RtcpHandler : public rtp::RtcpVisitor {
 public:
  explicit RtcpHandler(ViewerSession* session) : session_(session) {}
  void OnNack(const rtp::NackView& nack) override {
    std::vector<uint16_t>& seqs = session_->nack_seqs_;
    seqs.clear();
    nack.ForEachSequenceNumber([&](uint16_t seq) { seqs.push_back(seq); });
    session_->HandleNack(nack.media_ssrc, seqs);
  }
  void OnPli(const rtp::PliView& pli) override {
    session_->HandleKeyframeRequest(pli.media_ssrc);
  }
  void OnFir(const rtp::FirView& fir) override {
    // One request per FIR packet, for the entry naming our video (if any).
    for (size_t i = 0; i < fir.entry_count(); ++i) {
      const uint32_t ssrc = fir.entry(i).ssrc;
      const OutStream& video = session_->out_[0];
      if (video.accepted && ssrc == video.ssrc) {
        session_->HandleKeyframeRequest(ssrc);
        return;
      }
    }
    ++session_->counters_.feedback_unmapped;
  }

 private:
  ViewerSession* const session_;
};

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

bool Sends(const std::optional<sdp::AcceptedMedia>& media) {
  return media.has_value() && (media->direction == sdp::Direction::kSendOnly ||
                               media->direction == sdp::Direction::kSendRecv);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ViewerSession>> ViewerSession::Create(
    std::string id, const sdp::Answer& answer,
    const sdp::AnswerOptions& answer_options,
    const dtls::Certificate& certificate, DatagramSink* sink,
    Listener* listener, absl::Time now, Options options) {
  if (sink == nullptr || listener == nullptr) {
    return absl::InvalidArgumentError(
        "viewer session needs a sink and a listener");
  }
  if (answer_options.role != sdp::RelayRole::kSend) {
    return absl::InvalidArgumentError("a viewer session only sends media");
  }
  auto fingerprint = RemoteFingerprint(answer.remote_fingerprints);
  if (!fingerprint.ok()) return fingerprint.status();
  auto ice =
      ice::IceLite::Create({{answer_options.ice_ufrag, answer_options.ice_pwd},
                            answer.remote_ice_ufrag,
                            options.consent_lifetime});
  if (!ice.ok()) return ice.status();

  std::unique_ptr<ViewerSession> session(new ViewerSession(
      std::move(id), *std::move(ice), options, sink, listener, now));
  dtls::DtlsOptions dtls_options;
  dtls_options.role = dtls::DtlsRole::kServer;
  dtls_options.remote_fingerprint = *fingerprint;
  dtls_options.mtu = options.mtu;
  auto dtls = dtls::DtlsTransport::Create(certificate, dtls_options,
                                          session->dtls_listener_.get());
  if (!dtls.ok()) return dtls.status();
  session->dtls_ = *std::move(dtls);

  OutStream& video = session->out_[static_cast<size_t>(Track::kVideo)];
  video.accepted = answer_options.has_video && Sends(answer.video);
  if (video.accepted) {
    video.payload_type = answer.video->payload_type;
    video.ssrc = answer_options.video.ssrc;
    video.clock_rate = 90000;
  }
  OutStream& audio = session->out_[static_cast<size_t>(Track::kAudio)];
  audio.accepted = answer_options.has_audio && Sends(answer.audio);
  if (audio.accepted) {
    audio.payload_type = answer.audio->payload_type;
    audio.ssrc = answer_options.audio.ssrc;
    audio.clock_rate = 48000;
  }
  return session;
}

ViewerSession::ViewerSession(std::string id, ice::IceLite ice, Options options,
                             DatagramSink* sink, Listener* listener,
                             absl::Time now)
    : id_(std::move(id)),
      options_(options),
      sink_(sink),
      listener_(listener),
      setup_deadline_(now + options.setup_timeout),
      ice_(std::move(ice)),
      dtls_listener_(std::make_unique<DtlsListener>(this)),
      send_buffer_(options.mtu),
      rtcp_buffer_(dtls::kMaxDatagramSize) {}

ViewerSession::~ViewerSession() = default;

void ViewerSession::OnDatagram(absl::Span<const uint8_t> datagram,
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
      if (rtp::Classify(datagram) == rtp::PacketKind::kRtcp) {
        OnRtcp(datagram, from);
      } else {
        Drop(ViewerDrop::kRtpFromViewer);
      }
      break;
    case ice::DatagramKind::kOther:
      Drop(ViewerDrop::kNotWebrtc);
      break;
  }
  Update(now);
}

void ViewerSession::OnStun(absl::Span<const uint8_t> datagram,
                           const ice::TransportAddress& from, absl::Time now) {
  const ice::IceLite::Reply reply =
      ice_.OnStun(datagram, from, now, absl::MakeSpan(stun_reply_));
  if (reply.outcome == ice::IceOutcome::kAnswered) {
    ++counters_.stun_answered;
  } else {
    Drop(ViewerDrop::kStunRefused);
  }
  // IceLite decides whether anything goes back, and never more than asked.
  if (reply.size > 0)
    sink_->Send(absl::MakeConstSpan(stun_reply_.data(), reply.size), from);
}

void ViewerSession::OnDtls(absl::Span<const uint8_t> datagram,
                           const ice::TransportAddress& from, absl::Time now) {
  // DTLS only on a path ICE checked: else the handshake would be a
  // reflector toward any forged source.
  if (!ice_.IsValidated(from)) {
    Drop(ViewerDrop::kDtlsUnchecked);
    return;
  }
  dtls_peer_ = from;
  if (dtls_->Feed(datagram, now) != dtls::DtlsInput::kAccepted) {
    Drop(ViewerDrop::kDtlsRejected);
    return;
  }
  ++counters_.dtls_in;
}

void ViewerSession::OnRtcp(absl::Span<const uint8_t> datagram,
                           const ice::TransportAddress& from) {
  if (srtp_ == nullptr) {
    Drop(ViewerDrop::kRtcpNotConnected);
    return;
  }
  if (!ice_.IsValidated(from)) {
    Drop(ViewerDrop::kRtcpUnchecked);
    return;
  }
  if (datagram.size() > rtcp_buffer_.size()) {
    Drop(ViewerDrop::kRtcpOversize);
    return;
  }
  std::copy(datagram.begin(), datagram.end(), rtcp_buffer_.begin());
  size_t size = datagram.size();
  if (srtp_->UnprotectRtcp(absl::MakeSpan(rtcp_buffer_.data(), size), &size) !=
      dtls::SrtpSessionError::kOk) {
    Drop(ViewerDrop::kRtcpUnprotect);
    return;
  }
  RtcpHandler handler(this);
  if (rtp::ParseRtcpCompound(absl::MakeConstSpan(rtcp_buffer_.data(), size),
                             &handler) != rtp::RtcpError::kOk) {
    Drop(ViewerDrop::kRtcpMalformed);
    return;
  }
  ++counters_.rtcp_in;
}

void ViewerSession::HandleNack(uint32_t media_ssrc,
                               absl::Span<const uint16_t> seqs) {
  for (OutStream& out : out_) {
    if (!out.accepted || !out.started || out.ssrc != media_ssrc) continue;
    ++counters_.nacks;
    // Numbers before the current source's first belong to the previous one.
    std::vector<uint16_t> previous;
    // `seqs` is nack_seqs_: translated in place, never ahead of the reader.
    size_t current = 0;
    for (uint16_t seq : seqs) {
      if (out.has_previous && rtp::SeqOlder(seq, out.first_seq)) {
        previous.push_back(
            static_cast<uint16_t>(seq - out.previous_seq_offset));
      } else {
        nack_seqs_[current++] = static_cast<uint16_t>(seq - out.seq_offset);
      }
    }
    if (!previous.empty()) {
      listener_->OnNack(*this, out.previous_source_ssrc, previous);
    }
    if (current > 0) {
      listener_->OnNack(*this, out.source_ssrc,
                        absl::MakeConstSpan(nack_seqs_.data(), current));
    }
    return;
  }
  ++counters_.feedback_unmapped;
}

void ViewerSession::HandleKeyframeRequest(uint32_t media_ssrc) {
  const OutStream& video = out_[static_cast<size_t>(Track::kVideo)];
  if (!video.accepted || video.ssrc != media_ssrc) {
    ++counters_.feedback_unmapped;
    return;
  }
  ++counters_.keyframe_requests;
  listener_->OnKeyframeRequest(*this);
}

bool ViewerSession::SendRtp(Track track, absl::Span<const uint8_t> packet,
                            absl::Time now) {
  const std::optional<ice::TransportAddress> to = ice_.selected();
  if (state_ != SessionState::kConnected || !to.has_value() ||
      ice_.ConsentExpired(now)) {
    Drop(ViewerDrop::kSendNotConnected);
    return false;
  }
  OutStream& out = out_[static_cast<size_t>(track)];
  if (!out.accepted) {
    Drop(ViewerDrop::kSendNoTrack);
    return false;
  }
  rtp::RtpView view;
  if (rtp::ParseRtp(packet, &view) != rtp::RtpError::kOk) {
    Drop(ViewerDrop::kSendBadRtp);
    return false;
  }
  if (rtp::kRtpFixedHeaderSize + view.payload.size() + srtp_->rtp_overhead() >
      send_buffer_.size()) {
    Drop(ViewerDrop::kSendTooLarge);
    return false;
  }

  uint16_t seq_offset = out.seq_offset;
  uint32_t ts_offset = out.ts_offset;
  bool advance = true;
  if (!out.started) {
    out.started = true;
    out.source_ssrc = view.ssrc;
    out.first_seq = view.sequence_number;
  } else if (out.has_previous && view.ssrc == out.previous_source_ssrc &&
             view.ssrc != out.source_ssrc) {
    // A late or resent packet of the source before the change: its old
    // numbering, and it moves nothing on.
    seq_offset = out.previous_seq_offset;
    ts_offset = out.previous_ts_offset;
    advance = false;
  } else if (view.ssrc != out.source_ssrc) {
    // The upstream changed: continue right after the newest number sent,
    // the timestamp advanced by the time that passed since.
    ++counters_.source_changes;
    out.has_previous = true;
    out.previous_source_ssrc = out.source_ssrc;
    out.previous_seq_offset = out.seq_offset;
    out.previous_ts_offset = out.ts_offset;
    // Bounded: a clock that went back, or a first packet never sent, still
    // moves the timestamp on by one tick; an hour's gap by at most an hour.
    const absl::Duration gap =
        out.last_time == absl::InfinitePast()
            ? absl::ZeroDuration()
            : std::clamp(now - out.last_time, absl::ZeroDuration(),
                         absl::Hours(1));
    const uint32_t ticks = static_cast<uint32_t>(std::max<int64_t>(
        1, absl::ToInt64Microseconds(gap) * out.clock_rate / 1000000));
    out.first_seq = static_cast<uint16_t>(out.last_seq + 1);
    out.seq_offset =
        static_cast<uint16_t>(out.first_seq - view.sequence_number);
    out.ts_offset = out.last_ts + ticks - view.timestamp;
    out.source_ssrc = view.ssrc;
    seq_offset = out.seq_offset;
    ts_offset = out.ts_offset;
  }

  rtp::RtpHeader header;
  header.marker = view.marker;
  header.payload_type = static_cast<uint8_t>(out.payload_type);
  header.sequence_number =
      static_cast<uint16_t>(view.sequence_number + seq_offset);
  header.timestamp = view.timestamp + ts_offset;
  header.ssrc = out.ssrc;
  size_t size =
      rtp::WriteRtpPacket(header, view.payload, absl::MakeSpan(send_buffer_));
  if (size == 0) {
    Drop(ViewerDrop::kSendTooLarge);
    return false;
  }
  if (srtp_->ProtectRtp(absl::MakeSpan(send_buffer_), &size) !=
      dtls::SrtpSessionError::kOk) {
    Drop(ViewerDrop::kSendProtect);
    return false;
  }
  if (advance && (out.last_time == absl::InfinitePast() ||
                  rtp::SeqNewer(header.sequence_number, out.last_seq))) {
    out.last_seq = header.sequence_number;
    out.last_ts = header.timestamp;
    out.last_time = now;
  }
  ++out.packets_sent;
  out.octets_sent += static_cast<uint32_t>(view.payload.size());
  sink_->Send(absl::MakeConstSpan(send_buffer_.data(), size), *to);
  ++counters_.rtp_sent;
  return true;
}

bool ViewerSession::SendSenderReport(Track track, uint32_t source_ssrc,
                                     const rtp::SenderInfo& info,
                                     absl::Time now) {
  const std::optional<ice::TransportAddress> to = ice_.selected();
  if (state_ != SessionState::kConnected || !to.has_value() ||
      ice_.ConsentExpired(now)) {
    Drop(ViewerDrop::kSendNotConnected);
    return false;
  }
  OutStream& out = out_[static_cast<size_t>(track)];
  if (!out.accepted) {
    Drop(ViewerDrop::kSendNoTrack);
    return false;
  }
  // Before its media the browser could not place the report; a report of
  // an upstream we left would map another clock.
  if (!out.started || source_ssrc != out.source_ssrc) {
    Drop(ViewerDrop::kReportNotStarted);
    return false;
  }
  rtp::SenderInfo rewritten = info;
  rewritten.rtp_timestamp = info.rtp_timestamp + out.ts_offset;
  rewritten.packet_count = out.packets_sent;
  rewritten.octet_count = out.octets_sent;
  size_t size = rtp::BuildSenderReport(out.ssrc, rewritten, {},
                                       absl::MakeSpan(send_buffer_));
  if (size == 0 || srtp_->ProtectRtcp(absl::MakeSpan(send_buffer_), &size) !=
                       dtls::SrtpSessionError::kOk) {
    Drop(ViewerDrop::kSendProtect);
    return false;
  }
  sink_->Send(absl::MakeConstSpan(send_buffer_.data(), size), *to);
  ++counters_.sender_reports_sent;
  return true;
}

void ViewerSession::OnTimer(absl::Time now) {
  if (ended()) return;
  dtls_->OnTimer(now);
  Update(now);
}

absl::Time ViewerSession::NextTimeout(absl::Time now) const {
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

void ViewerSession::Close(CloseReason reason) {
  if (ended()) return;
  dtls_->Close();
  End(SessionState::kClosed, reason, absl::OkStatus());
}

void ViewerSession::Update(absl::Time now) {
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
  // No media and no DTLS toward a browser that stopped checking (RFC 7675).
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

void ViewerSession::End(SessionState state, CloseReason reason,
                        absl::Status error) {
  close_reason_ = reason;
  error_ = std::move(error);
  SetState(state);
}

void ViewerSession::SetState(SessionState state) {
  if (state == state_) return;
  state_ = state;
  listener_->OnStateChange(*this, state);
}

}  // namespace cascade::edge
