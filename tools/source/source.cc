#include "tools/source/source.h"

#include <glog/logging.h>
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "media/rtp/demux.h"
#include "media/rtp/rtcp.h"
#include "media/rtp/rtp.h"
#include "tools/media/cli.h"
#include "tools/media/h264_packetizer.h"
#include "tools/media/sdp.h"
#include "tools/media/send_time.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace cascade {
namespace source {
namespace {

constexpr int kAudioClockRate = media::AudioEncoder::kSampleRate;
constexpr absl::Duration kAudioFrame = absl::Milliseconds(20);
constexpr absl::Duration kReportInterval = absl::Seconds(1);
// The bytes around a payload: 12 fixed header bytes and the one-byte
// extension block (4-byte header; send time 1 + 8, frame marking 1 + 1 and,
// under SRTP, the rollover counter 1 + 4; padded to 4), then SRTP's tag and
// the longest key id a key file may give.
size_t Overhead(bool srtp) {
  const size_t elements =
      (1 + 8) + (1 + 1) + (srtp ? 1 + srtp::kRocExtensionSize : 0);
  return rtp::kRtpFixedHeaderSize + 4 + ((elements + 3) & ~size_t{3}) +
         (srtp ? srtp::kTagSize + srtp::kMaxKeyIdSize : 0);
}

std::string Hex(const std::vector<uint8_t>& bytes) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// RTP timestamps follow the schedule, so frames skipped after a stall show
// as a gap in time, not as slow motion.
uint32_t RtpTime(absl::Duration media_time, int clock_rate) {
  return static_cast<uint32_t>(absl::ToInt64Microseconds(media_time) *
                               clock_rate / 1000000);
}

uint32_t RandomU32(std::mt19937& rng) {
  return std::uniform_int_distribution<uint32_t>(1, 0xffffffff)(rng);
}

}  // namespace

struct Source::Stream {
  uint32_t ssrc = 0;
  uint8_t payload_type = 0;
  int clock_rate = 0;
  media::Endpoint dest;
  uint16_t next_seq = 0;
  uint32_t timestamp_offset = 0;
  // Recent packets by sequence number modulo the ring size.
  std::vector<std::vector<uint8_t>> ring;
  std::vector<uint16_t> ring_seq;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
  std::optional<uint32_t> last_timestamp;
  absl::Time last_send_time;
  std::unique_ptr<srtp::SrtpSender> srtp;  // null: plain RTP
};

// Turns the RTCP a receiver or relay sends back into actions.
struct Source::RtcpHandler : public rtp::RtcpVisitor {
  RtcpHandler(Source* source, const media::Endpoint& from)
      : source(source), from(from) {}

  void OnNack(const rtp::NackView& nack) override {
    Stream* stream = source->video_stream_.get();
    if (source->audio_stream_ && nack.media_ssrc == source->audio_ssrc_) {
      stream = source->audio_stream_.get();
    } else if (nack.media_ssrc != source->video_ssrc_) {
      return;
    }
    nack.ForEachSequenceNumber([&](uint16_t seq) {
      const size_t slot = seq % stream->ring.size();
      if (stream->ring_seq[slot] != seq || stream->ring[slot].empty()) {
        ++source->stats_.nack_misses;
        return;
      }
      // Only the receiver that asked: the others have it.
      source->SendNow(from, stream->ring[slot]);
      ++source->stats_.retransmissions;
    });
  }
  void OnPli(const rtp::PliView& pli) override {
    if (pli.media_ssrc == source->video_ssrc_) RequestKeyframe();
  }
  void OnFir(const rtp::FirView& fir) override {
    for (size_t i = 0; i < fir.entry_count(); ++i) {
      if (fir.entry(i).ssrc == source->video_ssrc_) {
        RequestKeyframe();
        return;
      }
    }
  }
  void RequestKeyframe() {
    ++source->stats_.keyframe_requests;
    source->keyframe_requested_ = true;
  }

