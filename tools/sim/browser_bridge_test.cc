// The bridge between the test's network namespace and a private one, as
// relay-sim uses it: opened here, started on a thread that entered a
// private network (unshare moves the calling thread only, and the threads
// it starts), where the targets listen. The targets' ports exist only in
// there, so nothing reaches them but through the bridge.
#include "tools/sim/browser_bridge.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tools/impair/tcp_delay/echo_server.h"
#include "tools/sim/private_network.h"

namespace cascade::sim {
namespace {

using testing_tcp::Client;
using testing_tcp::EchoServer;

constexpr absl::Duration kWait = absl::Seconds(10);

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

int PortOf(const std::string& address) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port))
      << address;
  return port;
}

// A UDP socket on 127.0.0.1 of the namespace it is made in, bounded waits.
class UdpSocket {
 public:
  UdpSocket() : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in any = Loopback(0);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&any), sizeof(any)), 0);
    timeval timeout{0, 100000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~UdpSocket() { close(fd_); }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int port() const {
    sockaddr_in bound{};
    socklen_t length = sizeof(bound);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length);
    return ntohs(bound.sin_port);
  }
  void SendTo(int port, const std::string& data) const {
    sockaddr_in to = Loopback(port);
    EXPECT_EQ(sendto(fd_, data.data(), data.size(), 0,
                     reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(data.size()));
  }
  // The next datagram within `timeout` ("" if none), and where it came from.
  std::string Receive(absl::Duration timeout, sockaddr_in* from = nullptr) {
    const absl::Time deadline = absl::Now() + timeout;
    char buffer[1500];
    while (absl::Now() < deadline) {
      sockaddr_in source{};
      socklen_t length = sizeof(source);
      const ssize_t n = recvfrom(fd_, buffer, sizeof(buffer), 0,
                                 reinterpret_cast<sockaddr*>(&source), &length);
      if (n < 0) continue;
      if (from != nullptr) *from = source;
      return std::string(buffer, n);
    }
    return "";
  }
  int fd() const { return fd_; }

 private:
  const int fd_;
};

// Sends every datagram back to its source, "echo:" in front, and counts
// the distinct sources.
class UdpEcho {
 public:
  UdpEcho() : thread_([this] { Serve(); }) {}
  ~UdpEcho() {
    stop_ = true;
    thread_.join();
  }
  int port() const { return socket_.port(); }
  size_t sources() const {
    absl::MutexLock lock(&mu_);
    return sources_.size();
  }

 private:
  void Serve() {
    while (!stop_) {
      sockaddr_in from{};
      const std::string data = socket_.Receive(absl::Milliseconds(100), &from);
      if (data.empty()) continue;
      {
        absl::MutexLock lock(&mu_);
        sources_.insert(absl::StrCat(from.sin_addr.s_addr, ":", from.sin_port));
      }
      const std::string reply = "echo:" + data;
      sendto(socket_.fd(), reply.data(), reply.size(), 0,
             reinterpret_cast<sockaddr*>(&from), sizeof(from));
    }
  }

  UdpSocket socket_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> sources_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST(BrowserBridgeTest, ForwardsHttpAndMediaIntoAPrivateNetwork) {
  if (geteuid() != 0) GTEST_SKIP() << "a private network namespace needs root";
  std::unique_ptr<EchoServer> http;
  std::unique_ptr<UdpEcho> media;
  std::unique_ptr<BrowserBridge> bridge;
  absl::Notification targets_up;
  absl::Notification bridge_open;
  std::thread inside([&] {
    const absl::Status entered = EnterPrivateNetwork();
    EXPECT_TRUE(entered.ok()) << entered;
    if (entered.ok()) {
      http = std::make_unique<EchoServer>();
      media = std::make_unique<UdpEcho>();
    }
    targets_up.Notify();
    bridge_open.WaitForNotification();
    if (bridge != nullptr) bridge->Start();
  });
  targets_up.WaitForNotification();
  if (http != nullptr) {
    absl::StatusOr<std::unique_ptr<BrowserBridge>> opened = BrowserBridge::Open(
        {{http->address(), absl::StrCat("127.0.0.1:", media->port())}});
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) bridge = *std::move(opened);
  }
  bridge_open.Notify();
  inside.join();
  ASSERT_NE(bridge, nullptr);
  ASSERT_EQ(bridge->ends().size(), 1u);
  const BrowserBridge::Addresses& ends = bridge->ends()[0];
  EXPECT_EQ(ends.http.rfind("127.0.0.1:", 0), 0u) << ends.http;
  EXPECT_EQ(ends.media.rfind("127.0.0.1:", 0), 0u) << ends.media;

  // HTTP: both ways, on several connections.
  for (int i = 0; i < 3; ++i) {
    Client client(PortOf(ends.http));
    ASSERT_TRUE(client.connected());
    const std::string request = absl::StrCat("GET /watch/", i, " HTTP/1.1\r\n");
    ASSERT_TRUE(client.Send(request));
    EXPECT_EQ(client.Read(request.size(), kWait), request);
  }

  // Media: each browser address a peer of its own inside, answers back to
  // the right one.
  UdpSocket first;
  UdpSocket second;
  for (int round = 0; round < 2; ++round) {
    first.SendTo(PortOf(ends.media), "one");
    second.SendTo(PortOf(ends.media), "two");
    EXPECT_EQ(first.Receive(kWait), "echo:one");
    EXPECT_EQ(second.Receive(kWait), "echo:two");
  }
  EXPECT_EQ(media->sources(), 2u);

  // A target that is gone (a relay killed): the browser's connection is
  // closed, not left hanging.
  http.reset();
  Client refused(PortOf(ends.http));
  ASSERT_TRUE(refused.connected());
  EXPECT_TRUE(refused.WaitForEnd(kWait));
  bridge.reset();
  media.reset();
}

TEST(BrowserBridgeTest, ClosesWithoutStarting) {
  absl::StatusOr<std::unique_ptr<BrowserBridge>> bridge =
      BrowserBridge::Open({{"127.0.0.1:1", "127.0.0.1:2"}});
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  ASSERT_EQ((*bridge)->ends().size(), 1u);
  EXPECT_GT(PortOf((*bridge)->ends()[0].http), 0);
  EXPECT_GT(PortOf((*bridge)->ends()[0].media), 0);
  EXPECT_FALSE(BrowserBridge::Open({{"nowhere", "127.0.0.1:2"}}).ok());
}

}  // namespace
}  // namespace cascade::sim
