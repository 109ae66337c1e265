#include "tools/relayctl/relayctl.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>

namespace cascade::relayctl {
namespace {

TEST(RelayctlTest, UsageErrorsExitTwoWithOneLine) {
  Options options;
  std::ostringstream out, err;
  EXPECT_EQ(relayctl::Run(options, {}, out, err), kExitUsage);
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"frobnicate"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(),
            "relayctl: unknown command \"frobnicate\" (relayctl --help lists "
            "them)\n");
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"show"}, out, err), kExitUsage);
  EXPECT_EQ(relayctl::Run(options, {"move", "a", "b"}, out, err), kExitUsage);
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"move", "a"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(), "relayctl: move: --parent is required\n");
  // token revoke: a token id or --operator, one of them.
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"token", "revoke"}, out, err), kExitUsage);
  EXPECT_EQ(
      err.str(),
      "relayctl: token revoke: give a token ID or --operator=NAME (one of "
      "the two)\n");
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"token", "revoke", "a", "b"}, out, err),
            kExitUsage);
  EXPECT_EQ(err.str(),
            "relayctl: token revoke: usage: relayctl token revoke [ID] "
            "[--operator=NAME]\n");
  // pki revoke: a certificate file or --serial, one of them.
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"pki", "revoke"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(),
            "relayctl: pki revoke: give the certificate's file (CERT.pem) or "
            "--serial=HEX\n");
  Options by_serial = options;
  by_serial.serial = "0a:1b";
  EXPECT_EQ(relayctl::Run(by_serial, {"pki", "revoke", "a.pem"}, out, err),
            kExitUsage);
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"pki", "revoke", "/nonexistent/a.pem"},
                          out, err),
            kExitUsage);
  EXPECT_NE(err.str().find("/nonexistent/a.pem"), std::string::npos)
      << err.str();
  EXPECT_FALSE(CommandHelp("pki revoke").empty());
  // url: a site or --center; rotate-edge-key takes nothing.
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"url"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(), "relayctl: url: give a SITE, or --center\n");
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"url", "s1", "s2"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(),
            "relayctl: url: usage: relayctl url SITE [--publish] [--ttl=D] | "
            "--center [--publish] [SITE]\n");
  Options negative = options;
  negative.ttl = -absl::Seconds(1);
  err.str("");
  EXPECT_EQ(relayctl::Run(negative, {"url", "s1"}, out, err), kExitUsage);
  EXPECT_EQ(err.str(), "relayctl: url: --ttl must not be negative\n");
  EXPECT_EQ(relayctl::Run(options, {"rotate-edge-key", "x"}, out, err),
            kExitUsage);
  EXPECT_FALSE(CommandHelp("url").empty());
  EXPECT_FALSE(CommandHelp("rotate-edge-key").empty());
  // rotate-keys: one relay or none (every relay).
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"rotate-keys", "a", "b"}, out, err),
            kExitUsage);
  EXPECT_EQ(err.str(),
            "relayctl: rotate-keys: usage: relayctl rotate-keys [NODE]\n");
  EXPECT_NE(CommandHelp("rotate-keys")
                .find("keep accepting the key before for 10 minutes"),
            std::string::npos);
  EXPECT_TRUE(out.str().empty());
}

// A port the kernel chose, bound but never listening: every connection is
// refused. Closed by the destructor.
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    EXPECT_GE(fd_, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
              0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length),
              0);
    address_ = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  ~RefusingPort() { close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_;
  std::string address_;
};

TEST(RelayctlTest, UnreachableControllerFailsWithExitOne) {
  RefusingPort port;
  Options options;
  options.controller = port.address();
  options.timeout = absl::Seconds(2);
  std::ostringstream out, err;
  EXPECT_EQ(relayctl::Run(options, {"nodes"}, out, err), kExitFailed);
  EXPECT_NE(err.str().find("unreachable"), std::string::npos) << err.str();
}

TEST(RelayctlTest, ControllerListIsTriedWithinTheTimeout) {
  RefusingPort first, second;
  Options options;
  options.controller = first.address() + "," + second.address();
  options.timeout = absl::Seconds(1);
  std::ostringstream out, err;
  const absl::Time start = absl::Now();
  EXPECT_EQ(relayctl::Run(options, {"failover", "x"}, out, err), kExitFailed);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_NE(err.str().find(options.controller + " unreachable"),
            std::string::npos)
      << err.str();
  EXPECT_NE(err.str().find("cannot connect to 127.0.0.1:"), std::string::npos)
      << err.str();

  options.controller = first.address() + ",,x:1";
  err.str("");
  EXPECT_EQ(relayctl::Run(options, {"nodes"}, out, err), kExitUsage);
  EXPECT_NE(err.str().find("relayctl: --controller: empty controller address"),
            std::string::npos)
      << err.str();
}

TEST(RelayctlTest, EveryCommandHasHelp) {
  for (const char* command :
       {"tree", "nodes", "show", "apply", "add", "remove", "move", "drain",
        "failover", "restore", "select", "release", "stats", "events", "sdp"}) {
    EXPECT_TRUE(IsCommand(command)) << command;
    EXPECT_NE(CommandHelp(command).find(std::string("relayctl")),
              std::string::npos);
  }
  EXPECT_EQ(CommandHelp("nope"), "");
}

}  // namespace
}  // namespace cascade::relayctl
