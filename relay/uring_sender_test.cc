// BatchSender through an io_uring (UringSender), on real sockets on
// 127.0.0.1: what udp_socket_test checks of the sendmmsg path, plus what only
// a ring has (flushes larger than the ring).
#include "relay/uring_sender.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "media/endpoint.h"
#include "relay/batch_sender.h"

namespace cascade::relay {
namespace {

// A bound UDP socket on 127.0.0.1, closed with the test.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) {
    EXPECT_GE(fd_, 0);
    const int on = 1;
    setsockopt(fd_, SOL_IP, IP_RECVERR, &on, sizeof(on));
    sockaddr_in addr = media::Endpoint::Parse("127.0.0.1:0")->ToSockaddr();
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    local_ = media::Endpoint::FromSockaddr(addr);
  }
  ~Socket() { close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const { return fd_; }
  const media::Endpoint& local() const { return local_; }

  // Reads until `count` datagrams came or nothing came for a second.
  std::vector<std::vector<uint8_t>> Receive(size_t count) {
    std::vector<std::vector<uint8_t>> got;
    uint8_t buffer[2048];
    for (int polls = 0; polls < 100 && got.size() < count; ++polls) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 10) <= 0) continue;
      for (ssize_t n; got.size() < count &&
                      (n = recv(fd_, buffer, sizeof(buffer), 0)) >= 0;) {
        got.emplace_back(buffer, buffer + n);
      }
    }
    return got;
  }

 private:
  const int fd_;
  media::Endpoint local_;
};

// Packet `i` of a stream: frames of 10, the last of each short (the GSO
// shape), starting with its number.
std::vector<uint8_t> Packet(int i) {
  std::vector<uint8_t> p((i % 10 == 9) ? 300 : 1200, static_cast<uint8_t>(i));
  p[1] = static_cast<uint8_t>(i >> 8);
  return p;
}

std::unique_ptr<UringSender> Ring(int fd) {
  absl::StatusOr<std::unique_ptr<UringSender>> ring = UringSender::Create(fd);
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? *std::move(ring) : nullptr;
}

TEST(UringSenderTest, InterleavedSendsArriveInOrderAsGsoMessages) {
  Socket sender;
  std::vector<std::unique_ptr<Socket>> receivers;
  for (int r = 0; r < 3; ++r) receivers.push_back(std::make_unique<Socket>());
  std::unique_ptr<UringSender> ring = Ring(sender.fd());
  ASSERT_NE(ring, nullptr);
  BatchSender batch(sender.fd(), ring.get());
  constexpr int kPackets = 20;
  std::vector<std::vector<uint8_t>> packets;
  for (int i = 0; i < kPackets; ++i) packets.push_back(Packet(i));
  for (int i = 0; i < kPackets; ++i) {
    for (const auto& r : receivers) {
      batch.Queue(r->local(), packets[i].data(), packets[i].size());
    }
  }
  batch.Flush();

  // Each receiver's 20 packets: two frames, each one GSO message.
  EXPECT_EQ(batch.counters().datagrams_sent, 3u * kPackets);
  EXPECT_EQ(batch.counters().gso_messages, 6u);
  EXPECT_EQ(batch.counters().send_calls, 1u);
  EXPECT_EQ(batch.counters().send_errors, 0u);
  EXPECT_FALSE(ring->broken());
  for (const auto& r : receivers) {
    std::vector<std::vector<uint8_t>> got = r->Receive(kPackets);
    ASSERT_EQ(got.size(), static_cast<size_t>(kPackets));
    for (int i = 0; i < kPackets; ++i) EXPECT_EQ(got[i], packets[i]) << i;
  }
}

TEST(UringSenderTest, FlushLargerThanTheRingGoesOutInOrder) {
  Socket sender;
  std::vector<std::unique_ptr<Socket>> receivers;
  for (int r = 0; r < 8; ++r) receivers.push_back(std::make_unique<Socket>());
  std::unique_ptr<UringSender> ring = Ring(sender.fd());
  ASSERT_NE(ring, nullptr);
  BatchSender batch(sender.fd(), ring.get());
  batch.set_gso_enabled(false);  // one message per packet
  constexpr int kPackets = 150;  // 8 * 150 messages: two submissions
  std::vector<std::vector<uint8_t>> packets;
  for (int i = 0; i < kPackets; ++i)
    packets.push_back({static_cast<uint8_t>(i), 7, 7});
  for (int i = 0; i < kPackets; ++i) {
    for (const auto& r : receivers)
      batch.Queue(r->local(), packets[i].data(), 3);
  }
  batch.Flush();

  EXPECT_EQ(batch.counters().datagrams_sent, 8u * kPackets);
  EXPECT_EQ(batch.counters().send_calls, 2u);
  EXPECT_EQ(batch.counters().gso_messages, 0u);
  for (const auto& r : receivers) {
    std::vector<std::vector<uint8_t>> got = r->Receive(kPackets);
    ASSERT_EQ(got.size(), static_cast<size_t>(kPackets));
    for (int i = 0; i < kPackets; ++i) EXPECT_EQ(got[i], packets[i]) << i;
  }
}

// Port 0 is refused by the kernel at once; a closed port by ICMP, whose
// report takes the place of the next send's result. Neither costs the live
// destination a packet, and neither ends the sender.
TEST(UringSenderTest, RefusedDestinationsAreCountedNotFatal) {
  Socket sender, live;
  media::Endpoint dead;
  {
    Socket gone;
    dead = gone.local();
  }
  media::Endpoint port_zero = live.local();
  port_zero.port = 0;
  std::unique_ptr<UringSender> ring = Ring(sender.fd());
  ASSERT_NE(ring, nullptr);
  BatchSender batch(sender.fd(), ring.get());
  // Two messages to `live`: a GSO run cut by the short packet, then one.
  const std::vector<uint8_t> a = Packet(1), short_one = Packet(9),
                             b = Packet(2);

  batch.Queue(dead, a.data(), a.size());
  batch.Flush();
  pollfd p{sender.fd(), POLLERR, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1) << "no ICMP report";
  batch.Queue(live.local(), a.data(), a.size());
  batch.Queue(port_zero, a.data(), a.size());
  batch.Queue(live.local(), short_one.data(), short_one.size());
  batch.Queue(live.local(), b.data(), b.size());
  batch.Flush();

  EXPECT_EQ(batch.counters().send_errors, 1u);  // port 0
  EXPECT_EQ(batch.counters().datagrams_sent, 4u);
  EXPECT_FALSE(ring->broken());
  std::vector<std::vector<uint8_t>> got = live.Receive(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], a);
  EXPECT_EQ(got[1], short_one);
  EXPECT_EQ(got[2], b);
}

TEST(UringSenderTest, SendmmsgPathHasNoRing) {
  EXPECT_EQ(UringSender::CreateOrFallBack(SendPath::kSendmmsg, 0), nullptr);
}

}  // namespace
}  // namespace cascade::relay
