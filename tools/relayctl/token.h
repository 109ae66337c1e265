// relayctl token issue: an operator's signed, expiring bearer token, minted
// with the CA's key (security/token.h) and written 0600, for relayctl
// --token-file. Needs no controller. (token revoke is an Admin call:
// relayctl.cc.) docs/security.md.
#ifndef CASCADE_TOOLS_RELAYCTL_TOKEN_H_
#define CASCADE_TOOLS_RELAYCTL_TOKEN_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cascade::relayctl {

struct TokenOptions {
  std::string operator_name;
  std::string role;
  absl::Duration ttl = absl::ZeroDuration();
  // The CA's directory (ca.pem, ca.key).
  std::string ca;
  // The file the token goes to (mode 0600); empty: standard output.
  std::string out;
  bool force = false;
  bool json = false;
};

// `args` is {"token", "issue"}. Returns relayctl's exit code: 2 usage (an
// invalid name, role or lifetime too), 3 no CA in --ca, 4 --out exists (no
// --force), 1 anything else.
int RunTokenIssue(const TokenOptions& options,
                  const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

// For relayctl token --help, and the line of the general usage.
std::string TokenHelp();
std::string TokenSummary();

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_TOKEN_H_
