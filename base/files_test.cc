#include "base/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace cascade {
namespace {

std::string TempDir() {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/filesXXXXXX";
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir;
}

TEST(FilesTest, WrittenAtomicallyThenReadBackWhole) {
  const std::string path = TempDir() + "/port";
  ASSERT_TRUE(WriteFileAtomically(path, "udp=5004\n").ok());
  EXPECT_EQ(*ReadFile(path), "udp=5004\n");
  // Replaced whole, and nothing left behind under the temporary name.
  const std::string big(200000, 'x');
  ASSERT_TRUE(WriteFileAtomically(path, big).ok());
  EXPECT_EQ(*ReadFile(path), big);
  EXPECT_EQ(ReadFile(path + ".tmp").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FilesTest, ModeIsKeptForSecrets) {
  const std::string path = TempDir() + "/key";
  ASSERT_TRUE(WriteFileAtomically(path, "secret", 0600).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FilesTest, StaleTemporaryFileDoesNotWidenTheMode) {
  const std::string path = TempDir() + "/key";
  ASSERT_TRUE(WriteFileAtomically(path + ".tmp.seed", "old", 0644).ok());
  ASSERT_EQ(std::rename((path + ".tmp.seed").c_str(), (path + ".tmp").c_str()),
            0);
  ASSERT_TRUE(WriteFileAtomically(path, "secret", 0600).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadFile(path), "secret");
}

TEST(FilesTest, WithoutSyncStillWholeWithItsMode) {
  const std::string path = TempDir() + "/scratch";
  ASSERT_TRUE(WriteFileAtomically(path, "scratch", 0600, /*sync=*/false).ok());
  EXPECT_EQ(*ReadFile(path), "scratch");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FilesTest, ErrorsNameThePath) {
  const absl::StatusOr<std::string> missing = ReadFile("/nonexistent/x");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/x"),
            absl::string_view::npos);
  const absl::Status unwritable =
      WriteFileAtomically("/nonexistent/dir/file", "x");
  EXPECT_FALSE(unwritable.ok());
  EXPECT_NE(unwritable.message().find("/nonexistent/dir/file.tmp"),
            absl::string_view::npos)
      << unwritable;
  // A directory is not a file.
  EXPECT_FALSE(ReadFile(TempDir()).ok());
}

}  // namespace
}  // namespace cascade
