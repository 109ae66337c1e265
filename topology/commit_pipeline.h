// How an accepted change reaches the store, the way etcd's raft loop takes a
// proposal:
//
//   DECIDE   under the owner's lock: the change is resolved and validated
//            against the newest decided state (the owner keeps it), so two
//            changes decided back to back never both pass against the same
//            state;
//   PERSIST  on the pipeline's own thread with no lock held, one change at a
//            time in decision order (a journal fsync, an etcd transaction);
//   APPLY    under the owner's lock again, once the store said the change is
//            durable: the owner's `apply` makes it current and publishes it.
//
// A change that cannot be persisted is not applied, nor is any change
// decided after it (each was validated against a state that includes it):
// all of them are handed to `apply` with an error. Callers of the owner
// (reports, timers) thus never wait for the store, only for the lock.
#ifndef CASCADE_TOPOLOGY_COMMIT_PIPELINE_H_
#define CASCADE_TOPOLOGY_COMMIT_PIPELINE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/prometheus_text.h"
#include "proto/controller.pb.h"
#include "topology/store.h"

namespace cascade::topology {

using ChangeResult = absl::StatusOr<cascade::v1::ChangeResponse>;
// Receives a change's outcome, without the owner's lock held.
using ChangeDone = std::function<void(ChangeResult)>;

// One decided change on its way through the pipeline.
struct Commit {
  // Resolved (keys, policies, pins) and numbered: the owner applies it to
  // its current state as a replay of the journal would.
  cascade::v1::Change change;
  // The whole state with `change` applied, only when its record is due a
  // snapshot (SnapshotDue): copying a million nodes per change is seconds.
  std::unique_ptr<cascade::v1::ControllerState> snapshot;
  // The decider's own follow-up, for the owner's `apply` to run under the
  // lock: true once applied, false if dropped. May be empty.
  std::function<void(bool applied)> settle;
  // Gets what `apply` returned; may be empty.
  ChangeDone done;
};

class CommitPipeline {
 public:
  // Called with `*mu` held for each commit, in decision order, once
  // persisted (`persisted` OK) or dropped (why); returns the outcome
  // `done` receives.
  using Apply = std::function<ChangeResult(Commit& commit,
                                           const absl::Status& persisted)>;

  // `mu` is the owner's lock: it guards the queue and is held for `apply`.
  // From Recover on, only the pipeline touches `store`. A snapshot is written
  // every `snapshot_every` records.
  CommitPipeline(Store* store, uint64_t snapshot_every, absl::Mutex* mu,
                 Apply apply);
  // Persists and applies what is still queued, then stops the thread.
  ~CommitPipeline();
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // Reads the store. Once, before any Push.
  absl::StatusOr<RecoveredState> Recover() ABSL_LOCKS_EXCLUDED(mu_);

  // Whether the next commit pushed will be due a snapshot once persisted:
  // then it carries one (Commit::snapshot).
  bool SnapshotDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return records_ + queue_.size() + 1 >= snapshot_every_;
  }
  void Push(std::unique_ptr<Commit> commit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns once every commit pushed before the call has been handed to
  // `apply` and its `done` has returned. Not from `done` itself.
  void AwaitSettled() ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t RecordsSinceSnapshot() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return records_;
  }
  // How long each Persist took (the append, and a snapshot when one was
  // due): journal fsyncs or etcd transactions, for /metrics.
  const DurationHistogram& PersistLatency() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return persist_latency_;
  }

 private:
  void Run();
  // Append, then a snapshot when one is due: on the thread, nothing held.
  absl::Status Persist(const Commit& commit);

  Store* const store_;
  const uint64_t snapshot_every_;
  absl::Mutex* const mu_;
  const Apply apply_;
  // Decided, oldest first; the front is the one being persisted. Commits
  // are heap objects, so the thread reads the front without the lock while
  // others push behind it.
  std::deque<std::unique_ptr<Commit>> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t pushed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t settled_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t records_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  DurationHistogram persist_latency_ ABSL_GUARDED_BY(mu_){
      ControlLatencyBounds()};
  std::thread thread_;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_COMMIT_PIPELINE_H_
