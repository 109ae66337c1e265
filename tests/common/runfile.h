// The path of a file the test ships with (a Bazel data dependency).
#ifndef CASCADE_TESTS_COMMON_RUNFILE_H_
#define CASCADE_TESTS_COMMON_RUNFILE_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace cascade::testing {

inline std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/",
                      workspace ? workspace : "cascade", "/", path);
}

}  // namespace cascade::testing

#endif  // CASCADE_TESTS_COMMON_RUNFILE_H_
