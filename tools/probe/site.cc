#include "tools/probe/site.h"

#include <glog/logging.h>

#include <algorithm>
#include <array>
#include <utility>

#include "base/clock.h"
#include "media/rtp/activation.h"
#include "media/rtp/demux.h"
#include "media/rtp/frame_marking.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "tools/media/h264_packetizer.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"
#include "tools/media/test_pattern.h"

namespace cascade {
namespace probe {
namespace {

// More SSRCs than this on one site is junk, not a conference stream.
constexpr size_t kMaxStreams = 8;
// Sequence numbers per NACK packet (each FCI entry covers up to 17).
constexpr size_t kMaxNackSeqs = 128;
// The upstream stream's payload is one H.264 filler-data NAL unit (type 12):
// valid for the track's codec, carrying nothing but its size.
constexpr uint8_t kFillerNalHeader = 12;
constexpr uint8_t kRbspStopBit = 0x80;
// After a stall longer than this many intervals the upstream schedule starts
// afresh instead of sending what it missed in a burst.
constexpr int kMaxUpstreamBurst = 5;

child::ParentPolicy PolicyFor(const SiteOptions& options) {
  child::ParentPolicy policy;
  policy.timeout = options.parent_timeout;
  policy.timeout_max = options.parent_timeout_max;
  // A site that never reached its first parent keeps asking it.
  policy.startup_timeout = absl::InfiniteDuration();
  policy.keepalive = options.keepalive_interval;
  // Thousands of sites start at once, maybe before their relays.
  policy.startup_retry = options.activation_retry;
  policy.activation_refresh = options.activation_retry;
  return policy;
}

// The picture's age at `arrival` by the send time drawn in it (Unix
// milliseconds modulo 10^9); nullopt when that is not a plausible age (a
// digit misread, or clocks of different machines).
std::optional<absl::Duration> PictureLatency(absl::Time arrival,
                                             int64_t send_time_ms) {
  constexpr int64_t kModulus = 1000000000;
  const int64_t age_ms =
      ((absl::ToUnixMillis(arrival) - send_time_ms) % kModulus + kModulus) %
      kModulus;
  if (age_ms > absl::ToInt64Milliseconds(absl::Minutes(1))) return std::nullopt;
  return absl::Milliseconds(age_ms);
}

// Sequence numbers received at least once.
int64_t Distinct(const media::SequenceStats& sequence) {
  return sequence.expected() - sequence.lost();
}

}  // namespace

struct Site::Stream {
  uint32_t ssrc = 0;
  bool video = false;
  std::unique_ptr<srtp::SrtpReceiver> srtp;  // with SiteOptions::srtp_keys
  rtp::SeqUnwrapper unwrapper;
  media::SequenceStats sequence;
  std::unique_ptr<child::NackScheduler> nacks;
  std::optional<absl::Time> last_progress;
  absl::Duration longest_gap;
  // Decoding sites, video streams only.
  std::unique_ptr<media::FrameAssembler> assembler;
  std::unique_ptr<media::VideoDecoder> decoder;
  media::FreezeDetector freezes;
  bool waiting_for_keyframe = true;
  absl::Time last_pli = absl::InfinitePast();
  int64_t dropped_seen = 0;
  std::optional<uint32_t> last_frame_timestamp;
  absl::Duration learnt_interval = absl::InfiniteDuration();
  std::vector<media::AssembledFrame> ready;  // scratch
};

Site::Site(const SiteOptions& options, media::UdpFd socket, absl::Time start,
           LatencySinks sinks, std::unique_ptr<SiteTransport> transport)
    : options_(options),
      socket_(std::move(socket)),
      transport_(std::move(transport)),
      start_(start),
      rng_(std::random_device{}()),
      parents_(PolicyFor(options), start),
      sinks_(sinks) {
  parents_.SetParents(options_.parents, start);
  if (encrypted()) plain_.resize(media::Receiver::kMaxDatagram);
  ssrc_ = static_cast<uint32_t>(rng_()) | 1;
  upstream_seq_ = static_cast<uint16_t>(rng_());
  if (!options_.upstream_srtp_keys.empty()) {
    upstream_keys_.Set(
        {{options_.upstream_srtp_keys.back(), absl::InfinitePast()}});
  }
  if (transport_ != nullptr) transport_->Bind(this);
}

Site::~Site() = default;

bool Site::OnDatagram(const media::Endpoint& from,
                      absl::Span<const uint8_t> data, absl::Time now) {
  if (transport_ != nullptr) {
    data = transport_->Receive(from, data, now);
    if (data.empty()) return false;
  }
  const rtp::PacketKind kind = rtp::Classify(data);
  if (parents_.IsActive(from)) {
    const child::ParentSelector::Heard heard =
        parents_.OnActiveHeard(kind == rtp::PacketKind::kRtp, now);
    // What went unanswered is asked of the parent that now knows us.
    if (heard.first) {
      for (auto& [ssrc, stream] : streams_) stream->nacks->RetryAll(now);
    }
    if (heard.release.has_value()) {
      SendReport(*heard.release, rtp::ActivationKind::kDeactivate, now);
    }
  } else if (parents_.IsLeaving(from)) {
    parents_.OnLeavingHeard(now);
  } else if (parents_.IsListed(from)) {
    // A parent left for silence may still send for a while; one left
    // make-before-break feeds us until the new one does.
    ++counters_.stale_parent_packets;
    return false;
  }
  switch (kind) {
    case rtp::PacketKind::kRtp:
      return OnRtp(from, data, now);
    case rtp::PacketKind::kRtcp:
      OnRtcp(from, data, now);
      return false;
    case rtp::PacketKind::kNotRtp:
      ++counters_.bad_packets;
      return false;
  }
  return false;
}

bool Site::OnRtp(const media::Endpoint& from, absl::Span<const uint8_t> data,
                 absl::Time now) {
  rtp::RtpView view;
  if (rtp::ParseRtp(data, &view) != rtp::RtpError::kOk) {
    ++counters_.bad_packets;
    return false;
  }
  auto it = streams_.find(view.ssrc);
  // With keys only what authenticates counts, and a stream begins with its
  // first such packet.
  std::unique_ptr<srtp::SrtpReceiver> new_receiver;
  bool replayed = false;
  if (encrypted()) {
    srtp::SrtpReceiver* receiver =
        it != streams_.end() ? it->second->srtp.get() : nullptr;
    if (options_.srtp_keys.empty()) {
      // No key yet (or any more): nothing authenticates.
      ++counters_.bad_packets;
      return false;
    }
    if (receiver == nullptr) {
      auto created =
          it != streams_.end() || streams_.size() < kMaxStreams
              ? srtp::SrtpReceiver::Create(view.ssrc, options_.srtp_keys)
              : absl::ResourceExhaustedError("too many streams");
      if (!created.ok()) {
        ++counters_.bad_packets;
        return false;
      }
      new_receiver = *std::move(created);
      receiver = new_receiver.get();
    }
    size_t size = 0;
    const srtp::SrtpError error =
        receiver->Unprotect(data, absl::MakeSpan(plain_), &size);
    if (error == srtp::SrtpError::kReplayed) {
      replayed = true;  // a copy of a packet taken: counted as a duplicate
    } else if (error != srtp::SrtpError::kOk ||
               rtp::ParseRtp(absl::MakeConstSpan(plain_.data(), size), &view) !=
                   rtp::RtpError::kOk) {
      ++counters_.bad_packets;
      return false;
    }
  }
  if (it == streams_.end()) {
    if (streams_.size() >= kMaxStreams) {
      ++counters_.bad_packets;
      return false;
    }
    auto stream = std::make_unique<Stream>();
    stream->ssrc = view.ssrc;
    stream->srtp = std::move(new_receiver);
    stream->video = view.payload_type == options_.video_payload_type;
    stream->nacks = std::make_unique<child::NackScheduler>(options_.nack);
    if (stream->video && (options_.decode || options_.on_access_unit)) {
      stream->assembler =
          std::make_unique<media::FrameAssembler>(options_.assembler);
    }
    if (stream->video && options_.decode) {
      auto decoder = media::VideoDecoder::Create();
      if (decoder.ok()) stream->decoder = std::move(*decoder);
    }
    it = streams_.emplace(view.ssrc, std::move(stream)).first;
  }
  Stream& stream = *it->second;
  // A stream whose keys were dropped, keyed again.
  if (new_receiver != nullptr) stream.srtp = std::move(new_receiver);
  media_sender_ = from;
  ++counters_.packets;
  counters_.bytes += static_cast<int64_t>(data.size());
  const bool first = !stream.unwrapper.started();
  const int64_t previous_highest = stream.unwrapper.newest();
  const int64_t ext_seq = stream.unwrapper.Unwrap(view.sequence_number);
  const int64_t distinct_before = Distinct(stream.sequence);
  stream.sequence.Add(ext_seq);
  // Progress a viewer sees: a new packet that is next in line or fills a
  // gap; one beyond a gap only shows once the gap is filled.
  if (Distinct(stream.sequence) > distinct_before &&
      (first || ext_seq == previous_highest + 1 ||
       ext_seq < previous_highest)) {
    if (stream.last_progress.has_value()) {
      const absl::Duration gap = now - *stream.last_progress;
      stream.longest_gap = std::max(stream.longest_gap, gap);
      if (sinks_.interval_gap != nullptr) {
        *sinks_.interval_gap = std::max(*sinks_.interval_gap, gap);
      }
    }
    stream.last_progress = now;
  }
  if (options_.feedback) stream.nacks->OnPacket(ext_seq, now);
  if (!stream.video || replayed) return true;

  std::optional<absl::Time> send_time;
  absl::Span<const uint8_t> element;
  if (rtp::FindExtension(view, media::kSendTimeExtensionId, &element)) {
    send_time = media::DecodeSendTime(element);
  }
  if (stream.assembler) {
    media::MediaPacket packet;
    packet.ext_seq = ext_seq;
    packet.timestamp = view.timestamp;
    packet.marker = view.marker;
    packet.arrival = now;
    packet.send_time = send_time;
    packet.payload.assign(view.payload.begin(), view.payload.end());
    stream.assembler->Insert(std::move(packet));
  } else if (view.marker && send_time.has_value()) {
    // Counting sites: a frame's latency when its last packet arrives.
    RecordLatency(now - *send_time);
  }
  return true;
}

void Site::OnRtcp(const media::Endpoint& from, absl::Span<const uint8_t> data,
                  absl::Time now) {
  // Looks inside only what the active parent sends: its signed release.
  struct ReleaseVisitor : rtp::RtcpVisitor {
    ReleaseVisitor(Site* site, absl::Time now) : site(site), now(now) {}
    void OnApp(const rtp::AppView& app) override {
      site->parents_.OnParentApp(app, site->options_.node_id, now);
    }
    Site* site;
    absl::Time now;
  } visitor(this, now);
  const bool from_parent = parents_.IsActive(from);
  if (rtp::ParseRtcpCompound(data, from_parent ? &visitor : nullptr) ==
      rtp::RtcpError::kOk) {
    ++counters_.rtcp_received;
  } else {
    ++counters_.bad_packets;
  }
}

bool Site::Repairing() const {
  for (const auto& [ssrc, stream] : streams_) {
    if (stream->nacks->pending() > 0) return true;
  }
  return false;
}

void Site::OnTick(absl::Time now) {
  if (transport_ != nullptr) transport_->OnTick(now);
  const child::ParentSelector::Actions actions = parents_.OnTick(now);
  if (actions.release.has_value()) {
    SendReport(*actions.release, rtp::ActivationKind::kDeactivate, now);
  }
  const std::optional<media::Endpoint> target = FeedbackTarget();
  const bool ask = target.has_value() &&
                   (options_.parents.empty() ||
                    parents_.Answering(now, options_.nack.retry_interval));
  for (auto& [ssrc, stream_ptr] : streams_) {
    Stream& stream = *stream_ptr;
    if (ask) {
      std::vector<int64_t> due;
      stream.nacks->TakeDue(now, &due);
      for (size_t begin = 0; begin < due.size(); begin += kMaxNackSeqs) {
        const size_t end = std::min(due.size(), begin + kMaxNackSeqs);
        std::vector<uint16_t> seqs;
        for (size_t i = begin; i < end; ++i) {
          seqs.push_back(static_cast<uint16_t>(due[i]));
        }
        uint8_t buffer[12 + 4 * kMaxNackSeqs];
        const size_t size =
            rtp::BuildNack(ssrc_, ssrc, seqs, absl::MakeSpan(buffer));
        if (size > 0) {
          SendFeedback(absl::MakeConstSpan(buffer, size));
          counters_.nacks_sent += static_cast<int64_t>(seqs.size());
        }
      }
    }
    if (!stream.assembler) continue;
    DecodeFrames(stream, now);
    if (target.has_value() && stream.waiting_for_keyframe &&
        now - stream.last_pli >= options_.pli_interval) {
      uint8_t buffer[16];
      const size_t size = rtp::BuildPli(ssrc_, ssrc, absl::MakeSpan(buffer));
      if (size > 0) {
        SendFeedback(absl::MakeConstSpan(buffer, size));
        ++counters_.plis_sent;
        stream.last_pli = now;
      }
    }
  }
  if (actions.keepalive) {
    SendReport(*active_parent(),
               actions.activate ? std::optional<rtp::ActivationKind>(
                                      rtp::ActivationKind::kActivate)
                                : std::nullopt,
               now);
  }
  if (!options_.parents.empty()) SendUpstream(now);
}

bool Site::FollowUpstreamKey(absl::Time now) {
  const std::optional<srtp::StreamKey> next = upstream_keys_.Next(now);
  if (next.has_value()) {
    if (upstream_srtp_ != nullptr) {
      if (absl::Status status = upstream_srtp_->SetKey(*next); !status.ok()) {
        LOG_EVERY_N(WARNING, 100)
            << "upstream stream keeps its key: " << status.message();
      }
    } else {
      // The counter starts at random: a restarted site with the same SSRC
      // and key reuses no GCM nonce (the center reads it in the packets).
      const uint32_t roc = static_cast<uint32_t>(rng_()) & 0x7fffffff;
      auto sender =
          srtp::SrtpSender::Create(options_.upstream_ssrc, *next, roc);
      if (sender.ok()) {
        upstream_srtp_ = *std::move(sender);
      } else {
        LOG_EVERY_N(WARNING, 100) << "upstream stream unencrypted, not sent: "
                                  << sender.status().message();
      }
    }
  }
  return upstream_srtp_ != nullptr;
}

void Site::SendUpstream(absl::Time now) {
  if (options_.upstream_ssrc == 0) return;
  const child::Parent* parent = parents_.upstream_parent();
  if (parent == nullptr) {
    // The schedule starts afresh when the parent answers.
    next_upstream_ = absl::InfinitePast();
    return;
  }
  const absl::Duration interval = options_.upstream_interval;
  if (now - next_upstream_ > kMaxUpstreamBurst * interval) next_upstream_ = now;
  for (; next_upstream_ <= now; next_upstream_ += interval) {
    if (upstream_encrypted() && !FollowUpstreamKey(now)) continue;
    const std::array<uint8_t, 8> send_time = media::EncodeSendTime(now);
    rtp::RtpHeader header;
    header.marker = true;  // every packet is a whole frame
    header.payload_type = options_.video_payload_type;
    header.sequence_number = upstream_seq_++;
    header.timestamp =
        static_cast<uint32_t>(absl::ToInt64Microseconds(now - start_) *
                              media::kVideoClockRate / 1000000);
    header.ssrc = options_.upstream_ssrc;
    // What relay-source's packets carry, so relays treat both alike.
    rtp::FrameMarking marking;
    marking.start_of_frame = true;
    marking.end_of_frame = true;
    const uint8_t marking_byte[] = {rtp::FrameMarkingByte(marking)};
    const uint8_t roc[srtp::kRocExtensionSize] = {};  // Protect fills it in
    const rtp::ExtensionElement extensions[] = {
        {media::kSendTimeExtensionId, send_time},
        {rtp::kFrameMarkingExtensionId, marking_byte},
        {srtp::kRocExtensionId, roc}};
    header.extensions = absl::MakeConstSpan(extensions, upstream_srtp_ ? 3 : 1);
    const size_t header_size = rtp::RtpHeaderSize(header);
    const size_t overhead = upstream_srtp_ ? upstream_srtp_->overhead() : 0;
    const size_t size =
        std::clamp(options_.upstream_packet_size, header_size + 2 + overhead,
                   kMaxUpstreamPacketSize);
    uint8_t payload[kMaxUpstreamPacketSize];
    const size_t payload_size = size - overhead - header_size;
    std::fill_n(payload, payload_size, 0xff);
    payload[0] = kFillerNalHeader;
    payload[payload_size - 1] = kRbspStopBit;
    uint8_t packet[kMaxUpstreamPacketSize];
    size_t written =
        rtp::WriteRtpPacket(header, absl::MakeConstSpan(payload, payload_size),
                            absl::MakeSpan(packet));
    if (written > 0 && upstream_srtp_ != nullptr) {
      absl::StatusOr<size_t> protected_size =
          upstream_srtp_->Protect(absl::MakeSpan(packet), written);
      written = protected_size.ok() ? *protected_size : 0;
    }
    if (written > 0 &&
        socket_.SendTo(parent->address, absl::MakeConstSpan(packet, written))) {
      ++counters_.upstream_sent;
    }
  }
}

void Site::DecodeFrames(Stream& stream, absl::Time now) {
  stream.ready.clear();
  stream.assembler->Poll(now, &stream.ready);
  if (stream.assembler->dropped_frames() > stream.dropped_seen) {
    stream.dropped_seen = stream.assembler->dropped_frames();
    stream.waiting_for_keyframe = true;
  }
  for (const media::AssembledFrame& frame : stream.ready) {
    if (stream.last_frame_timestamp.has_value()) {
      const int32_t step =
          static_cast<int32_t>(frame.timestamp - *stream.last_frame_timestamp);
      if (step > 0 && step <= media::kVideoClockRate) {
        stream.learnt_interval =
            std::min(stream.learnt_interval,
                     absl::Seconds(1) * step / media::kVideoClockRate);
      }
    }
    stream.last_frame_timestamp = frame.timestamp;
    if (frame.send_time.has_value()) {
      RecordLatency(frame.completed - *frame.send_time);
    }
    std::vector<absl::Span<const uint8_t>> payloads;
    payloads.reserve(frame.payloads.size());
    for (const auto& payload : frame.payloads) payloads.emplace_back(payload);
    media::DepacketizedFrame access_unit;
    if (media::DepacketizeH264(payloads, &access_unit) !=
        media::DepacketizeError::kNone) {
      ++counters_.decode_errors;
      stream.waiting_for_keyframe = true;
      continue;
    }
    // After damage only an IDR can give a clean picture again.
    if (stream.waiting_for_keyframe && !access_unit.has_idr) {
      ++counters_.frames_skipped;
      continue;
    }
    if (options_.on_access_unit) {
      VideoAccessUnit unit;
      unit.ssrc = stream.ssrc;
      unit.rtp_timestamp = frame.timestamp;
      unit.completed = frame.completed;
      unit.keyframe = access_unit.has_idr;
      unit.annexb = access_unit.annexb;
      options_.on_access_unit(unit);
    }
    if (!stream.decoder) {
      // Nothing to decode with: an intact IDR is a clean start.
      stream.waiting_for_keyframe = false;
      continue;
    }
    const media::DecodeResult result =
        stream.decoder->Decode(access_unit.annexb);
    if (result.error) {
      ++counters_.decode_errors;
      stream.waiting_for_keyframe = true;
    } else if (result.frames > 0) {
      stream.waiting_for_keyframe = false;
    }
    if (result.frames == 0) continue;
    counters_.frames_decoded += result.frames;
    if (!counters_.first_frame.has_value())
      counters_.first_frame = now - start_;
    const absl::Duration interval =
        options_.frame_interval > absl::ZeroDuration()
            ? options_.frame_interval
            : (stream.learnt_interval == absl::InfiniteDuration()
                   ? absl::ZeroDuration()
                   : stream.learnt_interval);
    // When it could be shown, not when this tick came round to it.
    stream.freezes.OnFrame(frame.completed, interval);
    if (auto numbers =
            media::ReadPatternNumbers(stream.decoder->last_frame())) {
      counters_.last_pattern_frame = numbers->frame_number;
      if (!frame.send_time.has_value()) {
        if (auto latency =
                PictureLatency(frame.completed, numbers->send_time_ms)) {
          RecordLatency(*latency);
        }
      }
    }
  }
}

void Site::RecordLatency(absl::Duration latency) {
  latency_.Add(latency);
  if (sinks_.total != nullptr) sinks_.total->Add(latency);
  if (sinks_.interval != nullptr) sinks_.interval->Add(latency);
}

std::optional<media::Endpoint> Site::FeedbackTarget() const {
  if (!options_.feedback) return std::nullopt;
  if (const ParentLink* parent = active_parent()) return parent->address;
  return media_sender_;
}

void Site::SendFeedback(absl::Span<const uint8_t> packet) {
  if (transport_ != nullptr) {
    transport_->SendRtcp(packet);
    return;
  }
  const std::optional<media::Endpoint> target = FeedbackTarget();
  if (target.has_value()) socket_.SendTo(*target, packet);
}

void Site::SendDatagram(const media::Endpoint& to,
                        absl::Span<const uint8_t> datagram) {
  socket_.SendTo(to, datagram);
}

void Site::SendReport(const ParentLink& parent,
                      std::optional<rtp::ActivationKind> kind, absl::Time now) {
  std::vector<rtp::ReportBlock> blocks;
  for (const auto& [ssrc, stream] : streams_) {
    if (blocks.size() >= rtp::kMaxReportBlocks) break;
    rtp::ReportBlock block;
    block.ssrc = ssrc;
    // 24-bit signed field on the wire.
    block.cumulative_lost = static_cast<int32_t>(
        std::min<int64_t>(stream->sequence.lost(), 0x7fffff));
    block.extended_highest_sequence =
        static_cast<uint32_t>(stream->unwrapper.newest());
    blocks.push_back(block);
  }
  uint8_t buffer[8 + rtp::kReportBlockSize * rtp::kMaxReportBlocks +
                 rtp::kMaxActivationSize];
  const absl::Span<uint8_t> out = absl::MakeSpan(buffer);
  size_t size = rtp::BuildReceiverReport(ssrc_, blocks, out);
  if (size == 0) return;
  if (kind.has_value()) {
    rtp::ActivationRequest request;
    request.kind = *kind;
    request.sender_ssrc = ssrc_;
    request.node_id = options_.node_id;
    request.timestamp_ms = absl::ToUnixMillis(now);
    request.nonce = rng_();
    const size_t signed_size = rtp::BuildActivation(
        request, rtp::KeyBytes(parent.key), out.subspan(size));
    if (signed_size == 0) return;
    size += signed_size;
    ++counters_.activations_sent;
  }
  socket_.SendTo(parent.address, absl::MakeConstSpan(buffer, size));
}

void Site::Leave(absl::Time now) {
  if (const ParentLink* parent = active_parent()) {
    SendReport(*parent, rtp::ActivationKind::kDeactivate, now);
  }
  if (transport_ != nullptr) transport_->Close();
}

absl::Status Site::SetSrtpKeys(std::vector<srtp::StreamKey> keys) {
  if (!keys.empty()) {
    if (absl::Status valid = srtp::CheckKeys(keys); !valid.ok()) return valid;
  }
  for (auto& [ssrc, stream] : streams_) {
    if (stream->srtp == nullptr) continue;
    if (keys.empty()) {
      stream->srtp.reset();
    } else if (absl::Status status = stream->srtp->SetKeys(keys);
               !status.ok()) {
      return status;
    }
  }
  options_.srtp_keys = std::move(keys);
  return absl::OkStatus();
}

SiteReport Site::Report() const {
  SiteReport report = counters_;
  report.parent_switches = static_cast<int64_t>(parents_.failovers());
  report.parent_moves = static_cast<int64_t>(parents_.switches());
  report.streams = static_cast<int64_t>(streams_.size());
  for (const auto& [ssrc, stream] : streams_) {
    report.lost += stream->sequence.lost();
    report.duplicates += stream->sequence.duplicates();
    report.out_of_order += stream->sequence.out_of_order();
    report.nacks_given_up += stream->nacks->gave_up();
    report.longest_gap = std::max(report.longest_gap, stream->longest_gap);
    if (stream->assembler) {
      report.frames_dropped += stream->assembler->dropped_frames();
    }
    const auto& freezes = stream->freezes.freezes();
    report.freezes.insert(report.freezes.end(), freezes.begin(), freezes.end());
  }
  return report;
}

}  // namespace probe
}  // namespace cascade
