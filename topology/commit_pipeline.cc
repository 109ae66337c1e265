#include "topology/commit_pipeline.h"

#include <glog/logging.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cascade::topology {

CommitPipeline::CommitPipeline(Store* store, uint64_t snapshot_every,
                               absl::Mutex* mu, Apply apply)
    : store_(store),
      snapshot_every_(snapshot_every),
      mu_(mu),
      apply_(std::move(apply)),
      thread_([this] { Run(); }) {}

CommitPipeline::~CommitPipeline() {
  {
    absl::MutexLock lock(mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::StatusOr<RecoveredState> CommitPipeline::Recover() {
  absl::StatusOr<RecoveredState> recovered = store_->Recover();
  absl::MutexLock lock(mu_);
  records_ = store_->RecordsSinceSnapshot();
  return recovered;
}

void CommitPipeline::Push(std::unique_ptr<Commit> commit) {
  queue_.push_back(std::move(commit));
  ++pushed_;
}

void CommitPipeline::AwaitSettled() {
  absl::MutexLock lock(mu_);
  const uint64_t target = pushed_;
  auto settled = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return settled_ >= target;
  };
  mu_->Await(absl::Condition(&settled));
}

absl::Status CommitPipeline::Persist(const Commit& commit) {
  absl::Status status = store_->Append(commit.change);
  if (!status.ok()) return status;
  // A commit decided before a snapshot came due has none: a later one will.
  if (store_->RecordsSinceSnapshot() >= snapshot_every_ &&
      commit.snapshot != nullptr) {
    // The change is durable in the journal already: a failed snapshot only
    // leaves a longer journal to replay.
    absl::Status snapshot = store_->WriteSnapshot(*commit.snapshot);
    if (!snapshot.ok()) LOG(WARNING) << "snapshot failed: " << snapshot;
  }
  return absl::OkStatus();
}

void CommitPipeline::Run() {
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  };
  std::vector<std::pair<ChangeDone, ChangeResult>> answers;
  for (;;) {
    const Commit* next;
    {
      absl::MutexLock lock(mu_);
      mu_->Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything is settled
      next = queue_.front().get();
    }
    const absl::Time began = absl::Now();
    const absl::Status persisted = Persist(*next);
    const absl::Duration took = absl::Now() - began;
    size_t settled;
    {
      absl::MutexLock lock(mu_);
      records_ = store_->RecordsSinceSnapshot();
      persist_latency_.Observe(absl::ToDoubleSeconds(took));
      // A failure drops every commit decided after it too: their states
      // build on this one.
      settled = persisted.ok() ? 1 : queue_.size();
      const uint64_t failed_sequence = next->change.sequence();
      for (size_t k = 0; k < settled; ++k) {
        std::unique_ptr<Commit> commit = std::move(queue_.front());
        queue_.pop_front();
        ChangeResult result = apply_(
            *commit, k == 0 ? persisted
                            : absl::UnavailableError(absl::StrCat(
                                  "change ", failed_sequence,
                                  ", decided before it, was not persisted: ",
                                  persisted.message())));
        if (commit->done) {
          answers.emplace_back(std::move(commit->done), std::move(result));
        }
      }
    }
    // Outside the lock: an answer may be a gRPC call.
    for (auto& [done, result] : answers) done(std::move(result));
    answers.clear();
    absl::MutexLock lock(mu_);
    settled_ += settled;
  }
}

}  // namespace cascade::topology
