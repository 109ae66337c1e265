#include "console/group.h"

#include <gtest/gtest.h>

namespace cascade::console {
namespace {

TEST(OriginOfTest, SchemeHostAndPortOfHttpUrlsOnly) {
  EXPECT_EQ(OriginOf("http://127.0.0.1:8080/console"), "http://127.0.0.1:8080");
  EXPECT_EQ(OriginOf("https://ops.example:8443/console"),
            "https://ops.example:8443");
  EXPECT_EQ(OriginOf("https://[::1]:8443"), "https://[::1]:8443");
  EXPECT_EQ(OriginOf("javascript:alert(1)"), "");
  EXPECT_EQ(OriginOf("ftp://host/console"), "");
  EXPECT_EQ(OriginOf(""), "");
}

}  // namespace
}  // namespace cascade::console
