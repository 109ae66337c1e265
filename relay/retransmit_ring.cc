#include "relay/retransmit_ring.h"

#include <algorithm>

namespace cascade::relay {
namespace {

size_t PowerOfTwoAtLeast(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

RetransmitRing::RetransmitRing(const RingLimits& limits)
    : limits_(limits),
      entries_(PowerOfTwoAtLeast(std::max<size_t>(1, limits.max_packets))) {}

void RetransmitRing::Evict(Entry& entry) {
  if (entry.seq < 0) return;
  --packets_;
  bytes_ -= entry.packet.size();
  entry.seq = -1;
  entry.packet = PacketRef();
}

void RetransmitRing::Clear() {
  for (Entry& entry : entries_) Evict(entry);
  oldest_ = 0;
  newest_ = -1;
}

void RetransmitRing::EvictOldest() {
  while (oldest_ <= newest_) {
    Entry& e = At(oldest_++);
    if (e.seq >= 0) {
      Evict(e);
      return;
    }
  }
}

bool RetransmitRing::Insert(int64_t seq, const PacketRef& packet,
                            absl::Time now) {
  if (seq < 0) return false;
  const int64_t capacity = static_cast<int64_t>(entries_.size());
  if (newest_ < 0) {
    oldest_ = seq;
    newest_ = seq;
  } else if (seq > newest_) {
    // Slots between the old newest and seq now belong to the new lap.
    for (int64_t s = std::max(newest_ + 1, seq - capacity + 1); s <= seq; ++s) {
      Evict(At(s));
    }
    newest_ = seq;
    oldest_ = std::max(oldest_, seq - capacity + 1);
  } else if (seq < oldest_ || seq <= newest_ - capacity) {
    return false;
  } else if (At(seq).seq == seq) {
    return false;
  }
  Entry& entry = At(seq);
  Evict(entry);
  entry.seq = seq;
  entry.arrival = now;
  entry.packet = packet;
  ++packets_;
  bytes_ += packet.size();
  while (packets_ > limits_.max_packets || bytes_ > limits_.max_bytes) {
    EvictOldest();
  }
  Expire(now);
  return true;
}

void RetransmitRing::Expire(absl::Time now) {
  const absl::Time cutoff = now - limits_.window;
  // Empty slots before the oldest packet may still be filled by a
  // retransmission: pass over them only when evicting a packet behind them.
  for (int64_t s = oldest_; s <= newest_; ++s) {
    Entry& e = At(s);
    if (e.seq < 0) continue;
    if (e.arrival >= cutoff) return;
    Evict(e);
    oldest_ = s + 1;
  }
}

bool RetransmitRing::Contains(int64_t seq) const {
  return seq >= oldest_ && seq <= newest_ && At(seq).seq == seq;
}

PacketRef RetransmitRing::Find(int64_t seq, absl::Time now) const {
  if (!Contains(seq)) return PacketRef();
  const Entry& e = At(seq);
  if (e.arrival < now - limits_.window) return PacketRef();
  return e.packet;
}

}  // namespace cascade::relay
