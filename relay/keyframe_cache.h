// The packets of one stream from the start of its last keyframe on, so a
// child that joins gets a decodable picture at once instead of waiting a GOP.
#ifndef CASCADE_RELAY_KEYFRAME_CACHE_H_
#define CASCADE_RELAY_KEYFRAME_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "relay/packet_pool.h"

namespace cascade::relay {

class KeyframeCache {
 public:
  explicit KeyframeCache(size_t max_packets);

  // Every packet of the stream, in arrival order. `starts_keyframe`: the
  // payload opens a keyframe (SPS, PPS or the first part of an IDR slice);
  // the packets of one keyframe share `timestamp`, so a new timestamp with
  // starts_keyframe begins a new cache.
  void Add(const PacketRef& packet, bool starts_keyframe, uint32_t timestamp);

  // Empty until the first keyframe, and after one outgrew the bound (until the
  // next keyframe).
  const std::vector<PacketRef>& packets() const { return packets_; }
  uint64_t overflows() const { return overflows_; }
  // Empty until the next keyframe.
  void Clear() {
    caching_ = false;
    packets_.clear();
  }

 private:
  const size_t max_packets_;
  bool caching_ = false;
  uint32_t keyframe_timestamp_ = 0;
  std::vector<PacketRef> packets_;
  uint64_t overflows_ = 0;
};

}  // namespace cascade::relay

#endif  // CASCADE_RELAY_KEYFRAME_CACHE_H_
