// relayd under a service manager's Type=notify protocol (sd_notify(3)): the
// test plays systemd with a datagram socket of its own in $NOTIFY_SOCKET and
// a watchdog in $WATCHDOG_USEC, and reads what a real relayd process says.
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/common/notify_socket.h"
#include "tests/relay/relay_harness.h"
#include "tests/topology/harness.h"

namespace cascade::relay::testing {
namespace {

using cascade::testing::NotifySocket;
using cascade::topology::testing::Topologyd;
using Result = cascade::testing::CommandResult;

// Reads until `count` watchdog pings came, bounded.
bool WaitForPings(NotifySocket& manager, int count) {
  return manager.WaitForCount("WATCHDOG=1", count, absl::Seconds(10));
}

std::vector<std::string> ManagerEnv(const NotifySocket& manager) {
  // 200 ms: relayd pings every 100 ms.
  return {manager.env(), "WATCHDOG_USEC=200000"};
}

TEST(ServiceNotifyTest, ReadyOnceBoundThenWatchdogFromTheLoopAndStopping) {
  NotifySocket manager;
  ASSERT_TRUE(manager.bound());
  UdpPeer source;
  auto relay = RelayProcess::Start(
      "relay",
      absl::Substitute(R"pb(
                         node_id: "R"
                         listen: "127.0.0.1:0"
                         parents { id: "source" address: "$0" }
                       )pb",
                       source.address().ToString()),
      {}, ManagerEnv(manager));
  ASSERT_TRUE(relay.ok()) << relay.status();
  ASSERT_TRUE(manager.WaitFor("READY=1", absl::Seconds(10)));
  EXPECT_TRUE(manager.WaitFor("STATUS=R forwarding", absl::ZeroDuration()) ||
              absl::StrContains(manager.messages().back(), "STATUS=R"))
      << manager.messages().back();
  ASSERT_TRUE(WaitForPings(manager, 3));
  // A stopped loop feeds no watchdog: systemd would restart it.
  (*relay)->Signal(SIGSTOP);
  manager.WaitFor("never", absl::Milliseconds(300));  // drain what was sent
  const int before = manager.Count("WATCHDOG=1");
  manager.WaitFor("never", absl::Milliseconds(500));
  EXPECT_EQ(manager.Count("WATCHDOG=1"), before);
  (*relay)->Signal(SIGCONT);
  ASSERT_TRUE(WaitForPings(manager, before + 2));
  // A reload is bracketed, and the end announced.
  (*relay)->Signal(SIGHUP);
  ASSERT_TRUE(manager.WaitFor("RELOADING=1", absl::Seconds(5)));
  ASSERT_TRUE(manager.WaitFor("READY=1", absl::Seconds(5)));
  (*relay)->Signal(SIGTERM);
  EXPECT_TRUE(manager.WaitFor("STOPPING=1", absl::Seconds(5)));
}

// Under a controller, bound is not ready: a relay is ready once it runs
// its first assignment, and until then the watchdog still says it lives.
TEST(ServiceNotifyTest, UnderAControllerReadyOnlyWithTheFirstAssignment) {
  const std::string tmp = TempDir("notify-controller");
  NotifySocket manager;
  ASSERT_TRUE(manager.bound());
  auto controller = Topologyd::Start(
      tmp, "topologyd",
      {"--insecure", "--state-dir=" + tmp + "/state", "--lease-timeout=3s"});
  ASSERT_TRUE(controller.ok()) << controller.status();
  auto relay =
      RelayProcess::Start("relay", "",
                          {"--controller=" + (*controller)->address(),
                           "--insecure", "--id=nat", "--listen=127.0.0.1:0"},
                          ManagerEnv(manager));
  ASSERT_TRUE(relay.ok()) << relay.status();
  // No topology yet: topologyd knows no "nat", so no assignment.
  ASSERT_TRUE(WaitForPings(manager, 5));
  EXPECT_EQ(manager.Count("READY=1"), 0);

  const std::string topology = tmp + "/topology.textproto";
  std::ofstream(topology) << absl::Substitute(
      R"pb(
        streams {
          id: "command"
          direction: DIRECTION_DOWNSTREAM
          tracks { ssrc: 1 media: "video" payload_type: 96 }
        }
        nodes { id: "nat" tier: TIER_NATIONAL media_address: "$0" }
      )pb",
      (*relay)->address().ToString());
  Result applied = cascade::topology::testing::Relayctl(
      tmp, (*controller)->address(), {"--insecure", "apply", topology});
  ASSERT_EQ(applied.code, 0) << applied.err;
  EXPECT_TRUE(manager.WaitFor("READY=1", absl::Seconds(15)));
}

}  // namespace
}  // namespace cascade::relay::testing
