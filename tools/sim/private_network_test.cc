#include "tools/sim/private_network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace cascade::sim {
namespace {

// Sends `count` datagrams between two sockets on private loopback addresses
// and returns how many arrived.
int SendAndCount(int count) {
  int receiver = socket(AF_INET, SOCK_DGRAM, 0);
  int sender = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = inet_addr("127.31.7.9");
  EXPECT_EQ(bind(receiver, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  socklen_t len = sizeof(to);
  getsockname(receiver, reinterpret_cast<sockaddr*>(&to), &len);
  int buffer = 4 << 20;
  setsockopt(receiver, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof(buffer));
  timeval timeout{0, 200000};
  setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char payload[200] = {};
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(sendto(sender, payload, sizeof(payload), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(sizeof(payload)))
        << "the sender must not see the simulated loss";
  }
  int received = 0;
  char in[256];
  while (recv(receiver, in, sizeof(in), 0) > 0) ++received;
  close(sender);
  close(receiver);
  return received;
}

TEST(PrivateNetworkTest, LoopbackWorksAndLossIsApplied) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  ASSERT_TRUE(EnterPrivateNetwork().ok());
  EXPECT_EQ(SendAndCount(2000), 2000);

  if (std::system("command -v nft >/dev/null") != 0) {
    GTEST_SKIP() << "nft (Debian package nftables) is not installed";
  }
  ASSERT_TRUE(SetRandomLoss(0.25).ok());
  const int received = SendAndCount(4000);
  // 25% of 4000 dropped: 3000 expected; bounds are many standard deviations.
  EXPECT_GT(received, 2700);
  EXPECT_LT(received, 3300);

  ASSERT_TRUE(SetRandomLoss(0).ok());
  EXPECT_EQ(SendAndCount(2000), 2000);
  EXPECT_FALSE(SetRandomLoss(1.5).ok());
}

}  // namespace
}  // namespace cascade::sim
