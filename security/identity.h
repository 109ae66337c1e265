// Who a certificate speaks for. A Cascade certificate carries exactly one
// URI SAN naming its holder:
//   spiffe://cascade/node/ID         a relay or a controller (ID a node id,
//                                    control/node_id.h)
//   spiffe://cascade/operator/NAME   a person or a script, whose role
//                                    (viewer, operator or admin) is the
//                                    subject's organizational unit (OU)
// Characters of an id that a URI path may not hold are percent-encoded
// (RFC 3986), so any valid node id has exactly one URI. A node's certificate
// may name several nodes, one URI SAN each: the relays one relayd process
// runs (--relays), which then share one connection to topologyd.
#ifndef CASCADE_SECURITY_IDENTITY_H_
#define CASCADE_SECURITY_IDENTITY_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cascade::security {

inline constexpr char kNodeUriPrefix[] = "spiffe://cascade/node/";
inline constexpr char kOperatorUriPrefix[] = "spiffe://cascade/operator/";

enum class IdentityKind { kNode, kOperator };

// What an operator may do; a node has none.
enum class Role { kNone, kViewer, kOperator, kAdmin };

// Most nodes one certificate may name.
inline constexpr size_t kMaxNodesPerCertificate = 256;

struct Identity {
  Identity() = default;
  Identity(IdentityKind kind, std::string name, Role role,
           std::vector<std::string> more_nodes = {})
      : kind(kind),
        name(std::move(name)),
        role(role),
        more_nodes(std::move(more_nodes)) {}

  IdentityKind kind = IdentityKind::kNode;
  // The node id (the first, when it names several), or the operator's name.
  std::string name;
  Role role = Role::kNone;
  // The other nodes a node's certificate names, in its order.
  std::vector<std::string> more_nodes;

  // A node's identity that names node `node_id`.
  bool SpeaksFor(absl::string_view node_id) const;
  bool operator==(const Identity& other) const {
    return kind == other.kind && name == other.name && role == other.role &&
           more_nodes == other.more_nodes;
  }
};

// "viewer", "operator", "admin" ("none" for kNone).
absl::string_view RoleName(Role role);
// One of the three roles by name; InvalidArgument otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view name);

// "node p1", "nodes p1, p1-d01, p1-d02 and 13 more", "operator alice
// (admin)": for messages and events.
std::string Describe(const Identity& identity);

// 1 to 64 characters of letters, digits, '.', '_' and '-' (not starting
// with '.'): an operator's name also names files and log lines.
absl::Status ValidateOperatorName(absl::string_view name);
// A node with valid node ids (distinct, at most kMaxNodesPerCertificate)
// and no role, or an operator with a valid name, a role and no more nodes.
absl::Status ValidateIdentity(const Identity& identity);

// The URI SAN of the identity's `name` (its role is not part of it).
std::string IdentityUri(const Identity& identity);
// Every URI SAN of its certificate: `name`'s, then each of `more_nodes`.
std::vector<std::string> IdentityUris(const Identity& identity);
// The kind and name a URI SAN names (role kNone); InvalidArgument when it
// is not one of Cascade's or its name is invalid.
absl::StatusOr<Identity> ParseIdentityUri(absl::string_view uri);

// The identity of a PEM certificate (as gRPC gives the peer's in its auth
// context property "x509_pem_cert"): its URI SANs (one operator's, or one
// or more nodes') and, for an operator, the role in its OU.
// InvalidArgument saying what is wrong for anything else. Does not verify
// the certificate: the TLS handshake did.
absl::StatusOr<Identity> IdentityFromPem(absl::string_view pem);

// A certificate as a revocation names it (docs/security.md, "Revoking a
// certificate"): its identity, its serial number and its expiry.
struct CertificateInfo {
  Identity identity;
  // Lowercase hex without leading zeros (NormalizeSerial's form).
  std::string serial;
  absl::Time not_after;
};
// IdentityFromPem's identity, and the serial and expiry, from one parse.
absl::StatusOr<CertificateInfo> CertificateInfoFromPem(absl::string_view pem);

// A serial number as an operator may type it ("0A:1B:..", "0x0a1b",
// either case): lowercase hex without leading zeros. InvalidArgument for
// anything else, or more than RFC 5280's 20 bytes.
absl::StatusOr<std::string> NormalizeSerial(absl::string_view serial);

}  // namespace cascade::security

#endif  // CASCADE_SECURITY_IDENTITY_H_
