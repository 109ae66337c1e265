// EtcdStore against a real etcd member started by the test.
#include "topology/etcd/etcd_store.h"

#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/etcd/etcd_harness.h"

namespace cascade::topology::etcd {
namespace {

using cascade::v1::Change;
using cascade::v1::ControllerState;

class EtcdStoreTest : public ::testing::Test {
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
    client_ = NewClient();
    // Each test in keys of its own.
    prefix_ = absl::StrCat(
        "/test/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "/");
  }

  static std::unique_ptr<EtcdClient> NewClient() {
    auto client = EtcdClient::Create(cluster_->ClientOptions());
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }

  std::unique_ptr<EtcdStore> NewStore(
      EtcdClient* client, std::string fence_key = "",
      int64_t fence_revision = 0,
      std::function<void(const absl::Status&)> on_refused = nullptr) {
    EtcdStoreOptions options;
    options.prefix = prefix_;
    options.fence_key = std::move(fence_key);
    options.fence_revision = fence_revision;
    options.on_refused = std::move(on_refused);
    return std::make_unique<EtcdStore>(client, options);
  }

  static Change Select(uint64_t sequence, const std::string& site) {
    Change change;
    change.set_sequence(sequence);
    change.mutable_select()->set_site(site);
    return change;
  }

  static cascade::testing::EtcdCluster* cluster_;
  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;
};

cascade::testing::EtcdCluster* EtcdStoreTest::cluster_ = nullptr;

TEST_F(EtcdStoreTest, EmptyStoreRecoversEmpty) {
  auto store = NewStore(client_.get());
  auto recovered = store->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->snapshot.sequence(), 0u);
  EXPECT_TRUE(recovered->changes.empty());
  EXPECT_EQ(store->RecordsSinceSnapshot(), 0u);
}

TEST_F(EtcdStoreTest, ChangesAndSnapshotSurviveANewInstance) {
  {
    auto store = NewStore(client_.get());
    ASSERT_TRUE(store->Recover().ok());
    for (uint64_t s = 1; s <= 5; ++s) {
      ASSERT_TRUE(store->Append(Select(s, absl::StrCat("site-", s))).ok());
    }
    EXPECT_EQ(store->RecordsSinceSnapshot(), 5u);
  }
  {
    auto store = NewStore(client_.get());
    auto recovered = store->Recover();
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_EQ(recovered->changes.size(), 5u);
    for (uint64_t s = 1; s <= 5; ++s) {
      EXPECT_EQ(recovered->changes[s - 1].sequence(), s);
      EXPECT_EQ(recovered->changes[s - 1].select().site(),
                absl::StrCat("site-", s));
    }
    ControllerState state;
    state.set_sequence(5);
    state.add_selected_sites("site-5");
    ASSERT_TRUE(store->WriteSnapshot(state).ok());
    EXPECT_EQ(store->RecordsSinceSnapshot(), 0u);
    ASSERT_TRUE(store->Append(Select(6, "site-6")).ok());
    ASSERT_TRUE(store->Append(Select(7, "site-7")).ok());
  }
  auto store = NewStore(client_.get());
  auto recovered = store->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->snapshot.sequence(), 5u);
  ASSERT_EQ(recovered->snapshot.selected_sites_size(), 1);
  EXPECT_EQ(recovered->snapshot.selected_sites(0), "site-5");
  ASSERT_EQ(recovered->changes.size(), 2u);
  EXPECT_EQ(recovered->changes[0].sequence(), 6u);
  EXPECT_EQ(recovered->changes[1].select().site(), "site-7");
  EXPECT_EQ(store->RecordsSinceSnapshot(), 2u);
  // The snapshot deleted the changes it folded in.
  etcdserverpb::RangeRequest range;
  range.set_key(store->ChangesPrefix());
  range.set_range_end(PrefixEnd(store->ChangesPrefix()));
  range.set_count_only(true);
  auto count = client_->Range(range);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->count(), 2);
}

TEST_F(EtcdStoreTest, MisuseIsAClearError) {
  auto store = NewStore(client_.get());
  EXPECT_EQ(store->Append(Select(1, "a")).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store->Recover().ok());
  absl::Status gap = store->Append(Select(3, "a"));
  EXPECT_EQ(gap.code(), absl::StatusCode::kInvalidArgument) << gap;
  ASSERT_TRUE(store->Append(Select(1, "a")).ok());
  ControllerState stale;
  stale.set_sequence(0);
  EXPECT_EQ(store->WriteSnapshot(stale).code(),
            absl::StatusCode::kInvalidArgument);
}

// etcd's default request limit is 1.5 MiB: a larger change is refused with
// the remedy named, and nothing is written.
TEST_F(EtcdStoreTest, OversizedWriteNamesEtcdsLimit) {
  auto store = NewStore(client_.get());
  ASSERT_TRUE(store->Recover().ok());
  absl::Status status = store->Append(Select(1, std::string(2 << 20, 'x')));
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("--max-request-bytes"), std::string::npos)
      << status;
  ASSERT_TRUE(store->Append(Select(1, "small")).ok());
  auto recovered = NewStore(client_.get())->Recover();
  ASSERT_TRUE(recovered.ok());
  ASSERT_EQ(recovered->changes.size(), 1u);
  EXPECT_EQ(recovered->changes[0].select().site(), "small");
}

