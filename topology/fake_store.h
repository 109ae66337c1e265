// Stores for tests: MemoryStore keeps changes in memory; GatedStore wraps
// another store and lets a test hold appends in flight or make them fail.
#ifndef CASCADE_TOPOLOGY_FAKE_STORE_H_
#define CASCADE_TOPOLOGY_FAKE_STORE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/controller.pb.h"
#include "topology/store.h"

namespace cascade::topology {

class MemoryStore : public Store {
 public:
  absl::StatusOr<RecoveredState> Recover() override;
  absl::Status Append(const cascade::v1::Change& change) override;
  absl::Status WriteSnapshot(
      const cascade::v1::ControllerState& state) override;
  uint64_t RecordsSinceSnapshot() const override { return changes_.size(); }

 private:
  cascade::v1::ControllerState snapshot_;
  std::vector<cascade::v1::Change> changes_;
};

class GatedStore : public Store {
 public:
  // `inner` must outlive the store.
  explicit GatedStore(Store* inner) : inner_(inner) {}

  absl::StatusOr<RecoveredState> Recover() override;
  // Waits while the gate is closed, then fails if told to, else appends.
  absl::Status Append(const cascade::v1::Change& change) override;
  absl::Status WriteSnapshot(
      const cascade::v1::ControllerState& state) override;
  uint64_t RecordsSinceSnapshot() const override;

  // Appends from now on wait until Open.
  void Close();
  void Open();
  // The next append through the gate fails with `status`, writing nothing.
  void FailNext(absl::Status status);
  // Waits (at most `timeout`) until `count` appends have reached the gate
  // since the store was made; false on timeout.
  bool AwaitArrivals(int count, absl::Duration timeout);
  int arrivals() const;

 private:
  Store* const inner_;
  mutable absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  absl::Status fail_next_ ABSL_GUARDED_BY(mu_);
  int arrivals_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_FAKE_STORE_H_
