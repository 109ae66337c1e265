#include "topology/fake_store.h"

#include <utility>

namespace cascade::topology {

absl::StatusOr<RecoveredState> MemoryStore::Recover() {
  RecoveredState recovered;
  recovered.snapshot = snapshot_;
  recovered.changes = changes_;
  return recovered;
}

absl::Status MemoryStore::Append(const cascade::v1::Change& change) {
  changes_.push_back(change);
  return absl::OkStatus();
}

absl::Status MemoryStore::WriteSnapshot(
    const cascade::v1::ControllerState& state) {
  snapshot_ = state;
  changes_.clear();
  return absl::OkStatus();
}

absl::StatusOr<RecoveredState> GatedStore::Recover() {
  return inner_->Recover();
}

absl::Status GatedStore::Append(const cascade::v1::Change& change) {
  {
    absl::MutexLock lock(&mu_);
    ++arrivals_;
    mu_.Await(absl::Condition(&open_));
    if (!fail_next_.ok()) return std::exchange(fail_next_, absl::OkStatus());
  }
  return inner_->Append(change);
}

absl::Status GatedStore::WriteSnapshot(
    const cascade::v1::ControllerState& state) {
  return inner_->WriteSnapshot(state);
}

uint64_t GatedStore::RecordsSinceSnapshot() const {
  return inner_->RecordsSinceSnapshot();
}

void GatedStore::Close() {
  absl::MutexLock lock(&mu_);
  open_ = false;
}

void GatedStore::Open() {
  absl::MutexLock lock(&mu_);
  open_ = true;
}

void GatedStore::FailNext(absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_next_ = std::move(status);
}

bool GatedStore::AwaitArrivals(int count, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto arrived = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return arrivals_ >= count;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
}

int GatedStore::arrivals() const {
  absl::MutexLock lock(&mu_);
  return arrivals_;
}

}  // namespace cascade::topology
