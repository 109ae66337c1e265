// The persistent state's transitions: one pure function per accepted
// change, shared by live changes and journal replay so both give the same
// state.
#ifndef CASCADE_TOPOLOGY_STATE_H_
#define CASCADE_TOPOLOGY_STATE_H_

#include "absl/status/status.h"
#include "proto/controller.pb.h"

namespace cascade::topology {

// Applies `change` to `state` and validates the result. On error `state` may
// be partly changed: callers apply to a copy. Errors: NOT_FOUND (unknown
// node), ALREADY_EXISTS, FAILED_PRECONDITION (refused in this state),
// INVALID_ARGUMENT (the result would not validate).
absl::Status ApplyChangeToState(const cascade::v1::Change& change,
                                cascade::v1::ControllerState* state);

// The admin entry of `id`, created if absent.
cascade::v1::NodeAdminState* MutableAdmin(cascade::v1::ControllerState* state,
                                          const std::string& id);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_STATE_H_
