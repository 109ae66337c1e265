// The proxy on a loop thread of its own, between real TCP clients and a real
// echo server on 127.0.0.1: bytes intact, never before their delay (only
// lower bounds are asserted; upper ones are generous bounded waits), both
// directions, many connections, a target that is not there, the memory cap.
#include "tools/impair/tcp_delay/tcp_delay_proxy.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tools/impair/tcp_delay/echo_server.h"

namespace cascade {
namespace {

using testing_tcp::Client;
using testing_tcp::Clock;
using testing_tcp::EchoServer;
using testing_tcp::Pattern;

constexpr absl::Duration kWait = absl::Seconds(20);

std::chrono::milliseconds Ms(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

// The proxy on its own loop and thread; destroyed on that thread.
class ProxyThread {
 public:
  explicit ProxyThread(const TcpDelayOptions& options) {
    uv_loop_init(&loop_);
    absl::StatusOr<std::unique_ptr<TcpDelayProxy>> proxy =
        TcpDelayProxy::Create(&loop_, options);
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    if (proxy.ok()) proxy_ = std::move(*proxy);
    uv_async_init(&loop_, &stop_, [](uv_async_t* async) {
      static_cast<ProxyThread*>(async->data)->proxy_.reset();
      uv_close(reinterpret_cast<uv_handle_t*>(async), nullptr);
    });
    stop_.data = this;
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }
  ~ProxyThread() {
    uv_async_send(&stop_);
    thread_.join();
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  int port() const { return proxy_->listen_address().port(); }
  TcpDelayCounters counters() const { return proxy_->counters(); }
  // Waits (bounded) until `check(counters())` holds.
  template <typename Check>
  bool WaitFor(const Check& check) const {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      if (check(counters())) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return check(counters());
  }

 private:
  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<TcpDelayProxy> proxy_;
  std::thread thread_;
};

TcpDelayOptions Options(const std::string& target, absl::Duration to_target,
                        absl::Duration to_client = absl::ZeroDuration()) {
  TcpDelayOptions options;
  options.listen = *SocketAddress::Parse("127.0.0.1:0");
  options.target = *SocketAddress::Parse(target);
  options.to_target_delay = to_target;
  options.to_client_delay = to_client;
  return options;
}

TEST(TcpDelayProxyTest, RequestsArriveIntactAndNotBeforeTheDelay) {
  constexpr absl::Duration kDelay = absl::Milliseconds(300);
  EchoServer server;
  ProxyThread proxy(Options(server.address(), kDelay));
  Client client(proxy.port());
  ASSERT_TRUE(client.connected());
  // Larger than a read, so it crosses in several chunks.
  const std::string data = Pattern(300 << 10, 1);
  const Clock::time_point sent = Clock::now();
  ASSERT_TRUE(client.Send(data));
  client.ShutdownWrite();
  const std::string back = client.Read(data.size() + 1, kWait);
  const Clock::time_point echoed = Clock::now();
  EXPECT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data) << "the echo differs from what was sent";
  // The end of stream went through too: the server ended its side.
  EXPECT_TRUE(client.WaitForEnd(kWait));
  std::vector<EchoServer::Seen> seen = server.connections();
  ASSERT_EQ(seen.size(), 1u);
  ASSERT_TRUE(seen[0].first_byte.has_value());
  EXPECT_GE(*seen[0].first_byte - sent, Ms(kDelay));
  EXPECT_GE(echoed - sent, Ms(kDelay));
  EXPECT_EQ(seen[0].bytes, data.size());
  EXPECT_TRUE(proxy.WaitFor([&](const TcpDelayCounters& c) {
    return c.open == 0 && c.bytes_to_client == data.size();
  })) << FormatCounters(proxy.counters());
  const TcpDelayCounters counters = proxy.counters();
  EXPECT_EQ(counters.accepted, 1u);
  EXPECT_EQ(counters.bytes_to_target, data.size());
  EXPECT_EQ(counters.errors, 0u);
  EXPECT_GT(counters.max_held_bytes, 0u);
}

// Each chunk is held from its own read: a later request is held as long,
// counted from when it was sent.
TEST(TcpDelayProxyTest, EveryRequestIsHeld) {
  constexpr absl::Duration kDelay = absl::Milliseconds(200);
  EchoServer server;
  ProxyThread proxy(Options(server.address(), kDelay));
  Client client(proxy.port());
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    const std::string request = Pattern(100, i);
    const Clock::time_point sent = Clock::now();
    ASSERT_TRUE(client.Send(request));
    EXPECT_EQ(client.Read(request.size(), kWait), request) << i;
    EXPECT_GE(Clock::now() - sent, Ms(kDelay)) << i;
  }
}

// By default what the target sends passes at once; with to_client_delay it
// is held too, so a round trip takes both delays.
TEST(TcpDelayProxyTest, BothDirections) {
  constexpr absl::Duration kDelay = absl::Milliseconds(250);
  EchoServer server("hello from the target");
  {
    ProxyThread proxy(Options(server.address(), kDelay));
    Client client(proxy.port());
    ASSERT_TRUE(client.connected());
    EXPECT_EQ(client.Read(21, kWait), "hello from the target");
  }
  ProxyThread proxy(Options(server.address(), kDelay, kDelay));
  Client client(proxy.port());
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.Read(21, kWait), "hello from the target");
  const Clock::time_point greeted_at = Clock::now();
  std::vector<EchoServer::Seen> seen = server.connections();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_GE(greeted_at - seen[1].greeted, Ms(kDelay));
  const std::string request = Pattern(5000, 7);
  const Clock::time_point sent = Clock::now();
  ASSERT_TRUE(client.Send(request));
  EXPECT_EQ(client.Read(request.size(), kWait), request);
  EXPECT_GE(Clock::now() - sent, Ms(2 * kDelay));
}

TEST(TcpDelayProxyTest, ManyConnectionsAtOnce) {
  constexpr int kConnections = 40;
  constexpr absl::Duration kDelay = absl::Milliseconds(100);
  EchoServer server;
  ProxyThread proxy(Options(server.address(), kDelay));
  std::vector<std::thread> clients;
  std::vector<int> intact(kConnections, 0);
  for (int i = 0; i < kConnections; ++i) {
    clients.emplace_back([&, i] {
      Client client(proxy.port());
      if (!client.connected()) return;
      const std::string data = Pattern(20000 + 997 * i, 100 + i);
      // In pieces, so chunks of many connections interleave.
      for (size_t at = 0; at < data.size(); at += 4096) {
        if (!client.Send(data.substr(at, 4096))) return;
      }
      client.ShutdownWrite();
      const std::string back = client.Read(data.size() + 1, kWait);
      intact[i] = back == data && client.WaitForEnd(kWait) ? 1 : 0;
    });
  }
  for (std::thread& thread : clients) thread.join();
  for (int i = 0; i < kConnections; ++i) EXPECT_EQ(intact[i], 1) << i;
  EXPECT_TRUE(proxy.WaitFor([](const TcpDelayCounters& c) {
    return c.open == 0;
  })) << FormatCounters(proxy.counters());
  const TcpDelayCounters counters = proxy.counters();
  EXPECT_EQ(counters.accepted, static_cast<uint64_t>(kConnections));
  EXPECT_EQ(counters.errors, 0u);
  EXPECT_EQ(counters.closed_over_limit, 0u);
}

// A target nobody listens on: the client's connection is closed, counted.
TEST(TcpDelayProxyTest, ClosedTargetClosesTheClient) {
  // A port that was just free: bound, then closed.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  TcpDelayOptions options =
      Options(absl::StrCat("127.0.0.1:", ntohs(address.sin_port)),
              absl::Milliseconds(100));
  absl::Mutex mu;
  std::vector<std::string> log;
  options.log = [&](const std::string& line) {
    absl::MutexLock lock(&mu);
    log.push_back(line);
  };
  ProxyThread proxy(options);
  Client client(proxy.port());
  ASSERT_TRUE(client.connected());
  client.Send("anyone there?");  // may fail once the proxy closed it
  EXPECT_TRUE(client.WaitForEnd(kWait));
  EXPECT_TRUE(proxy.WaitFor([](const TcpDelayCounters& c) {
    return c.target_unreachable == 1 && c.open == 0;
  })) << FormatCounters(proxy.counters());
  EXPECT_EQ(proxy.counters().bytes_to_target, 0u);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("connection 1 from 127.0.0.1:"), std::string::npos)
      << log[0];
  EXPECT_NE(log[0].find("cannot connect to the target: connection refused"),
            std::string::npos)
      << log[0];
}

