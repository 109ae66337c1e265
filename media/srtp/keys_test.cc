#include "media/srtp/keys.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace cascade::srtp {
namespace {

constexpr char kKeyA[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b";
constexpr char kKeyB[] =
    "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a090807060504";

std::string ErrorOf(const std::string& contents) {
  auto keys = ParseKeyFile(contents);
  return keys.ok() ? "" : std::string(keys.status().message());
}

TEST(KeyFileTest, ParsesKeysOldestFirst) {
  auto keys = ParseKeyFile(
      absl::StrCat("# stream key\n\n01 ", kKeyA, "\n  02\t", kKeyB, "  \r\n"));
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, std::vector<uint8_t>{1});
  EXPECT_EQ((*keys)[0].material[0], 0x00);
  EXPECT_EQ((*keys)[0].material[27], 0x1b);
  EXPECT_EQ((*keys)[1].id, std::vector<uint8_t>{2});
  EXPECT_EQ((*keys)[1].material[0], 0x1f);
}

TEST(KeyFileTest, FormatReadsBack) {
  auto keys = ParseKeyFile(
      absl::StrCat("0a0b0c0d ", kKeyA, "\nFFFFFFFF ", kKeyB, "\n"));
  ASSERT_TRUE(keys.ok()) << keys.status();
  auto again = ParseKeyFile(FormatKeyFile(*keys));
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*again)[i].id, (*keys)[i].id);
    EXPECT_EQ((*again)[i].material, (*keys)[i].material);
  }
}

TEST(KeyFileTest, ErrorsNameTheLineAndField) {
  EXPECT_EQ(ErrorOf(""), "no key in the file");
  EXPECT_EQ(ErrorOf("# only a comment\n"), "no key in the file");
  EXPECT_EQ(ErrorOf(absl::StrCat("01 ", kKeyA, " extra")),
            "line 1: 3 fields; want KEY_ID_HEX KEY_HEX");
  EXPECT_EQ(ErrorOf(absl::StrCat("\n0x1 ", kKeyA)),
            "line 2: key id is not hex (an even number of 0-9a-f digits)");
  EXPECT_EQ(ErrorOf(absl::StrCat("0102030405 ", kKeyA)),
            "line 1: key id must be 1..4 bytes, got 5");
  EXPECT_EQ(ErrorOf("01 0011"),
            "line 1: key must be 28 bytes (56 hex digits), got 2");
  EXPECT_EQ(ErrorOf(absl::StrCat("01 ", kKeyA, "\n0102 ", kKeyB)),
            "line 2: key 2: its id is 2 bytes, the first key's 1 (a packet's "
            "id is read by that size)");
  EXPECT_EQ(ErrorOf(absl::StrCat("01 ", kKeyA, "\n01 ", kKeyB)),
            "line 2: key 2: id 01 is also key 1's");
  std::string many;
  for (int i = 0; i < 17; ++i) {
    absl::StrAppend(&many, absl::Hex(i, absl::kZeroPad2), " ", kKeyA, "\n");
  }
  EXPECT_EQ(ErrorOf(many), "line 17: 17 keys; at most 16 are held");
}

TEST(NextKeyTest, FollowsTheNewestIdWithFreshMaterial) {
  absl::StatusOr<StreamKey> first = NextKey({});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->id, std::vector<uint8_t>{0x01});
  absl::StatusOr<StreamKey> second = NextKey({*first});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->id, std::vector<uint8_t>{0x02});
  // 224 random bits twice alike would be a broken random source.
  EXPECT_NE(first->material, second->material);
  // What a receiver can hold, and what the file format reads back.
  const std::vector<StreamKey> keys = {*first, *second};
  EXPECT_TRUE(CheckKeys(keys).ok());
  absl::StatusOr<std::vector<StreamKey>> read =
      ParseKeyFile(FormatKeyFile(keys));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)[1].material, second->material);
}

TEST(NextKeyTest, KeepsTheIdSizeAndCarries) {
  StreamKey key;
  key.id = {0x01, 0xff};
  absl::StatusOr<StreamKey> next = NextKey({key});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->id, (std::vector<uint8_t>{0x02, 0x00}));
  key.id = {0xff};
  EXPECT_EQ(NextKey({key}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace cascade::srtp
