#include "relay/udp_socket.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <tuple>
#include <vector>

namespace cascade::relay {
namespace {

const media::Endpoint kAnyLoopback = *media::Endpoint::Parse("127.0.0.1:0");

// Receives until `count` datagrams arrived or a second passed.
std::vector<UdpSocket::Received> ReceiveAll(UdpSocket& socket, size_t count) {
  std::vector<UdpSocket::Received> all, batch;
  for (int polls = 0; polls < 100 && all.size() < count; ++polls) {
    pollfd p{socket.fd(), POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    bool errors_pending = false;
    while (socket.ReceiveBatch(&batch, &errors_pending)) {
      for (auto& r : batch) all.push_back(std::move(r));
    }
  }
  return all;
}

PacketRef Filled(PacketPool& pool, size_t size, uint8_t tag) {
  PacketRef p = pool.Acquire();
  for (size_t i = 0; i < size; ++i)
    p.buffer()[i] = static_cast<uint8_t>(tag + i);
  p.set_size(size);
  return p;
}

// GSO on or off, on either send path.
class UdpSocketTest
    : public ::testing::TestWithParam<std::tuple<bool, SendPath>> {};

// Interleaved sends to two receivers, with equal sizes and a short last one
// (the GSO shape): every datagram arrives intact and in order per receiver.
TEST_P(UdpSocketTest, BatchedSendsArriveIntactAndInOrder) {
  const auto [gso, send_path] = GetParam();
  PacketPool pool(1024);
  auto sender = UdpSocket::Open(kAnyLoopback, &pool, send_path);
  auto a = UdpSocket::Open(kAnyLoopback, &pool);
  auto b = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(sender.ok() && a.ok() && b.ok());
  EXPECT_EQ((*sender)->uring() != nullptr, send_path == SendPath::kIoUring);
  (*sender)->set_gso_enabled(gso);
  constexpr int kPackets = 100;
  for (int i = 0; i < kPackets; ++i) {
    const size_t size = (i % 10 == 9) ? 300 : 1200;  // frames of 10
    PacketRef p = Filled(pool, size, static_cast<uint8_t>(i));
    (*sender)->Send((*a)->local(), p);
    (*sender)->Send((*b)->local(), p);
  }
  (*sender)->Flush();
  EXPECT_EQ((*sender)->counters().datagrams_sent, 2u * kPackets);
  if (gso) {
    EXPECT_TRUE((*sender)->gso_enabled()) << "GSO refused on loopback";
    EXPECT_GT((*sender)->counters().gso_messages, 0u);
  }
  for (UdpSocket* receiver : {a->get(), b->get()}) {
    auto got = ReceiveAll(*receiver, kPackets);
    ASSERT_EQ(got.size(), static_cast<size_t>(kPackets));
    for (int i = 0; i < kPackets; ++i) {
      const size_t size = (i % 10 == 9) ? 300 : 1200;
      ASSERT_EQ(got[i].packet.size(), size) << i;
      EXPECT_EQ(got[i].packet.bytes()[0], static_cast<uint8_t>(i));
      EXPECT_EQ(got[i].packet.bytes()[size - 1],
                static_cast<uint8_t>(i + size - 1));
      EXPECT_EQ(got[i].from, (*sender)->local());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    GsoOnAndOff, UdpSocketTest,
    ::testing::Combine(::testing::Bool(),
                       ::testing::Values(SendPath::kSendmmsg,
                                         SendPath::kIoUring)));

TEST(UdpSocketOversizeTest, DatagramLargerThanASlotIsCountedAndSkipped) {
  PacketPool pool(256);
  auto receiver = UdpSocket::Open(kAnyLoopback, &pool);
  auto sender = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(receiver.ok() && sender.ok());
  std::vector<uint8_t> huge(kPacketCapacity + 100, 1);
  sockaddr_in to = (*receiver)->local().ToSockaddr();
  ASSERT_EQ(sendto((*sender)->fd(), huge.data(), huge.size(), 0,
                   reinterpret_cast<sockaddr*>(&to), sizeof(to)),
            static_cast<ssize_t>(huge.size()));
  PacketRef small = Filled(pool, 50, 9);
  (*sender)->Send((*receiver)->local(), small);
  (*sender)->Flush();
  auto got = ReceiveAll(**receiver, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].packet.size(), 50u);
  EXPECT_EQ((*receiver)->counters().recv_truncated, 1u);
}

// The address of a port nothing listens on any more.
media::Endpoint ClosedPort(PacketPool& pool) {
  auto gone = UdpSocket::Open(kAnyLoopback, &pool);
  EXPECT_TRUE(gone.ok());
  return (*gone)->local();  // closed as `gone` goes
}

// A packet to a closed port comes back as ICMP port unreachable: reported by
// ReceiveErrors with the address, while the error the kernel also leaves
// for the next call costs no packet to anyone else, sent or received.
class UdpSocketErrorTest : public ::testing::TestWithParam<SendPath> {};

TEST_P(UdpSocketErrorTest, ClosedPortIsReportedAndCostsNoOtherPacket) {
  PacketPool pool(256);
  auto sender = UdpSocket::Open(kAnyLoopback, &pool, GetParam());
  auto live = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(sender.ok() && live.ok());
  const media::Endpoint dead = ClosedPort(pool);

  auto report_arrives = [&] {
    pollfd p{(*sender)->fd(), POLLPRI, 0};
    return poll(&p, 1, 2000) == 1 && (p.revents & POLLPRI) != 0;
  };
  // Sending after the report: the pending error is the next send's.
  (*sender)->Send(dead, Filled(pool, 40, 1));
  (*sender)->Flush();
  ASSERT_TRUE(report_arrives());
  (*sender)->Send((*live)->local(), Filled(pool, 40, 2));
  (*sender)->Flush();
  // Receiving after the report: the pending error is the next receive's.
  (*sender)->Send(dead, Filled(pool, 40, 3));
  (*sender)->Flush();
  ASSERT_TRUE(report_arrives());
  (*live)->Send((*sender)->local(), Filled(pool, 40, 4));
  (*live)->Flush();

  EXPECT_EQ((*sender)->counters().send_errors, 0u);
  EXPECT_EQ(ReceiveAll(**live, 1).size(), 1u);
  auto back = ReceiveAll(**sender, 1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].packet.bytes()[0], 4);
  std::vector<media::Endpoint> unreachable;
  (*sender)->ReceiveErrors(&unreachable);
  EXPECT_EQ(unreachable, (std::vector<media::Endpoint>{dead, dead}));
  EXPECT_EQ((*sender)->counters().unreachable, 2u);
  // Read: nothing more to report.
  pollfd p{(*sender)->fd(), POLLPRI, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
}

INSTANTIATE_TEST_SUITE_P(BothSendPaths, UdpSocketErrorTest,
                         ::testing::Values(SendPath::kSendmmsg,
                                           SendPath::kIoUring));

TEST(UdpSocketOpenTest, ReportsTheKernelChosenPort) {
  PacketPool pool(8);
  auto s = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(s.ok());
  EXPECT_NE((*s)->local().port, 0);
  auto clash = UdpSocket::Open((*s)->local(), &pool);
  EXPECT_FALSE(clash.ok());
}

}  // namespace
}  // namespace cascade::relay
