// The real Controller on EtcdStore, wired as topologyd will be: elected
// first, then the store fenced on the term. A second controller recovers
// everything the first acknowledged, takes over when the first resigns, and
// the first can no longer change anything.
#include <memory>

#include "absl/time/clock.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "tests/etcd/etcd_harness.h"
#include "topology/controller.h"
#include "topology/etcd/etcd_store.h"
#include "topology/etcd/leader.h"
#include "topology/topology_file.h"

namespace cascade::topology::etcd {
namespace {

constexpr char kSouth19[] = "topology/reference/south19.textproto";

// One controller process: its etcd connection, election, store, Controller.
struct Instance {
  std::unique_ptr<EtcdClient> client;
  std::unique_ptr<LeaderElection> election;
  std::unique_ptr<EtcdStore> store;
  std::unique_ptr<Controller> controller;
};

std::unique_ptr<Instance> StartInstance(const EtcdClientOptions& client_options,
                                        const std::string& address) {
  auto instance = std::make_unique<Instance>();
  auto client = EtcdClient::Create(client_options);
  EXPECT_TRUE(client.ok()) << client.status();
  instance->client = std::move(*client);
  LeaderElectionOptions options;
  options.key = "/cascade/leader";
  options.address = address;
  options.ttl = absl::Seconds(2);
  instance->election =
      std::make_unique<LeaderElection>(instance->client.get(), options);
  instance->election->Start();
  return instance;
}

// What topologyd does on winning: a store fenced on the term, a Controller
// recovered from it.
void BecomeLeader(Instance* instance, const Clock* clock) {
  const LeaderStatus status = instance->election->Status();
  ASSERT_TRUE(status.leading);
  EtcdStoreOptions options;
  options.prefix = "/cascade/state/";
  options.fence_key = "/cascade/leader";
  options.fence_revision = status.term;
  instance->store =
      std::make_unique<EtcdStore>(instance->client.get(), options);
  ControllerOptions controller_options;
  controller_options.snapshot_every = 2;
  instance->controller = std::make_unique<Controller>(
      clock, instance->store.get(), controller_options);
  absl::Status recovered = instance->controller->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered;
}

TEST(ControllerOnEtcdTest, FollowerRecoversEverythingAndTheOldLeaderIsFenced) {
  auto cluster = cascade::testing::EtcdCluster::Start(
      1, cascade::testing::TestDir() + "/etcd");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  SystemClock clock;

  auto first = StartInstance((*cluster)->ClientOptions(), "first:7700");
  ASSERT_TRUE(first->election->WaitFor(
      [](const LeaderStatus& s) { return s.leading; }, absl::Seconds(10)));
  BecomeLeader(first.get(), &clock);
  auto second = StartInstance((*cluster)->ClientOptions(), "second:7700");
  ASSERT_TRUE(second->election->WaitFor(
      [](const LeaderStatus& s) { return s.leader == "first:7700"; },
      absl::Seconds(10)));

  auto parsed = ReadTopologyFile(kSouth19);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const int nodes = parsed->topology.nodes_size();
  cascade::v1::Change apply;
  *apply.mutable_apply()->mutable_topology() = parsed->topology;
  ASSERT_TRUE(first->controller->Submit(apply).ok());
  cascade::v1::Change select;
  select.mutable_select()->set_site("ho-chi-minh-city-d01-s001");
  ASSERT_TRUE(first->controller->Submit(select).ok());
  cascade::v1::Change drain;
  drain.mutable_drain()->set_id("ho-chi-minh-city-d02");
  ASSERT_TRUE(first->controller->Submit(drain).ok());
  EXPECT_EQ(first->controller->Sequence(), 3u);
  // snapshot_every = 2: the apply and the select went into a snapshot.
  EXPECT_EQ(first->store->RecordsSinceSnapshot(), 1u);

  first->election->Resign();
  ASSERT_TRUE(second->election->WaitFor(
      [](const LeaderStatus& s) { return s.leading; }, absl::Seconds(2)));
  BecomeLeader(second.get(), &clock);
  EXPECT_EQ(second->controller->Sequence(), 3u);
  auto topology = second->controller->GetTopology("");
  ASSERT_TRUE(topology.ok());
  EXPECT_EQ(topology->nodes_size(), nodes);
  auto site = second->controller->GetNode("ho-chi-minh-city-d01-s001");
  ASSERT_TRUE(site.ok());
  EXPECT_TRUE(site->upstream_selected());

  // The old leader's controller still runs, but cannot change anything.
  cascade::v1::Change late;
  late.mutable_release()->set_site("ho-chi-minh-city-d01-s001");
  auto refused = first->controller->Submit(late);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("fenced"), std::string::npos)
      << refused.status();
  EXPECT_EQ(first->controller->Sequence(), 3u);

  // The new leader goes on from sequence 3.
  auto released = second->controller->Submit(late);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->state_sequence(), 4u);
}

}  // namespace
}  // namespace cascade::topology::etcd
