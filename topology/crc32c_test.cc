#include "topology/crc32c.h"

#include <gtest/gtest.h>

namespace cascade::topology {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 (iSCSI) B.4 and the common check value.
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(Crc32cTest, DetectsSingleBitFlip) {
  std::string data = "journal record payload";
  uint32_t crc = Crc32c(data);
  data[5] ^= 0x10;
  EXPECT_NE(Crc32c(data), crc);
}

}  // namespace
}  // namespace cascade::topology
