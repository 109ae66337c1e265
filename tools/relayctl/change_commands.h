// relayctl's commands that change the topology: apply, add, and the changes
// to one node or site (remove, move, drain without --wait, failover,
// restore, select, release).
#ifndef CASCADE_TOOLS_RELAYCTL_CHANGE_COMMANDS_H_
#define CASCADE_TOOLS_RELAYCTL_CHANGE_COMMANDS_H_

#include <string>

#include "tools/relayctl/session.h"

namespace cascade::relayctl {

// Each returns relayctl's exit code; the outcome goes to session.out().
int Apply(Session& session, const std::string& path);
int Add(Session& session, const std::string& text);
// `command` is one of the node changes above; `id` its NODE (or SITE).
int ChangeNode(Session& session, const std::string& command,
               const std::string& id);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_CHANGE_COMMANDS_H_
