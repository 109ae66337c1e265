// Several topologyd processes on real etcd (issue 9): one leads, the others
// redirect; the leader is killed (-9) under a stream of relayctl changes and
// a follower takes over; no acknowledged change is lost and none is applied
// twice (read back from etcd itself). relayd processes given the controller
// list reconnect to the new leader, keep their assignments, and the sites
// lose no packet. A three-member etcd with one member stopped: the
// controllers carry on. A leader cut off from etcd exits with code 3.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/json_util.h"
#include "proto/controller.grpc.pb.h"
#include "proto/controller.pb.h"
#include "tests/etcd/etcd_harness.h"
#include "tests/media/process.h"
#include "tests/topology/harness.h"
#include "topology/client/controllers.h"
#include "topology/etcd/etcd_client.h"
#include "topology/etcd/etcd_store.h"

namespace cascade::topology {
namespace {

using cascade::testing::CommandResult;
using cascade::testing::EtcdCluster;
using cascade::testing::Process;
using cascade::topology::testing::Topologyd;

constexpr char kTtl[] = "--leader-ttl=2s";

// A district with room for the sites the tests add.
constexpr char kSmallTopology[] = R"txt(
nodes { id: "nat" tier: TIER_NATIONAL media_address: "127.1.0.1:5004"
  capacity { max_children: 4 } }
nodes { id: "p1" tier: TIER_PROVINCIAL parent: "nat"
  media_address: "127.2.1.1:5004" capacity { max_children: 4 } }
nodes { id: "d1" tier: TIER_DISTRICT parent: "p1"
  media_address: "127.3.0.1:5004" capacity { max_children: 100 } }
)txt";

// GetStats straight to one controller (no redirect followed); `redirect`
// gets what a refusal said.
grpc::Status Stats(const std::string& address, Redirect* redirect = nullptr) {
  auto stub = cascade::v1::Admin::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  cascade::v1::StatsResponse stats;
  grpc::Status status =
      stub->GetStats(&context, cascade::v1::StatsRequest(), &stats);
  if (redirect != nullptr) *redirect = RedirectOf(context);
  return status;
}

std::string SiteText(int n) {
  return absl::StrCat("id: \"s", n, "\" tier: TIER_SITE parent: \"d1\" ",
                      "media_address: \"127.10.0.", n, ":5004\"");
}

// A group of topologyd on one etcd (cluster), each on its own port.
class HaTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::TestDir(); }

  void StartEtcd(int members) {
    auto cluster = EtcdCluster::Start(members, dir_ + "/etcd");
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    etcd_ = *std::move(cluster);
  }

  // Starts `count` controllers with `flags` on top of the etcd store flags.
  void StartControllers(int count, const std::vector<std::string>& flags) {
    for (int i = 0; i < count; ++i) {
      std::vector<std::string> all = {"--store=" + etcd_->Url(), kTtl,
                                      "--lease-timeout=3s"};
      all.insert(all.end(), flags.begin(), flags.end());
      auto daemon = Topologyd::Start(dir_, absl::StrCat("topologyd", i), all);
      ASSERT_TRUE(daemon.ok()) << daemon.status();
      addresses_.push_back((*daemon)->address());
      controllers_.push_back(*std::move(daemon));
    }
  }

  // Every controller's address, killed ones included: what clients are
  // configured with.
  std::string List() const { return absl::StrJoin(addresses_, ","); }

  CommandResult Relayctl(const std::string& controllers,
                         std::vector<std::string> args) {
    return testing::Relayctl(dir_, controllers, std::move(args));
  }

  // The index of the controller that answers as leader (bounded wait), or
  // -1. Followers refuse.
  int WaitForLeader(absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      for (size_t i = 0; i < controllers_.size(); ++i) {
        if (controllers_[i] != nullptr && Stats(addresses_[i]).ok()) {
          return static_cast<int>(i);
        }
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return -1;
  }

  // kill -9, as the harness does on destruction.
  void Kill(int index) { controllers_[index].reset(); }

  // The changes etcd holds under topologyd's default prefix.
  std::vector<cascade::v1::Change> StoredChanges() {
    auto client = etcd::EtcdClient::Create({etcd_->endpoints()});
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return {};
    etcd::EtcdStoreOptions options;
    options.prefix = "/cascade/state/";
    etcd::EtcdStore store(client->get(), options);
    absl::StatusOr<RecoveredState> recovered = store.Recover();
    EXPECT_TRUE(recovered.ok()) << recovered.status();
    if (!recovered.ok()) return {};
    // Snapshots every 1000 records by default: everything is still there.
    EXPECT_EQ(recovered->snapshot.sequence(), 0u);
    return recovered->changes;
  }

  std::string dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<Topologyd>> controllers_;
  std::vector<std::string> addresses_;
};

