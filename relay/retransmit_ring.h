// The last packets of one stream, by extended sequence number, to answer
// NACKs. Bounded by span of time, packet count and bytes; the oldest go first.
#ifndef CASCADE_RELAY_RETRANSMIT_RING_H_
#define CASCADE_RELAY_RETRANSMIT_RING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "relay/packet_pool.h"

namespace cascade::relay {

struct RingLimits {
  absl::Duration window = absl::Seconds(2);
  size_t max_packets = 4096;
  size_t max_bytes = 8 << 20;
};

class RetransmitRing {
 public:
  explicit RetransmitRing(const RingLimits& limits);

  // Stores `packet` as `seq` (extended). False, storing nothing, when seq is
  // already held or is older than everything the ring can hold.
  bool Insert(int64_t seq, const PacketRef& packet, absl::Time now);
  // The packet stored as `seq` and still inside the window, or an empty ref.
  PacketRef Find(int64_t seq, absl::Time now) const;
  bool Contains(int64_t seq) const;
  // Drops what fell out of the time window.
  void Expire(absl::Time now);
  // Drops everything: the stream's numbering starts afresh.
  void Clear();

  size_t packets() const { return packets_; }
  size_t bytes() const { return bytes_; }
  int64_t newest() const { return newest_; }
  bool empty() const { return packets_ == 0; }

 private:
  struct Entry {
    int64_t seq = -1;
    absl::Time arrival;
    PacketRef packet;
  };
  Entry& At(int64_t seq) {
    return entries_[static_cast<size_t>(seq) & (entries_.size() - 1)];
  }
  const Entry& At(int64_t seq) const {
    return entries_[static_cast<size_t>(seq) & (entries_.size() - 1)];
  }
  void Evict(Entry& entry);
  void EvictOldest();

  const RingLimits limits_;
  std::vector<Entry> entries_;  // power-of-two size, indexed by seq
  size_t packets_ = 0;
  size_t bytes_ = 0;
  int64_t oldest_ = 0;  // no entry below this
  int64_t newest_ = -1;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_RETRANSMIT_RING_H_
