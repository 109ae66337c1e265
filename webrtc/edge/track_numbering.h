// The outgoing numbering of one RTP track whose packets come from a source
// that may change its SSRC: a relay's upstream after a failover toward a
// WHEP viewer, or a WHIP publisher that restarted its encoder toward the
// relay's tree. Sequence numbers and timestamps pass through with one offset
// per source; a new source continues right after the newest packet sent,
// its timestamp moved on by the time that passed, so the receiver sees one
// stream without a jump. Late packets of the source before the change keep
// its old offsets, and its numbers map back to it (a receiver's NACK).
//
// No allocation, no clock: the time comes in with each packet.
#ifndef CASCADE_WEBRTC_EDGE_TRACK_NUMBERING_H_
#define CASCADE_WEBRTC_EDGE_TRACK_NUMBERING_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace cascade::edge {

class TrackNumbering {
 public:
  // `clock_rate`: the track's RTP clock (90000 video, 48000 Opus).
  explicit TrackNumbering(uint32_t clock_rate) : clock_rate_(clock_rate) {}

  struct Mapped {
    uint16_t sequence_number = 0;
    uint32_t timestamp = 0;
    // False for a late packet of the source before the last change.
    bool current = true;
  };

  // The outgoing numbers of a packet of source `ssrc` received at `now`;
  // the first packet of a new source re-bases the offsets.
  Mapped Map(uint32_t ssrc, uint16_t sequence_number, uint32_t timestamp,
             absl::Time now);
  // Records a mapped packet with `payload_size` bytes as sent: the newest
  // current one is where the next source continues.
  void Sent(const Mapped& mapped, size_t payload_size, absl::Time now);

  // Where an outgoing sequence number came from (a NACKed one): the source
  // and its own number. Numbers before the current source's first belong
  // to the previous source; nothing before the first packet.
  struct Unmapped {
    uint32_t ssrc = 0;
    uint16_t sequence_number = 0;
  };
  std::optional<Unmapped> Unmap(uint16_t sequence_number) const;

  // The outgoing RTP time of the current source's `timestamp` (its sender
  // reports); nothing before its first packet or for another SSRC.
  std::optional<uint32_t> MapTimestamp(uint32_t ssrc, uint32_t timestamp) const;

  bool started() const { return started_; }
  uint32_t source_ssrc() const { return source_ssrc_; }
  uint32_t clock_rate() const { return clock_rate_; }
  // RFC 3550's sender counts of what went out (they wrap, as on the wire).
  uint32_t packets_sent() const { return packets_sent_; }
  uint32_t octets_sent() const { return octets_sent_; }
  // Re-basings for a new source.
  uint64_t source_changes() const { return source_changes_; }

 private:
  const uint32_t clock_rate_;
  bool started_ = false;
  uint32_t source_ssrc_ = 0;
  uint16_t seq_offset_ = 0;  // outgoing = source + offset
  uint32_t ts_offset_ = 0;
  uint16_t first_seq_ = 0;  // the current source's first outgoing number
  // The source before the last change, for its late packets.
  bool has_previous_ = false;
  uint32_t previous_source_ssrc_ = 0;
  uint16_t previous_seq_offset_ = 0;
  uint32_t previous_ts_offset_ = 0;
  uint16_t last_seq_ = 0;  // the newest sequence number sent
  uint32_t last_ts_ = 0;   // its timestamp
  absl::Time last_time_ = absl::InfinitePast();  // when it was sent
  uint32_t packets_sent_ = 0;
  uint32_t octets_sent_ = 0;
  uint64_t source_changes_ = 0;
};

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_TRACK_NUMBERING_H_
