#include "tools/bench/fanout_loop.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace cascade::bench {
namespace {

class UdpSocket {
 public:
  UdpSocket() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    SocketAddress any = *SocketAddress::Parse("127.0.0.1:0");
    EXPECT_EQ(bind(fd_, any.get(), any.size()), 0);
    const int buffer_bytes = 1 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  }
  ~UdpSocket() { close(fd_); }
  SocketAddress address() const {
    SocketAddress bound;
    socklen_t length = sizeof(bound.storage);
    getsockname(fd_, bound.get(), &length);
    return bound;
  }
  void SendTo(const SocketAddress& to, const std::string& data) {
    ASSERT_EQ(sendto(fd_, data.data(), data.size(), 0, to.get(), to.size()),
              static_cast<ssize_t>(data.size()));
  }
  // Up to `count` datagrams, waiting at most 2 s for each.
  std::vector<std::string> Receive(size_t count) {
    std::vector<std::string> out;
    while (out.size() < count) {
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, 2000) <= 0) break;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n >= 0) out.emplace_back(buffer, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
};

// Frames like the blaster's: equal full packets and a shorter last one,
// each packet's bytes distinct so reordering or merging would show.
std::vector<std::string> VideoLikeDatagrams() {
  std::vector<std::string> datagrams;
  for (int frame = 0; frame < 10; ++frame) {
    const int packets = 3 + frame % 5;
    for (int i = 0; i < packets; ++i) {
      const size_t size = i + 1 < packets ? 1200 : 200 + 50 * frame;
      datagrams.emplace_back(size,
                             static_cast<char>('a' + datagrams.size() % 26));
    }
  }
  return datagrams;
}

class FanoutLoopTest : public ::testing::TestWithParam<FanoutMode> {};

TEST_P(FanoutLoopTest, EveryChildGetsEveryDatagramIntactAndInOrder) {
  UdpSocket children[3];
  UdpSocket source;
  absl::StatusOr<std::unique_ptr<FanoutLoop>> loop = FanoutLoop::Create(
      GetParam(), *SocketAddress::Parse("127.0.0.1:0"),
      {children[0].address(), children[1].address(), children[2].address()});
  ASSERT_TRUE(loop.ok()) << loop.status();
  std::atomic<bool> stop{false};
  std::thread runner([&] { (*loop)->Run(stop); });

  const std::vector<std::string> datagrams = VideoLikeDatagrams();
  // Bursts, so the loop receives several datagrams per recvmmsg.
  for (const std::string& datagram : datagrams) {
    source.SendTo((*loop)->listen_address(), datagram);
  }
  for (UdpSocket& child : children) {
    EXPECT_EQ(child.Receive(datagrams.size()), datagrams);
  }
  stop = true;
  runner.join();
  const FanoutCounters& counters = (*loop)->counters();
  EXPECT_EQ(counters.received, datagrams.size());
  EXPECT_EQ(counters.sent, 3 * datagrams.size());
  EXPECT_EQ(counters.send_errors, 0u);
}

TEST_P(FanoutLoopTest, OversizedDatagramsAreDroppedEmptyOnesForwarded) {
  UdpSocket child, source;
  absl::StatusOr<std::unique_ptr<FanoutLoop>> loop = FanoutLoop::Create(
      GetParam(), *SocketAddress::Parse("127.0.0.1:0"), {child.address()});
  ASSERT_TRUE(loop.ok()) << loop.status();
  std::atomic<bool> stop{false};
  std::thread runner([&] { (*loop)->Run(stop); });
  source.SendTo((*loop)->listen_address(), std::string(3000, 'x'));
  source.SendTo((*loop)->listen_address(), "");
  source.SendTo((*loop)->listen_address(), "");
  source.SendTo((*loop)->listen_address(), "after");
  EXPECT_EQ(child.Receive(3), (std::vector<std::string>{"", "", "after"}));
  stop = true;
  runner.join();
  EXPECT_EQ((*loop)->counters().truncated, 1u);
  EXPECT_EQ((*loop)->counters().sent, 3u);
}

INSTANTIATE_TEST_SUITE_P(Modes, FanoutLoopTest,
                         ::testing::Values(FanoutMode::kSendmmsg,
                                           FanoutMode::kGso));

TEST(FanoutLoopCreateTest, RejectsBadSetups) {
  const SocketAddress listen = *SocketAddress::Parse("127.0.0.1:0");
  EXPECT_FALSE(FanoutLoop::Create(FanoutMode::kGso, listen, {}).ok());
  EXPECT_FALSE(FanoutLoop::Create(FanoutMode::kGso, listen,
                                  {*SocketAddress::Parse("[::1]:5000")})
                   .ok());
  EXPECT_TRUE(ParseFanoutMode("gso").ok());
  EXPECT_FALSE(ParseFanoutMode("splice").ok());
}

}  // namespace
}  // namespace cascade::bench
