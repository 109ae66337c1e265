// LeaderElection with three contenders on a real etcd member.
#include "topology/etcd/leader.h"

#include <map>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/etcd/etcd_harness.h"
#include "topology/etcd/etcd_store.h"

namespace cascade::topology::etcd {
namespace {

constexpr absl::Duration kTtl = absl::Seconds(2);
// etcd checks for expired leases every 500 ms; then a Watch event, a
// campaign transaction, a loaded machine.
constexpr absl::Duration kTakeoverMargin = absl::Milliseconds(1500);

// Every contender's newest status, for waits over all of them.
class Observer {
 public:
  // What one contender reports to.
  struct View : LeaderListener {
    Observer* observer = nullptr;
    std::string name;
    void OnLeaderStatus(const LeaderStatus& status) override {
      absl::MutexLock lock(&observer->mu_);
      observer->latest_[name] = status;
    }
  };

  // Waits (bounded) until `check` holds for the newest statuses.
  bool WaitUntil(const std::function<
                     bool(const std::map<std::string, LeaderStatus>&)>& check,
                 absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return check(latest_);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, LeaderStatus> latest_ ABSL_GUARDED_BY(mu_);
};

struct Contender {
  std::unique_ptr<EtcdClient> client;
  Observer::View view;
  std::unique_ptr<LeaderElection> election;
};

// The one leader's name if exactly one leads and every contender in
// `names` names it as the leader; "" otherwise.
std::string AgreedLeader(const std::map<std::string, LeaderStatus>& latest,
                         const std::vector<std::string>& names) {
  std::string leader;
  int leading = 0;
  for (const std::string& name : names) {
    auto it = latest.find(name);
    if (it == latest.end()) return "";
    if (it->second.leading) {
      ++leading;
      leader = name;
    }
  }
  if (leading != 1) return "";
  for (const std::string& name : names) {
    if (latest.at(name).leader != leader) return "";
  }
  return leader;
}

class LeaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = cascade::testing::EtcdCluster::Start(
        1, cascade::testing::TestDir() + "/etcd");
    ASSERT_TRUE(started.ok()) << started.status();
    cluster_ = started->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    key_ = absl::StrCat(
        "/test/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        "/leader");
    auto client = EtcdClient::Create(cluster_->ClientOptions());
    ASSERT_TRUE(client.ok());
    admin_ = std::move(*client);
  }

  // The contender's address doubles as its name.
  void AddContender(const std::string& name,
                    std::vector<std::string> endpoints = {}) {
    auto contender = std::make_unique<Contender>();
    EtcdClientOptions client_options = cluster_->ClientOptions();
    if (!endpoints.empty()) client_options.endpoints = std::move(endpoints);
    auto client = EtcdClient::Create(std::move(client_options));
    ASSERT_TRUE(client.ok());
    contender->client = std::move(*client);
    contender->view.observer = &observer_;
    contender->view.name = name;
    LeaderElectionOptions options;
    options.key = key_;
    options.address = name;
    options.ttl = kTtl;
    contender->election = std::make_unique<LeaderElection>(
        contender->client.get(), options, &contender->view);
    contender->election->Start();
    contenders_[name] = std::move(contender);
    names_.push_back(name);
  }

  std::string WaitForAgreedLeader(absl::Duration timeout) {
    std::string leader;
    observer_.WaitUntil(
        [&](const std::map<std::string, LeaderStatus>& latest) {
          leader = AgreedLeader(latest, names_);
          return !leader.empty();
        },
        timeout);
    return leader;
  }

