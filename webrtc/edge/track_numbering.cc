#include "webrtc/edge/track_numbering.h"

#include <algorithm>

#include "media/rtp/seq.h"

namespace cascade::edge {

TrackNumbering::Mapped TrackNumbering::Map(uint32_t ssrc,
                                           uint16_t sequence_number,
                                           uint32_t timestamp, absl::Time now) {
  if (!started_) {
    started_ = true;
    source_ssrc_ = ssrc;
    first_seq_ = sequence_number;
  } else if (has_previous_ && ssrc == previous_source_ssrc_ &&
             ssrc != source_ssrc_) {
    // A late or resent packet of the source before the change: its old
    // numbering, and it moves nothing on.
    return {static_cast<uint16_t>(sequence_number + previous_seq_offset_),
            timestamp + previous_ts_offset_, false};
  } else if (ssrc != source_ssrc_) {
    // A new source: continue right after the newest number sent, the
    // timestamp advanced by the time that passed since.
    ++source_changes_;
    has_previous_ = true;
    previous_source_ssrc_ = source_ssrc_;
    previous_seq_offset_ = seq_offset_;
    previous_ts_offset_ = ts_offset_;
    // Bounded: a clock that went back, or a first packet never sent, still
    // moves the timestamp on by one tick; an hour's gap by at most an hour.
    const absl::Duration gap =
        last_time_ == absl::InfinitePast()
            ? absl::ZeroDuration()
            : std::clamp(now - last_time_, absl::ZeroDuration(),
                         absl::Hours(1));
    const uint32_t ticks = static_cast<uint32_t>(std::max<int64_t>(
        1, absl::ToInt64Microseconds(gap) * clock_rate_ / 1000000));
    first_seq_ = static_cast<uint16_t>(last_seq_ + 1);
    seq_offset_ = static_cast<uint16_t>(first_seq_ - sequence_number);
    ts_offset_ = last_ts_ + ticks - timestamp;
    source_ssrc_ = ssrc;
  }
  return {static_cast<uint16_t>(sequence_number + seq_offset_),
          timestamp + ts_offset_, true};
}

void TrackNumbering::Sent(const Mapped& mapped, size_t payload_size,
                          absl::Time now) {
  ++packets_sent_;
  octets_sent_ += static_cast<uint32_t>(payload_size);
  if (mapped.current && (last_time_ == absl::InfinitePast() ||
                         rtp::SeqNewer(mapped.sequence_number, last_seq_))) {
    last_seq_ = mapped.sequence_number;
    last_ts_ = mapped.timestamp;
    last_time_ = now;
  }
}

std::optional<TrackNumbering::Unmapped> TrackNumbering::Unmap(
    uint16_t sequence_number) const {
  if (!started_) return std::nullopt;
  if (has_previous_ && rtp::SeqOlder(sequence_number, first_seq_)) {
    return Unmapped{
        previous_source_ssrc_,
        static_cast<uint16_t>(sequence_number - previous_seq_offset_)};
  }
  return Unmapped{source_ssrc_,
                  static_cast<uint16_t>(sequence_number - seq_offset_)};
}

std::optional<uint32_t> TrackNumbering::MapTimestamp(uint32_t ssrc,
                                                     uint32_t timestamp) const {
  if (!started_ || ssrc != source_ssrc_) return std::nullopt;
  return timestamp + ts_offset_;
}

}  // namespace cascade::edge
