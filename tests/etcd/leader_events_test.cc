// Leader changes as events (issue 22): three topologyd on real etcd; each
// that takes the lead journals a KIND_LEADER record in the audit trail, so
// after the leader is killed (-9), twice, `relayctl events --history` on
// the last one shows all three, each naming the one before. A single
// topologyd on a journal says it leads at every start.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "proto/controller.grpc.pb.h"
#include "tests/common/wait.h"
#include "tests/etcd/etcd_harness.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::EtcdCluster;
using cascade::testing::WaitUntil;
using cascade::topology::testing::Topologyd;

constexpr char kTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 4 } }
)txt";

bool Leads(const std::string& address) {
  auto stub = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  cascade::v1::StatsResponse stats;
  return stub->GetStats(&context, cascade::v1::StatsRequest(), &stats).ok();
}

TEST(LeaderEventsTest, EachNewLeaderIsInTheAuditHistoryNamingTheOneBefore) {
  const std::string dir = testing::TestDir();
  auto etcd = EtcdCluster::Start(1, dir + "/etcd");
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  std::ofstream(dir + "/topology.textproto") << kTopology;
  std::vector<std::unique_ptr<Topologyd>> controllers;
  std::vector<std::string> addresses;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> flags = (*etcd)->TopologydFlags();
    flags.insert(flags.end(), {"--leader-ttl=2s", "--insecure",
                               "--topology=" + dir + "/topology.textproto"});
    auto daemon = Topologyd::Start(dir, absl::StrCat("topologyd", i), flags);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    addresses.push_back((*daemon)->address());
    controllers.push_back(*std::move(daemon));
  }
  const std::string list = absl::StrJoin(addresses, ",");
  auto history = [&](int count) -> std::vector<std::string> {
    CommandResult events = testing::Relayctl(
        dir, list,
        {"--insecure", "events", absl::StrCat("--history=", count),
         absl::StrCat("--count=", count)});
    EXPECT_EQ(events.code, 0) << events.err;
    return absl::StrSplit(events.out, '\n', absl::SkipEmpty());
  };
  // Kills the leader; returns the index of the one that leads next.
  std::vector<int> leaders;
  auto next_leader = [&] {
    int leader = -1;
    EXPECT_TRUE(WaitUntil("a controller leads", absl::Seconds(20), [&] {
      for (int i = 0; i < 3; ++i) {
        if (controllers[i] != nullptr && Leads(addresses[i])) leader = i;
      }
      return leader >= 0;
    }));
    leaders.push_back(leader);
    return leader;
  };
  ASSERT_GE(next_leader(), 0);
  std::vector<std::string> lines = history(1);
  ASSERT_EQ(lines.size(), 1u);
  // "HH:MM:SS.mmm leader topologyd ADDRESS leads (etcd term N), ..."
  const std::string first =
      absl::StrCat(" leader topologyd ", addresses[leaders[0]],
                   " leads (etcd "
                   "term ");
  EXPECT_TRUE(absl::StrContains(lines[0], first)) << lines[0];
  EXPECT_TRUE(absl::EndsWith(lines[0], "), no leader known before it"))
      << lines[0];

  for (int kill = 1; kill <= 2; ++kill) {
    controllers[leaders.back()].reset();  // kill -9
    const absl::Time killed = absl::Now();
    ASSERT_GE(next_leader(), 0);
    std::cout << "leader " << kill << " killed: the next leads after "
              << absl::Now() - killed << "\n";
  }
  // The whole history, from the last leader: three records, oldest first,
  // each naming the one before (the followers saw it lead).
  lines = history(3);
  ASSERT_EQ(lines.size(), 3u) << absl::StrJoin(lines, "\n");
  EXPECT_TRUE(absl::StrContains(lines[0], first)) << lines[0];
  for (int i = 1; i < 3; ++i) {
    EXPECT_TRUE(absl::StrContains(
        lines[i], absl::StrCat(" leader topologyd ", addresses[leaders[i]],
                               " leads (etcd term ")))
        << lines[i];
    EXPECT_TRUE(absl::EndsWith(
        lines[i],
        absl::StrCat("), after topologyd ", addresses[leaders[i - 1]])))
        << lines[i];
  }
  std::cout << absl::StrJoin(lines, "\n") << "\n";
}

// A single controller leads from every start: killed (-9) and started
// again on its journal, it says so a second time, naming the first start.
TEST(LeaderEventsTest, ASingleControllerOnAJournalSaysItLeadsAtEveryStart) {
  const std::string dir = testing::TestDir();
  std::ofstream(dir + "/topology.textproto") << kTopology;
  const std::vector<std::string> flags = {
      "--insecure", "--state-dir=" + dir + "/state",
      "--topology=" + dir + "/topology.textproto"};
  auto first = Topologyd::Start(dir, "topologyd0", flags);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string address = (*first)->address();
  const int port = (*first)->port();
  first->reset();  // kill -9
  auto again = Topologyd::Start(dir, "topologyd1", flags, port);
  ASSERT_TRUE(again.ok()) << again.status();

  CommandResult events = testing::Relayctl(
      dir, address, {"--insecure", "events", "--history=2", "--count=2"});
  ASSERT_EQ(events.code, 0) << events.err;
  std::vector<std::string> lines =
      absl::StrSplit(events.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << events.out;
  const std::string leads = absl::StrCat(" leader topologyd ", address,
                                         " leads (single controller, journal");
  EXPECT_TRUE(absl::StrContains(lines[0], leads)) << lines[0];
  EXPECT_TRUE(absl::EndsWith(lines[0], "), no leader known before it"))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[1], leads + ", restarted)")) << lines[1];
  EXPECT_TRUE(
      absl::EndsWith(lines[1], absl::StrCat("), after topologyd ", address)))
      << lines[1];
  std::cout << absl::StrJoin(lines, "\n") << "\n";
}

}  // namespace
}  // namespace cascade::topology
