#include "tools/media/picture_source.h"

#include "absl/strings/str_cat.h"
#include "tools/media/codec.h"
#include "tools/media/test_pattern.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace cascade {
namespace media {
namespace {

class PatternSource : public PictureSource {
 public:
  absl::Status Next(AVFrame* frame, int64_t frame_number,
                    absl::Time send_time) override {
    DrawTestPattern(frame, frame_number, send_time);
    return absl::OkStatus();
  }
};

class FileSource : public PictureSource {
 public:
  FileSource(AVFormatContext* format, int stream_index, AVCodecContext* decoder,
             int width, int height)
      : format_(format),
        stream_index_(stream_index),
        decoder_(decoder),
        width_(width),
        height_(height),
        packet_(av_packet_alloc()),
        decoded_(av_frame_alloc()) {}

  ~FileSource() override {
    sws_freeContext(scaler_);
    av_frame_free(&decoded_);
    av_packet_free(&packet_);
    avcodec_free_context(&decoder_);
    avformat_close_input(&format_);
  }

  bool ok() const { return packet_ != nullptr && decoded_ != nullptr; }

  absl::Status Next(AVFrame* frame, int64_t /*frame_number*/,
                    absl::Time /*send_time*/) override {
    absl::Status status = DecodeOne();
    if (!status.ok()) return status;
    scaler_ = sws_getCachedContext(scaler_, decoded_->width, decoded_->height,
                                   static_cast<AVPixelFormat>(decoded_->format),
                                   width_, height_, AV_PIX_FMT_YUV420P,
                                   SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (scaler_ == nullptr) {
      return absl::InternalError("swscale: cannot convert the input picture");
    }
    sws_scale(scaler_, decoded_->data, decoded_->linesize, 0, decoded_->height,
              frame->data, frame->linesize);
    return absl::OkStatus();
  }

 private:
  // Decodes the next picture into decoded_, rewinding once at the end of the
  // file; bounded so a file without decodable pictures fails instead of
  // spinning.
  absl::Status DecodeOne() {
    constexpr int kMaxReads = 10000;
    bool rewound = false;
    for (int reads = 0; reads < kMaxReads; ++reads) {
      int error = avcodec_receive_frame(decoder_, decoded_);
      if (error == 0) return absl::OkStatus();
      if (error == AVERROR_EOF) {
        if (rewound) break;
        rewound = true;
        av_seek_frame(format_, stream_index_, 0, AVSEEK_FLAG_BACKWARD);
        avcodec_flush_buffers(decoder_);
        continue;
      }
      if (error != AVERROR(EAGAIN)) return AvError("decode input", error);
      error = av_read_frame(format_, packet_);
      if (error == AVERROR_EOF) {
        avcodec_send_packet(decoder_, nullptr);  // drain, then EOF above
        continue;
      }
      if (error < 0) return AvError("read input", error);
      if (packet_->stream_index == stream_index_) {
        // A damaged packet in the input is skipped, not fatal.
        avcodec_send_packet(decoder_, packet_);
      }
      av_packet_unref(packet_);
    }
    return absl::DataLossError("the input file has no decodable pictures");
  }

  AVFormatContext* format_;
  int stream_index_;
  AVCodecContext* decoder_;
  int width_;
  int height_;
  AVPacket* packet_;
  AVFrame* decoded_;
  SwsContext* scaler_ = nullptr;
};

}  // namespace

std::unique_ptr<PictureSource> MakePatternSource() {
  return std::make_unique<PatternSource>();
}

absl::StatusOr<std::unique_ptr<PictureSource>> OpenFileSource(
    const std::string& path, int width, int height) {
  AVFormatContext* format = nullptr;
  int error = avformat_open_input(&format, path.c_str(), nullptr, nullptr);
  if (error < 0) return AvError(absl::StrCat("open ", path), error);
  error = avformat_find_stream_info(format, nullptr);
  const AVCodec* codec = nullptr;
  const int stream_index =
      error < 0
          ? error
          : av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream_index < 0) {
    avformat_close_input(&format);
    return AvError(absl::StrCat("find a video stream in ", path), stream_index);
  }
  AVCodecContext* decoder = avcodec_alloc_context3(codec);
  error = decoder == nullptr
              ? AVERROR(ENOMEM)
              : avcodec_parameters_to_context(
                    decoder, format->streams[stream_index]->codecpar);
  if (error >= 0) error = avcodec_open2(decoder, codec, nullptr);
  if (error < 0) {
    avcodec_free_context(&decoder);
    avformat_close_input(&format);
    return AvError(absl::StrCat("open the decoder for ", path), error);
  }
  auto source = std::make_unique<FileSource>(format, stream_index, decoder,
                                             width, height);
  if (!source->ok()) return absl::ResourceExhaustedError("no memory");
  return std::unique_ptr<PictureSource>(std::move(source));
}

}  // namespace media
}  // namespace cascade
