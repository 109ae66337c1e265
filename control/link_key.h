// The key a child signs its activations at one parent with (docs/relayd.md):
// HMAC-SHA256 under the child's node key of "cascade-link-v1:PARENT_ID".
// topologyd hands relays theirs in assignments; a site, which has no
// controller link, is configured with its own (relayctl render, the sim).
#ifndef CASCADE_CONTROL_LINK_KEY_H_
#define CASCADE_CONTROL_LINK_KEY_H_

#include <string>

namespace cascade::control {

// The 32-byte link key of the child whose node key is `child_key` toward
// parent `parent_id`, as raw bytes.
std::string LinkKey(const std::string& child_key, const std::string& parent_id);

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_LINK_KEY_H_
