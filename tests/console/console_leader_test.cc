// Leader changes in the console's feed: two topologyd on one etcd, each
// with its console. The page open at the follower's console shows who
// leads (its 503 names the leader); kill -9 of the leader: once the
// follower takes over, the same page's stream opens and its feed says that
// this controller took over the lead from the one before.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/subprocess.h"
#include "tests/common/wait.h"
#include "tests/console/console_page.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "tests/webrtc/edge_tree.h"

namespace cascade {
namespace {

using cascade::testing::Bearer;
using cascade::testing::ConsoleOf;
using cascade::testing::ConsolePort;
using cascade::testing::OpenWithToken;
using cascade::testing::WaitUntil;

constexpr char kAdminToken[] = "console-leader-test-admin-token";

constexpr char kTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.0.0.1:40000"
  capacity { max_children: 8 } }
)txt";

// A TCP port on 127.0.0.1 the kernel just handed out and took back.
int FreeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

TEST(ConsoleLeaderTest, TheFollowersPageShowsItTakingOverTheLead) {
  auto etcd_binary = FindOnPath("etcd");
  if (!etcd_binary.ok()) {
    GTEST_SKIP() << "etcd is not installed (Debian's etcd-server)";
  }
  const std::string dir = topology::testing::TestDir();
  // One plaintext etcd member on loopback.
  const std::string client = absl::StrCat("http://127.0.0.1:", FreeTcpPort());
  const std::string peer = absl::StrCat("http://127.0.0.1:", FreeTcpPort());
  auto etcd = Subprocess::Start(
      {*etcd_binary, "--name=m0", "--data-dir=" + dir + "/etcd.data",
       "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
       "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
       "--initial-cluster=m0=" + peer, "--log-level=warn", "--logger=zap"},
      {dir + "/etcd.out", dir + "/etcd.err"});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  ASSERT_TRUE(WaitUntil("etcd answers", absl::Seconds(20), [&] {
    httplib::Client http(client);
    http.set_connection_timeout(1);
    auto health = http.Get("/health");
    return health && health->status == 200;
  })) << cascade::testing::ReadFile(dir + "/etcd.err");
  std::ofstream(dir + "/admin.token") << kAdminToken << "\n";
  std::ofstream(dir + "/topology.textproto") << kTopology;

  // The first to answer as leader leads; the other follows.
  std::vector<std::unique_ptr<topology::testing::Topologyd>> controllers;
  std::vector<int> consoles;
  for (int i = 0; i < 2; ++i) {
    const std::string name = absl::StrCat("topologyd", i);
    auto daemon = topology::testing::Topologyd::Start(
        dir, name,
        {"--insecure", "--store=etcd://" + client, "--leader-ttl=2s",
         "--topology=" + dir + "/topology.textproto",
         "--admin-token-file=" + dir + "/admin.token",
         "--console=127.0.0.1:0"});
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    consoles.push_back(ConsolePort(dir + "/" + name + ".port"));
    ASSERT_GT(consoles.back(), 0);
    controllers.push_back(*std::move(daemon));
  }
  auto status = [&](int i) {
    httplib::Client http("127.0.0.1", consoles[i]);
    http.set_read_timeout(5);
    auto got = http.Get("/console/api/tree", Bearer(kAdminToken));
    return got ? got->status : 0;
  };
  int leader = -1;
  ASSERT_TRUE(WaitUntil("a console answers as leader", absl::Seconds(20), [&] {
    for (int i = 0; i < 2; ++i) {
      if (status(i) == 200) leader = i;
    }
    return leader >= 0;
  }));
  const int follower = 1 - leader;
  EXPECT_EQ(status(follower), 503);

  auto chromium = cascade::testing::OpenBrowser();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  browser::Chromium* page = chromium->get();
  ASSERT_NO_FATAL_FAILURE(OpenWithToken(
      page, absl::StrCat("http://127.0.0.1:", consoles[follower], "/console"),
      kAdminToken));
  constexpr char kFeed[] =
      "[...document.querySelectorAll('#events li.k-LEADER')].map((li) => "
      "li.textContent).join('\\n')";
  absl::Status named = page->WaitFor(
      absl::StrCat(kFeed, ".includes('does not lead; the leader is ",
                   controllers[leader]->address(), "')"),
      absl::Seconds(10));
  ASSERT_TRUE(named.ok()) << named << "\n" << ConsoleOf(*page);

  const std::string old_leader = controllers[leader]->address();
  controllers[leader].reset();  // kill -9
  const absl::Time killed = absl::Now();
  absl::Status took_over = page->WaitFor(
      absl::StrCat(kFeed, ".includes('took over the lead from ", old_leader,
                   "') && cascadeConsole.state.nodes.has('nat')"),
      absl::Seconds(20));
  EXPECT_TRUE(took_over.ok()) << took_over << "\n" << ConsoleOf(*page);
  std::cout << "the takeover in the follower's page's feed "
            << absl::Now() - killed << " after kill -9 of the leader\n";
  auto feed = page->Evaluate(kFeed, absl::Seconds(5));
  ASSERT_TRUE(feed.ok());
  std::cout << feed->string_value() << "\n";
}

}  // namespace
}  // namespace cascade
