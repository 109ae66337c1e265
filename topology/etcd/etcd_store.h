// The Store in etcd, for controllers that share one state.
//
//   PREFIX head                 the last sequence number written (decimal)
//   PREFIX snapshot             ControllerState, serialised
//   PREFIX changes/<20 digits>  Change, serialised, one key per sequence
//
// Every write is one etcd transaction guarded by the head key's
// mod_revision as this store last saw it, so a write only lands on top of
// exactly the state this controller recovered and extended: of two
// controllers appending the same sequence number, one wins and the other
// gets Aborted. With a fence (the leader key this controller won, see
// leader.h), the transaction also requires that key to still have the
// create_revision it had when this controller was elected: a leader whose
// lease lapsed gets FailedPrecondition and nothing is written.
//
// A snapshot replaces the snapshot key and deletes every change key in the
// same transaction. etcd keeps each value whole (no torn records), so
// anything Recover finds inconsistent is DataLoss, never guessed around.
#ifndef CASCADE_TOPOLOGY_ETCD_ETCD_STORE_H_
#define CASCADE_TOPOLOGY_ETCD_ETCD_STORE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "topology/etcd/etcd_client.h"
#include "topology/store.h"

namespace cascade::topology::etcd {

struct EtcdStoreOptions {
  // Starts every key the store writes ("/cascade/state/" keeps several
  // deployments apart in one etcd).
  std::string prefix = "/cascade/state/";
  // Fence: when `fence_key` is set, every write also requires that key to
  // have create_revision `fence_revision` (LeaderElection::Status()).
  std::string fence_key;
  int64_t fence_revision = 0;
  // Called with the refusal whenever a guarded write is refused (fenced, or
  // another controller wrote first): this store may never write again, so
  // its controller must stop acting as the leader (topologyd exits).
  std::function<void(const absl::Status&)> on_refused;
};

class EtcdStore : public Store {
 public:
  // `client` must outlive the store.
  EtcdStore(EtcdClient* client, EtcdStoreOptions options);
  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

  absl::StatusOr<RecoveredState> Recover() override;
  // Aborted when another writer got there first (this store must Recover
  // again, in a new instance, before it may write); FailedPrecondition when
  // the fence no longer holds.
  absl::Status Append(const cascade::v1::Change& change) override;
  absl::Status WriteSnapshot(
      const cascade::v1::ControllerState& state) override;
  uint64_t RecordsSinceSnapshot() const override { return records_; }

  std::string HeadKey() const { return options_.prefix + "head"; }
  std::string SnapshotKey() const { return options_.prefix + "snapshot"; }
  std::string ChangesPrefix() const { return options_.prefix + "changes/"; }
  std::string ChangeKey(uint64_t sequence) const;

 private:
  // The guards every write carries.
  void AddGuards(etcdserverpb::TxnRequest* txn) const;
  // Why a guarded write was refused (and tells on_refused), from the head and
  // fence keys read in the transaction's failure branch (`head` and `fence` are
  // their RangeResponses).
  absl::Status Refusal(absl::string_view what,
                       const etcdserverpb::RangeResponse& head,
                       const etcdserverpb::RangeResponse* fence) const;
  absl::Status Explain(absl::string_view what,
                       const etcdserverpb::RangeResponse& head,
                       const etcdserverpb::RangeResponse* fence) const;

  EtcdClient* const client_;
  const EtcdStoreOptions options_;
  bool recovered_ = false;
  // mod_revision of the head key as this store last read or wrote it (0:
  // the key does not exist).
  int64_t head_revision_ = 0;
  uint64_t last_sequence_ = 0;
  uint64_t records_ = 0;
};

}  // namespace cascade::topology::etcd

#endif  // CASCADE_TOPOLOGY_ETCD_ETCD_STORE_H_
