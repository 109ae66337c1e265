// relayctl pki: a CA and the certificates of nodes and operators, made with
// the security library (OpenSSL's, no openssl command), written into
// directories: DIR/ca.pem and DIR/ca.key, DIR/NAME.pem and DIR/NAME.key,
// keys mode 0600. docs/security.md.
#ifndef CASCADE_TOOLS_RELAYCTL_PKI_H_
#define CASCADE_TOOLS_RELAYCTL_PKI_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace cascade::relayctl {

struct PkiOptions {
  // Where the files go (init: the CA's directory).
  std::string out;
  // issue: the CA's directory (ca.pem, ca.key).
  std::string ca;
  // Replace files that exist.
  bool force = false;
  // issue NODE...: the files' name (default: the first NODE).
  std::string name;
  // issue --operator=NAME --role=ROLE instead of nodes.
  std::string operator_name;
  std::string role;
  // issue NODE: names a client may check when the node serves.
  std::vector<std::string> dns;
  std::vector<std::string> ip;
  // Validity in days; 0: 3650 for a CA, 365 for a certificate.
  int days = 0;
  bool json = false;
};

// `args` starts with "pki". Returns relayctl's exit code: 2 usage (and an
// invalid name or address), 3 no CA in --ca, 4 a file exists (no --force),
// 1 anything else that failed.
int RunPki(const PkiOptions& options, const std::vector<std::string>& args,
           std::ostream& out, std::ostream& err);

// For relayctl pki --help, and the line of the general usage.
std::string PkiHelp();
std::string PkiSummary();

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_PKI_H_
