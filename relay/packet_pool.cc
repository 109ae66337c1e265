#include "relay/packet_pool.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstring>

namespace cascade::relay {

PacketRef& PacketRef::operator=(const PacketRef& other) {
  if (this != &other) {
    PacketRef copy(other);
    *this = std::move(copy);
  }
  return *this;
}

PacketRef& PacketRef::operator=(PacketRef&& other) noexcept {
  if (this != &other) {
    Release();
    slot_ = other.slot_;
    other.slot_ = nullptr;
  }
  return *this;
}

void PacketRef::Release() {
  if (slot_ != nullptr && --slot_->refs == 0) slot_->pool->Return(slot_);
  slot_ = nullptr;
}

PacketPool::PacketPool(size_t max_slots, size_t chunk_slots)
    : max_slots_(max_slots), chunk_slots_(std::max<size_t>(1, chunk_slots)) {
  free_.reserve(max_slots_);
}

PacketPool::~PacketPool() {
  CHECK_EQ(free_.size(), allocated_) << "packets outlive their pool";
}

bool PacketPool::Grow() {
  const size_t n = std::min(chunk_slots_, max_slots_ - allocated_);
  if (n == 0) return false;
  // new[] without value-initialisation: pages are touched only when used.
  std::unique_ptr<PacketSlot[]> chunk(new PacketSlot[n]);
  for (size_t i = 0; i < n; ++i) {
    chunk[i].pool = this;
    free_.push_back(&chunk[i]);
  }
  chunks_.push_back(std::move(chunk));
  allocated_ += n;
  return true;
}

PacketRef PacketPool::Acquire() {
  if (free_.empty() && !Grow()) return PacketRef();
  PacketSlot* slot = free_.back();
  free_.pop_back();
  slot->size = 0;
  return PacketRef(slot);
}

PacketRef PacketPool::Copy(absl::Span<const uint8_t> bytes) {
  if (bytes.size() > kPacketCapacity) return PacketRef();
  PacketRef ref = Acquire();
  if (!ref) return ref;
  if (!bytes.empty()) {
    std::memcpy(ref.buffer().data(), bytes.data(), bytes.size());
  }
  ref.set_size(bytes.size());
  return ref;
}

}  // namespace cascade::relay