  static cascade::testing::EtcdCluster* cluster_;
  std::string key_;
  std::unique_ptr<EtcdClient> admin_;
  Observer observer_;
  std::map<std::string, std::unique_ptr<Contender>> contenders_;
  std::vector<std::string> names_;
};

cascade::testing::EtcdCluster* LeaderTest::cluster_ = nullptr;

TEST_F(LeaderTest, ThreeContendersAgreeOnOneLeader) {
  for (const char* name : {"10.0.0.1:7700", "10.0.0.2:7700", "10.0.0.3:7700"}) {
    AddContender(name);
  }
  const std::string leader = WaitForAgreedLeader(absl::Seconds(10));
  ASSERT_FALSE(leader.empty());
  // The key says who leads: what a follower redirects to.
  etcdserverpb::RangeRequest range;
  range.set_key(key_);
  auto stored = admin_->Range(range);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->kvs_size(), 1);
  EXPECT_EQ(stored->kvs(0).value(), leader);
  const LeaderStatus status = contenders_[leader]->election->Status();
  EXPECT_EQ(status.term, stored->kvs(0).create_revision());
  EXPECT_EQ(status.lease_id, stored->kvs(0).lease());
  EXPECT_EQ(status.terms_won, 1);
}

// The leader's lease is revoked behind its back (as etcd does when it
// expires): another contender takes over, the old leader knows it lost,
// and its fenced store cannot write any more.
TEST_F(LeaderTest, RevokedLeaderIsReplacedAndFenced) {
  for (const char* name : {"a:1", "b:1", "c:1"}) AddContender(name);
  const std::string old_leader = WaitForAgreedLeader(absl::Seconds(10));
  ASSERT_FALSE(old_leader.empty());
  const LeaderStatus elected = contenders_[old_leader]->election->Status();

  EtcdStoreOptions store_options;
  store_options.prefix = key_ + "-state/";
  store_options.fence_key = key_;
  store_options.fence_revision = elected.term;
  EtcdStore store(contenders_[old_leader]->client.get(), store_options);
  ASSERT_TRUE(store.Recover().ok());
  cascade::v1::Change change;
  change.set_sequence(1);
  change.mutable_select()->set_site("s1");
  ASSERT_TRUE(store.Append(change).ok());

  const absl::Time revoked = absl::Now();
  ASSERT_TRUE(admin_->LeaseRevoke(elected.lease_id).ok());
  std::string new_leader;
  ASSERT_TRUE(observer_.WaitUntil(
      [&](const std::map<std::string, LeaderStatus>& latest) {
        new_leader = AgreedLeader(latest, names_);
        return !new_leader.empty() && new_leader != old_leader;
      },
      kTtl + kTakeoverMargin));
  // The key went at once: no need to wait for a TTL.
  EXPECT_LT(absl::Now() - revoked, kTtl);
  const LeaderStatus old_status = contenders_[old_leader]->election->Status();
  EXPECT_FALSE(old_status.leading);
  EXPECT_NE(old_status.last_loss.find("deleted"), std::string::npos)
      << old_status.last_loss;
  EXPECT_GT(contenders_[new_leader]->election->Status().term, elected.term);

  change.set_sequence(2);
  absl::Status fenced = store.Append(change);
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition) << fenced;
  EXPECT_NE(fenced.message().find(new_leader), std::string::npos) << fenced;
}

TEST_F(LeaderTest, ResignHandsOverAtOnce) {
  for (const char* name : {"a:1", "b:1", "c:1"}) AddContender(name);
  const std::string old_leader = WaitForAgreedLeader(absl::Seconds(10));
  ASSERT_FALSE(old_leader.empty());
  const absl::Time resigned = absl::Now();
  contenders_[old_leader]->election->Resign();
  EXPECT_FALSE(contenders_[old_leader]->election->Status().leading);
  std::vector<std::string> rest;
  for (const std::string& name : names_) {
    if (name != old_leader) rest.push_back(name);
  }
  std::string new_leader;
  ASSERT_TRUE(observer_.WaitUntil(
      [&](const std::map<std::string, LeaderStatus>& latest) {
        new_leader = AgreedLeader(latest, rest);
        return !new_leader.empty();
      },
      kTtl));
  EXPECT_LT(absl::Now() - resigned, kTtl);
}

// The leader loses its connection to etcd: no keep-alive reaches etcd any
// more. It stops leading by its own count, no later than etcd expires its
// lease; one of the others takes over within the TTL plus a margin.
TEST_F(LeaderTest, LeaderCutOffFromEtcdStepsDownAndIsReplaced) {
  auto forwarder =
      cascade::testing::TcpForwarder::Start(cluster_->endpoints()[0]);
  ASSERT_TRUE(forwarder.ok()) << forwarder.status();
  AddContender("cut:1", {(*forwarder)->endpoint()});
  ASSERT_TRUE(contenders_["cut:1"]->election->WaitFor(
      [](const LeaderStatus& s) { return s.leading; }, absl::Seconds(10)));
  AddContender("b:1");
  AddContender("c:1");
  ASSERT_EQ(WaitForAgreedLeader(absl::Seconds(10)), "cut:1");

  const absl::Time cut = absl::Now();
  (*forwarder)->Cut();
  LeaderElection* cut_off = contenders_["cut:1"]->election.get();
  std::string new_leader;
  bool overlap = false;
  ASSERT_TRUE(observer_.WaitUntil(
      [&](const std::map<std::string, LeaderStatus>& latest) {
        for (const char* name : {"b:1", "c:1"}) {
          if (latest.at(name).leading) {
            new_leader = name;
            // Never two leaders: the cut-off one has stopped by now.
            overlap = cut_off->Status().leading;
            return true;
          }
        }
        return false;
      },
      kTtl + kTakeoverMargin))
      << "no takeover within the TTL plus " << kTakeoverMargin;
  EXPECT_FALSE(overlap);
  const absl::Duration takeover = absl::Now() - cut;
  EXPECT_LE(takeover, kTtl + kTakeoverMargin);
  std::cerr << "takeover after the leader was cut off: "
            << absl::FormatDuration(takeover) << " (TTL "
            << absl::FormatDuration(kTtl) << ")\n";
  // The cut-off leader reports the loss itself.
  ASSERT_TRUE(cut_off->WaitFor(
      [](const LeaderStatus& s) { return !s.last_loss.empty(); },
      absl::Seconds(3)));
  EXPECT_NE(cut_off->Status().last_loss.find("lease"), std::string::npos)
      << cut_off->Status().last_loss;
}

}  // namespace
}  // namespace cascade::topology::etcd
