#include "base/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cascade {
namespace {

std::vector<std::string> Normalize(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  AcceptDashedFlagNames(static_cast<int>(argv.size()), argv.data());
  return std::vector<std::string>(argv.begin(), argv.end());
}

TEST(AcceptDashedFlagNamesTest, RewritesNamesNotValues) {
  EXPECT_EQ(Normalize({"relayd", "--parent-timeout=300ms", "-state-dir",
                       "/tmp/a-b", "--json", "--key=ab-cd", "--listen_addr=x",
                       "drain", "node-7", "--", "--not-a-flag"}),
            (std::vector<std::string>{"relayd", "--parent_timeout=300ms",
                                      "-state_dir", "/tmp/a-b", "--json",
                                      "--key=ab-cd", "--listen_addr=x", "drain",
                                      "node-7", "--", "--not-a-flag"}));
}

}  // namespace
}  // namespace cascade
