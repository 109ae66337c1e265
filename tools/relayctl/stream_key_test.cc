#include "tools/relayctl/stream_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "base/files.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "media/srtp/keys.h"

namespace cascade::relayctl {
namespace {

struct Result {
  int code;
  std::string out, err;
};

Result Add(const std::string& path, bool json = false) {
  std::ostringstream out, err;
  const int code = RunStreamKey({"stream-key", "add", path}, json, out, err);
  return {code, out.str(), err.str()};
}

std::string TestFile(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

std::vector<srtp::StreamKey> KeysIn(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return {};
  return srtp::ParseKeyFile(*contents).value_or(std::vector<srtp::StreamKey>{});
}

TEST(StreamKeyTest, AddsKeysWithTheNextIdInAFileOnlyItsOwnerReads) {
  const std::string path = TestFile("stream.key");
  Result first = Add(path);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("key 01 added (1 key)"), std::string::npos)
      << first.out;
  Result second = Add(path, /*json=*/true);
  ASSERT_EQ(second.code, 0) << second.err;
  google::protobuf::Struct answer;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(second.out, &answer).ok())
      << second.out;
  EXPECT_EQ(answer.fields().at("file").string_value(), path);
  EXPECT_EQ(answer.fields().at("key_id").string_value(), "02");
  EXPECT_EQ(answer.fields().at("keys").number_value(), 2);
  const std::vector<srtp::StreamKey> keys = KeysIn(path);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].id, std::vector<uint8_t>{0x01});
  EXPECT_EQ(keys[1].id, std::vector<uint8_t>{0x02});
  EXPECT_NE(keys[0].material, keys[1].material);
  EXPECT_TRUE(srtp::CheckKeys(keys).ok());
  struct stat file;
  ASSERT_EQ(stat(path.c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600);
}

TEST(StreamKeyTest, RefusesWhatIsNotAKeyFileAndAFullOne) {
  const std::string bad = TestFile("bad.key");
  ASSERT_TRUE(WriteFileAtomically(bad, "01 not-hex\n", 0600).ok());
  Result refused = Add(bad);
  EXPECT_EQ(refused.code, 4);
  EXPECT_NE(refused.err.find(bad), std::string::npos) << refused.err;
  EXPECT_EQ(*ReadFile(bad), "01 not-hex\n") << "a refused file is untouched";

  const std::string full = TestFile("full.key");
  for (size_t i = 0; i < srtp::kMaxKeys; ++i) {
    ASSERT_EQ(Add(full).code, 0);
  }
  Result over = Add(full);
  EXPECT_EQ(over.code, 4);
  EXPECT_NE(over.err.find("remove the oldest"), std::string::npos) << over.err;
  EXPECT_EQ(KeysIn(full).size(), srtp::kMaxKeys);
}

TEST(StreamKeyTest, UsageAndUnwritableFiles) {
  std::ostringstream out, err;
  EXPECT_EQ(RunStreamKey({"stream-key"}, false, out, err), 2);
  EXPECT_EQ(RunStreamKey({"stream-key", "remove", "x"}, false, out, err), 2);
  EXPECT_EQ(Add(TestFile("no/such/dir/stream.key")).code, 1);
}

}  // namespace
}  // namespace cascade::relayctl
