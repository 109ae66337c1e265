#include "tools/record/recorder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/media/codec.h"
#include "tools/media/h264_packetizer.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
}

namespace cascade {
namespace record {
namespace {

constexpr int64_t kClockRate = 90000;  // H.264 over RTP
// A frame step longer than this is a gap, not the frame rate.
constexpr int64_t kMaxFrameStep = kClockRate / 10;
// RTP that leaps this far past the wall clock is not the stream's timing
// any more (its source restarted): the arrival time bridges the jump.
constexpr int64_t kMaxRtpLead = 10 * kClockRate;
constexpr uint8_t kStartCode[] = {0, 0, 0, 1};

int64_t ToTicks(absl::Duration d) {
  return absl::ToInt64Microseconds(d) * kClockRate / 1000000;
}
absl::Duration FromTicks(int64_t ticks) {
  return absl::Microseconds(ticks * 1000000 / kClockRate);
}

// The picture size the stream's SPS gives; 0x0 when it cannot be parsed.
void PictureSize(absl::Span<const uint8_t> annexb, int* width, int* height) {
  *width = *height = 0;
  AVCodecParserContext* parser = av_parser_init(AV_CODEC_ID_H264);
  AVCodecContext* context = avcodec_alloc_context3(nullptr);
  if (parser != nullptr && context != nullptr) {
    parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
    // The parser reads past the end in words: padded.
    std::vector<uint8_t> padded(annexb.begin(), annexb.end());
    padded.resize(annexb.size() + AV_INPUT_BUFFER_PADDING_SIZE);
    uint8_t* out = nullptr;
    int out_size = 0;
    av_parser_parse2(parser, context, &out, &out_size, padded.data(),
                     static_cast<int>(annexb.size()), AV_NOPTS_VALUE,
                     AV_NOPTS_VALUE, 0);
    *width = parser->width;
    *height = parser->height;
  }
  avcodec_free_context(&context);
  if (parser != nullptr) av_parser_close(parser);
}

std::string Iso8601(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Recorder>> Recorder::Create(
    const RecorderOptions& options, std::ostream* log) {
  struct stat st;
  if (stat(options.directory.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.directory, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.directory, ": not a directory"));
  }
  if (access(options.directory.c_str(), W_OK | X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.directory, ": not writable: ", std::strerror(errno)));
  }
  if (options.segment < absl::Seconds(1)) {
    return absl::InvalidArgumentError("segments must be at least 1s long");
  }
  return std::unique_ptr<Recorder>(new Recorder(options, log));
}

Recorder::~Recorder() { Close().IgnoreError(); }

void Recorder::NoteDiscontinuity(const std::string& reason) {
  discontinuity_ = reason;
}

int64_t Recorder::Timeline(const probe::VideoAccessUnit& unit) {
  const int64_t rtp_step = static_cast<int32_t>(unit.rtp_timestamp - last_rtp_);
  const int64_t arrival_step = ToTicks(unit.completed - last_arrival_);
  int64_t step = rtp_step;
  if (rtp_step <= 0 || rtp_step > arrival_step + kMaxRtpLead) {
    step = std::max<int64_t>(arrival_step, 1);
  }
  if (step <= kMaxFrameStep) step_ = step;
  last_rtp_ = unit.rtp_timestamp;
  last_time_ += step;
  return last_time_;
}

void Recorder::LogGap(const probe::VideoAccessUnit& unit) {
  const absl::Duration silence = unit.completed - last_arrival_;
  if (silence <= options_.gap && !discontinuity_.has_value()) return;
  ++gaps_;
  // What the file misses: the RTP time beyond one frame step.
  const int64_t skipped = std::max<int64_t>(
      0, static_cast<int32_t>(unit.rtp_timestamp - last_rtp_) - step_);
  *log_ << absl::StrFormat(
               "relay-record: gap: %d ms without a frame%s; %d ms of "
               "media missing",
               absl::ToInt64Milliseconds(silence),
               discontinuity_.has_value() ? " (" + *discontinuity_ + ")" : "",
               absl::ToInt64Milliseconds(FromTicks(skipped)))
        << (format_ != nullptr
                ? absl::StrFormat(" at %.3f s in %s",
                                  absl::ToDoubleSeconds(
                                      FromTicks(last_time_ - segment_start_)),
                                  current_.path)
                : "")
        << std::endl;
  discontinuity_.reset();
}

absl::Status Recorder::Write(const probe::VideoAccessUnit& unit) {
  for (absl::Span<const uint8_t> nal : media::SplitAnnexB(unit.annexb)) {
    const uint8_t type = media::NalType(nal[0]);
    if (type != media::kNalSps && type != media::kNalPps) continue;
    std::vector<uint8_t>& set = type == media::kNalSps ? sps_ : pps_;
    set.assign(std::begin(kStartCode), std::end(kStartCode));
    set.insert(set.end(), nal.begin(), nal.end());
  }
  if (ssrc_.has_value() && *ssrc_ != unit.ssrc) {
    *log_ << "relay-record: the stream's SSRC changed to " << unit.ssrc
          << ": a new segment at its first keyframe" << std::endl;
    ssrc_.reset();
    if (absl::Status closed = Close(); !closed.ok()) return closed;
  }
  if (!ssrc_.has_value()) {
    if (!unit.keyframe || sps_.empty() || pps_.empty()) return absl::OkStatus();
    ssrc_ = unit.ssrc;
    last_rtp_ = unit.rtp_timestamp;
    discontinuity_.reset();
  } else {
    LogGap(unit);
    Timeline(unit);
  }
  last_arrival_ = unit.completed;
  if (format_ != nullptr && unit.keyframe &&
      last_time_ - segment_start_ >= ToTicks(options_.segment)) {
    if (absl::Status closed = Close(); !closed.ok()) return closed;
  }
  if (format_ == nullptr) {
    if (!unit.keyframe) return absl::OkStatus();
    if (absl::Status opened = Open(unit); !opened.ok()) return opened;
  }

  AVPacket* packet = av_packet_alloc();
  if (packet == nullptr ||
      av_new_packet(packet, static_cast<int>(unit.annexb.size())) < 0) {
    av_packet_free(&packet);
    return absl::ResourceExhaustedError("cannot allocate a packet");
  }
  std::memcpy(packet->data, unit.annexb.data(), unit.annexb.size());
  packet->pts = packet->dts = last_time_ - segment_start_;
  // The last frame's step stands for this one's (RTP does not say).
  packet->duration = step_ > 0 ? step_ : kClockRate / 30;
  if (unit.keyframe) packet->flags |= AV_PKT_FLAG_KEY;
  packet->stream_index = stream_->index;
  const int64_t end = packet->pts + packet->duration;
  av_packet_rescale_ts(packet, AVRational{1, kClockRate}, stream_->time_base);
  const int error = av_write_frame(format_, packet);
  av_packet_free(&packet);
  if (error < 0) {
    const absl::Status status =
        media::AvError(absl::StrCat("writing ", part_path_), error);
    avio_closep(&format_->pb);
    avformat_free_context(format_);
    format_ = nullptr;
    return status;
  }
  ++current_.frames;
  current_.duration = FromTicks(end);
  return absl::OkStatus();
}

absl::Status Recorder::Open(const probe::VideoAccessUnit& unit) {
  const bool mp4 = options_.container == Container::kMp4;
  const std::string stem = absl::StrCat(
      options_.directory, "/rec-",
      absl::FormatTime("%Y%m%dT%H%M%SZ", unit.completed, absl::UTCTimeZone()));
  const char* extension = mp4 ? ".mp4" : ".mkv";
  std::string path = stem + extension;
  // Two segments in one second (a restarted stream): numbered.
  for (int i = 1; i < 100 && (Exists(path) || Exists(path + ".part")); ++i) {
    path = absl::StrCat(stem, "-", i, extension);
  }
  current_ = Segment{path, unit.completed, 0, absl::ZeroDuration()};
  part_path_ = path + ".part";
  segment_start_ = last_time_;

  if (const int error = avformat_alloc_output_context2(
          &format_, nullptr, mp4 ? "mp4" : "matroska", part_path_.c_str());
      error < 0) {
    format_ = nullptr;
    return media::AvError("libavformat", error);
  }
  auto fail = [&](const std::string& what, int error) {
    if (format_->pb != nullptr) avio_closep(&format_->pb);
    avformat_free_context(format_);
    format_ = nullptr;
    std::remove(part_path_.c_str());
    return media::AvError(what, error);
  };
  stream_ = avformat_new_stream(format_, nullptr);
  if (stream_ == nullptr) return fail("new stream", AVERROR(ENOMEM));
  stream_->time_base = AVRational{1, kClockRate};
  AVCodecParameters* par = stream_->codecpar;
  par->codec_type = AVMEDIA_TYPE_VIDEO;
  par->codec_id = AV_CODEC_ID_H264;
  // Annex B parameter sets: the muxers write them as avcC and each packet
  // with length prefixes.
  std::vector<uint8_t> extradata = sps_;
  extradata.insert(extradata.end(), pps_.begin(), pps_.end());
  par->extradata = static_cast<uint8_t*>(
      av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (par->extradata == nullptr) return fail("extradata", AVERROR(ENOMEM));
  std::memcpy(par->extradata, extradata.data(), extradata.size());
  par->extradata_size = static_cast<int>(extradata.size());
  // The parser wants a picture after the parameter sets.
  std::vector<uint8_t> keyframe = extradata;
  keyframe.insert(keyframe.end(), unit.annexb.begin(), unit.annexb.end());
  PictureSize(keyframe, &par->width, &par->height);

  const std::string start = Iso8601(unit.completed);
  av_dict_set(&format_->metadata, "creation_time", start.c_str(), 0);
  av_dict_set(&format_->metadata, "WALLCLOCK_START", start.c_str(), 0);
  if (const int error =
          avio_open(&format_->pb, part_path_.c_str(), AVIO_FLAG_WRITE);
      error < 0) {
    return fail(part_path_, error);
  }
  AVDictionary* muxer_options = nullptr;
  // MP4 keeps tags it does not know only when asked.
  if (mp4) av_dict_set(&muxer_options, "movflags", "+use_metadata_tags", 0);
  const int error = avformat_write_header(format_, &muxer_options);
  av_dict_free(&muxer_options);
  if (error < 0) return fail(absl::StrCat("header of ", part_path_), error);
  *log_ << "relay-record: opened " << path << " (" << par->width << "x"
        << par->height << ", start " << start << ")" << std::endl;
  return absl::OkStatus();
}

absl::Status Recorder::Close() {
  if (format_ == nullptr) return absl::OkStatus();
  const int trailer = av_write_trailer(format_);
  const int closed = avio_closep(&format_->pb);
  avformat_free_context(format_);
  format_ = nullptr;
  if (trailer < 0 || closed < 0) {
    return media::AvError(absl::StrCat("finishing ", part_path_),
                          trailer < 0 ? trailer : closed);
  }
  if (std::rename(part_path_.c_str(), current_.path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("renaming ", part_path_, ": ", std::strerror(errno)));
  }
  segments_.push_back(current_);
  *log_ << absl::StrFormat("relay-record: closed %s: %d frames, %.3f s",
                           current_.path, current_.frames,
                           absl::ToDoubleSeconds(current_.duration))
        << std::endl;
  return absl::OkStatus();
}

}  // namespace record
}  // namespace cascade
