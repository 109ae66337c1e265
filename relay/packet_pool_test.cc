#include "relay/packet_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace cascade::relay {
namespace {

TEST(PacketPoolTest, SharedSlotReturnsWhenLastReferenceGoes) {
  PacketPool pool(4, 2);
  PacketRef a = pool.Acquire();
  ASSERT_TRUE(a);
  EXPECT_EQ(pool.allocated_slots(), 2u);
  EXPECT_EQ(pool.free_slots(), 1u);
  {
    PacketRef b = a;
    PacketRef c;
    c = b;
    EXPECT_EQ(a.use_count(), 3u);
  }
  EXPECT_EQ(a.use_count(), 1u);
  a = PacketRef();
  EXPECT_EQ(pool.free_slots(), 2u);
}

TEST(PacketPoolTest, ExhaustedPoolGivesEmptyRefs) {
  PacketPool pool(3, 2);
  std::vector<PacketRef> held;
  for (int i = 0; i < 3; ++i) held.push_back(pool.Acquire());
  for (const PacketRef& p : held) EXPECT_TRUE(p);
  EXPECT_FALSE(pool.Acquire());
  EXPECT_EQ(pool.allocated_slots(), 3u);
  held.pop_back();
  EXPECT_TRUE(pool.Acquire());
}

TEST(PacketPoolTest, CopyHoldsBytesAndRefusesOversize) {
  PacketPool pool(2);
  const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5};
  PacketRef p = pool.Copy(bytes);
  ASSERT_TRUE(p);
  EXPECT_EQ(std::vector<uint8_t>(p.bytes().begin(), p.bytes().end()), bytes);
  const std::vector<uint8_t> big(kPacketCapacity + 1, 7);
  EXPECT_FALSE(pool.Copy(big));
}

TEST(PacketPoolTest, MoveLeavesSourceEmpty) {
  PacketPool pool(1);
  PacketRef a = pool.Acquire();
  PacketRef b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(b.use_count(), 1u);
}

}  // namespace
}  // namespace cascade::relay
