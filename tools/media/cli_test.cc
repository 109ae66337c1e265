#include "tools/media/cli.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "base/files.h"

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

TEST(CliTest, ReadSrtpKeyFileNamesTheFileAndLine) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string good = dir + "/good.keys";
  ASSERT_TRUE(
      WriteFileAtomically(
          good,
          "# rotation: the old key, then the new\n"
          "01 000102030405060708090a0b0c0d0e0f101112131415161718191a1b\n"
          "02 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a090807060504\n")
          .ok());
  auto keys = ReadSrtpKeyFile(good);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 2u);

  const std::string bad = dir + "/bad.keys";
  ASSERT_TRUE(WriteFileAtomically(bad, "\n01 0011\n").ok());
  EXPECT_EQ(ReadSrtpKeyFile(bad).status().message(),
            bad + ": line 2: key must be 28 bytes (56 hex digits), got 2");
  EXPECT_EQ(ReadSrtpKeyFile(dir + "/none.keys").status().message(),
            dir + "/none.keys: no such file");
}

}  // namespace
}  // namespace media
}  // namespace cascade
