#include "relay/fanout_loops.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "tests/common/wait.h"

namespace cascade::relay {
namespace {

using ::cascade::testing::kWaitTimeout;
using ::cascade::testing::WaitUntil;

const media::Endpoint kAnyLoopback = *media::Endpoint::Parse("127.0.0.1:0");

// Children: sockets that record the first byte pair (a packet number) of
// every datagram they read.
class Children {
 public:
  Children(size_t count, PacketPool* pool) {
    for (size_t i = 0; i < count; ++i) {
      auto socket = UdpSocket::Open(kAnyLoopback, pool);
      EXPECT_TRUE(socket.ok()) << socket.status();
      sockets_.push_back(*std::move(socket));
      addresses_->push_back(sockets_.back()->local());
    }
    got_.resize(count);
  }

  std::shared_ptr<const FanoutList> list() const { return addresses_; }

  // Reads what has arrived; true once every child has `count` packets.
  bool Have(size_t count) {
    std::vector<UdpSocket::Received> batch;
    for (size_t i = 0; i < sockets_.size(); ++i) {
      bool errors_pending = false;
      while (sockets_[i]->ReceiveBatch(&batch, &errors_pending)) {
        for (const UdpSocket::Received& r : batch) {
          got_[i].push_back(r.packet.data()[0] << 8 | r.packet.data()[1]);
        }
      }
    }
    for (const std::vector<int>& got : got_) {
      if (got.size() < count) return false;
    }
    return true;
  }
  const std::vector<std::vector<int>>& got() const { return got_; }

