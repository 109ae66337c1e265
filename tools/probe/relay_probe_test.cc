// relay-probe as a process: --srtp-key-file gives every site the stream
// keys (a relay-source stream encrypted under them decodes), and a key file
// that cannot be read or parsed is a usage error naming the flag and file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace cascade {
namespace {

constexpr char kProbe[] = "tools/probe/relay-probe";
constexpr char kSource[] = "tools/source/relay-source";
constexpr char kKey[] =
    "07 000102030405060708090a0b0c0d0e0f101112131415161718191a1b\n";

std::string Dir() { return std::getenv("TEST_TMPDIR"); }

std::string Read(const std::string& path) {
  return ReadFile(path).value_or("");
}

// `key` at the top level of the JSON object in `line` (protobuf's JSON
// support: a per-site object's field of the same name does not count), or
// nullopt.
std::optional<int64_t> JsonInt(absl::string_view line, absl::string_view key) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(
           google::protobuf::StringPiece(line.data(), line.size()), &object)
           .ok()) {
    return std::nullopt;
  }
  const auto it = object.fields().find(std::string(key));
  if (it == object.fields().end() ||
      it->second.kind_case() != google::protobuf::Value::kNumberValue) {
    return std::nullopt;
  }
  return static_cast<int64_t>(it->second.number_value());
}

// The last line of `text` that starts with `prefix`, or "".
std::string LastLine(const std::string& text, absl::string_view prefix) {
  std::string found;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) found = std::string(line);
  }
  return found;
}

// Runs `argv` to its end (bounded): its exit code, or -1.
int RunToEnd(const std::vector<std::string>& argv, const std::string& base) {
  auto process = Subprocess::Start(argv, {base + ".out", base + ".err"});
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return -1;
  }
  absl::StatusOr<int> code = (*process)->Wait(absl::Seconds(60));
  EXPECT_TRUE(code.ok()) << argv[0] << ": " << code.status();
  return code.value_or(-1);
}

TEST(RelayProbeTest, BadSrtpKeyFileExitsTwoNamingIt) {
  const std::string bad = Dir() + "/bad.keys";
  ASSERT_TRUE(WriteFileAtomically(bad, "\n01 0011\n").ok());
  const std::string missing = Dir() + "/none.keys";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {bad, bad + ": line 2: key must be 28 bytes (56 hex digits), got 2"},
      {missing, missing + ": no such file"},
  };
  int run = 0;
  for (const auto& [file, why] : cases) {
    const std::string base = absl::StrCat(Dir(), "/bad", ++run);
    EXPECT_EQ(
        RunToEnd({kProbe, "--srtp-key-file=" + file, "--duration=5"}, base), 2)
        << file;
    EXPECT_EQ(Read(base + ".err"),
              "relay-probe: --srtp_key_file: " + why + "\n");
    EXPECT_EQ(Read(base + ".out"), "");
  }
}

// relay-source encrypts under the key; relay-probe given the same file by
// --srtp-key-file decodes every frame (without the key it decodes none: the
// payloads are ciphertext, probe_test's EncryptedStreamDecodesOnlyWithTheKey).
TEST(RelayProbeTest, SrtpKeyFileDecodesAnEncryptedStream) {
  const std::string keys = Dir() + "/stream.keys";
  ASSERT_TRUE(WriteFileAtomically(keys, kKey).ok());
  const std::string ports = Dir() + "/probe.port";
  const std::string probe_base = Dir() + "/probe";
  auto probe = Subprocess::Start(
      {kProbe, "--json", "--listen=127.0.0.1:0", "--port-file=" + ports,
       "--srtp-key-file=" + keys, "--duration=60", "--idle-exit=1"},
      {probe_base + ".out", probe_base + ".err"});
  ASSERT_TRUE(probe.ok()) << probe.status();
  // Written once the socket is bound (bounded wait).
  std::string port;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (port.empty() && absl::Now() < deadline && (*probe)->Running()) {
    port = std::string(absl::StripAsciiWhitespace(Read(ports)));
    if (port.empty()) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(port.empty()) << Read(probe_base + ".err");

  const std::string source_base = Dir() + "/source";
  ASSERT_EQ(RunToEnd({kSource, "--json", "--width=320", "--height=180",
                      "--bitrate=300", "--fps=25", "--gop=25", "--duration=2",
                      "--dest=" + port, "--srtp-key-file=" + keys},
                     source_base),
            0)
      << Read(source_base + ".err");
  // It stops a second after the stream does.
  absl::StatusOr<int> code = (*probe)->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << Read(probe_base + ".out") << Read(probe_base + ".err");

  const std::string sent = LastLine(Read(source_base + ".out"), "{");
  const std::string got =
      LastLine(Read(probe_base + ".out"), "{\"type\":\"final\"");
  const std::optional<int64_t> frames = JsonInt(sent, "frames");
  ASSERT_TRUE(frames.has_value()) << sent;
  ASSERT_GE(*frames, 40);
  EXPECT_EQ(JsonInt(got, "frames_decoded"), *frames) << got;
  EXPECT_EQ(JsonInt(got, "decode_errors"), 0) << got;
  EXPECT_EQ(JsonInt(got, "bad_packets"), 0) << got;
}

}  // namespace
}  // namespace cascade
