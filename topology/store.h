// Where the controller's accepted changes live. The embedded implementation
// is the journal (journal.h); a distributed one (etcd) can replace it.
#ifndef CASCADE_TOPOLOGY_STORE_H_
#define CASCADE_TOPOLOGY_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/controller.pb.h"

namespace cascade::topology {

struct RecoveredState {
  // The newest snapshot (empty state with sequence 0 if there is none).
  cascade::v1::ControllerState snapshot;
  // Changes after the snapshot, in sequence order, to replay.
  std::vector<cascade::v1::Change> changes;
  // Bytes found after the last intact record and set aside unused.
  uint64_t discarded_bytes = 0;
  // Why they were set aside (torn record, bad checksum, ...); empty if none.
  std::string note;
};

class Store {
 public:
  virtual ~Store() = default;
  // Reads what is stored. Called once, before any Append.
  virtual absl::StatusOr<RecoveredState> Recover() = 0;
  // Returns only once `change` is durable.
  virtual absl::Status Append(const cascade::v1::Change& change) = 0;
  // Replaces everything stored so far by `state` (which folds in every
  // change appended so far).
  virtual absl::Status WriteSnapshot(
      const cascade::v1::ControllerState& state) = 0;
  // Records appended since the last snapshot.
  virtual uint64_t RecordsSinceSnapshot() const = 0;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_STORE_H_
