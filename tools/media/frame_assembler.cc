#include "tools/media/frame_assembler.h"

#include <algorithm>
#include <utility>

namespace cascade {
namespace media {

FrameAssembler::FrameAssembler(FrameAssemblerOptions options)
    : options_(options) {}

InsertResult FrameAssembler::Insert(MediaPacket packet) {
  if (next_seq_.has_value() && packet.ext_seq < *next_seq_) {
    return InsertResult::kTooLate;
  }
  if (!next_seq_.has_value()) next_seq_ = packet.ext_seq;
  const int64_t seq = packet.ext_seq;
  if (!buffer_.emplace(seq, std::move(packet)).second) {
    return InsertResult::kDuplicate;
  }
  return InsertResult::kAccepted;
}

void FrameAssembler::Poll(absl::Time now, std::vector<AssembledFrame>* frames) {
  Drain(frames);
  // The cursor is at a gap: give it up once its wait is over or the buffer
  // is full, then carry on from the next packet present.
  while (!buffer_.empty()) {
    const MediaPacket& oldest = buffer_.begin()->second;
    if (now - oldest.arrival < options_.max_wait &&
        buffer_.size() <= options_.max_buffered_packets) {
      break;
    }
    const int64_t skipped = buffer_.begin()->first - *next_seq_;
    lost_packets_ += skipped;
    next_seq_ = buffer_.begin()->first;
    // The frame holding the lost packets ends at the next marker.
    if (!partial_.empty()) EndPartial(/*complete=*/false, frames);
    if (!discarding_) {
      discarding_ = true;
      ++dropped_frames_;
    }
    Drain(frames);
  }
}

void FrameAssembler::Drain(std::vector<AssembledFrame>* frames) {
  while (!buffer_.empty() && buffer_.begin()->first == *next_seq_) {
    MediaPacket packet = std::move(buffer_.begin()->second);
    buffer_.erase(buffer_.begin());
    ++*next_seq_;
    Consume(std::move(packet), frames);
  }
}

void FrameAssembler::Consume(MediaPacket packet,
                             std::vector<AssembledFrame>* frames) {
  // A new timestamp without a marker on the previous packet still starts a
  // new frame (senders that omit the marker bit).
  if (!partial_.empty() && partial_.back().timestamp != packet.timestamp) {
    EndPartial(/*complete=*/!discarding_, frames);
    discarding_ = false;
  }
  const bool marker = packet.marker;
  partial_.push_back(std::move(packet));
  if (marker) {
    EndPartial(/*complete=*/!discarding_, frames);
    discarding_ = false;
  }
}

void FrameAssembler::EndPartial(bool complete,
                                std::vector<AssembledFrame>* frames) {
  if (complete) {
    AssembledFrame frame;
    frame.timestamp = partial_.front().timestamp;
    frame.completed = partial_.front().arrival;
    for (MediaPacket& packet : partial_) {
      frame.completed = std::max(frame.completed, packet.arrival);
      if (!frame.send_time.has_value()) frame.send_time = packet.send_time;
      frame.payloads.push_back(std::move(packet.payload));
    }
    frames->push_back(std::move(frame));
  }
  partial_.clear();
}

}  // namespace media
}  // namespace cascade
