// Packet buffers for the hot path: fixed-size slots handed out from a free
// list and shared by reference count, so the retransmission ring, the
// keyframe cache and the send queue all hold one copy. Slots are allocated in
// chunks, up to a bound, and never freed while the pool lives: in steady state
// receiving and forwarding a packet allocates nothing.
//
// Single-threaded: one pool per event loop.
#ifndef CASCADE_RELAY_PACKET_POOL_H_
#define CASCADE_RELAY_PACKET_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"

namespace cascade::relay {

// Bigger than any RTP packet on an Ethernet path; a datagram that does not fit
// is dropped as too large.
inline constexpr size_t kPacketCapacity = 2048 - 16;

class PacketPool;

struct PacketSlot {
  PacketPool* pool = nullptr;
  uint32_t refs = 0;
  uint32_t size = 0;
  uint8_t data[kPacketCapacity];
};

// A counted reference to one slot; empty when default-constructed.
class PacketRef {
 public:
  PacketRef() = default;
  PacketRef(const PacketRef& other) : slot_(other.slot_) { Retain(); }
  PacketRef(PacketRef&& other) noexcept : slot_(other.slot_) {
    other.slot_ = nullptr;
  }
  PacketRef& operator=(const PacketRef& other);
  PacketRef& operator=(PacketRef&& other) noexcept;
  ~PacketRef() { Release(); }

  explicit operator bool() const { return slot_ != nullptr; }
  absl::Span<const uint8_t> bytes() const {
    return absl::MakeConstSpan(slot_->data, slot_->size);
  }
  // The whole slot, to fill before set_size().
  absl::Span<uint8_t> buffer() { return absl::MakeSpan(slot_->data); }
  void set_size(size_t size) { slot_->size = static_cast<uint32_t>(size); }
  size_t size() const { return slot_->size; }
  const uint8_t* data() const { return slot_->data; }
  uint32_t use_count() const { return slot_ ? slot_->refs : 0; }

 private:
  friend class PacketPool;
  explicit PacketRef(PacketSlot* slot) : slot_(slot) { Retain(); }
  void Retain() {
    if (slot_ != nullptr) ++slot_->refs;
  }
  void Release();

  PacketSlot* slot_ = nullptr;
};

class PacketPool {
 public:
  // Allocates slots `chunk_slots` at a time, at most `max_slots` in all.
  explicit PacketPool(size_t max_slots, size_t chunk_slots = 512);
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;
  // Every PacketRef must be gone first.
  ~PacketPool();

  // An empty slot (size 0), or an empty ref when the pool is exhausted.
  PacketRef Acquire();
  // A slot holding a copy of `bytes`; empty ref when exhausted or too big.
  PacketRef Copy(absl::Span<const uint8_t> bytes);

  size_t allocated_slots() const { return allocated_; }
  size_t free_slots() const { return free_.size(); }
  size_t max_slots() const { return max_slots_; }

 private:
  friend class PacketRef;
  void Return(PacketSlot* slot) { free_.push_back(slot); }
  bool Grow();

  const size_t max_slots_;
  const size_t chunk_slots_;
  size_t allocated_ = 0;
  std::vector<std::unique_ptr<PacketSlot[]>> chunks_;
  std::vector<PacketSlot*> free_;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_PACKET_POOL_H_
