#ifndef CASCADE_TOOLS_MEDIA_FRAME_ASSEMBLER_H_
#define CASCADE_TOOLS_MEDIA_FRAME_ASSEMBLER_H_

// Orders the RTP packets of one video stream, waits a bounded time for gaps
// to be repaired (child::NackScheduler asks for them), and emits whole frames.
// A frame that lost a packet for good is never emitted: the caller waits for a
// keyframe instead of feeding the decoder a broken picture.

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/time/time.h"

namespace cascade {
namespace media {

struct MediaPacket {
  int64_t ext_seq = 0;  // 64-bit extended sequence number
  uint32_t timestamp = 0;
  bool marker = false;
  absl::Time arrival;
  std::optional<absl::Time> send_time;  // from the header extension
  std::vector<uint8_t> payload;
};

struct AssembledFrame {
  uint32_t timestamp = 0;
  std::vector<std::vector<uint8_t>> payloads;  // in sequence order
  absl::Time completed;  // arrival of the last of its packets
  std::optional<absl::Time> send_time;
};

struct FrameAssemblerOptions {
  // How long a gap may stay open before its packets count as lost.
  absl::Duration max_wait = absl::Milliseconds(250);
  // Beyond this many buffered packets the oldest gap is given up at once.
  size_t max_buffered_packets = 4096;
};

enum class InsertResult { kAccepted, kDuplicate, kTooLate };

class FrameAssembler {
 public:
  explicit FrameAssembler(FrameAssemblerOptions options = {});

  InsertResult Insert(MediaPacket packet);

  // Appends every frame that is now complete, in order; gives up on gaps
  // older than max_wait (their packets count as lost, their frames as
  // dropped).
  void Poll(absl::Time now, std::vector<AssembledFrame>* frames);

  int64_t lost_packets() const { return lost_packets_; }
  int64_t dropped_frames() const { return dropped_frames_; }

 private:
  // Consumes buffered packets from the cursor while they are contiguous.
  void Drain(std::vector<AssembledFrame>* frames);
  void Consume(MediaPacket packet, std::vector<AssembledFrame>* frames);
  void EndPartial(bool complete, std::vector<AssembledFrame>* frames);

  FrameAssemblerOptions options_;
  std::map<int64_t, MediaPacket> buffer_;
  std::optional<int64_t> next_seq_;   // the cursor
  std::vector<MediaPacket> partial_;  // packets of the frame being built
  bool discarding_ = false;           // dropping up to the next marker
  int64_t lost_packets_ = 0;
  int64_t dropped_frames_ = 0;
};

}  // namespace media
}  // namespace cascade

#endif  // CASCADE_TOOLS_MEDIA_FRAME_ASSEMBLER_H_
