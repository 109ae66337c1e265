#include "tools/media/codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
}

namespace cascade {
namespace media {

void AvFrameDeleter::operator()(AVFrame* frame) const { av_frame_free(&frame); }

absl::Status AvError(const std::string& what, int error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(error, text, sizeof(text));
  return absl::InternalError(absl::StrCat("libavcodec: ", what, ": ", text));
}

absl::StatusOr<std::unique_ptr<VideoEncoder>> VideoEncoder::Create(
    const VideoEncoderOptions& options) {
  if (options.width <= 0 || options.height <= 0 || options.width % 2 != 0 ||
      options.height % 2 != 0) {
    return absl::InvalidArgumentError(
        "video size must be positive and even in both dimensions");
  }
  if (options.frame_rate <= 0 || options.bitrate_kbps <= 0 ||
      options.gop <= 0) {
    return absl::InvalidArgumentError(
        "frame rate, bitrate and GOP must be positive");
  }
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (codec == nullptr) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
  if (codec == nullptr) {
    return absl::UnavailableError("libavcodec has no H.264 encoder");
  }
  AVCodecContext* context = avcodec_alloc_context3(codec);
  if (context == nullptr) return absl::ResourceExhaustedError("no memory");
  context->width = options.width;
  context->height = options.height;
  context->pix_fmt = AV_PIX_FMT_YUV420P;
  context->time_base = AVRational{1, options.frame_rate};
  context->framerate = AVRational{options.frame_rate, 1};
  context->gop_size = options.gop;
  context->keyint_min = options.gop;
  context->max_b_frames = 0;
  context->bit_rate = int64_t{options.bitrate_kbps} * 1000;
  context->rc_max_rate = context->bit_rate;
  // Half a second of VBV: keyframes may be several frames' worth (the pacer
  // spreads them) while the rate stays near the target over any half second.
  context->rc_buffer_size = static_cast<int>(context->bit_rate / 2);
  // zerolatency: no lookahead, no frame threads; each input frame comes out
  // at once. In-band SPS/PPS before every IDR (no global header), so a site
  // that joins mid-stream decodes from the next keyframe.
  av_opt_set(context->priv_data, "preset", options.preset.c_str(), 0);
  av_opt_set(context->priv_data, "tune", "zerolatency", 0);
  av_opt_set(context->priv_data, "profile", "baseline", 0);
  av_opt_set(context->priv_data, "forced-idr", "1", 0);
  // Keyframes only every GOP, never on scene cuts.
  av_opt_set(context->priv_data, "x264-params", "scenecut=0", 0);
  int error = avcodec_open2(context, codec, nullptr);
  if (error < 0) {
    avcodec_free_context(&context);
    return AvError("open H.264 encoder", error);
  }
  AVPacket* packet = av_packet_alloc();
  if (packet == nullptr) {
    avcodec_free_context(&context);
    return absl::ResourceExhaustedError("no memory");
  }
  return std::unique_ptr<VideoEncoder>(
      new VideoEncoder(options, context, packet));
}

VideoEncoder::VideoEncoder(const VideoEncoderOptions& options,
                           AVCodecContext* context, AVPacket* packet)
    : options_(options), context_(context), packet_(packet) {}

VideoEncoder::~VideoEncoder() {
  av_packet_free(&packet_);
  avcodec_free_context(&context_);
}

absl::StatusOr<AvFramePtr> VideoEncoder::NewFrame() const {
  AvFramePtr frame(av_frame_alloc());
  if (frame == nullptr) return absl::ResourceExhaustedError("no memory");
  frame->format = AV_PIX_FMT_YUV420P;
  frame->width = options_.width;
  frame->height = options_.height;
  int error = av_frame_get_buffer(frame.get(), 0);
  if (error < 0) return AvError("allocate frame", error);
  return frame;
}

absl::Status VideoEncoder::Encode(AVFrame* frame, int64_t pts,
                                  bool force_keyframe,
                                  std::vector<EncodedFrame>* out) {
  frame->pts = pts;
  frame->pict_type = force_keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  int error = avcodec_send_frame(context_, frame);
  if (error < 0) return AvError("send frame to encoder", error);
  return Drain(out);
}

absl::Status VideoEncoder::Drain(std::vector<EncodedFrame>* out) {
  while (true) {
    int error = avcodec_receive_packet(context_, packet_);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF)
      return absl::OkStatus();
    if (error < 0) return AvError("receive packet from encoder", error);
    EncodedFrame encoded;
    encoded.data.assign(packet_->data, packet_->data + packet_->size);
    encoded.pts = packet_->pts;
    encoded.keyframe = packet_->flags & AV_PKT_FLAG_KEY;
    out->push_back(std::move(encoded));
    av_packet_unref(packet_);
  }
}

absl::StatusOr<std::unique_ptr<VideoDecoder>> VideoDecoder::Create() {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  if (codec == nullptr) {
    return absl::UnavailableError("libavcodec has no H.264 decoder");
  }
  AVCodecContext* context = avcodec_alloc_context3(codec);
  if (context == nullptr) return absl::ResourceExhaustedError("no memory");
  // One thread and no frame delay: a picture comes out for each access unit.
  context->thread_count = 1;
  context->flags |= AV_CODEC_FLAG_LOW_DELAY;
  int error = avcodec_open2(context, codec, nullptr);
  AVPacket* packet = error < 0 ? nullptr : av_packet_alloc();
  AVFrame* received = error < 0 ? nullptr : av_frame_alloc();
  AVFrame* frame = error < 0 ? nullptr : av_frame_alloc();
  if (error < 0 || packet == nullptr || received == nullptr ||
      frame == nullptr) {
    av_packet_free(&packet);
    av_frame_free(&received);
    av_frame_free(&frame);
    avcodec_free_context(&context);
    if (error < 0) return AvError("open H.264 decoder", error);
    return absl::ResourceExhaustedError("no memory");
  }
  return std::unique_ptr<VideoDecoder>(
      new VideoDecoder(context, packet, received, frame));
}

VideoDecoder::VideoDecoder(AVCodecContext* context, AVPacket* packet,
                           AVFrame* received, AVFrame* frame)
    : context_(context), packet_(packet), received_(received), frame_(frame) {}

VideoDecoder::~VideoDecoder() {
  av_frame_free(&received_);
  av_frame_free(&frame_);
  av_packet_free(&packet_);
  avcodec_free_context(&context_);
}

DecodeResult VideoDecoder::Decode(absl::Span<const uint8_t> annexb) {
  DecodeResult result;
  if (annexb.empty()) return result;
  // libavcodec reads past the end of its input, so copy into a buffer with
  // its zeroed padding.
  int error = av_new_packet(packet_, static_cast<int>(annexb.size()));
  if (error < 0) {
    result.error = true;
    return result;
  }
  std::memcpy(packet_->data, annexb.data(), annexb.size());
  error = avcodec_send_packet(context_, packet_);
  av_packet_unref(packet_);
  if (error < 0) {
    result.error = true;
    return result;
  }
  while (true) {
    error = avcodec_receive_frame(context_, received_);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) break;
    if (error < 0) {
      result.error = true;
      break;
    }
    av_frame_unref(frame_);
    av_frame_move_ref(frame_, received_);
    have_frame_ = true;
    ++result.frames;
    if (frame_->decode_error_flags != 0 ||
        (frame_->flags & AV_FRAME_FLAG_CORRUPT)) {
      result.error = true;
    }
  }
  return result;
}

