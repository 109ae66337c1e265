#include "control/node_id.h"

#include <gtest/gtest.h>

#include <string>

namespace cascade::control {
namespace {

TEST(NodeIdTest, TheReferenceIdsAndTheLongestAllowedPass) {
  EXPECT_TRUE(ValidateNodeId("ho-chi-minh-city-d01-s001").ok());
  EXPECT_TRUE(ValidateNodeId("c++").ok());
  EXPECT_TRUE(ValidateNodeId(std::string(kMaxNodeIdSize, 'n')).ok());
}

TEST(NodeIdTest, EmptyLongSpacedAndUnprintableIdsAreRefusedClearly) {
  EXPECT_EQ(ValidateNodeId("").message(), "empty node id");
  const absl::Status too_long =
      ValidateNodeId(std::string(kMaxNodeIdSize + 1, 'n'));
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.message().find("65 bytes, more than 64"),
            absl::string_view::npos)
      << too_long.message();
  EXPECT_LT(ValidateNodeId(std::string(100000, 'n')).message().size(), 100u)
      << "an overlong id is not echoed whole";
  EXPECT_FALSE(ValidateNodeId("a b").ok());
  EXPECT_FALSE(ValidateNodeId("a\tb").ok());
  EXPECT_FALSE(ValidateNodeId(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ValidateNodeId("caf\xc3\xa9").ok());
}

}  // namespace
}  // namespace cascade::control
