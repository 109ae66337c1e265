#include "tools/media/send_time.h"

#include <gtest/gtest.h>

namespace cascade {
namespace media {
namespace {

TEST(SendTimeTest, RoundTripWithinANanosecond) {
  const absl::Time t = absl::FromUnixNanos(1790000123456789012);
  auto decoded = DecodeSendTime(EncodeSendTime(t));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_LE(absl::AbsDuration(*decoded - t), absl::Nanoseconds(1));
}

TEST(SendTimeTest, NtpEpochAndLayout) {
  // The Unix epoch is 2208988800 s after the NTP epoch, fraction zero.
  EXPECT_EQ(ToNtp(absl::UnixEpoch()), uint64_t{2208988800} << 32);
  const auto bytes =
      EncodeSendTime(absl::UnixEpoch() + absl::Milliseconds(500));
  EXPECT_EQ(bytes[0], 0x83);  // 2208988800 = 0x83AA7E80
  EXPECT_EQ(bytes[3], 0x80);
  EXPECT_EQ(bytes[4], 0x80);  // half a second: fraction 0x80000000
  EXPECT_EQ(bytes[7], 0x00);
}

TEST(SendTimeTest, ShortElementIsRejected) {
  const uint8_t seven[7] = {};
  EXPECT_FALSE(DecodeSendTime(seven).has_value());
}

}  // namespace
}  // namespace media
}  // namespace cascade
