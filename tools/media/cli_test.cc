#include "tools/media/cli.h"

#include <gtest/gtest.h>

namespace cascade {
namespace media {
namespace {

TEST(CliTest, DashedFlagNamesBecomeUnderscoresValuesStay) {
  char a0[] = "probe", a1[] = "--node-id=site-1", a2[] = "--key-file",
       a3[] = "/tmp/a-b", a4[] = "-x", a5[] = "--", a6[] = "--not-a-flag";
  char* argv[] = {a0, a1, a2, a3, a4, a5, a6};
  auto args = DashedFlagsToUnderscores(7, argv);
  EXPECT_EQ(args[1], "--node_id=site-1");
  EXPECT_EQ(args[2], "--key_file");
  EXPECT_EQ(args[3], "/tmp/a-b");
  EXPECT_EQ(args[4], "-x");
  EXPECT_EQ(args[6], "--not-a-flag");
}

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
