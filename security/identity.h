// Who a certificate speaks for. A Cascade certificate carries exactly one
// URI SAN naming its holder:
//   spiffe://cascade/node/ID         a relay or a controller (ID a node id,
//                                    control/node_id.h)
//   spiffe://cascade/operator/NAME   a person or a script, whose role
//                                    (viewer, operator or admin) is the
//                                    subject's organizational unit (OU)
// Characters of an id that a URI path may not hold are percent-encoded
// (RFC 3986), so any valid node id has exactly one URI.
#ifndef CASCADE_SECURITY_IDENTITY_H_
#define CASCADE_SECURITY_IDENTITY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade::security {

inline constexpr char kNodeUriPrefix[] = "spiffe://cascade/node/";
inline constexpr char kOperatorUriPrefix[] = "spiffe://cascade/operator/";

enum class IdentityKind { kNode, kOperator };

// What an operator may do; a node has none.
enum class Role { kNone, kViewer, kOperator, kAdmin };

struct Identity {
  IdentityKind kind = IdentityKind::kNode;
  // The node id, or the operator's name.
  std::string name;
  Role role = Role::kNone;

  bool operator==(const Identity& other) const {
    return kind == other.kind && name == other.name && role == other.role;
  }
};

// "viewer", "operator", "admin" ("none" for kNone).
absl::string_view RoleName(Role role);
// One of the three roles by name; InvalidArgument otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view name);

// "node p1", "operator alice (admin)": for messages and events.
std::string Describe(const Identity& identity);

// 1 to 64 characters of letters, digits, '.', '_' and '-' (not starting
// with '.'): an operator's name also names files and log lines.
absl::Status ValidateOperatorName(absl::string_view name);
// A node with a valid node id and no role, or an operator with a valid
// name and a role.
absl::Status ValidateIdentity(const Identity& identity);

// The identity's URI SAN (its role is not part of it).
std::string IdentityUri(const Identity& identity);
// The kind and name a URI SAN names (role kNone); InvalidArgument when it
// is not one of Cascade's or its name is invalid.
absl::StatusOr<Identity> ParseIdentityUri(absl::string_view uri);

// The identity of a PEM certificate (as gRPC gives the peer's in its auth
// context property "x509_pem_cert"): its one URI SAN and, for an
// operator, the role in its OU. InvalidArgument saying what is wrong for
// anything else. Does not verify the certificate: the TLS handshake did.
absl::StatusOr<Identity> IdentityFromPem(absl::string_view pem);

}  // namespace cascade::security

#endif  // CASCADE_SECURITY_IDENTITY_H_
