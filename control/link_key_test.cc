#include "control/link_key.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"

namespace cascade::control {
namespace {

TEST(LinkKeyTest, IsHmacSha256OfTheParentUnderTheChildsKey) {
  const std::string child_key = absl::HexStringToBytes(
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  // printf 'cascade-link-v1:p1' |
  //   openssl dgst -sha256 -mac HMAC -macopt hexkey:0001...1e1f
  EXPECT_EQ(absl::BytesToHexString(LinkKey(child_key, "p1")),
            "9fd0cd67713a02f0511cd0bd5817d9f43c636f5c2afaab6cc05ea61157ce6364");
  // One key per link: another parent, another child, another key.
  EXPECT_NE(LinkKey(child_key, "p2"), LinkKey(child_key, "p1"));
  EXPECT_NE(LinkKey(std::string(32, 'c'), "p1"), LinkKey(child_key, "p1"));
}

}  // namespace
}  // namespace cascade::control
