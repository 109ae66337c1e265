// Runs the udp-impair binary as a process: forwarding both ways, cut and
// uncut through SIGUSR1/SIGUSR2, counters on exit, and bad flags.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/impair/socket_address.h"

extern char** environ;

namespace cascade {
namespace {

std::string BinaryPath() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/",
                      std::getenv("TEST_WORKSPACE"),
                      "/tools/impair/udp-impair");
}

class Process {
 public:
  // Starts the binary with `args`; stdout and stderr go to one pipe.
  explicit Process(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<std::string> argv_strings = {BinaryPath()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    EXPECT_EQ(
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ),
        0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    output_fd_ = fds[0];
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(output_fd_);
  }

  // Reads output until it contains `text` (true) or EOF/timeout (false).
  bool WaitForOutput(const std::string& text, int timeout_ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(timeout_ms);
    while (output_.find(text) == std::string::npos) {
      const int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              deadline - std::chrono::steady_clock::now())
              .count());
      pollfd pfd{output_fd_, POLLIN, 0};
      if (left <= 0 || poll(&pfd, 1, left) <= 0) return false;
      char buffer[4096];
      const ssize_t n = read(output_fd_, buffer, sizeof(buffer));
      if (n <= 0) return false;
      output_.append(buffer, static_cast<size_t>(n));
    }
    return true;
  }

  // Waits for the exit and returns the exit code (-1 on a signal).
  int Wait() {
    while (WaitForOutput("\x01never", 5000)) {
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
  std::string output_;
};

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
  Process impair({"--listen=127.0.0.1:0",
                  "--forward=" + server.address().ToString(),
                  "--burst-loss=0,1", "--seed=5"});
  ASSERT_TRUE(impair.WaitForOutput(" forwarding to ")) << impair.output();
  const size_t start = impair.output().find("listening on ") + 13;
  absl::StatusOr<SocketAddress> listen = SocketAddress::Parse(
      impair.output().substr(start, impair.output().find(' ', start) - start));
  ASSERT_TRUE(listen.ok()) << impair.output();

  client.SendTo(*listen, 20);
  EXPECT_EQ(server.Receive(20, 3000, /*echo=*/true), 20);
  EXPECT_EQ(client.Receive(20, 3000, /*echo=*/false), 20);

  kill(impair.pid(), SIGUSR1);
  ASSERT_TRUE(impair.WaitForOutput("udp-impair: cut\n"));
  client.SendTo(*listen, 10);
  // Absence can only be observed over a bounded wait.
  EXPECT_EQ(server.Receive(10, 300, /*echo=*/true), 0);

  kill(impair.pid(), SIGUSR2);
  ASSERT_TRUE(impair.WaitForOutput("udp-impair: uncut\n"));
  client.SendTo(*listen, 10);
  EXPECT_EQ(server.Receive(10, 3000, /*echo=*/true), 10);
  EXPECT_EQ(client.Receive(10, 3000, /*echo=*/false), 10);

  kill(impair.pid(), SIGTERM);
  EXPECT_EQ(impair.Wait(), 0);
  EXPECT_NE(impair.output().find(
                "to_forward: received=40 forwarded=30 lost=0 cut=10"),
            std::string::npos)
      << impair.output();
  EXPECT_NE(impair.output().find("to_client: received=30 forwarded=30"),
            std::string::npos)
      << impair.output();
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
    Process impair(c.args);
    EXPECT_EQ(impair.Wait(), 2) << c.message;
    EXPECT_NE(impair.output().find(c.message), std::string::npos)
        << impair.output();
  }
}

}  // namespace
}  // namespace cascade
