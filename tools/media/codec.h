#ifndef CASCADE_TOOLS_MEDIA_CODEC_H_
#define CASCADE_TOOLS_MEDIA_CODEC_H_

// Thin owners of libavcodec contexts: an H.264 encoder (libx264, tuned for
// latency), an H.264 decoder and an Opus encoder.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

extern "C" {
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
}

namespace cascade {
namespace media {

struct AvFrameDeleter {
  void operator()(AVFrame* frame) const;
};
using AvFramePtr = std::unique_ptr<AVFrame, AvFrameDeleter>;

struct VideoEncoderOptions {
  int width = 640;
  int height = 360;
  int frame_rate = 30;
  int bitrate_kbps = 1000;
  int gop = 60;  // frames between keyframes
  std::string preset = "ultrafast";
};

struct EncodedFrame {
  std::vector<uint8_t> data;  // Annex B access unit
  int64_t pts = 0;
  bool keyframe = false;
};

class VideoEncoder {
 public:
  static absl::StatusOr<std::unique_ptr<VideoEncoder>> Create(
      const VideoEncoderOptions& options);
  ~VideoEncoder();

  // A YUV420P frame of the encoder's size for the caller to draw into.
  absl::StatusOr<AvFramePtr> NewFrame() const;

  // Encodes `frame` (its pts is set from `pts`); appends every access unit
  // the encoder gives back. `force_keyframe` makes this frame an IDR.
  absl::Status Encode(AVFrame* frame, int64_t pts, bool force_keyframe,
                      std::vector<EncodedFrame>* out);

  const VideoEncoderOptions& options() const { return options_; }

 private:
  VideoEncoder(const VideoEncoderOptions& options, AVCodecContext* context,
               AVPacket* packet);
  absl::Status Drain(std::vector<EncodedFrame>* out);

  VideoEncoderOptions options_;
  AVCodecContext* context_;
  AVPacket* packet_;
};

struct DecodeResult {
  int frames = 0;      // pictures the decoder produced
  bool error = false;  // rejected input or a picture flagged as damaged
};

class VideoDecoder {
 public:
  static absl::StatusOr<std::unique_ptr<VideoDecoder>> Create();
  ~VideoDecoder();

  DecodeResult Decode(absl::Span<const uint8_t> annexb);

  // The most recent picture (null before the first one).
  const AVFrame* last_frame() const { return have_frame_ ? frame_ : nullptr; }

 private:
  VideoDecoder(AVCodecContext* context, AVPacket* packet, AVFrame* received,
               AVFrame* frame);

  AVCodecContext* context_;
  AVPacket* packet_;
  AVFrame* received_;  // receive target; a failed receive leaves it empty
  AVFrame* frame_;     // the last picture
  bool have_frame_ = false;
};

// Opus at 48 kHz, mono, 20 ms frames (960 samples), as RFC 7587 expects.
class AudioEncoder {
 public:
  static constexpr int kSampleRate = 48000;
  static constexpr int kFrameSamples = 960;

  static absl::StatusOr<std::unique_ptr<AudioEncoder>> Create(int bitrate_kbps);
  ~AudioEncoder();

  // Encodes exactly kFrameSamples samples; appends the Opus packets out.
  absl::Status Encode(absl::Span<const int16_t> samples, int64_t pts,
                      std::vector<std::vector<uint8_t>>* out);

 private:
  AudioEncoder(AVCodecContext* context, AVPacket* packet, AVFrame* frame);

  AVCodecContext* context_;
  AVPacket* packet_;
  AVFrame* frame_;
};

// "libavcodec: <what>: <av_err2str>" as a Status.
absl::Status AvError(const std::string& what, int error);

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_CODEC_H_
