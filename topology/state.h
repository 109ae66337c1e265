// The persistent state's transitions: one pure function per accepted
// change, shared by live changes and journal replay so both give the same
// state.
#ifndef CASCADE_TOPOLOGY_STATE_H_
#define CASCADE_TOPOLOGY_STATE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/controller.pb.h"

namespace cascade::topology {

// Audit records the state keeps (ControllerState.audit), the newest.
inline constexpr int kAuditTrail = 1000;
// Edge keys the state keeps (ControllerState.edge_keys): the current one
// and the one before it.
inline constexpr int kEdgeKeysKept = 2;

// Applies `change` to `state` and validates the result. On error `state` may
// be partly changed: callers apply to a copy. Errors: NOT_FOUND (unknown
// node), ALREADY_EXISTS, FAILED_PRECONDITION (refused in this state),
// INVALID_ARGUMENT (the result would not validate).
// `validated`: the change was applied and validated on this very state
// already (decided, now durable), so the topology is not validated again.
absl::Status ApplyChangeToState(const cascade::v1::Change& change,
                                cascade::v1::ControllerState* state,
                                bool validated = false);

// Whether `change` writes the topology (apply, add, remove, move, new link
// keys). Any other change reads it at most: it is validated again only after
// one of these, and a copy of the state to decide another on may borrow the
// topology instead of copying it.
bool ChangesTopology(const cascade::v1::Change& change);

// Whether the token `id` of `operator_name`, issued at `issued`, has been
// revoked (by its id, or with every token of its operator issued up to
// the revocation).
bool TokenRevoked(const cascade::v1::ControllerState& state,
                  const std::string& operator_name, const std::string& id,
                  absl::Time issued);

// The admin entry of `id`, created if absent.
cascade::v1::NodeAdminState* MutableAdmin(cascade::v1::ControllerState* state,
                                          const std::string& id);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_STATE_H_
