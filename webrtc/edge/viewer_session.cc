#include "webrtc/edge/viewer_session.h"

#include <utility>

#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"

namespace cascade::edge {
namespace {

bool Sends(const std::optional<sdp::AcceptedMedia>& media) {
  return media.has_value() && (media->direction == sdp::Direction::kSendOnly ||
                               media->direction == sdp::Direction::kSendRecv);
}

}  // namespace

absl::string_view ViewerDropName(ViewerDrop drop) {
  static constexpr absl::string_view kNames[] = {
      "rtp_from_viewer", "rtcp_malformed", "send_not_connected",
      "send_no_track",   "send_bad_rtp",   "report_not_started",
  };
  static_assert(std::size(kNames) == static_cast<size_t>(ViewerDrop::kCount));
  const size_t i = static_cast<size_t>(drop);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

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
      const OutTrack& video = session_->out_[0];
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
  std::unique_ptr<ViewerSession> session(
      new ViewerSession(std::move(id), listener));
  auto transport = WebrtcTransport::Create(answer, answer_options, certificate,
                                           sink, session.get(), now, options);
  if (!transport.ok()) return transport.status();
  session->transport_ = *std::move(transport);

  OutTrack& video = session->out_[static_cast<size_t>(Track::kVideo)];
  video.accepted = answer_options.has_video && Sends(answer.video);
  if (video.accepted) {
    video.payload_type = answer.video->payload_type;
    video.ssrc = answer_options.video.ssrc;
  }
  OutTrack& audio = session->out_[static_cast<size_t>(Track::kAudio)];
  audio.accepted = answer_options.has_audio && Sends(answer.audio);
  if (audio.accepted) {
    audio.payload_type = answer.audio->payload_type;
    audio.ssrc = answer_options.audio.ssrc;
  }
  return session;
}

ViewerSession::ViewerSession(std::string id, Listener* listener)
    : id_(std::move(id)),
      listener_(listener),
      out_{{OutTrack(90000), OutTrack(48000)}},
      send_buffer_(dtls::kMaxDatagramSize) {}

ViewerSession::~ViewerSession() = default;

void ViewerSession::OnTransportState(SessionState state) {
  listener_->OnStateChange(*this, state);
}

void ViewerSession::OnRtp(absl::Span<const uint8_t>, absl::Time) {
  Drop(ViewerDrop::kRtpFromViewer);
}

void ViewerSession::OnRtcp(absl::Span<const uint8_t> packet, absl::Time) {
  RtcpHandler handler(this);
  if (rtp::ParseRtcpCompound(packet, &handler) != rtp::RtcpError::kOk) {
    Drop(ViewerDrop::kRtcpMalformed);
    return;
  }
  ++counters_.rtcp_in;
}

void ViewerSession::HandleNack(uint32_t media_ssrc,
                               absl::Span<const uint16_t> seqs) {
  for (const OutTrack& out : out_) {
    if (!out.accepted || !out.numbering.started() || out.ssrc != media_ssrc) {
      continue;
    }
    ++counters_.nacks;
    // Each upstream's numbers go up apart, the one before a change first.
    const uint32_t current = out.numbering.source_ssrc();
    uint32_t previous = 0;
    current_seqs_.clear();
    previous_seqs_.clear();
    for (uint16_t seq : seqs) {
      const std::optional<TrackNumbering::Unmapped> source =
          out.numbering.Unmap(seq);  // started: always a source
      if (source->ssrc == current) {
        current_seqs_.push_back(source->sequence_number);
      } else {
        previous = source->ssrc;
        previous_seqs_.push_back(source->sequence_number);
      }
    }
    if (!previous_seqs_.empty()) {
      listener_->OnNack(*this, previous, previous_seqs_);
    }
    if (!current_seqs_.empty()) {
      listener_->OnNack(*this, current, current_seqs_);
    }
    return;
  }
  ++counters_.feedback_unmapped;
}

void ViewerSession::HandleKeyframeRequest(uint32_t media_ssrc) {
  const OutTrack& video = out_[static_cast<size_t>(Track::kVideo)];
  if (!video.accepted || video.ssrc != media_ssrc) {
    ++counters_.feedback_unmapped;
    return;
  }
  ++counters_.keyframe_requests;
  listener_->OnKeyframeRequest(*this);
}

bool ViewerSession::SendRtp(Track track, absl::Span<const uint8_t> packet,
                            absl::Time now) {
  // Checked before the numbering sees the packet: an upstream's numbers
  // start with what the browser gets.
  if (!transport_->CanSend(now)) {
    Drop(ViewerDrop::kSendNotConnected);
    return false;
  }
  OutTrack& out = out_[static_cast<size_t>(track)];
  if (!out.accepted) {
    Drop(ViewerDrop::kSendNoTrack);
    return false;
  }
  // The rewrite is never larger than the packet, which then always fits.
  rtp::RtpView view;
  if (packet.size() > send_buffer_.size() ||
      rtp::ParseRtp(packet, &view) != rtp::RtpError::kOk) {
    Drop(ViewerDrop::kSendBadRtp);
    return false;
  }
  const uint64_t changes = out.numbering.source_changes();
  const TrackNumbering::Mapped mapped =
      out.numbering.Map(view.ssrc, view.sequence_number, view.timestamp, now);
  counters_.source_changes += out.numbering.source_changes() - changes;

  rtp::RtpHeader header;
  header.marker = view.marker;
  header.payload_type = static_cast<uint8_t>(out.payload_type);
  header.sequence_number = mapped.sequence_number;
  header.timestamp = mapped.timestamp;
  header.ssrc = out.ssrc;
  // Built where the sink sends it from, when it lends a buffer: the
  // packet to every viewer is then copied once, here.
  absl::Span<uint8_t> buffer = transport_->LentBuffer(send_buffer_.size());
  if (buffer.empty()) buffer = absl::MakeSpan(send_buffer_);
  const size_t size = rtp::WriteRtpPacket(header, view.payload, buffer);
  // The transport counts what it refuses (too large for the MTU, protect).
  if (!transport_->SendRtp(buffer, size, now)) {
    return false;
  }
  out.numbering.Sent(mapped, view.payload.size(), now);
  ++counters_.rtp_sent;
  return true;
}

bool ViewerSession::SendSenderReport(Track track, uint32_t source_ssrc,
                                     const rtp::SenderInfo& info,
                                     absl::Time now) {
  if (!transport_->CanSend(now)) {
    Drop(ViewerDrop::kSendNotConnected);
    return false;
  }
  const OutTrack& out = out_[static_cast<size_t>(track)];
  if (!out.accepted) {
    Drop(ViewerDrop::kSendNoTrack);
    return false;
  }
  // Before its media the browser could not place the report; a report of
  // an upstream we left would map another clock.
  const std::optional<uint32_t> timestamp =
      out.numbering.MapTimestamp(source_ssrc, info.rtp_timestamp);
  if (!timestamp.has_value()) {
    Drop(ViewerDrop::kReportNotStarted);
    return false;
  }
  const rtp::SenderInfo rewritten = {info.ntp_timestamp, *timestamp,
                                     out.numbering.packets_sent(),
                                     out.numbering.octets_sent()};
  // No report blocks: it always fits the buffer.
  const size_t size = rtp::BuildSenderReport(out.ssrc, rewritten, {},
                                             absl::MakeSpan(send_buffer_));
  if (!transport_->SendRtcp(absl::MakeSpan(send_buffer_), size, now)) {
    return false;
  }
  ++counters_.sender_reports_sent;
  return true;
}

}  // namespace cascade::edge
