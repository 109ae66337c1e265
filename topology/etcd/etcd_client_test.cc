#include "topology/etcd/etcd_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cascade::topology::etcd {
namespace {

TEST(ParseEtcdUrlTest, AcceptsOneOrSeveralEndpoints) {
  auto one = ParseEtcdUrl("etcd://127.0.0.1:2379");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->endpoints, std::vector<std::string>{"127.0.0.1:2379"});
  EXPECT_EQ(one->scheme, "");
  auto three = ParseEtcdUrl("etcd://a:1,b:2,[::1]:3");
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->endpoints,
            (std::vector<std::string>{"a:1", "b:2", "[::1]:3"}));
}

TEST(ParseEtcdUrlTest, MembersMayNameTheirScheme) {
  auto tls = ParseEtcdUrl("etcd://https://a:1,https://b:2");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->endpoints, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(tls->scheme, "https");
  auto plain = ParseEtcdUrl("etcd://http://a:1");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->endpoints, std::vector<std::string>{"a:1"});
  EXPECT_EQ(plain->scheme, "http");
}

TEST(ParseEtcdUrlTest, RejectsMalformedUrlsNamingThePart) {
  for (const char* bad :
       {"", "127.0.0.1:2379", "http://a:1", "etcd://", "etcd://a", "etcd://a:0",
        "etcd://a:65536", "etcd://a:1,", "etcd://:1", "etcd://a:x",
        "etcd://https://", "etcd://ftp://a:1", "etcd://https://a:1,b:2",
        "etcd://a:1,https://b:2", "etcd://http://a:1,https://b:2"}) {
    auto parsed = ParseEtcdUrl(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_NE(ParseEtcdUrl("etcd://a:1,b").status().message().find("'b'"),
            std::string::npos);
  EXPECT_NE(ParseEtcdUrl("etcd://https://a:1,b:2")
                .status()
                .message()
                .find("same scheme"),
            std::string::npos);
}

TEST(PrefixEndTest, IsTheFirstKeyPastThePrefix) {
  EXPECT_EQ(PrefixEnd("/cascade/"), "/cascade0");
  EXPECT_EQ(PrefixEnd("a\xff"), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff")), std::string(1, '\0'));
}

TEST(EtcdClientTest, RejectsBadOptions) {
  EXPECT_FALSE(EtcdClient::Create({}).ok());
  EXPECT_FALSE(EtcdClient::Create({{"a:1"}, absl::ZeroDuration()}).ok());
  // TLS needs a CA (gRPC would trust the system's roots instead), and a
  // client certificate its key.
  EXPECT_FALSE(EtcdClient::Create({{"a:1"}, absl::Seconds(1), EtcdTls{}}).ok());
  EXPECT_FALSE(
      EtcdClient::Create({{"a:1"}, absl::Seconds(1), EtcdTls{"CA", "CERT", ""}})
          .ok());
  EXPECT_FALSE(
      EtcdClient::Create({{"a:1"}, absl::Seconds(1), EtcdTls{"CA", "", "KEY"}})
          .ok());
}

// A loopback port nobody listens on (the kernel chose it, then it was
// closed).
int ClosedLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(EtcdClientTest, NoMemberReachableIsUnavailableWithinTheDeadlines) {
  const std::string first = absl::StrCat("127.0.0.1:", ClosedLoopbackPort());
  const std::string second = absl::StrCat("127.0.0.1:", ClosedLoopbackPort());
  auto client = EtcdClient::Create({{first, second}, absl::Milliseconds(300)});
  ASSERT_TRUE(client.ok());
  const absl::Time start = absl::Now();
  etcdserverpb::RangeRequest request;
  request.set_key("k");
  auto answer = (*client)->Range(request);
  // Three attempts (each member, then the first again), each bounded.
  EXPECT_LT(absl::Now() - start, absl::Seconds(1) + absl::Milliseconds(500));
  ASSERT_EQ(answer.status().code(), absl::StatusCode::kUnavailable)
      << answer.status();
  EXPECT_NE(answer.status().message().find("Range"), std::string::npos);
  // Each failure moved the client on: it went round both members.
  EXPECT_EQ((*client)->CurrentEndpoint(), second);

  EtcdWatch watch(client->get(), "k", "", 0);
  auto events = watch.Next();
  EXPECT_EQ(events.status().code(), absl::StatusCode::kUnavailable);
  watch.Cancel();
  EXPECT_EQ(watch.Next().status().code(), absl::StatusCode::kCancelled);

  auto renewed = (*client)->LeaseKeepAlive(1, absl::Milliseconds(200));
  EXPECT_EQ(renewed.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace cascade::topology::etcd
