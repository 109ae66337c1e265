#include "media/rtp/seq.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace cascade::rtp {
namespace {

TEST(SeqDistanceTest, SignedAcrossWrap) {
  EXPECT_EQ(SeqDistance(5, 3), 2);
  EXPECT_EQ(SeqDistance(3, 5), -2);
  EXPECT_EQ(SeqDistance(0, 65535), 1);
  EXPECT_EQ(SeqDistance(65535, 0), -1);
  EXPECT_EQ(SeqDistance(2, 65530), 8);
  EXPECT_EQ(SeqDistance(7, 7), 0);
  EXPECT_EQ(SeqDistance(32767, 0), 32767);
  EXPECT_EQ(SeqDistance(32768, 0), -32768);
}

TEST(SeqCompareTest, NewerAndOlder) {
  EXPECT_TRUE(SeqNewer(1, 0));
  EXPECT_TRUE(SeqNewer(0, 65535));
  EXPECT_FALSE(SeqNewer(65535, 0));
  EXPECT_FALSE(SeqNewer(9, 9));
  EXPECT_TRUE(SeqOlder(65535, 0));
  EXPECT_FALSE(SeqOlder(9, 9));
  // Exactly half the circle apart: unordered, and never both ways.
  EXPECT_FALSE(SeqNewer(32768, 0));
  EXPECT_FALSE(SeqNewer(0, 32768));
  EXPECT_FALSE(SeqOlder(32768, 0));
  EXPECT_FALSE(SeqOlder(0, 32768));
}

TEST(SeqLessTest, SortsAcrossWrap) {
  std::vector<uint16_t> seqs = {1, 65534, 0, 65535, 3};
  std::sort(seqs.begin(), seqs.end(), SeqLess());
  EXPECT_EQ(seqs, (std::vector<uint16_t>{65534, 65535, 0, 1, 3}));
}

TEST(SeqUnwrapperTest, FirstValueIsItself) {
  SeqUnwrapper unwrapper;
  EXPECT_FALSE(unwrapper.started());
  EXPECT_EQ(unwrapper.Unwrap(40000), 40000);
  EXPECT_TRUE(unwrapper.started());
  EXPECT_EQ(unwrapper.newest(), 40000);
}

TEST(SeqUnwrapperTest, CountsWrapsForward) {
  SeqUnwrapper unwrapper;
  int64_t expected = 65000;
  uint16_t seq = 65000;
  // Three full cycles in steps of 1000.
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(unwrapper.Unwrap(seq), expected);
    seq = static_cast<uint16_t>(seq + 1000);
    expected += 1000;
  }
  EXPECT_EQ(unwrapper.newest(), expected - 1000);
}

TEST(SeqUnwrapperTest, ReorderedAcrossWrapGoesBack) {
  SeqUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(65534), 65534);
  EXPECT_EQ(unwrapper.Unwrap(1), 65537);
  // Late packet from before the wrap.
  EXPECT_EQ(unwrapper.Unwrap(65535), 65535);
  // The late one did not move the newest.
  EXPECT_EQ(unwrapper.newest(), 65537);
  EXPECT_EQ(unwrapper.Unwrap(2), 65538);
}

TEST(SeqUnwrapperTest, ReorderedBeforeFirstIsNegative) {
  SeqUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(0), 0);
  EXPECT_EQ(unwrapper.Unwrap(65535), -1);
  EXPECT_EQ(unwrapper.Unwrap(65534), -2);
  // Continues correctly from a negative newest too.
  EXPECT_EQ(unwrapper.Unwrap(1), 1);
}

TEST(SeqUnwrapperTest, JumpOfHalfTheCircleReadsAsGoingBack) {
  SeqUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Unwrap(100), 100);
  EXPECT_EQ(unwrapper.Unwrap(100 + 40000), 100 + 40000 - 65536);
  EXPECT_EQ(unwrapper.newest(), 100);
  unwrapper = SeqUnwrapper();  // the source restarted: start over
  EXPECT_EQ(unwrapper.Unwrap(40100), 40100);
}

TEST(SeqUnwrapperTest, PeekDoesNotAdvance) {
  SeqUnwrapper unwrapper;
  EXPECT_EQ(unwrapper.Peek(10), 10);
  EXPECT_FALSE(unwrapper.started());
  unwrapper.Unwrap(65530);
  EXPECT_EQ(unwrapper.Peek(4), 65540);
  EXPECT_EQ(unwrapper.newest(), 65530);
}

}  // namespace
}  // namespace cascade::rtp