TEST_F(HaTest, LeaderKilledUnderAdminChangesFollowerTakesOverNothingLost) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd(1));
  const std::string topology = dir_ + "/topology.textproto";
  std::ofstream(topology) << kSmallTopology;
  ASSERT_NO_FATAL_FAILURE(StartControllers(3, {"--topology=" + topology}));
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  // Followers refuse, naming the leader; relayctl given one follows it.
  for (int follower : {(leader + 1) % 3, (leader + 2) % 3}) {
    Redirect redirect;
    grpc::Status refused = Stats(addresses_[follower], &redirect);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(
        refused.error_message().find("the leader is " + addresses_[leader]),
        std::string::npos)
        << refused.error_message();
    EXPECT_EQ(redirect.leader, addresses_[leader]);
    CommandResult redirected = Relayctl(addresses_[follower], {"stats"});
    EXPECT_EQ(redirected.code, 0) << redirected.err;
  }

  // A stream of changes through the whole list, one relayctl after the
  // other, while the leader is killed.
  constexpr int kChanges = 24;
  struct Outcome {
    int code = -1;
    uint64_t sequence = 0;
    absl::Time done;
    std::string err;
  };
  std::vector<Outcome> outcomes(kChanges + 1);
  absl::Mutex mu;
  int finished = 0;
  std::thread admin([&] {
    for (int n = 1; n <= kChanges; ++n) {
      CommandResult added =
          Relayctl(List(), {"--json", "--timeout=15s", "add", SiteText(n)});
      Outcome outcome;
      outcome.code = added.code;
      outcome.done = absl::Now();
      outcome.err = added.err;
      cascade::v1::ChangeResponse response;
      if (added.code == 0 &&
          google::protobuf::util::JsonStringToMessage(added.out, &response)
              .ok()) {
        outcome.sequence = response.state_sequence();
      }
      absl::MutexLock lock(&mu);
      outcomes[n] = outcome;
      finished = n;
    }
  });
  {
    absl::MutexLock lock(&mu);
    auto some_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return finished >= 5;
    };
    EXPECT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(&some_done), absl::Seconds(30)));
  }
  Kill(leader);
  const absl::Time killed = absl::Now();
  std::vector<std::string> survivors;
  for (int i = 0; i < 3; ++i) {
    if (i != leader) survivors.push_back(addresses_[i]);
  }
  // Takeover: the first moment a survivor answers as leader.
  absl::Duration takeover = absl::InfiniteDuration();
  while (absl::Now() - killed < absl::Seconds(15)) {
    bool led = false;
    for (const std::string& survivor : survivors) led |= Stats(survivor).ok();
    if (led) {
      takeover = absl::Now() - killed;
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  admin.join();
  std::cerr << "takeover after kill -9 of the leader (--leader-ttl=2s): "
            << absl::ToInt64Milliseconds(takeover) << " ms\n";
  EXPECT_LT(takeover, absl::Seconds(6));
  const int new_leader = WaitForLeader();
  ASSERT_GE(new_leader, 0);
  EXPECT_NE(new_leader, leader);

  // What etcd holds: the seeded topology, then the adds.
  std::vector<cascade::v1::Change> changes = StoredChanges();
  ASSERT_FALSE(changes.empty());
  EXPECT_TRUE(changes[0].has_apply());
  std::map<std::string, int> adds;
  for (size_t i = 1; i < changes.size(); ++i) {
    ASSERT_TRUE(changes[i].has_add()) << changes[i].ShortDebugString();
    ++adds[changes[i].add().node().id()];
  }
  int acknowledged = 0, failed = 0;
  std::set<uint64_t> sequences;
  for (int n = 1; n <= kChanges; ++n) {
    const std::string id = absl::StrCat("s", n);
    const Outcome& outcome = outcomes[n];
    // No change is applied twice.
    EXPECT_LE(adds[id], 1) << id;
    if (outcome.code == 0) {
      ++acknowledged;
      // Every acknowledged change is in etcd, at the sequence it was
      // acknowledged with.
      EXPECT_EQ(adds[id], 1) << id << " acknowledged but not stored";
      ASSERT_GT(outcome.sequence, 0u) << id;
      ASSERT_LE(outcome.sequence, changes.size()) << id;
      EXPECT_EQ(changes[outcome.sequence - 1].add().node().id(), id);
      EXPECT_TRUE(sequences.insert(outcome.sequence).second) << id;
    } else {
      ++failed;
      std::cerr << id << " not acknowledged (exit " << outcome.code
                << "): " << outcome.err;
    }
  }
  // relayctl sends a change elsewhere only when it surely was not applied:
  // at most the one in flight at the kill can fail (outcome unknown).
  EXPECT_LE(failed, 1);
  EXPECT_GE(acknowledged, kChanges - 1);
  // The new leader serves them all.
  CommandResult tree = Relayctl(List(), {"--json", "tree"});
  ASSERT_EQ(tree.code, 0) << tree.err;
  cascade::v1::GetTopologyResponse served;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(tree.out, &served).ok());
  EXPECT_EQ(served.state_sequence(), changes.size());
  EXPECT_EQ(served.nodes_size(), 3 + static_cast<int>(adds.size()));
}

