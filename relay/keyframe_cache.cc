#include "relay/keyframe_cache.h"

namespace cascade::relay {

KeyframeCache::KeyframeCache(size_t max_packets) : max_packets_(max_packets) {
  packets_.reserve(max_packets_);
}

void KeyframeCache::Add(const PacketRef& packet, bool starts_keyframe,
                        uint32_t timestamp) {
  // RTP timestamps wrap: compare on the 32-bit circle.
  const int32_t age = static_cast<int32_t>(timestamp - keyframe_timestamp_);
  if (starts_keyframe && (!caching_ || age > 0)) {
    packets_.clear();
    caching_ = true;
    keyframe_timestamp_ = timestamp;
  } else if (!caching_ || age < 0) {
    return;  // before any keyframe, or a late packet of an older picture
  }
  if (packets_.size() == max_packets_) {
    packets_.clear();
    caching_ = false;
    ++overflows_;
    return;
  }
  packets_.push_back(packet);
}

}  // namespace cascade::relay
