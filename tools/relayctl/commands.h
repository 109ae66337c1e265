// relayctl's commands over the Admin API: usage, operand counts and help,
// one table (commands.cc also writes the SDP of the sdp command).
#ifndef CASCADE_TOOLS_RELAYCTL_COMMANDS_H_
#define CASCADE_TOOLS_RELAYCTL_COMMANDS_H_

#include <map>
#include <string>

namespace cascade::relayctl {

struct Command {
  std::string usage;  // operands, e.g. "NODE --parent P"
  int min_args;
  int max_args;
  std::string help;
};

// By name; two-word commands ("token revoke") are one key.
const std::map<std::string, Command>& Commands();

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_COMMANDS_H_
