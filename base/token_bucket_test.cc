#include "base/token_bucket.h"

#include <gtest/gtest.h>

namespace cascade {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(TokenBucketTest, BurstThenRate) {
  TokenBucket bucket(100, 5);
  int allowed = 0;
  for (int i = 0; i < 20; ++i) allowed += bucket.Allow(kStart);
  EXPECT_EQ(allowed, 5);
  EXPECT_FALSE(bucket.Allow(kStart + absl::Milliseconds(5)));
  EXPECT_TRUE(bucket.Allow(kStart + absl::Milliseconds(15)));
}

TEST(TokenBucketTest, RefillStopsAtTheBurst) {
  TokenBucket bucket(1000, 3);
  EXPECT_TRUE(bucket.Allow(kStart));
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    allowed += bucket.Allow(kStart + absl::Seconds(60));
  }
  EXPECT_EQ(allowed, 3);
}

TEST(TokenBucketTest, BurstBelowOneStillAllowsOne) {
  TokenBucket bucket(10, 0);
  EXPECT_TRUE(bucket.Allow(kStart));
  EXPECT_FALSE(bucket.Allow(kStart));
  EXPECT_TRUE(bucket.Allow(kStart + absl::Milliseconds(100)));
}

}  // namespace
}  // namespace cascade