// More than max_held_bytes waiting for their time: the connection is closed
// on both sides and counted; nothing reached the target.
TEST(TcpDelayProxyTest, HoldingMoreThanTheCapClosesTheConnection) {
  EchoServer server;
  TcpDelayOptions options = Options(server.address(), absl::Seconds(5));
  options.max_held_bytes = 128 << 10;
  ProxyThread proxy(options);
  Client client(proxy.port());
  ASSERT_TRUE(client.connected());
  // Sent until the proxy closes (a send fails) or 4 MB went.
  for (int i = 0; i < 64 && client.Send(Pattern(64 << 10, i)); ++i) {
  }
  EXPECT_TRUE(client.WaitForEnd(kWait));
  EXPECT_TRUE(proxy.WaitFor([](const TcpDelayCounters& c) {
    return c.closed_over_limit == 1 && c.open == 0;
  })) << FormatCounters(proxy.counters());
  const TcpDelayCounters counters = proxy.counters();
  EXPECT_EQ(counters.bytes_to_target, 0u);
  EXPECT_LE(counters.max_held_bytes, options.max_held_bytes);
  // The proxy still serves new connections.
  TcpDelayOptions quick = Options(server.address(), absl::ZeroDuration());
  ProxyThread fresh(quick);
  Client again(fresh.port());
  ASSERT_TRUE(again.Send("still here"));
  EXPECT_EQ(again.Read(10, kWait), "still here");
}

TEST(TcpDelayProxyTest, BadOptionsAreRefused) {
  TcpDelayOptions options = Options("127.0.0.1:1", absl::Seconds(-1));
  EXPECT_FALSE(ValidateTcpDelayOptions(options).ok());
  options.to_target_delay = absl::Seconds(1);
  options.max_held_bytes = 10;
  EXPECT_FALSE(ValidateTcpDelayOptions(options).ok());
  options.max_held_bytes = 1 << 20;
  options.max_connections = 0;
  EXPECT_FALSE(ValidateTcpDelayOptions(options).ok());
  options.max_connections = 1;
  EXPECT_TRUE(ValidateTcpDelayOptions(options).ok());
}

}  // namespace
}  // namespace cascade
