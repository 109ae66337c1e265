// A relay whose controller host vanishes from the network (no RST, no FIN:
// a cut link) leaves it within its keepalive (control::kControllerKeepalive
// plus the timeout), not when TCP gives up some 15 minutes later. The cut
// is a TCP relay in the test that stops moving bytes and keeps its sockets
// open; the relay's second controller address reaches the same topologyd
// directly.
#include <glog/logging.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "control/controllers.h"
#include "tests/common/wait.h"
#include "tests/topology/harness.h"

namespace cascade::topology {
namespace {

using cascade::testing::WaitUntil;
using testing::FakeRelay;
using testing::Topologyd;

constexpr char kTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 8 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "nat" media_address: "127.3.0.1:5004"
  capacity { max_children: 8 } }
)txt";

// Forwards TCP connections from its port to `target_port` on 127.0.0.1
// until Cut(): then it moves no byte more and closes nothing, as a
// vanished host would.
class CuttableRelay {
 public:
  explicit CuttableRelay(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = Loopback(0);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(listen_fd_, 16);
    socklen_t size = sizeof(address);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    accept_thread_ = std::thread([this] { Accept(); });
  }
  ~CuttableRelay() {
    stop_ = true;
    accept_thread_.join();
    absl::MutexLock lock(&mu_);
    for (std::thread& pump : pumps_) pump.join();
    for (int fd : fds_) close(fd);
    close(listen_fd_);
  }
  int port() const { return port_; }
  void Cut() { cut_ = true; }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    return address;
  }
  // Bounded by stop_, checked every 50 ms.
  void Accept() {
    while (!stop_) {
      pollfd ready{listen_fd_, POLLIN, 0};
      if (poll(&ready, 1, 50) <= 0) continue;
      const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      if (cut_) {  // a cut host answers nothing, a new connection neither
        absl::MutexLock lock(&mu_);
        fds_.push_back(client);
        continue;
      }
      const int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in target = Loopback(target_port_);
      if (connect(server, reinterpret_cast<sockaddr*>(&target),
                  sizeof(target)) != 0) {
        close(server);
        close(client);
        continue;
      }
      absl::MutexLock lock(&mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }
  void Pump(int a, int b) {
    char buffer[16384];
    while (!stop_) {
      if (cut_) {  // hold the sockets, move nothing
        usleep(50 * 1000);
        continue;
      }
      pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(fds, 2, 50) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t got = read(fds[i].fd, buffer, sizeof(buffer));
        if (got <= 0) return;
        const int to = i == 0 ? b : a;
        for (ssize_t sent = 0; sent < got;) {
          const ssize_t wrote = write(to, buffer + sent, got - sent);
          if (wrote <= 0) return;
          sent += wrote;
        }
      }
    }
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, cut_{false};
  std::thread accept_thread_;
  absl::Mutex mu_;
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
};

TEST(ControllerKeepaliveTest, ARelayLeavesAControllerThatVanished) {
  const std::string tmp = testing::TestDir();
  std::ofstream(tmp + "/topology.textproto") << kTopology;
  auto controller = Topologyd::Start(
      tmp, "topologyd",
      {"--insecure", "--state-dir=" + tmp + "/state",
       "--topology=" + tmp + "/topology.textproto", "--lease-timeout=60s"});
  ASSERT_TRUE(controller.ok()) << controller.status();
  CuttableRelay cuttable((*controller)->port());
  const std::string through = absl::StrCat("127.0.0.1:", cuttable.port());
  const std::string direct = (*controller)->address();

  FakeRelay d1(through + "," + direct, "d1");
  d1.Start();
  ASSERT_TRUE(d1.WaitForParent("nat"));
  ASSERT_EQ(d1.controller(), through);
  const int sessions = d1.sessions();

  cuttable.Cut();
  const absl::Time cut = absl::Now();
  const absl::Duration bound = control::kControllerKeepalive +
                               control::kControllerKeepaliveTimeout +
                               absl::Seconds(10);
  ASSERT_TRUE(WaitUntil("d1 leaves the cut controller address", bound, [&] {
    return d1.sessions() > sessions && d1.controller() == direct;
  }));
  LOG(INFO) << "left the cut address after "
            << absl::FormatDuration(absl::Now() - cut);
  EXPECT_TRUE(d1.WaitForParent("nat"));
}

}  // namespace
}  // namespace cascade::topology
