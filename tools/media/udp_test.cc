#include "tools/media/udp.h"

#include <gtest/gtest.h>

#include <vector>

#include "absl/time/clock.h"
#include "media/endpoint.h"

namespace cascade::media {
namespace {

TEST(ReceiverTest, ArrivalIsWhenTheKernelGotItNotWhenItWasRead) {
  absl::StatusOr<UdpFd> receiver =
      UdpFd::Open(Endpoint::Parse("127.0.0.1:0").value());
  absl::StatusOr<UdpFd> sender =
      UdpFd::Open(Endpoint::Parse("127.0.0.1:0").value());
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  ASSERT_TRUE(sender.ok()) << sender.status();
  const std::vector<uint8_t> payload = {1, 2, 3};
  const absl::Time sent = absl::Now();
  ASSERT_TRUE(sender->SendTo(receiver->local(), payload));
  // The reader runs late: the datagram waits in the socket meanwhile.
  absl::SleepFor(absl::Milliseconds(150));
  Receiver reader;
  std::vector<Receiver::Datagram> datagrams;
  ASSERT_EQ(reader.Receive(receiver->fd(), &datagrams), 1u);
  const absl::Time read = absl::Now();
  ASSERT_EQ(datagrams.size(), 1u);
  EXPECT_EQ(datagrams[0].from, sender->local());
  EXPECT_EQ(datagrams[0].data.size(), payload.size());
  EXPECT_GE(datagrams[0].arrival, sent);
  // Loopback delivers at once; the 150 ms are the reader's, not the
  // network's.
  EXPECT_GE(read - datagrams[0].arrival, absl::Milliseconds(150));
  EXPECT_LT(datagrams[0].arrival - sent, absl::Milliseconds(100));
}

TEST(ReceiverTest, NothingWaitingReadsNothing) {
  absl::StatusOr<UdpFd> fd =
      UdpFd::Open(Endpoint::Parse("127.0.0.1:0").value());
  ASSERT_TRUE(fd.ok()) << fd.status();
  Receiver reader;
  std::vector<Receiver::Datagram> datagrams;
  EXPECT_EQ(reader.Receive(fd->fd(), &datagrams), 0u);
  EXPECT_TRUE(datagrams.empty());
}

}  // namespace
}  // namespace cascade::media
