// Runs the udp-impair binary as a process: forwarding both ways, cut and
// uncut through SIGUSR1/SIGUSR2, counters on exit, and bad flags.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/subprocess.h"
#include "tools/impair/socket_address.h"

namespace cascade {
namespace {

std::string BinaryPath() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"),
                      "/tools/impair/udp-impair");
}

// A log file of its own for each udp-impair run.
std::string NewLogPath() {
  static int runs = 0;
  return absl::StrCat(::testing::TempDir(), "/udp-impair-", ++runs, ".log");
}

// Starts the binary with `args`; stdout and stderr go to `log`.
absl::StatusOr<std::unique_ptr<Subprocess>> StartImpair(
    const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {BinaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Subprocess::Start(argv, {log, log});
}

std::string Output(const std::string& log) {
  return ReadFile(log).value_or("");
}

// Waits (bounded) until `log` contains `text`.
bool WaitForOutput(const std::string& log, const std::string& text) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (Output(log).find(text) == std::string::npos) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class Socket {
 public:
  Socket() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
    EXPECT_EQ(bind(fd_, any.get(), any.size()), 0);
  }
  ~Socket() { close(fd_); }

  SocketAddress address() const {
    SocketAddress bound;
    socklen_t length = sizeof(bound.storage);
    getsockname(fd_, bound.get(), &length);
    return bound;
  }
  void SendTo(const SocketAddress& to, int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_EQ(sendto(fd_, "rtp", 3, 0, to.get(), to.size()), 3);
    }
  }
  // Receives until `count` datagrams arrived or `timeout_ms` passed; echoes
  // each back to its sender when `echo`.
  int Receive(int count, int timeout_ms, bool echo) {
    int received = 0;
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(timeout_ms);
    while (received < count) {
      const int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now())
              .count());
      pollfd pfd{fd_, POLLIN, 0};
      if (left <= 0 || poll(&pfd, 1, left) <= 0) break;
      char buffer[64];
      SocketAddress from;
      socklen_t length = sizeof(from.storage);
      const ssize_t n =
          recvfrom(fd_, buffer, sizeof(buffer), 0, from.get(), &length);
      if (n < 0) continue;
      ++received;
      if (echo)
        sendto(fd_, buffer, static_cast<size_t>(n), 0, from.get(), length);
    }
    return received;
  }

 private:
  int fd_;
};

TEST(UdpImpairBinaryTest, ForwardsCutsUncutsAndPrintsCounters) {
  Socket server, client;
  const std::string log = NewLogPath();
  absl::StatusOr<std::unique_ptr<Subprocess>> impair = StartImpair(
      {"--listen=127.0.0.1:0", "--forward=" + server.address().ToString(),
       "--burst-loss=0,1", "--seed=5"},
      log);
  ASSERT_TRUE(impair.ok()) << impair.status();
  ASSERT_TRUE(WaitForOutput(log, " forwarding to ")) << Output(log);
  const std::string started = Output(log);
  const size_t start = started.find("listening on ") + 13;
  absl::StatusOr<SocketAddress> listen = SocketAddress::Parse(
      started.substr(start, started.find(' ', start) - start));
  ASSERT_TRUE(listen.ok()) << started;

  client.SendTo(*listen, 20);
  EXPECT_EQ(server.Receive(20, 3000, /*echo=*/true), 20);
  EXPECT_EQ(client.Receive(20, 3000, /*echo=*/false), 20);

  ASSERT_TRUE((*impair)->Signal(SIGUSR1).ok());
  ASSERT_TRUE(WaitForOutput(log, "udp-impair: cut\n"));
  client.SendTo(*listen, 10);
  // Absence can only be observed over a bounded wait.
  EXPECT_EQ(server.Receive(10, 300, /*echo=*/true), 0);

  ASSERT_TRUE((*impair)->Signal(SIGUSR2).ok());
  ASSERT_TRUE(WaitForOutput(log, "udp-impair: uncut\n"));
  client.SendTo(*listen, 10);
  EXPECT_EQ(server.Receive(10, 3000, /*echo=*/true), 10);
  EXPECT_EQ(client.Receive(10, 3000, /*echo=*/false), 10);

  ASSERT_TRUE((*impair)->Signal(SIGTERM).ok());
  EXPECT_EQ((*impair)->Wait(absl::Seconds(10)).value_or(-1), 0);
  const std::string output = Output(log);
  EXPECT_NE(output.find("to_forward: received=40 forwarded=30 lost=0 cut=10"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("to_client: received=30 forwarded=30"),
            std::string::npos)
      << output;
}

TEST(UdpImpairBinaryTest, BadFlagsExitWithCodeTwoNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--forward=127.0.0.1:9", "--loss=1.5"}, "loss"},
           {{"--loss=0.1"}, "--forward is required"},
           {{"--forward=localhost:9"}, "--forward"},
           {{"--forward=127.0.0.1:9", "--burst-loss=0.1"}, "--burst-loss"},
           {{"--forward=127.0.0.1:9", "--delay=-3"}, "--delay"},
           {{"--forward=127.0.0.1:9", "--direction=up"}, "--direction"}}) {
    const std::string log = NewLogPath();
    absl::StatusOr<std::unique_ptr<Subprocess>> impair =
        StartImpair(c.args, log);
    ASSERT_TRUE(impair.ok()) << impair.status();
    EXPECT_EQ((*impair)->Wait(absl::Seconds(10)).value_or(-1), 2) << c.message;
    EXPECT_NE(Output(log).find(c.message), std::string::npos) << Output(log);
  }
}

}  // namespace
}  // namespace cascade
