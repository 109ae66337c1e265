// The tcp-delay binary as a process: --help, bad flags (one line, exit code
// 2), and a delayed echo through it, counters printed on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "tools/impair/tcp_delay/echo_server.h"

namespace cascade {
namespace {

using testing_tcp::Client;
using testing_tcp::Clock;
using testing_tcp::EchoServer;
using testing_tcp::Pattern;

std::string BinaryPath() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"),
                      "/cascade/tools/impair/tcp_delay/tcp-delay");
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

// Runs the binary with `args` to its end (bounded): exit code and output.
std::pair<int, std::string> RunToEnd(const std::vector<std::string>& args) {
  const std::string out = TempPath("run.out");
  std::vector<std::string> argv = {BinaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, SubprocessOptions(out, out));
  if (!process.ok()) return {-1, std::string(process.status().message())};
  absl::StatusOr<int> code = (*process)->Wait(absl::Seconds(20));
  return {code.ok() ? *code : -1, ReadFile(out).value_or("")};
}

TEST(TcpDelayBinaryTest, HelpExplainsTheFlags) {
  auto [code, output] = RunToEnd({"--help"});
  EXPECT_EQ(code, 0) << output;
  for (const char* text :
       {"--delay", "--target", "--listen", "--delay_responses",
        "--max_held_bytes", "held for --delay"}) {
    EXPECT_NE(output.find(text), std::string::npos) << text << "\n" << output;
  }
}

TEST(TcpDelayBinaryTest, BadFlagsAreOneLineAndExitCode2) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--delay=2s"}, "--target is required"},
      {{"--target=nowhere", "--delay=2s"}, "--target: address 'nowhere'"},
      {{"--target=127.0.0.1:0"}, "--target: port 0"},
      {{"--target=127.0.0.1:9", "--listen=x:1"}, "--listen:"},
      {{"--target=127.0.0.1:9", "--delay=soon"}, "--delay: \"soon\""},
      {{"--target=127.0.0.1:9", "--delay=-1s"}, "--delay must be within"},
      {{"--target=127.0.0.1:9", "--delay=2h"}, "--delay must be within"},
      {{"--target=127.0.0.1:9", "--max-held-bytes=100"},
       "--max-held-bytes must be at least 65536"},
      {{"--target=127.0.0.1:9", "--max_connections=0"},
       "--max-connections must be at least 1"},
      {{"--target=127.0.0.1:9", "--dely=2s"}, "unknown flag --dely"},
  };
  for (const auto& [args, message] : cases) {
    auto [code, output] = RunToEnd(args);
    EXPECT_EQ(code, 2) << message << "\n" << output;
    EXPECT_NE(output.find("tcp-delay: " + message), std::string::npos)
        << output;
    EXPECT_EQ(output.find('\n'), output.size() - 1) << "one line: " << output;
  }
}

TEST(TcpDelayBinaryTest, ForwardsWithTheDelayAndPrintsItsCounters) {
  constexpr absl::Duration kDelay = absl::Milliseconds(400);
  EchoServer server;
  const std::string port_file = TempPath("tcp-delay.port");
  const std::string out = TempPath("tcp-delay.out");
  std::remove(port_file.c_str());
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(
      {BinaryPath(), "--listen=127.0.0.1:0", "--target=" + server.address(),
       "--delay=400ms", "--port-file=" + port_file},
      SubprocessOptions(out, out));
  ASSERT_TRUE(process.ok()) << process.status();
  int port = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline && (*process)->Running()) {
    absl::StatusOr<std::string> text = ReadFile(port_file);
    if (text.ok() &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &port)) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GT(port, 0) << ReadFile(out).value_or("");
  const std::string data = Pattern(100000, 3);
  {
    Client client(port);
    ASSERT_TRUE(client.connected());
    const Clock::time_point sent = Clock::now();
    ASSERT_TRUE(client.Send(data));
    EXPECT_EQ(client.Read(data.size(), absl::Seconds(20)), data);
    EXPECT_GE(Clock::now() - sent, std::chrono::milliseconds(400));
    ASSERT_EQ(server.connections().size(), 1u);
    EXPECT_GE(*server.connections()[0].first_byte - sent,
              std::chrono::milliseconds(absl::ToInt64Milliseconds(kDelay)));
  }
  ASSERT_TRUE((*process)->Signal(SIGTERM).ok());
  absl::StatusOr<int> code = (*process)->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  const std::string output = ReadFile(out).value_or("");
  EXPECT_NE(output.find(absl::StrCat("tcp-delay: listening on 127.0.0.1:", port,
                                     " forwarding to ", server.address(),
                                     ", requests held 400ms")),
            std::string::npos)
      << output;
  EXPECT_NE(output.find(absl::StrCat("accepted=1 ")), std::string::npos)
      << output;
  EXPECT_NE(output.find(absl::StrCat("bytes_to_target=", data.size())),
            std::string::npos)
      << output;
}

}  // namespace
}  // namespace cascade
