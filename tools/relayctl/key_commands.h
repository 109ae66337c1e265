// relayctl's commands over credentials and keys: token revoke, pki revoke,
// url (a signed edge URL), rotate-edge-key, rotate-keys and stream-key
// rotate.
#ifndef CASCADE_TOOLS_RELAYCTL_KEY_COMMANDS_H_
#define CASCADE_TOOLS_RELAYCTL_KEY_COMMANDS_H_

#include <string>
#include <vector>

#include "tools/relayctl/session.h"

namespace cascade::relayctl {

// Each returns relayctl's exit code; the outcome goes to session.out().
// `operands`: the command's optional operand (token ID; SITE).
int RevokeToken(Session& session, const std::vector<std::string>& operands);
// `operands`: the certificate's file, or none with Options::serial.
int RevokeCertificate(Session& session,
                      const std::vector<std::string>& operands);
int Url(Session& session, const std::vector<std::string>& operands);
int RotateEdgeKey(Session& session);
// Empty `node` or `stream`: all of them.
int RotateLinkKeys(Session& session, const std::string& node);
int RotateStreamKey(Session& session, const std::string& stream);

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_KEY_COMMANDS_H_