  Source* source;
  media::Endpoint from;
};

absl::StatusOr<std::unique_ptr<Source>> Source::Create(
    const SourceOptions& options) {
  if (!options.srtp_key_file.empty() && options.scheduled_keys) {
    return absl::InvalidArgumentError("a key file or scheduled keys, not both");
  }
  const size_t overhead =
      Overhead(!options.srtp_key_file.empty() || options.scheduled_keys);
  if (options.max_packet_size < overhead + 16 ||
      options.max_packet_size > media::Receiver::kMaxDatagram) {
    return absl::InvalidArgumentError(
        absl::StrCat("max packet size must be within ", overhead + 16, "..",
                     media::Receiver::kMaxDatagram));
  }
  if (options.ring_packets == 0 || options.pacing_factor <= 0) {
    return absl::InvalidArgumentError(
        "ring size and pacing factor must be positive");
  }
  auto socket = media::UdpFd::Open(options.bind);
  if (!socket.ok()) return socket.status();
  auto video = media::VideoEncoder::Create(options.video);
  if (!video.ok()) return video.status();
  std::unique_ptr<media::AudioEncoder> audio;
  if (options.audio) {
    auto opus = media::AudioEncoder::Create(options.audio_bitrate_kbps);
    if (!opus.ok()) return opus.status();
    audio = std::move(*opus);
  }
  std::unique_ptr<media::PictureSource> pictures;
  if (options.input_path.empty()) {
    pictures = media::MakePatternSource();
  } else {
    auto file = media::OpenFileSource(options.input_path, options.video.width,
                                      options.video.height);
    if (!file.ok()) return file.status();
    pictures = std::move(*file);
  }
  auto frame = (*video)->NewFrame();
  if (!frame.ok()) return frame.status();
  std::unique_ptr<Source> source(
      new Source(options, std::move(*socket), std::move(*video),
                 std::move(audio), std::move(pictures), std::move(*frame)));
  if (!options.upstream_key_file.empty()) {
    if (options.scheduled_keys) {
      return absl::InvalidArgumentError(
          "an upstream key file or scheduled keys, not both");
    }
    auto keys = media::ReadSrtpKeyFile(options.upstream_key_file);
    if (!keys.ok()) return keys.status();
    UpstreamKeys upstream;
    upstream.any = *std::move(keys);
    source->upstream_.SetKeys(std::move(upstream));
  }
  if (!options.srtp_key_file.empty()) {
    auto keys = media::ReadSrtpKeyFile(options.srtp_key_file);
    if (!keys.ok()) return keys.status();
    if (absl::Status status = source->StartEncryption(keys->back());
        !status.ok()) {
      return status;
    }
  }
  return source;
}

absl::Status Source::StartEncryption(const srtp::StreamKey& key) {
  std::mt19937 rng(std::random_device{}());
  for (Stream* stream : {video_stream_.get(), audio_stream_.get()}) {
    if (stream == nullptr) continue;
    // The counter starts at random: a restarted source with the same SSRC
    // and key does not reuse a GCM nonce (receivers read it in the packets).
    const uint32_t roc =
        std::uniform_int_distribution<uint32_t>(0, 0x7fffffff)(rng);
    auto sender = srtp::SrtpSender::Create(stream->ssrc, key, roc);
    if (!sender.ok()) return sender.status();
    stream->srtp = *std::move(sender);
  }
  return absl::OkStatus();
}

absl::Status Source::ChangeKey() {
  auto keys = media::ReadSrtpKeyFile(options_.srtp_key_file);
  if (!keys.ok()) return keys.status();
  return UseKey(keys->back());
}

absl::Status Source::UseKey(const srtp::StreamKey& key) {
  const std::vector<uint8_t> previous = key_id();
  for (Stream* stream : {video_stream_.get(), audio_stream_.get()}) {
    if (stream == nullptr) continue;
    if (absl::Status status = stream->srtp->SetKey(key); !status.ok()) {
      return status;
    }
  }
  if (key_id() != previous) ++stats_.key_changes;
  return absl::OkStatus();
}

void Source::FollowSchedule(absl::Time now) {
  const std::optional<srtp::StreamKey> next = schedule_.Next(now);
  if (!next.has_value()) return;
  if (absl::Status status = UseKey(*next); !status.ok()) {
    LOG(WARNING) << "keeping stream key " << Hex(key_id()) << ": "
                 << status.message();
    return;
  }
  LOG(INFO) << "stream key " << Hex(key_id()) << " from now on";
}

bool Source::AwaitFirstKey() {
  absl::Time next_log = absl::Now();
  while (!stop_.load()) {
    const absl::Time now = absl::Now();
    if (const std::optional<srtp::StreamKey> key = schedule_.Next(now)) {
      if (absl::Status status = StartEncryption(*key); !status.ok()) {
        // Only a key no sender takes; the next one given may do.
        LOG(WARNING) << "stream key " << Hex(key->id)
                     << " is unusable: " << status.message();
      } else {
        LOG(INFO) << "stream key " << Hex(key_id()) << " from "
                  << options_.keys_origin << "; sending";
        return true;
      }
    }
    if (now >= next_log) {
      LOG(INFO) << "waiting for the stream key from " << options_.keys_origin
                << " (nothing is sent before it)";
      next_log = now + absl::Seconds(5);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

std::vector<uint8_t> Source::key_id() const {
  return video_stream_->srtp ? video_stream_->srtp->key_id()
                             : std::vector<uint8_t>();
}

size_t Source::PacketOverhead() const { return Overhead(encrypted()); }

Source::Source(const SourceOptions& options, media::UdpFd socket,
               std::unique_ptr<media::VideoEncoder> video,
               std::unique_ptr<media::AudioEncoder> audio,
               std::unique_ptr<media::PictureSource> pictures,
               media::AvFramePtr frame)
    : options_(options),
      socket_(std::move(socket)),
      video_(std::move(video)),
      audio_(std::move(audio)),
      pictures_(std::move(pictures)),
      frame_(std::move(frame)),
      upstream_(options.scheduled_keys || !options.upstream_key_file.empty()) {
  std::mt19937 rng(std::random_device{}());
  video_ssrc_ = options.video_ssrc != 0 ? options.video_ssrc : RandomU32(rng);
  audio_ssrc_ = options.audio_ssrc != 0 ? options.audio_ssrc : RandomU32(rng);
  if (audio_ssrc_ == video_ssrc_) ++audio_ssrc_;
  auto make_stream = [&](uint32_t ssrc, uint8_t pt, int clock_rate,
                         const media::Endpoint& dest) {
    auto stream = std::make_unique<Stream>();
    stream->ssrc = ssrc;
    stream->payload_type = pt;
    stream->clock_rate = clock_rate;
    stream->dest = dest;
    stream->next_seq = static_cast<uint16_t>(RandomU32(rng));
    stream->timestamp_offset = RandomU32(rng);
    stream->ring.resize(options.ring_packets);
    stream->ring_seq.resize(options.ring_packets);
    return stream;
  };
  video_stream_ = make_stream(video_ssrc_, media::kVideoPayloadType,
                              media::kVideoClockRate, options.dest);
  if (audio_) {
    audio_stream_ =
        make_stream(audio_ssrc_, media::kAudioPayloadType, kAudioClockRate,
                    options.audio_dest.value_or(options.dest));
    tone_ = std::make_unique<media::ToneGenerator>(options.tone_hz,
                                                   kAudioClockRate);
  }
}

Source::~Source() = default;

absl::Status Source::Run() {
  if (!options_.sdp_path.empty()) {
    absl::Status status = WriteSdp();
    if (!status.ok()) return status;
  }
  if (options_.scheduled_keys && !AwaitFirstKey()) return absl::OkStatus();
  // Time for a receiver to start from the SDP before the first packet.
  const absl::Time delay_end = absl::Now() + options_.start_delay;
  while (!stop_.load() && absl::Now() < delay_end) {
    absl::SleepFor(std::min(delay_end - absl::Now(), absl::Milliseconds(50)));
  }
  const absl::Time start = absl::Now();
  const absl::Time end = options_.duration > absl::ZeroDuration()
                             ? start + options_.duration
                             : absl::InfiniteFuture();
  const absl::Duration frame_interval =
      absl::Seconds(1) / options_.video.frame_rate;
  absl::Time next_frame = start;
  absl::Time next_audio = start;
  absl::Time next_report = start + kReportInterval;
  pace_updated_ = start;
  while (!stop_.load()) {
    if (reload_keys_.exchange(false)) {
      if (options_.srtp_key_file.empty()) {
        LOG(WARNING) << "no key file to read again: "
                     << (options_.scheduled_keys
                             ? "the keys come from " + options_.keys_origin
                             : std::string("the stream is not encrypted"));
      } else if (absl::Status status = ChangeKey(); !status.ok()) {
        LOG(WARNING) << "keeping stream key " << Hex(key_id()) << ": "
                     << status.message();
      } else {
        LOG(INFO) << "stream key " << Hex(key_id()) << " from now on";
      }
    }
    absl::Time now = absl::Now();
    if (now >= end) break;
    if (now >= next_frame) {
      absl::Status status = SendVideoFrame(now, next_frame - start);
      if (!status.ok()) return status;
      next_frame += frame_interval;
      // After a stall (e.g. the machine was busy) skip ahead, not burst.
      if (now - next_frame > 5 * frame_interval) next_frame = now;
    }
    if (audio_ && now >= next_audio) {
      absl::Status status = SendAudioFrame(now, next_audio - start);
      if (!status.ok()) return status;
      next_audio += kAudioFrame;
      if (now - next_audio > 5 * kAudioFrame) next_audio = now;
    }
    if (now >= next_report) {
      SendSenderReports(now);
      next_report += kReportInterval;
    }
    const absl::Time next_pace = Pace(now);
    absl::Time wake = std::min({next_frame, next_report, end, next_pace});
    if (audio_) wake = std::min(wake, next_audio);
    const absl::Duration wait =
        std::max(wake - absl::Now(), absl::ZeroDuration());
    pollfd fds{socket_.fd(), POLLIN, 0};
    const timespec timeout = absl::ToTimespec(wait);
    if (ppoll(&fds, 1, &timeout, nullptr) > 0) Receive();
  }
  // Whatever the pacer still holds goes out before the end.
  while (!pace_queue_.empty()) {
    SendToAll(*video_stream_, pace_queue_.front());
    pace_queue_.pop_front();
  }
  return absl::OkStatus();
}

absl::Status Source::SendVideoFrame(absl::Time now, absl::Duration media_time) {
  bool force = false;
  if (keyframe_requested_) {
    keyframe_requested_ = false;
    force = !last_keyframe_.has_value() ||
            now - *last_keyframe_ >= options_.min_keyframe_interval;
  }
  absl::Status status = pictures_->Next(frame_.get(), frame_number_, now);
  if (!status.ok()) return status;
  std::vector<media::EncodedFrame> encoded;
  status = video_->Encode(frame_.get(), frame_number_, force, &encoded);
  if (!status.ok()) return status;
  const uint32_t timestamp = RtpTime(media_time, media::kVideoClockRate);
  ++frame_number_;
  for (const media::EncodedFrame& access_unit : encoded) {
    ++stats_.frames;
    if (access_unit.keyframe) {
      ++stats_.keyframes;
      if (force) ++stats_.forced_keyframes;
      last_keyframe_ = now;
    }
    auto payloads =
        media::PacketizeH264(media::SplitAnnexB(access_unit.data),
                             options_.max_packet_size - PacketOverhead());
    for (size_t i = 0; i < payloads.size(); ++i) {
      // What a relay without the key needs to cache keyframes.
      rtp::FrameMarking marking;
      marking.start_of_frame = i == 0;
      marking.end_of_frame = i + 1 == payloads.size();
      marking.independent = access_unit.keyframe;
      auto packet = BuildPacket(*video_stream_, timestamp, marking.end_of_frame,
                                now, payloads[i], marking);
      if (!packet.ok()) return packet.status();
      pace_queue_.push_back(*std::move(packet));
      ++stats_.video_packets;
    }
  }
  return absl::OkStatus();
}

absl::Status Source::SendAudioFrame(absl::Time now, absl::Duration media_time) {
  std::vector<int16_t> samples(media::AudioEncoder::kFrameSamples);
  tone_->Fill(absl::MakeSpan(samples));
  std::vector<std::vector<uint8_t>> packets;
  absl::Status status = audio_->Encode(samples, audio_samples_, &packets);
  if (!status.ok()) return status;
  for (const auto& payload : packets) {
    // RFC 7587: one Opus packet per RTP packet, 48 kHz timestamps.
    auto packet =
        BuildPacket(*audio_stream_, RtpTime(media_time, kAudioClockRate),
                    /*marker=*/false, now, payload, std::nullopt);
    if (!packet.ok()) return packet.status();
    SendToAll(*audio_stream_, *packet);
    ++stats_.audio_packets;
  }
  audio_samples_ += media::AudioEncoder::kFrameSamples;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Source::BuildPacket(
    Stream& stream, uint32_t timestamp, bool marker, absl::Time send_time,
    absl::Span<const uint8_t> payload,
    std::optional<rtp::FrameMarking> marking) {
  const auto send_time_bytes = media::EncodeSendTime(send_time);
  const uint8_t marking_byte[] = {
      marking.has_value() ? rtp::FrameMarkingByte(*marking) : uint8_t{0}};
  const uint8_t roc[srtp::kRocExtensionSize] = {};  // Protect fills it in
  rtp::ExtensionElement extensions[3];
  size_t count = 0;
  extensions[count++] = {media::kSendTimeExtensionId, send_time_bytes};
  if (marking.has_value()) {
    extensions[count++] = {rtp::kFrameMarkingExtensionId, marking_byte};
  }
  if (options_.scheduled_keys) FollowSchedule(send_time);
  if (stream.srtp) extensions[count++] = {srtp::kRocExtensionId, roc};
  rtp::RtpHeader header;
  header.marker = marker;
  header.payload_type = stream.payload_type;
  header.sequence_number = stream.next_seq++;
  header.timestamp = stream.timestamp_offset + timestamp;
  header.ssrc = stream.ssrc;
  header.extensions = absl::MakeConstSpan(extensions, count);
  const size_t plain_size = rtp::RtpHeaderSize(header) + payload.size();
  std::vector<uint8_t> packet(plain_size +
                              (stream.srtp ? stream.srtp->overhead() : 0));
  rtp::WriteRtpPacket(header, payload, absl::MakeSpan(packet));
  if (stream.srtp) {
    auto size = stream.srtp->Protect(absl::MakeSpan(packet), plain_size);
    if (!size.ok()) return size.status();
    packet.resize(*size);
  }
  // A NACK is answered with these very bytes (SRTP never protects a
  // sequence number twice).
  const size_t slot = header.sequence_number % stream.ring.size();
  stream.ring[slot] = packet;
  stream.ring_seq[slot] = header.sequence_number;
  stream.packet_count++;
  stream.octet_count += static_cast<uint32_t>(payload.size());
  stream.last_timestamp = header.timestamp;
  stream.last_send_time = send_time;
  return packet;
}

void Source::SendToAll(const Stream& stream, absl::Span<const uint8_t> packet) {
  SendNow(stream.dest, packet);
  for (const media::Endpoint& to : options_.standby_dests) SendNow(to, packet);
}

void Source::SendNow(const media::Endpoint& to,
                     absl::Span<const uint8_t> packet) {
  if (socket_.SendTo(to, packet)) {
    stats_.bytes += static_cast<int64_t>(packet.size());
  } else {
    ++stats_.send_errors;
  }
}

absl::Time Source::Pace(absl::Time now) {
  const double rate = options_.pacing_factor * options_.video.bitrate_kbps *
                      1000.0 / 8;  // bytes per second
  const double burst =
      std::max(rate * absl::ToDoubleSeconds(options_.pacing_burst),
               static_cast<double>(options_.max_packet_size));
  pace_tokens_ = std::min(
      burst, pace_tokens_ + rate * absl::ToDoubleSeconds(now - pace_updated_));
  pace_updated_ = now;
  while (!pace_queue_.empty() && pace_tokens_ >= 0) {
    pace_tokens_ -= static_cast<double>(pace_queue_.front().size());
    SendToAll(*video_stream_, pace_queue_.front());
    pace_queue_.pop_front();
  }
  if (pace_queue_.empty()) return absl::InfiniteFuture();
  return now + absl::Seconds(-pace_tokens_ / rate);
}

void Source::SetUpstreamKeys(UpstreamKeys keys) {
  absl::MutexLock lock(&upstream_keys_mu_);
  upstream_keys_ = std::move(keys);
  upstream_keys_changed_.store(true);
}

void Source::Receive() {
  if (upstream_keys_changed_.exchange(false)) {
    absl::MutexLock lock(&upstream_keys_mu_);
    if (upstream_keys_.has_value())
      upstream_.SetKeys(*std::move(upstream_keys_));
    upstream_keys_.reset();
  }
  std::vector<media::Receiver::Datagram> datagrams;
  // Bounded: at most a few batches per wake-up, the rest next time.
  for (int batch = 0;
       batch < 8 && receiver_.Receive(socket_.fd(), &datagrams) > 0; ++batch) {
    const absl::Time arrival = absl::Now();
    for (const auto& datagram : datagrams) {
      switch (rtp::Classify(datagram.data)) {
        case rtp::PacketKind::kRtp:
          if (upstream_.OnRtp(datagram.data, arrival) !=
              UpstreamCounter::Result::kCounted) {
            ++stats_.bad_packets;
          }
          continue;
        case rtp::PacketKind::kNotRtp:
          ++stats_.bad_packets;
          continue;
        case rtp::PacketKind::kRtcp:
          break;
      }
      RtcpHandler handler(this, datagram.from);
      if (rtp::ParseRtcpCompound(datagram.data, &handler) !=
          rtp::RtcpError::kOk) {
        ++stats_.bad_packets;
        continue;
      }
      ++stats_.rtcp_received;
    }
  }
}

void Source::SendSenderReports(absl::Time now) {
  for (Stream* stream : {video_stream_.get(), audio_stream_.get()}) {
    if (stream == nullptr || !stream->last_timestamp.has_value()) continue;
    rtp::SenderInfo info;
    info.ntp_timestamp = media::ToNtp(now);
    info.rtp_timestamp =
        *stream->last_timestamp +
        static_cast<uint32_t>(
            absl::ToDoubleSeconds(now - stream->last_send_time) *
            stream->clock_rate);
    info.packet_count = stream->packet_count;
    info.octet_count = stream->octet_count;
    uint8_t buffer[64];
    const size_t size =
        rtp::BuildSenderReport(stream->ssrc, info, {}, absl::MakeSpan(buffer));
    if (size > 0) SendToAll(*stream, absl::MakeConstSpan(buffer, size));
  }
}

absl::Status Source::WriteSdp() {
  media::SdpOptions sdp;
  const media::Endpoint video_dest = options_.sdp_dest.value_or(options_.dest);
  sdp.dest_address = video_dest.ToString();
  sdp.dest_address.resize(sdp.dest_address.rfind(':'));  // the IP alone
  sdp.video_port = video_dest.port;
  sdp.video_ssrc = video_ssrc_;
  sdp.srtp = encrypted();
  // An encoder with the same settings writes the same SPS and PPS: take them
  // from one black frame, so the SDP is complete before the first packet.
  auto encoder = media::VideoEncoder::Create(options_.video);
  if (!encoder.ok()) return encoder.status();
  auto frame = (*encoder)->NewFrame();
  if (!frame.ok()) return frame.status();
  for (int plane = 0; plane < 3; ++plane) {
    const int rows = plane == 0 ? (*frame)->height : (*frame)->height / 2;
    std::fill_n((*frame)->data[plane], (*frame)->linesize[plane] * rows,
                plane == 0 ? 16 : 128);
  }
  std::vector<media::EncodedFrame> encoded;
  absl::Status status = (*encoder)->Encode(frame->get(), 0, true, &encoded);
  if (!status.ok()) return status;
  for (const media::EncodedFrame& access_unit : encoded) {
    for (auto nal : media::SplitAnnexB(access_unit.data)) {
      if (media::NalType(nal[0]) == media::kNalSps) {
        sdp.sps.assign(nal.begin(), nal.end());
      }
      if (media::NalType(nal[0]) == media::kNalPps) {
        sdp.pps.assign(nal.begin(), nal.end());
      }
    }
  }
  if (audio_stream_) {
    sdp.audio_port = options_.sdp_dest.has_value() ? options_.sdp_dest->port + 2
                                                   : audio_stream_->dest.port;
    sdp.audio_ssrc = audio_ssrc_;
  }
  // A reader never sees half a file.
  return WriteFileAtomically(options_.sdp_path, media::WriteSdp(sdp));
}

}  // namespace source
}  // namespace cascade