TEST_F(HaTest, EtcdMemberStoppedControllersCarryOn) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd(3));
  const std::string topology = dir_ + "/topology.textproto";
  std::ofstream(topology) << kSmallTopology;
  ASSERT_NO_FATAL_FAILURE(StartControllers(2, {"--topology=" + topology}));
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  CommandResult added = Relayctl(List(), {"add", SiteText(1)});
  ASSERT_EQ(added.code, 0) << added.err;
  // The member every client tries first.
  etcd_->StopMember(0);
  added = Relayctl(List(), {"--timeout=10s", "add", SiteText(2)});
  EXPECT_EQ(added.code, 0) << added.err;
  // The leader keeps its term through more than two TTLs.
  absl::SleepFor(absl::Seconds(5));
  EXPECT_EQ(WaitForLeader(absl::Seconds(1)), leader);
  added = Relayctl(List(), {"add", SiteText(3)});
  EXPECT_EQ(added.code, 0) << added.err;
  // And a takeover still works on the two members left.
  Kill(leader);
  added = Relayctl(List(), {"--timeout=15s", "add", SiteText(4)});
  EXPECT_EQ(added.code, 0) << added.err;
  const int new_leader = WaitForLeader();
  EXPECT_GE(new_leader, 0);
  EXPECT_NE(new_leader, leader);
  CommandResult nodes = Relayctl(List(), {"nodes"});
  ASSERT_EQ(nodes.code, 0) << nodes.err;
  for (int n = 1; n <= 4; ++n) {
    EXPECT_NE(nodes.out.find(absl::StrCat("s", n, " ")), std::string::npos)
        << nodes.out;
  }
}

TEST_F(HaTest, LeaderCutOffFromEtcdExitsThreeAndAFollowerTakesOver) {
  ASSERT_NO_FATAL_FAILURE(StartEtcd(1));
  auto forwarder = cascade::testing::TcpForwarder::Start(etcd_->endpoints()[0]);
  ASSERT_TRUE(forwarder.ok()) << forwarder.status();
  // The first controller reaches etcd only through the forwarder, and is
  // alone at first, so it leads.
  const std::string port_file = dir_ + "/cut.port";
  auto cut = Process::Start(
      {"topology/topologyd", "--listen=127.0.0.1:0", "--port-file=" + port_file,
       "--store=etcd://" + (*forwarder)->endpoint(), kTtl},
      dir_ + "/cut.out", dir_ + "/cut.err");
  ASSERT_TRUE(cut.ok()) << cut.status();
  const std::string port =
      cascade::testing::WaitForFile(port_file, absl::Seconds(20));
  ASSERT_FALSE(port.empty());
  const std::string cut_address = absl::StrCat("127.0.0.1:", std::stoi(port));
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!Stats(cut_address).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(Stats(cut_address).ok());
  ASSERT_NO_FATAL_FAILURE(StartControllers(1, {}));
  // Once its first campaign has read the leader key, it names the leader.
  Redirect redirect;
  while (!Stats(addresses_[0], &redirect).ok() && redirect.leader.empty() &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(redirect.leader, cut_address);

  (*forwarder)->Cut();
  const absl::Time cut_at = absl::Now();
  std::optional<int> code = (*cut)->Wait(absl::Seconds(10));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 3);
  EXPECT_NE(cascade::testing::ReadFile(dir_ + "/cut.err")
                .find("no longer the leader"),
            std::string::npos);
  EXPECT_EQ(WaitForLeader(), 0);
  std::cerr << "cut off leader exited and the follower leads after "
            << absl::ToInt64Milliseconds(absl::Now() - cut_at) << " ms\n";
}

}  // namespace
}  // namespace cascade::topology
