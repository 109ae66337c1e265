#include "tools/sim/private_network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

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

// A UDP socket bound to `ip`:`port` that waits 200 ms at most for a datagram.
int BoundSocket(const char* ip, int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = inet_addr(ip);
  address.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << ip;
  timeval timeout{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

sockaddr_in Address(const char* ip, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = inet_addr(ip);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

// "IP:PORT" of what `fd` received, or "" when nothing came.
std::string ReceivedFrom(int fd, sockaddr_in* from) {
  char in[64];
  socklen_t len = sizeof(*from);
  if (recvfrom(fd, in, sizeof(in), 0, reinterpret_cast<sockaddr*>(from),
               &len) <= 0) {
    return "";
  }
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &from->sin_addr, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(from->sin_port));
}

// What the WHEP sites do: send to the address an edge's answers name, and
// reach the relay's socket instead; its answers come back from that
// address. Other sources are left alone.
TEST(PrivateNetworkTest, RedirectUdpSendsOneSourcesDatagramsElsewhere) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  ASSERT_TRUE(EnterPrivateNetwork().ok());
  if (std::system("command -v nft >/dev/null") != 0) {
    GTEST_SKIP() << "nft (Debian package nftables) is not installed";
  }
  ASSERT_TRUE(
      RedirectUdp("127.4.0.1", "127.0.0.1:39999", "127.1.0.5:5000").ok());
  const int relay = BoundSocket("127.1.0.5", 5000);
  const int site = BoundSocket("127.4.0.1", 5000);
  const int other = BoundSocket("127.4.0.2", 5000);
  const sockaddr_in named = Address("127.0.0.1", 39999);
  const char payload[] = "check";
  ASSERT_GT(sendto(site, payload, sizeof(payload), 0,
                   reinterpret_cast<const sockaddr*>(&named), sizeof(named)),
            0);
  sockaddr_in from{};
  EXPECT_EQ(ReceivedFrom(relay, &from), "127.4.0.1:5000");
  ASSERT_GT(sendto(relay, payload, sizeof(payload), 0,
                   reinterpret_cast<const sockaddr*>(&from), sizeof(from)),
            0);
  sockaddr_in answer{};
  EXPECT_EQ(ReceivedFrom(site, &answer), "127.0.0.1:39999");
  ASSERT_GT(sendto(other, payload, sizeof(payload), 0,
                   reinterpret_cast<const sockaddr*>(&named), sizeof(named)),
            0);
  EXPECT_EQ(ReceivedFrom(relay, &from), "");
  EXPECT_FALSE(RedirectUdp("127.4.0.1", "no-port", "127.1.0.5:5000").ok());
  close(relay);
  close(site);
  close(other);
}

}  // namespace
}  // namespace cascade::sim
