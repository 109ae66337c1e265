#include "tools/sim/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"

namespace cascade::sim {
namespace {

TEST(MetricSumTest, SumsEveryLabelSetOfOneName) {
  const std::string text =
      "# HELP relay_drops_total Drops.\n"
      "relay_drops_total{kind=\"rtp\",reason=\"bad\"} 3\n"
      "relay_drops_total{kind=\"rtcp\",reason=\"x\"} 4\n"
      "relay_drops_total_extra 100\n"
      "relay_children 7\n";
  EXPECT_EQ(MetricSum(text, "relay_drops_total"), 7);
  EXPECT_EQ(MetricSum(text, "relay_children"), 7);
  EXPECT_EQ(MetricSum(text, "relay_missing"), 0);
  EXPECT_EQ(MetricSum("relay_children not-a-number\n", "relay_children"), 0);
}

// A one-shot HTTP server on 127.0.0.1 (kernel-chosen port) answering `reply`.
class OneShotServer {
 public:
  explicit OneShotServer(std::string reply) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
              0);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    listen(fd_, 1);
    thread_ = std::thread([this, reply] {
      int client = accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      char buffer[1024];
      recv(client, buffer, sizeof(buffer), 0);
      send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      close(client);
    });
  }
  ~OneShotServer() {
    thread_.join();
    close(fd_);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_;
  int port_ = 0;
  std::thread thread_;
};

TEST(HttpGetTest, ReturnsTheBodyOfA200) {
  OneShotServer server(
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
      "relay_children 2\n");
  auto body = HttpGet(server.address(), "/metrics", absl::Seconds(5));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "relay_children 2\n");
}

TEST(HttpGetTest, RefusesOtherStatusesAndBadAddresses) {
  OneShotServer server("HTTP/1.0 404 Not Found\r\n\r\nnope");
  EXPECT_FALSE(HttpGet(server.address(), "/metrics", absl::Seconds(5)).ok());
  EXPECT_FALSE(HttpGet("localhost:80", "/", absl::Seconds(1)).ok());
  EXPECT_FALSE(HttpGet("127.0.0.1:0", "/", absl::Seconds(1)).ok());
}

}  // namespace
}  // namespace cascade::sim
