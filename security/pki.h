// A small PKI for a Cascade network, on OpenSSL 3's library: a CA, and the
// certificates it issues to nodes (relays, controllers) and operators, each
// with its identity (identity.h) in a URI SAN. Keys are EC P-256, every
// signature SHA-256.
#ifndef CASCADE_SECURITY_PKI_H_
#define CASCADE_SECURITY_PKI_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "security/identity.h"

namespace cascade::security {

inline constexpr absl::Duration kDefaultCaValidity = absl::Hours(24 * 3650);
inline constexpr absl::Duration kDefaultLeafValidity = absl::Hours(24 * 365);
// Certificates are valid from this long before they are made, so a peer
// whose clock is a little behind accepts them at once.
inline constexpr absl::Duration kClockSkew = absl::Minutes(5);

// A certificate and its private key, both PEM (the key PKCS#8, unencrypted:
// protect it with the file's mode).
struct Credentials {
  std::string certificate;
  std::string key;
};

struct CaOptions {
  // The subject is CN "Cascade CA <name>".
  std::string name = "cascade";
  absl::Duration validity = kDefaultCaValidity;
  // Valid from `now` - kClockSkew to `now` + validity.
  absl::Time now = absl::Now();
};

// A self-signed CA: basicConstraints CA:TRUE (critical), keyUsage
// keyCertSign and cRLSign (critical), a random 128-bit serial.
absl::StatusOr<Credentials> MakeCa(const CaOptions& options);

struct IssueOptions {
  Identity identity;
  // Names a client may check when this node serves (topologyd, relayd):
  // DNS names and IP addresses (IPv4 or IPv6, as text). Nodes only.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  absl::Duration validity = kDefaultLeafValidity;
  absl::Time now = absl::Now();
};

// A certificate for `options.identity` signed by `ca`: its URI SANs (and
// the DNS and IP SANs), extendedKeyUsage clientAuth and serverAuth, subject
// CN the (first) name and, for an operator, OU the role; a random 128-bit
// serial.
// InvalidArgument for an invalid identity, name or address, or a key that
// is not the CA certificate's.
absl::StatusOr<Credentials> Issue(const Credentials& ca,
                                  const IssueOptions& options);

// Whether `certificate` (PEM) chains to `ca_certificate` (PEM) and is valid
// at `at`; PermissionDenied saying why not (another CA, expired, not yet
// valid), InvalidArgument for PEM that is not a certificate.
absl::Status Verify(absl::string_view certificate,
                    absl::string_view ca_certificate, absl::Time at);

}  // namespace cascade::security

#endif  // CASCADE_SECURITY_PKI_H_
