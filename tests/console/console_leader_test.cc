// Leader changes in the console (issue 22): three topologyd on one etcd,
// each with its console on a port of its own (another origin). A
// follower's console names the leader's; the page open at the leader's
// console shows its KIND_LEADER event; kill -9 of the leader: the page
// finds the new leader's console by asking the group's other consoles,
// goes there with its token, shows the new leader's event (naming the old)
// and goes on updating from it.
#include <arpa/inet.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/substitute.h"
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

// A page expression's value as true, through navigations (an evaluation
// the page's own navigation cuts is tried again), for at most `timeout`.
::testing::AssertionResult PageWaitFor(browser::Chromium* page,
                                       const std::string& expression,
                                       absl::Duration timeout) {
  return WaitUntil(expression, timeout, [&] {
    auto value = page->Evaluate(expression, absl::Seconds(2));
    return value.ok() && value->bool_value();
  });
}

constexpr char kFeed[] =
    "[...document.querySelectorAll('#events li.k-LEADER')].map((li) => "
    "li.textContent).join('\\n')";

TEST(ConsoleLeaderTest, ThePageFollowsTheNewLeaderToItsConsole) {
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

  constexpr int kControllers = 3;
  std::vector<std::unique_ptr<topology::testing::Topologyd>> controllers;
  std::vector<int> consoles;
  for (int i = 0; i < kControllers; ++i) {
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
  auto url = [&](int i) {
    return absl::StrCat("http://127.0.0.1:", consoles[i], "/console");
  };
  auto status = [&](int i) {
    httplib::Client http("127.0.0.1", consoles[i]);
    http.set_read_timeout(5);
    auto got = http.Get("/console/api/tree", Bearer(kAdminToken));
    return got ? got->status : 0;
  };
  int leader = -1;
  ASSERT_TRUE(WaitUntil("a console answers as leader", absl::Seconds(20), [&] {
    for (int i = 0; i < kControllers; ++i) {
      if (status(i) == 200) leader = i;
    }
    return leader >= 0;
  }));
  // A follower's console names the leader's, without a credential, to any
  // origin.
  const int follower = (leader + 1) % kControllers;
  EXPECT_EQ(status(follower), 503);
  google::protobuf::Struct answer;
  ASSERT_TRUE(WaitUntil(
      "the follower names the leader's console", absl::Seconds(10), [&] {
        httplib::Client http("127.0.0.1", consoles[follower]);
        auto got = http.Get("/console/api/leader");
        return got && got->status == 200 &&
               got->get_header_value("Access-Control-Allow-Origin") == "*" &&
               google::protobuf::util::JsonStringToMessage(got->body, &answer)
                   .ok() &&
               answer.fields().at("consoles").list_value().values_size() ==
                   kControllers &&
               answer.fields().at("leader").string_value() == url(leader);
      }));
  EXPECT_FALSE(answer.fields().at("leading").bool_value());

  auto chromium = cascade::testing::OpenBrowser();
  ASSERT_TRUE(chromium.ok()) << chromium.status();
  browser::Chromium* page = chromium->get();
  ASSERT_NO_FATAL_FAILURE(OpenWithToken(page, url(leader), kAdminToken));
  const std::string old_leader = controllers[leader]->address();
  const std::string leads =
      absl::StrCat("topologyd ", old_leader, " leads (etcd term ");
  ASSERT_TRUE(PageWaitFor(
      page,
      absl::Substitute("$0.includes('$1') && cascadeConsole.state.nodes.has("
                       "'nat') && cascadeConsole.state.group.length === $2",
                       kFeed, leads, kControllers),
      absl::Seconds(10)))
      << ConsoleOf(*page);

  controllers[leader].reset();  // kill -9
  const absl::Time killed = absl::Now();
  const std::string old_port = absl::StrCat(consoles[leader]);
  ASSERT_TRUE(PageWaitFor(
      page,
      absl::Substitute(
          "location.port !== '$0' && $1.includes('after topologyd $2') && "
          "cascadeConsole.state.nodes.has('nat') && "
          "document.getElementById('connection').textContent === 'live'",
          old_port, kFeed, old_leader),
      absl::Seconds(20)))
      << ConsoleOf(*page);
  std::cout << "the page is live on the new leader's console, its event in "
               "the feed, "
            << absl::Now() - killed << " after kill -9 of the leader\n";
  auto where = page->Evaluate(
      "JSON.stringify([location.port, location.hash, "
      "sessionStorage.getItem('cascade.console.token')])",
      absl::Seconds(5));
  ASSERT_TRUE(where.ok()) << where.status();
  int now = -1;
  for (int i = 0; i < kControllers; ++i) {
    if (where->string_value() ==
        absl::StrCat("[\"", consoles[i], "\",\"\",\"", kAdminToken, "\"]")) {
      now = i;
    }
  }
  // The token came along and left the address bar.
  ASSERT_GE(now, 0) << where->string_value();
  EXPECT_EQ(status(now), 200);

  // The page goes on updating from there: a drain through the new leader's
  // console shows on its map.
  httplib::Client http("127.0.0.1", consoles[now]);
  auto drained = http.Post("/console/api/drain?node=nat", Bearer(kAdminToken),
                           "", "text/plain");
  ASSERT_TRUE(drained);
  EXPECT_EQ(drained->status, 200) << drained->body;
  EXPECT_TRUE(PageWaitFor(page,
                          "cascadeConsole.state.nodes.get('nat').status === "
                          "'STATUS_DRAINING'",
                          absl::Seconds(5)))
      << ConsoleOf(*page);
  auto feed = page->Evaluate(kFeed, absl::Seconds(5));
  ASSERT_TRUE(feed.ok());
  std::cout << feed->string_value() << "\n";
}

}  // namespace
}  // namespace cascade
