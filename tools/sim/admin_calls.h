// relay-sim's own calls on the controllers' Admin API: each goes to the
// controller that leads, and a change is timed until every relay it
// reached has applied and acked its new assignment.
#ifndef CASCADE_TOOLS_SIM_ADMIN_CALLS_H_
#define CASCADE_TOOLS_SIM_ADMIN_CALLS_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/controller.grpc.pb.h"
#include "proto/sim_scenario.pb.h"
#include "tools/sim/control_plane.h"

namespace cascade::sim {

// Assignment versions of the relays, by id.
using AssignmentVersions = absl::flat_hash_map<std::string, uint64_t>;

class AdminCalls {
 public:
  using Rpc = std::function<grpc::Status(cascade::v1::Admin::Stub*,
                                         grpc::ClientContext*)>;
  // Sleeps until the given time while the run goes on (exited processes
  // noted, controllers restarted); not OK once interrupted.
  using SleepUntil = std::function<absl::Status(absl::Time)>;

  // With `assignments_pushed` (controller mode) a change is timed until
  // the relays acked it. Calls are recorded in `record`; the arguments
  // must outlive this.
  AdminCalls(ControlPlane* control_plane, bool assignments_pushed,
             cascade::v1::SimControlPlane* record, SleepUntil sleep_until);

  // `rpc` on the controller that leads; a follower's refusal (the leader
  // changed) is sent once more to the new leader, as it was surely not
  // applied.
  grpc::Status CallLeader(const Rpc& rpc);
  absl::StatusOr<cascade::v1::GetTopologyResponse> GetTopology();

  // Waits until every relay whose assignment differs from `before` has
  // acked it, and with `all_up` until every relay is up and every node has
  // a parent too (bounded by `deadline`); returns how many relays had a new
  // assignment.
  absl::StatusOr<int> WaitForAcks(const AssignmentVersions& before,
                                  absl::Time deadline, bool all_up = false);

  struct ChangeResult {
    bool accepted = false;
    // Relays whose assignment the change altered, every one of them acked;
    // -1 when not known (standalone, or not every relay acked in time). 0
    // while a restarted topologyd learns: it pushes nothing until then.
    int relays_changed = -1;
  };
  // An Admin change, recorded with its latency under the label of the
  // step that made it; then (controller mode) the wait for the relays'
  // acks. What happened goes to `detail`; `called` (when given) gets the
  // time of the call.
  ChangeResult Change(const std::string& label, const std::string& call,
                      const Rpc& rpc, std::string* detail,
                      absl::Time* called = nullptr);

  // After a fault on the leader: waits (bounded by the leader's lease
  // `leader_ttl` and a margin) until another controller leads and every
  // one of `relays` relays reported to it; names it and both times in
  // `detail`. False when either did not happen.
  bool AwaitTakeover(absl::Duration leader_ttl, int relays,
                     std::string* detail);

 private:
  ControlPlane* control_plane_;
  const bool assignments_pushed_;
  cascade::v1::SimControlPlane* record_;
  SleepUntil sleep_until_;
};

}  // namespace cascade::sim

#endif  // CASCADE_TOOLS_SIM_ADMIN_CALLS_H_
