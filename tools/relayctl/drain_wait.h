// relayctl drain --wait: drains a node, then waits until it reports no
// active children and every child it had receives from its new parent.
#ifndef CASCADE_TOOLS_RELAYCTL_DRAIN_WAIT_H_
#define CASCADE_TOOLS_RELAYCTL_DRAIN_WAIT_H_

#include <string>

#include "tools/relayctl/session.h"

namespace cascade::relayctl {

// Returns relayctl's exit code: kExitTimeout when `id` is not empty within
// --timeout (the drain itself stays in force).
int DrainAndWait(Session& session, const std::string& id);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_DRAIN_WAIT_H_
