#ifndef CASCADE_TOOLS_MEDIA_PICTURE_SOURCE_H_
#define CASCADE_TOOLS_MEDIA_PICTURE_SOURCE_H_

// Where relay-source's pictures come from: the synthetic test pattern, or a
// media file decoded with libavformat/libavcodec and scaled to the encoder's
// size (looping at the end).

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

extern "C" {
struct AVFrame;
}

namespace cascade {
namespace media {

class PictureSource {
 public:
  virtual ~PictureSource() = default;
  // Fills `frame` (YUV420P, the encoder's size) with picture `frame_number`.
  virtual absl::Status Next(AVFrame* frame, int64_t frame_number,
                            absl::Time send_time) = 0;
};

std::unique_ptr<PictureSource> MakePatternSource();

// Opens `path` (anything FFmpeg can demux and decode) for pictures of
// width x height.
absl::StatusOr<std::unique_ptr<PictureSource>> OpenFileSource(
    const std::string& path, int width, int height);

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_PICTURE_SOURCE_H_
