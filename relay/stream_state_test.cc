#include <gtest/gtest.h>

#include <vector>

#include "relay/keyframe_cache.h"
#include "relay/packet_pool.h"
#include "relay/retransmit_ring.h"

namespace cascade::relay {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

PacketRef Packet(PacketPool& pool, size_t size, uint8_t tag) {
  std::vector<uint8_t> bytes(size, tag);
  return pool.Copy(bytes);
}

TEST(RetransmitRingTest, FindsWhatWasInsertedAndRefusesDuplicates) {
  PacketPool pool(64);
  RetransmitRing ring(RingLimits{absl::Seconds(2), 16, 1 << 20});
  for (int64_t s = 100; s < 110; ++s) {
    ASSERT_TRUE(ring.Insert(s, Packet(pool, 100, s & 0xff), kStart));
  }
  EXPECT_FALSE(ring.Insert(105, Packet(pool, 100, 0), kStart));
  EXPECT_EQ(ring.packets(), 10u);
  PacketRef p = ring.Find(105, kStart);
  ASSERT_TRUE(p);
  EXPECT_EQ(p.bytes()[0], 105);
  EXPECT_FALSE(ring.Find(99, kStart));
  EXPECT_FALSE(ring.Find(110, kStart));
}

TEST(RetransmitRingTest, PacketCountBoundEvictsOldest) {
  PacketPool pool(64);
  RetransmitRing ring(RingLimits{absl::Seconds(2), 8, 1 << 20});
  for (int64_t s = 0; s < 20; ++s) ring.Insert(s, Packet(pool, 10, 1), kStart);
  EXPECT_EQ(ring.packets(), 8u);
  EXPECT_FALSE(ring.Find(11, kStart));
  EXPECT_TRUE(ring.Find(12, kStart));
  EXPECT_TRUE(ring.Find(19, kStart));
  // Older than what the ring holds: refused.
  EXPECT_FALSE(ring.Insert(5, Packet(pool, 10, 1), kStart));
}

TEST(RetransmitRingTest, ByteBoundEvictsOldest) {
  PacketPool pool(64);
  RetransmitRing ring(RingLimits{absl::Seconds(2), 64, 1000});
  for (int64_t s = 0; s < 10; ++s) {
    ring.Insert(s, Packet(pool, 300, 1), kStart);
  }
  EXPECT_LE(ring.bytes(), 1000u);
  EXPECT_EQ(ring.packets(), 3u);
  EXPECT_TRUE(ring.Find(9, kStart));
  EXPECT_FALSE(ring.Find(6, kStart));
}

TEST(RetransmitRingTest, TimeWindowExpires) {
  PacketPool pool(64);
  RetransmitRing ring(RingLimits{absl::Seconds(2), 64, 1 << 20});
  ring.Insert(1, Packet(pool, 10, 1), kStart);
  ring.Insert(2, Packet(pool, 10, 2), kStart + absl::Seconds(1));
  EXPECT_TRUE(ring.Find(1, kStart + absl::Milliseconds(1999)));
  EXPECT_FALSE(ring.Find(1, kStart + absl::Milliseconds(2001)));
  ring.Expire(kStart + absl::Milliseconds(2500));
  EXPECT_EQ(ring.packets(), 1u);
  EXPECT_EQ(pool.free_slots() + 1, pool.allocated_slots());
}

TEST(RetransmitRingTest, GapBeforeOldestCanStillBeFilled) {
  PacketPool pool(64);
  RetransmitRing ring(RingLimits{absl::Seconds(2), 64, 1 << 20});
  ring.Insert(10, Packet(pool, 10, 1), kStart);
  ring.Insert(13, Packet(pool, 10, 1), kStart);
  ring.Expire(kStart + absl::Milliseconds(10));
  EXPECT_TRUE(ring.Insert(11, Packet(pool, 10, 1), kStart));
  EXPECT_TRUE(ring.Insert(12, Packet(pool, 10, 1), kStart));
  EXPECT_EQ(ring.packets(), 4u);
}

TEST(KeyframeCacheTest, HoldsFromTheLastKeyframeOn) {
  PacketPool pool(64);
  KeyframeCache cache(10);
  cache.Add(Packet(pool, 10, 1), false, 100);
  EXPECT_TRUE(cache.packets().empty());
  cache.Add(Packet(pool, 10, 2), true, 200);  // SPS
  cache.Add(Packet(pool, 10, 3), true, 200);  // PPS, same picture
  cache.Add(Packet(pool, 10, 4), false, 200);
  cache.Add(Packet(pool, 10, 5), false, 300);
  ASSERT_EQ(cache.packets().size(), 4u);
  EXPECT_EQ(cache.packets()[0].bytes()[0], 2);
  cache.Add(Packet(pool, 10, 6), false, 150);  // late packet of an older one
  EXPECT_EQ(cache.packets().size(), 4u);
  cache.Add(Packet(pool, 10, 7), true, 400);
  ASSERT_EQ(cache.packets().size(), 1u);
  EXPECT_EQ(cache.packets()[0].bytes()[0], 7);
}

TEST(KeyframeCacheTest, OverflowEmptiesUntilTheNextKeyframe) {
  PacketPool pool(64);
  KeyframeCache cache(3);
  cache.Add(Packet(pool, 10, 1), true, 0);
  for (int i = 0; i < 3; ++i) cache.Add(Packet(pool, 10, 2), false, 10);
  EXPECT_TRUE(cache.packets().empty());
  EXPECT_EQ(cache.overflows(), 1u);
  cache.Add(Packet(pool, 10, 2), false, 20);
  EXPECT_TRUE(cache.packets().empty());
  cache.Add(Packet(pool, 10, 3), true, 30);
  EXPECT_EQ(cache.packets().size(), 1u);
}

TEST(KeyframeCacheTest, TimestampWrapStillStartsANewKeyframe) {
  PacketPool pool(8);
  KeyframeCache cache(4);
  cache.Add(Packet(pool, 10, 1), true, 0xfffffff0u);
  cache.Add(Packet(pool, 10, 2), true, 0x10u);
  ASSERT_EQ(cache.packets().size(), 1u);
  EXPECT_EQ(cache.packets()[0].bytes()[0], 2);
}

}  // namespace
}  // namespace cascade::relay