absl::StatusOr<std::unique_ptr<AudioEncoder>> AudioEncoder::Create(
    int bitrate_kbps) {
  const AVCodec* codec = avcodec_find_encoder_by_name("libopus");
  if (codec == nullptr) codec = avcodec_find_encoder(AV_CODEC_ID_OPUS);
  if (codec == nullptr) {
    return absl::UnavailableError("libavcodec has no Opus encoder");
  }
  AVCodecContext* context = avcodec_alloc_context3(codec);
  if (context == nullptr) return absl::ResourceExhaustedError("no memory");
  context->sample_rate = kSampleRate;
  context->sample_fmt = AV_SAMPLE_FMT_S16;
  av_channel_layout_default(&context->ch_layout, 1);
  context->bit_rate = int64_t{bitrate_kbps} * 1000;
  context->time_base = AVRational{1, kSampleRate};
  av_opt_set(context->priv_data, "application", "lowdelay", 0);
  av_opt_set_double(context->priv_data, "frame_duration", 20, 0);
  int error = avcodec_open2(context, codec, nullptr);
  AVPacket* packet = error < 0 ? nullptr : av_packet_alloc();
  AVFrame* frame = error < 0 ? nullptr : av_frame_alloc();
  if (frame != nullptr) {
    frame->format = AV_SAMPLE_FMT_S16;
    frame->nb_samples = kFrameSamples;
    frame->sample_rate = kSampleRate;
    av_channel_layout_default(&frame->ch_layout, 1);
    if (av_frame_get_buffer(frame, 0) < 0) av_frame_free(&frame);
  }
  if (error < 0 || packet == nullptr || frame == nullptr) {
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&context);
    if (error < 0) return AvError("open Opus encoder", error);
    return absl::ResourceExhaustedError("no memory");
  }
  return std::unique_ptr<AudioEncoder>(
      new AudioEncoder(context, packet, frame));
}

AudioEncoder::AudioEncoder(AVCodecContext* context, AVPacket* packet,
                           AVFrame* frame)
    : context_(context), packet_(packet), frame_(frame) {}

AudioEncoder::~AudioEncoder() {
  av_frame_free(&frame_);
  av_packet_free(&packet_);
  avcodec_free_context(&context_);
}

absl::Status AudioEncoder::Encode(absl::Span<const int16_t> samples,
                                  int64_t pts,
                                  std::vector<std::vector<uint8_t>>* out) {
  if (samples.size() != static_cast<size_t>(kFrameSamples)) {
    return absl::InvalidArgumentError("Opus frames are 960 samples (20 ms)");
  }
  int error = av_frame_make_writable(frame_);
  if (error < 0) return AvError("make audio frame writable", error);
  std::memcpy(frame_->data[0], samples.data(),
              samples.size() * sizeof(int16_t));
  frame_->pts = pts;
  error = avcodec_send_frame(context_, frame_);
  if (error < 0) return AvError("send audio to encoder", error);
  while (true) {
    error = avcodec_receive_packet(context_, packet_);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF)
      return absl::OkStatus();
    if (error < 0) return AvError("receive Opus packet", error);
    out->emplace_back(packet_->data, packet_->data + packet_->size);
    av_packet_unref(packet_);
  }
}

}  // namespace media
}  // namespace cascade
