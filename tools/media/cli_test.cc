#include "tools/media/cli.h"

#include <gtest/gtest.h>

namespace cascade {
namespace media {
namespace {

TEST(CliTest, ParseHex) {
  auto key = ParseHex("00ff10Ab\n");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, std::string("\x00\xff\x10\xab", 4));
  EXPECT_FALSE(ParseHex("abc").ok());
  EXPECT_FALSE(ParseHex("zz").ok());
  EXPECT_FALSE(ParseHex("").ok());
}

}  // namespace
}  // namespace media
}  // namespace cascade
