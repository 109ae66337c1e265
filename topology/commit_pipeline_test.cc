#include "topology/commit_pipeline.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "topology/fake_store.h"

namespace cascade::topology {
namespace {

using cascade::v1::ControllerState;

constexpr absl::Duration kDeadline = absl::Seconds(10);

// The test plays the pipeline's owner: a current state under its lock,
// changes decided against the newest decided state (the sequence number
// stands for the whole state), applies recorded.
class CommitPipelineTest : public ::testing::Test {
 protected:
  CommitPipelineTest() : gated_(&memory_) {}

  void Make(uint64_t snapshot_every) {
    pipeline_ = std::make_unique<CommitPipeline>(
        &gated_, snapshot_every, &mu_,
        [this](Commit& commit, const absl::Status& persisted)
            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> ChangeResult {
              applied_.emplace_back(commit.change.sequence(), persisted.ok());
              if (!persisted.ok()) {
                decided_ = current_;
                return persisted;
              }
              current_.set_sequence(commit.change.sequence());
              cascade::v1::ChangeResponse response;
              response.set_state_sequence(current_.sequence());
              return response;
            });
    ASSERT_TRUE(pipeline_->Recover().ok());
  }

  // Decides a drain of `id`, numbered after the newest decided state.
  void Push(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto commit = std::make_unique<Commit>();
    commit->change.mutable_drain()->set_id(id);
    commit->change.set_sequence(decided_.sequence() + 1);
    decided_.set_sequence(commit->change.sequence());
    if (pipeline_->SnapshotDue()) {
      commit->snapshot = std::make_unique<ControllerState>(decided_);
    }
    commit->done = [this](ChangeResult result) {
      absl::MutexLock lock(&results_mu_);
      results_.push_back(std::move(result));
    };
    pipeline_->Push(std::move(commit));
  }

  std::vector<ChangeResult> Results() {
    absl::MutexLock lock(&results_mu_);
    return results_;
  }

  // What the store holds, once the pipeline is settled.
  std::vector<uint64_t> Stored() {
    std::vector<uint64_t> sequences;
    absl::StatusOr<RecoveredState> stored = memory_.Recover();
    if (!stored.ok()) return sequences;
    for (const auto& change : stored->changes) {
      sequences.push_back(change.sequence());
    }
    return sequences;
  }

  MemoryStore memory_;
  GatedStore gated_;
  absl::Mutex mu_;
  ControllerState current_ ABSL_GUARDED_BY(mu_);
  ControllerState decided_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, bool>> applied_ ABSL_GUARDED_BY(mu_);
  absl::Mutex results_mu_;
  std::vector<ChangeResult> results_ ABSL_GUARDED_BY(results_mu_);
  std::unique_ptr<CommitPipeline> pipeline_;
};

TEST_F(CommitPipelineTest, PersistsWithoutTheLockThenAppliesInOrder) {
  Make(1000);
  gated_.Close();
  Push("a");
  Push("b");
  Push("c");
  ASSERT_TRUE(gated_.AwaitArrivals(1, kDeadline));
  // The first append is in flight, and the owner's lock is free.
  const bool locked = mu_.TryLock();
  EXPECT_TRUE(locked);
  if (locked) {
    EXPECT_TRUE(applied_.empty());
    EXPECT_EQ(current_.sequence(), 0u);
    mu_.Unlock();
  }
  EXPECT_EQ(gated_.arrivals(), 1);  // one at a time
  gated_.Open();
  pipeline_->AwaitSettled();

  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(applied_, (std::vector<std::pair<uint64_t, bool>>{
                            {1, true}, {2, true}, {3, true}}));
    EXPECT_EQ(current_.sequence(), 3u);
    EXPECT_EQ(pipeline_->RecordsSinceSnapshot(), 3u);
  }
  std::vector<ChangeResult> results = Results();
  ASSERT_EQ(results.size(), 3u);
  for (uint64_t k = 0; k < 3; ++k) {
    ASSERT_TRUE(results[k].ok()) << results[k].status();
    EXPECT_EQ(results[k]->state_sequence(), k + 1);
  }
  EXPECT_EQ(Stored(), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(CommitPipelineTest, AFailureDropsItAndEverythingDecidedAfterIt) {
  Make(1000);
  gated_.Close();
  gated_.FailNext(absl::InternalError("disk full"));
  Push("a");
  Push("b");
  ASSERT_TRUE(gated_.AwaitArrivals(1, kDeadline));
  gated_.Open();
  pipeline_->AwaitSettled();
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(applied_,
              (std::vector<std::pair<uint64_t, bool>>{{1, false}, {2, false}}));
    EXPECT_EQ(current_.sequence(), 0u);
  }
  std::vector<ChangeResult> results = Results();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status().message(), "disk full");
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(results[1].status().message().find("change 1"),
            absl::string_view::npos)
      << results[1].status();
  EXPECT_TRUE(Stored().empty());

  // The next change is decided against what is applied, and lands.
  Push("c");
  pipeline_->AwaitSettled();
  results = Results();
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_EQ(results[2]->state_sequence(), 1u);
  EXPECT_EQ(Stored(), (std::vector<uint64_t>{1}));
}

TEST_F(CommitPipelineTest, SnapshotsTheDecidedStateWhenDue) {
  Make(2);
  for (const char* id : {"a", "b", "c"}) Push(id);
  pipeline_->AwaitSettled();
  absl::StatusOr<RecoveredState> stored = memory_.Recover();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->snapshot.sequence(), 2u);
  ASSERT_EQ(stored->changes.size(), 1u);
  EXPECT_EQ(stored->changes[0].sequence(), 3u);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(pipeline_->RecordsSinceSnapshot(), 1u);
}

TEST_F(CommitPipelineTest, OnlyTheCommitsDueASnapshotCarryOne) {
  Make(3);
  gated_.Close();
  std::vector<bool> carried;
  for (const char* id : {"a", "b", "c", "d"}) {
    {
      absl::MutexLock lock(&mu_);
      carried.push_back(pipeline_->SnapshotDue());
    }
    Push(id);
  }
  // Records 1 and 2 are not due; 3 is, and 4 too until 3's snapshot is
  // written (it is decided before 3 is persisted).
  EXPECT_EQ(carried, (std::vector<bool>{false, false, true, true}));
  gated_.Open();
  pipeline_->AwaitSettled();
  absl::StatusOr<RecoveredState> stored = memory_.Recover();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->snapshot.sequence(), 3u);
  ASSERT_EQ(stored->changes.size(), 1u);
  EXPECT_EQ(stored->changes[0].sequence(), 4u);
}

TEST_F(CommitPipelineTest, DestructionPersistsAndAppliesWhatIsQueued) {
  Make(1000);
  gated_.Close();
  Push("a");
  Push("b");
  ASSERT_TRUE(gated_.AwaitArrivals(1, kDeadline));
  gated_.Open();
  pipeline_.reset();
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(applied_.size(), 2u);
  EXPECT_EQ(current_.sequence(), 2u);
}

}  // namespace
}  // namespace cascade::topology
