// What a node id may be, in one place for the controller, relayd and the
// tools: 1 to 64 bytes (the signed activation carries it in at most 64),
// printable ASCII without spaces (it names metrics pages, log lines and
// command-line arguments).
#ifndef CASCADE_CONTROL_NODE_ID_H_
#define CASCADE_CONTROL_NODE_ID_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cascade::control {

inline constexpr size_t kMaxNodeIdSize = 64;

// OK, or InvalidArgument saying what is wrong (without echoing an overlong
// id whole).
absl::Status ValidateNodeId(absl::string_view id);

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_NODE_ID_H_
