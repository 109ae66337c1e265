// relayctl's commands that only read the controller's state and print it:
// tree, nodes, show, stats, events, sdp and prometheus.
#ifndef CASCADE_TOOLS_RELAYCTL_READ_COMMANDS_H_
#define CASCADE_TOOLS_RELAYCTL_READ_COMMANDS_H_

#include <string>

#include "tools/relayctl/session.h"

namespace cascade::relayctl {

// Each returns relayctl's exit code; results go to session.out().
int Tree(Session& session, const std::string& root);
int Nodes(Session& session);
int Show(Session& session, const std::string& id);
int Stats(Session& session);
int Events(Session& session);
int Sdp(Session& session, const std::string& site);
int Prometheus(Session& session);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_READ_COMMANDS_H_