 private:
  std::vector<std::unique_ptr<UdpSocket>> sockets_;
  std::shared_ptr<FanoutList> addresses_ = std::make_shared<FanoutList>();
  std::vector<std::vector<int>> got_;
};

PacketRef Numbered(PacketPool& pool, int number) {
  PacketRef p = pool.Acquire();
  p.buffer()[0] = static_cast<uint8_t>(number >> 8);
  p.buffer()[1] = static_cast<uint8_t>(number);
  p.set_size(200);
  return p;
}

// Sends `packets` numbered packets to every child, flushing every `per_flush`.
void SendNumbered(FanoutLoops& fanout, PacketPool& pool,
                  const std::shared_ptr<const FanoutList>& to, int packets,
                  int per_flush) {
  for (int n = 0; n < packets; ++n) {
    fanout.SendToAll(to, Numbered(pool, n));
    if (n % per_flush == per_flush - 1) fanout.Flush();
  }
  fanout.Flush();
}

class FanoutLoopsPathTest : public ::testing::TestWithParam<SendPath> {};

TEST_P(FanoutLoopsPathTest,
       EveryChildGetsEveryPacketInOrderFromSeveralThreads) {
  PacketPool pool(1 << 14);
  auto socket = UdpSocket::Open(kAnyLoopback, &pool, GetParam());
  ASSERT_TRUE(socket.ok());
  Children children(40, &pool);
  FanoutLoops fanout(socket->get(), {.loops = 3, .min_children_per_loop = 1});
  ASSERT_EQ(fanout.loops(), 3);
  constexpr int kPackets = 300;
  SendNumbered(fanout, pool, children.list(), kPackets, 7);

  ASSERT_TRUE(WaitUntil("every child has every packet", kWaitTimeout,
                        [&] { return children.Have(kPackets); }));
  for (const std::vector<int>& got : children.got()) {
    ASSERT_EQ(got.size(), static_cast<size_t>(kPackets));
    for (int n = 0; n < kPackets; ++n) ASSERT_EQ(got[n], n);
  }
  // Each thread sent a third of every fan-out; the counts are exact once
  // every job is back.
  ASSERT_TRUE(WaitUntil("the send threads' jobs are back", kWaitTimeout, [&] {
    fanout.Flush();
    return fanout.send_loop_counters().datagrams_sent == kPackets * (40u - 13u);
  }));
  EXPECT_EQ(fanout.own_share_counters().datagrams_sent, kPackets * 13u);
  EXPECT_EQ(fanout.send_loop_counters().send_errors, 0u);
  EXPECT_EQ(fanout.shares_taken_back(), 0u);
}

INSTANTIATE_TEST_SUITE_P(BothSendPaths, FanoutLoopsPathTest,
                         ::testing::Values(SendPath::kSendmmsg,
                                           SendPath::kIoUring));

TEST(FanoutLoopsTest, FewChildrenStayOnTheRelaysOwnLoop) {
  PacketPool pool(1 << 12);
  auto socket = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(socket.ok());
  Children children(20, &pool);
  FanoutLoops fanout(socket->get(), {.loops = 4, .min_children_per_loop = 32});
  SendNumbered(fanout, pool, children.list(), 50, 5);

  ASSERT_TRUE(WaitUntil("every child has every packet", kWaitTimeout,
                        [&] { return children.Have(50); }));
  EXPECT_EQ(fanout.own_share_counters().datagrams_sent, 50u * 20u);
  EXPECT_EQ(fanout.send_loop_counters().datagrams_sent, 0u);
}

// A list of 64 children at 32 per thread uses two of the four threads.
TEST(FanoutLoopsTest, ThreadsAreUsedOnlyAsFarAsTheListFillsThem) {
  PacketPool pool(1 << 12);
  auto socket = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(socket.ok());
  Children children(64, &pool);
  FanoutLoops fanout(socket->get(), {.loops = 4, .min_children_per_loop = 32});
  SendNumbered(fanout, pool, children.list(), 20, 20);
  ASSERT_TRUE(WaitUntil("every child has every packet", kWaitTimeout,
                        [&] { return children.Have(20); }));
  ASSERT_TRUE(WaitUntil("the send threads' jobs are back", kWaitTimeout, [&] {
    fanout.Flush();
    return fanout.send_loop_counters().datagrams_sent == 20u * 32u;
  }));
  EXPECT_EQ(fanout.own_share_counters().datagrams_sent, 20u * 32u);
}

// Each child's packets of a flush leave together, as one GSO message, with no
// sort: a frame of 7 equal packets to 20 children is 20 messages in one call.
TEST(FanoutLoopsTest, EachChildsPacketsOfAFlushLeaveAsOneGsoMessage) {
  PacketPool pool(1 << 12);
  auto socket = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(socket.ok());
  Children children(20, &pool);
  FanoutLoops fanout(socket->get(), {.loops = 1});
  SendNumbered(fanout, pool, children.list(), 7, 7);
  ASSERT_TRUE(WaitUntil("every child has the frame", kWaitTimeout,
                        [&] { return children.Have(7); }));
  for (const std::vector<int>& got : children.got()) {
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
  }
  EXPECT_EQ(fanout.own_share_counters().datagrams_sent, 140u);
  EXPECT_EQ(fanout.own_share_counters().gso_messages, 20u);
  EXPECT_EQ(fanout.own_share_counters().send_calls, 1u);
}

// A packet sent to one child (the keyframe cache for a child that just
// joined) leaves before the fan-out of the same flush, on whichever thread
// the child's share is.
TEST(FanoutLoopsTest, SingleSendsLeaveBeforeTheFanoutOfTheSameFlush) {
  PacketPool pool(1 << 12);
  auto socket = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(socket.ok());
  Children children(2, &pool);
  FanoutLoops fanout(socket->get(), {.loops = 2, .min_children_per_loop = 1});
  for (int round = 0; round < 20; ++round) {
    fanout.SendToAll(children.list(), Numbered(pool, 2 * round + 1));
    for (const media::Endpoint& child : *children.list()) {
      fanout.Send(child, Numbered(pool, 2 * round));
    }
    fanout.Flush();
    ASSERT_TRUE(WaitUntil("both children have the round", kWaitTimeout,
                          [&] { return children.Have(2 * round + 2); }));
  }
  for (const std::vector<int>& got : children.got()) {
    for (int n = 0; n < 40; ++n) ASSERT_EQ(got[n], n);
  }
}

// Destroyed with jobs still queued or being sent: the threads are joined
// before the packets are dropped, and every slot goes back to the pool.
TEST(FanoutLoopsTest, DestroyedMidFlightReturnsEveryPacket) {
  PacketPool pool(1 << 14);
  auto socket = UdpSocket::Open(kAnyLoopback, &pool);
  ASSERT_TRUE(socket.ok());
  Children children(64, &pool);
  const size_t children_slots = pool.allocated_slots() - pool.free_slots();
  {
    FanoutLoops fanout(socket->get(), {.loops = 4, .min_children_per_loop = 1});
    for (int n = 0; n < 2000; ++n) {
      fanout.SendToAll(children.list(), Numbered(pool, n));
      if (n % 10 == 9) fanout.Flush();
    }
  }
  EXPECT_EQ(pool.allocated_slots() - pool.free_slots(), children_slots);
}

}  // namespace
}  // namespace cascade::relay
