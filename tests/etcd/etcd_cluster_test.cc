// A three-member etcd cluster on loopback with one member killed: the store
// and the leader election carry on through the other two.
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/etcd/etcd_harness.h"
#include "topology/etcd/etcd_store.h"
#include "topology/etcd/leader.h"

namespace cascade::topology::etcd {
namespace {

constexpr absl::Duration kTtl = absl::Seconds(2);

cascade::v1::Change Select(uint64_t sequence) {
  cascade::v1::Change change;
  change.set_sequence(sequence);
  change.mutable_select()->set_site(absl::StrCat("site-", sequence));
  return change;
}

std::unique_ptr<EtcdClient> NewClient(const EtcdClientOptions& options) {
  auto client = EtcdClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return std::move(*client);
}

TEST(EtcdClusterTest, StoreAndElectionCarryOnWithOneMemberStopped) {
  auto cluster = cascade::testing::EtcdCluster::Start(
      3, cascade::testing::TestDir() + "/etcd3");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const EtcdClientOptions client_options = (*cluster)->ClientOptions();
  const std::vector<std::string>& endpoints = client_options.endpoints;
  ASSERT_EQ(endpoints.size(), 3u);

  // Every client starts on member 0, the one that will be stopped.
  auto store_client = NewClient(client_options);
  EtcdStoreOptions store_options;
  store_options.prefix = "/cluster/state/";
  store_options.fence_key = "/cluster/leader";
  std::map<std::string, std::unique_ptr<EtcdClient>> clients;
  std::map<std::string, std::unique_ptr<LeaderElection>> elections;
  for (const char* name : {"a:1", "b:1"}) {
    clients[name] = NewClient(client_options);
    LeaderElectionOptions options;
    options.key = store_options.fence_key;
    options.address = name;
    options.ttl = kTtl;
    elections[name] =
        std::make_unique<LeaderElection>(clients[name].get(), options);
    elections[name]->Start();
  }
  ASSERT_TRUE(elections["a:1"]->WaitFor(
      [](const LeaderStatus& s) { return !s.leader.empty(); },
      absl::Seconds(10)));
  const std::string leader = elections["a:1"]->Status().leader;
  const std::string follower = leader == "a:1" ? "b:1" : "a:1";
  // The follower may see the key before the winner has read its own
  // campaign's answer.
  ASSERT_TRUE(elections[leader]->WaitFor(
      [](const LeaderStatus& s) { return s.leading; }, absl::Seconds(5)));
  const LeaderStatus elected = elections[leader]->Status();
  ASSERT_TRUE(elections[follower]->WaitFor(
      [&](const LeaderStatus& s) { return s.leader == leader; },
      absl::Seconds(5)));

  store_options.fence_revision = elected.term;
  EtcdStore store(store_client.get(), store_options);
  ASSERT_TRUE(store.Recover().ok());
  for (uint64_t s = 1; s <= 5; ++s) ASSERT_TRUE(store.Append(Select(s)).ok());

  (*cluster)->StopMember(0);
  const absl::Time stopped = absl::Now();
  for (uint64_t s = 6; s <= 10; ++s) {
    absl::Status status = store.Append(Select(s));
    ASSERT_TRUE(status.ok()) << "change " << s << ": " << status;
  }
  const absl::Duration appends = absl::Now() - stopped;
  EXPECT_LT(appends, absl::Seconds(5));
  EXPECT_NE(store_client->CurrentEndpoint(), endpoints[0]);
  std::cerr << "five appends right after a member stopped: "
            << absl::FormatDuration(appends) << "\n";

  // A new controller reading through the same list (stopped member first).
  auto reader = NewClient(client_options);
  EtcdStore recovered_store(reader.get(), store_options);
  auto recovered = recovered_store.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_EQ(recovered->changes.size(), 10u);
  EXPECT_EQ(recovered->changes[9].select().site(), "site-10");

  // The leader keeps its lease alive through the other members: still the
  // same term after twice the TTL.
  EXPECT_FALSE(elections[leader]->WaitFor(
      [](const LeaderStatus& s) { return !s.leading; }, 2 * kTtl))
      << elections[leader]->Status().last_loss;
  EXPECT_EQ(elections[leader]->Status().term, elected.term);

  // And the follower's watch moved too: it takes over at once on a
  // resignation.
  const absl::Time resigned = absl::Now();
  elections[leader]->Resign();
  ASSERT_TRUE(elections[follower]->WaitFor(
      [](const LeaderStatus& s) { return s.leading; }, kTtl));
  EXPECT_LT(absl::Now() - resigned, kTtl);
  // The old leader's store is fenced out.
  EXPECT_EQ(store.Append(Select(11)).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cascade::topology::etcd