TEST_F(EtcdStoreTest, DamagedStateIsDataLossNotAGuess) {
  auto store = NewStore(client_.get());
  ASSERT_TRUE(store->Recover().ok());
  ASSERT_TRUE(store->Append(Select(1, "a")).ok());
  ASSERT_TRUE(store->Append(Select(2, "b")).ok());
  etcdserverpb::PutRequest put;
  put.set_key(store->ChangeKey(1));
  put.set_value("\xff\xff not a change");
  ASSERT_TRUE(client_->Put(put).ok());
  auto recovered = NewStore(client_.get())->Recover();
  EXPECT_EQ(recovered.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(recovered.status().message().find(store->ChangeKey(1)),
            std::string::npos)
      << recovered.status();

  put.set_key(store->HeadKey());
  put.set_value("seven");
  ASSERT_TRUE(client_->Put(put).ok());
  EXPECT_EQ(NewStore(client_.get())->Recover().status().code(),
            absl::StatusCode::kDataLoss);
}

// Two controllers append at once, each through its own connection. Each
// sequence number goes to exactly one; the loser is refused, recovers and
// goes on from what the winner wrote. At the end the store holds every
// acknowledged change exactly once and nothing else.
TEST_F(EtcdStoreTest, RacingWritersNeverBothWinASequence) {
  constexpr uint64_t kLast = 40;
  absl::Mutex mu;
  std::set<std::pair<uint64_t, std::string>> acknowledged;
  int refusals = 0;
  auto writer = [&](const std::string& name) {
    auto client = NewClient();
    auto store = NewStore(client.get());
    auto recovered = store->Recover();
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    uint64_t next = recovered->changes.size() + 1;
    // Bounded: every round either appends or learns of a newer sequence.
    for (int round = 0; round < 4 * static_cast<int>(kLast) && next <= kLast;
         ++round) {
      const std::string site = absl::StrCat(name, "-", next);
      absl::Status status = store->Append(Select(next, site));
      if (status.ok()) {
        absl::MutexLock lock(&mu);
        EXPECT_TRUE(acknowledged.insert({next, site}).second);
        ++next;
        continue;
      }
      ASSERT_EQ(status.code(), absl::StatusCode::kAborted) << status;
      EXPECT_NE(status.message().find("another controller"), std::string::npos);
      {
        absl::MutexLock lock(&mu);
        ++refusals;
      }
      store = NewStore(client.get());
      recovered = store->Recover();
      ASSERT_TRUE(recovered.ok()) << recovered.status();
      next = recovered->changes.size() + 1;
    }
  };
  std::thread a(writer, "a");
  std::thread b(writer, "b");
  a.join();
  b.join();

  auto recovered = NewStore(client_.get())->Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_EQ(recovered->changes.size(), kLast);
  std::set<std::pair<uint64_t, std::string>> stored;
  for (const Change& change : recovered->changes) {
    stored.insert({change.sequence(), change.select().site()});
  }
  // Every acknowledged change is stored, nothing unacknowledged is, and no
  // sequence number was acknowledged twice.
  EXPECT_EQ(stored, acknowledged);
  std::set<uint64_t> sequences;
  for (const auto& [sequence, site] : acknowledged) sequences.insert(sequence);
  EXPECT_EQ(sequences.size(), acknowledged.size());
  std::cerr << "racing writers: " << refusals << " refusals over " << kLast
            << " changes\n";
}

TEST_F(EtcdStoreTest, FencedWriterIsRefusedAndWritesNothing) {
  const std::string leader_key = prefix_ + "leader";
  etcdserverpb::PutRequest put;
  put.set_key(leader_key);
  put.set_value("127.0.0.1:1");
  auto elected = client_->Put(put);
  ASSERT_TRUE(elected.ok()) << elected.status();
  const int64_t term = elected->header().revision();

  std::vector<absl::Status> told;
  auto store =
      NewStore(client_.get(), leader_key, term,
               [&told](const absl::Status& status) { told.push_back(status); });
  ASSERT_TRUE(store->Recover().ok());
  ASSERT_TRUE(store->Append(Select(1, "a")).ok());
  EXPECT_TRUE(told.empty());

  // The term ends (its lease lapsed): the key is gone.
  etcdserverpb::TxnRequest remove;
  auto* op = remove.add_success()->mutable_request_delete_range();
  op->set_key(leader_key);
  ASSERT_TRUE(client_->Txn(remove).ok());
  absl::Status fenced = store->Append(Select(2, "b"));
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition) << fenced;
  EXPECT_NE(fenced.message().find("fenced"), std::string::npos);
  // The controller above the store hears of it (topologyd steps down).
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0], fenced);

  // Someone else is elected: the key exists again, with a newer revision.
  put.set_value("127.0.0.1:2");
  ASSERT_TRUE(client_->Put(put).ok());
  fenced = store->Append(Select(2, "b"));
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition) << fenced;
  EXPECT_NE(fenced.message().find("127.0.0.1:2"), std::string::npos) << fenced;
  ControllerState state;
  state.set_sequence(1);
  EXPECT_EQ(store->WriteSnapshot(state).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(told.size(), 3u);

  auto recovered = NewStore(client_.get())->Recover();
  ASSERT_TRUE(recovered.ok());
  ASSERT_EQ(recovered->changes.size(), 1u);
  EXPECT_EQ(recovered->changes[0].select().site(), "a");
  EXPECT_EQ(recovered->snapshot.sequence(), 0u);
}

}  // namespace
}  // namespace cascade::topology::etcd
