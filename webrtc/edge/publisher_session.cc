#include "webrtc/edge/publisher_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"

namespace cascade::edge {
namespace {

// Sequence numbers per NACK: with a full report head it stays within the
// smallest MTU DTLS allows (576), one FCI entry per number at worst.
constexpr size_t kMaxNackSeqs = 64;

bool Receives(const std::optional<sdp::AcceptedMedia>& media) {
  return media.has_value() && (media->direction == sdp::Direction::kRecvOnly ||
                               media->direction == sdp::Direction::kSendRecv);
}

absl::Status BadOptions(absl::string_view what) {
  return absl::InternalError(absl::StrCat("publisher options: ", what));
}

}  // namespace

absl::string_view PublisherDropName(PublisherDrop drop) {
  static constexpr absl::string_view kNames[] = {
      "rtp_malformed",
      "rtp_unknown_payload",
      "rtcp_malformed",
      "report_unmapped",
  };
  static_assert(std::size(kNames) ==
                static_cast<size_t>(PublisherDrop::kCount));
  const size_t i = static_cast<size_t>(drop);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

class PublisherSession::RtcpHandler : public rtp::RtcpVisitor {
 public:
  RtcpHandler(PublisherSession* session, absl::Time now)
      : session_(session), now_(now) {}
  // SDES, RR (of nothing: the relay sends no media) and BYE say nothing
  // the tree needs; the browser's DTLS close_notify ends the session.
  void OnSenderReport(const rtp::SenderReportView& sr) override {
    session_->HandleSenderReport(sr.sender_ssrc, sr.info, now_);
  }

 private:
  PublisherSession* const session_;
  const absl::Time now_;
};

absl::StatusOr<std::unique_ptr<PublisherSession>> PublisherSession::Create(
    std::string id, const sdp::Answer& answer,
    const sdp::AnswerOptions& answer_options,
    const dtls::Certificate& certificate, DatagramSink* sink,
    Listener* listener, absl::Time now, Options options) {
  if (listener == nullptr) {
    return absl::InvalidArgumentError("a publisher session needs a listener");
  }
  if (answer_options.role != sdp::RelayRole::kReceive) {
    return absl::InvalidArgumentError("a publisher session only receives");
  }
  if (options.cname.empty() || options.cname.size() > 255) {
    return BadOptions("cname must be 1-255 bytes");
  }
  std::unique_ptr<PublisherSession> session(
      new PublisherSession(std::move(id), options, listener));
  for (Track t : {Track::kVideo, Track::kAudio}) {
    const bool video = t == Track::kVideo;
    const std::optional<sdp::AcceptedMedia>& media =
        video ? answer.video : answer.audio;
    InTrack& in = session->in_[static_cast<size_t>(t)];
    in.accepted =
        (video ? answer_options.has_video : answer_options.has_audio) &&
        Receives(media);
    if (!in.accepted) continue;
    in.tree = video ? options.video : options.audio;
    if (in.tree.ssrc == 0 || in.tree.payload_type > 127) {
      return BadOptions("an accepted track needs the tree's SSRC and a PT");
    }
    in.payload_type = media->payload_type;
    in.announced_ssrcs = media->remote_ssrcs;
    in.pli = media->pli;
    in.nack = media->nack;
    in.rtcp_rsize = media->rtcp_rsize;
  }
  const InTrack& video = session->in_[static_cast<size_t>(Track::kVideo)];
  const InTrack& audio = session->in_[static_cast<size_t>(Track::kAudio)];
  if (video.accepted && audio.accepted && video.tree.ssrc == audio.tree.ssrc) {
    return BadOptions("video and audio share the tree's SSRC");
  }
  auto transport =
      WebrtcTransport::Create(answer, answer_options, certificate, sink,
                              session.get(), now, options.transport);
  if (!transport.ok()) return transport.status();
  session->transport_ = *std::move(transport);
  return session;
}

PublisherSession::PublisherSession(std::string id, Options options,
                                   Listener* listener)
    : id_(std::move(id)),
      options_(std::move(options)),
      listener_(listener),
      in_{{InTrack(90000), InTrack(48000)}},
      rtp_buffer_(dtls::kMaxDatagramSize),
      rtcp_buffer_(dtls::kMaxDatagramSize) {
  due_.reserve(kMaxNackSeqs);
  nack_seqs_.reserve(kMaxNackSeqs);
}

PublisherSession::~PublisherSession() = default;

void PublisherSession::OnDatagram(absl::Span<const uint8_t> datagram,
                                  const ice::TransportAddress& from,
                                  absl::Time now) {
  transport_->OnDatagram(datagram, from, now);
  Settle(now);
}

void PublisherSession::OnTransportState(SessionState state) {
  listener_->OnStateChange(*this, state);
}

PublisherSession::InTrack* PublisherSession::TrackOf(uint8_t payload_type,
                                                     uint32_t ssrc) {
  auto announced = [ssrc](const InTrack& t) {
    return std::find(t.announced_ssrcs.begin(), t.announced_ssrcs.end(),
                     ssrc) != t.announced_ssrcs.end();
  };
  InTrack* match = nullptr;
  for (InTrack& t : in_) {
    if (!t.accepted || t.payload_type != payload_type) continue;
    if (match == nullptr) {
      match = &t;
      continue;
    }
    // Both sections took one payload type: the offer's a=ssrc decide.
    if (announced(*match) == announced(t)) return nullptr;
    return announced(t) ? &t : match;
  }
  return match;
}

void PublisherSession::OnRtp(absl::Span<const uint8_t> packet, absl::Time now) {
  rtp::RtpView view;
  if (rtp::ParseRtp(packet, &view) != rtp::RtpError::kOk) {
    Drop(PublisherDrop::kRtpMalformed);
    return;
  }
  InTrack* in = TrackOf(view.payload_type, view.ssrc);
  if (in == nullptr) {
    Drop(PublisherDrop::kRtpUnknownPayload);
    return;
  }
  const TrackNumbering::Mapped mapped =
      in->numbering.Map(view.ssrc, view.sequence_number, view.timestamp, now);
  if (mapped.current) Receive(*in, view, now);
  rtp::RtpHeader header;
  header.marker = view.marker;
  header.payload_type = in->tree.payload_type;
  header.sequence_number = mapped.sequence_number;
  header.timestamp = mapped.timestamp;
  header.ssrc = in->tree.ssrc;
  // Never larger than what came in: the header is the smallest there is.
  const size_t size =
      rtp::WriteRtpPacket(header, view.payload, absl::MakeSpan(rtp_buffer_));
  in->numbering.Sent(mapped, view.payload.size(), now);
  last_media_ = now;
  ++counters_.rtp_forwarded;
  if (view.payload.empty()) ++counters_.padding_only;
  const Track track = in == &in_[0] ? Track::kVideo : Track::kAudio;
  listener_->OnRtp(*this, track, absl::MakeConstSpan(rtp_buffer_.data(), size));
}

void PublisherSession::Receive(InTrack& in, const rtp::RtpView& view,
                               absl::Time now) {
  if (!in.stats.has_value() || in.stats->ssrc() != view.ssrc) {
    // A new browser SSRC: what the old one misses is moot.
    in.stats.emplace(view.ssrc, in.numbering.clock_rate());
    if (in.nack) {
      in.unwrapper = rtp::SeqUnwrapper();
      in.missing.emplace(options_.nack);
    }
  }
  in.stats->OnPacket(view.sequence_number, view.timestamp, now);
  if (!in.missing.has_value()) return;
  if (in.missing->OnPacket(in.unwrapper.Unwrap(view.sequence_number), now)) {
    ++counters_.repaired;
  }
  if (in.missing->pending() > 0 && next_nack_ == absl::InfiniteFuture()) {
    next_nack_ = now + options_.nack_interval;
  }
}

void PublisherSession::OnRtcp(absl::Span<const uint8_t> packet,
                              absl::Time now) {
  RtcpHandler handler(this, now);
  if (rtp::ParseRtcpCompound(packet, &handler) != rtp::RtcpError::kOk) {
    Drop(PublisherDrop::kRtcpMalformed);
  }
}

void PublisherSession::HandleSenderReport(uint32_t ssrc,
                                          const rtp::SenderInfo& info,
                                          absl::Time now) {
  for (size_t i = 0; i < in_.size(); ++i) {
    InTrack& in = in_[i];
    if (!in.accepted) continue;
    const std::optional<uint32_t> timestamp =
        in.numbering.MapTimestamp(ssrc, info.rtp_timestamp);
    if (!timestamp.has_value()) continue;
    if (in.stats.has_value()) in.stats->OnSenderReport(info.ntp_timestamp, now);
    // The tree sees one sender: its counts are what went up.
    const rtp::SenderInfo rewritten = {info.ntp_timestamp, *timestamp,
                                       in.numbering.packets_sent(),
                                       in.numbering.octets_sent()};
    // Not rtcp_buffer_: the listener may call RequestKeyframe meanwhile.
    std::array<uint8_t, rtp::kRtcpHeaderSize + 24> report;
    const size_t size = rtp::BuildSenderReport(in.tree.ssrc, rewritten, {},
                                               absl::MakeSpan(report));
    ++counters_.sender_reports_forwarded;
    listener_->OnSenderReport(*this, static_cast<Track>(i),
                              absl::MakeConstSpan(report.data(), size));
    return;
  }
  Drop(PublisherDrop::kReportUnmapped);
}

bool PublisherSession::RequestKeyframe(absl::Time now) {
  const InTrack& video = in_[static_cast<size_t>(Track::kVideo)];
  if (!video.accepted || !video.pli || !transport_->CanSend(now)) {
    ++counters_.keyframe_requests_unsent;
    return false;
  }
  if (last_keyframe_request_ != absl::InfinitePast() &&
      now - last_keyframe_request_ < options_.keyframe_request_interval) {
    ++counters_.keyframe_requests_paced;
    return false;
  }
  // Before its first packet, the SSRC the offer announced first.
  const uint32_t media_ssrc =
      video.numbering.started()       ? video.numbering.source_ssrc()
      : video.announced_ssrcs.empty() ? 0
                                      : video.announced_ssrcs.front();
  if (media_ssrc == 0) {
    ++counters_.keyframe_requests_unsent;
    return false;
  }
  // A lone PLI only where reduced-size RTCP was agreed (RFC 5506).
  size_t size = video.rtcp_rsize ? 0 : WriteReportHead(false, now);
  size += rtp::BuildPli(options_.rtcp_ssrc, media_ssrc,
                        absl::MakeSpan(rtcp_buffer_).subspan(size));
  if (!transport_->SendRtcp(absl::MakeSpan(rtcp_buffer_), size, now)) {
    ++counters_.keyframe_requests_unsent;
    return false;
  }
  last_keyframe_request_ = now;
  ++counters_.keyframe_requests_sent;
  return true;
}

size_t PublisherSession::WriteReportHead(bool with_blocks, absl::Time now) {
  std::array<rtp::ReportBlock, 2> blocks;
  size_t count = 0;
  if (with_blocks) {
    for (InTrack& in : in_) {
      if (in.accepted && in.stats.has_value()) {
        blocks[count++] = in.stats->Report(now);
      }
    }
  }
  const absl::Span<uint8_t> out = absl::MakeSpan(rtcp_buffer_);
  const size_t rr = rtp::BuildReceiverReport(
      options_.rtcp_ssrc, absl::MakeConstSpan(blocks.data(), count), out);
  const size_t sdes =
      rtp::BuildSdesCname(options_.rtcp_ssrc, options_.cname, out.subspan(rr));
  return rr + sdes;
}

void PublisherSession::SendReports(absl::Time now) {
  const size_t size = WriteReportHead(true, now);
  if (transport_->SendRtcp(absl::MakeSpan(rtcp_buffer_), size, now)) {
    ++counters_.receiver_reports_sent;
  }
}

void PublisherSession::SendNacks(absl::Time now) {
  next_nack_ = absl::InfiniteFuture();
  if (!transport_->CanSend(now)) return;  // ended, or ending
  for (InTrack& in : in_) {
    if (!in.missing.has_value()) continue;
    due_.clear();
    in.missing->TakeDue(now, &due_, kMaxNackSeqs);
    if (in.missing->pending() > 0) next_nack_ = now + options_.nack_interval;
    if (due_.empty()) continue;
    nack_seqs_.clear();
    for (int64_t seq : due_) nack_seqs_.push_back(static_cast<uint16_t>(seq));
    // A lone NACK only where reduced-size RTCP was agreed (RFC 5506).
    const size_t head = in.rtcp_rsize ? 0 : WriteReportHead(false, now);
    const size_t nack =
        rtp::BuildNack(options_.rtcp_ssrc, in.stats->ssrc(), nack_seqs_,
                       absl::MakeSpan(rtcp_buffer_).subspan(head));
    if (nack > 0 &&
        transport_->SendRtcp(absl::MakeSpan(rtcp_buffer_), head + nack, now)) {
      ++counters_.nacks_sent;
      counters_.nacked_packets += nack_seqs_.size();
    }
  }
}

void PublisherSession::OnTimer(absl::Time now) {
  transport_->OnTimer(now);
  if (state() == SessionState::kConnected && now >= next_report_) {
    SendReports(now);
    next_report_ = now + options_.report_interval;
  }
  if (now >= next_nack_) SendNacks(now);
  Settle(now);
}

void PublisherSession::Settle(absl::Time now) {
  if (state() != SessionState::kConnected ||
      next_report_ != absl::InfiniteFuture()) {
    return;
  }
  next_report_ = now + options_.report_interval;
  if (last_media_ == absl::InfinitePast()) last_media_ = now;
}

absl::Time PublisherSession::NextTimeout(absl::Time now) const {
  absl::Time next = transport_->NextTimeout(now);
  if (state() == SessionState::kConnected) {
    next = std::min({next, next_report_, next_nack_});
  }
  return next;
}

void PublisherSession::Close(CloseReason reason) { transport_->Close(reason); }

uint32_t PublisherSession::source_ssrc(Track track) const {
  const TrackNumbering& n = in_[static_cast<size_t>(track)].numbering;
  return n.started() ? n.source_ssrc() : 0;
}

uint64_t PublisherSession::source_changes(Track track) const {
  return in_[static_cast<size_t>(track)].numbering.source_changes();
}

}  // namespace cascade::edge
