// Which role each Admin RPC needs: one table, the only place that says it.
// viewer reads, operator moves traffic (drain, failover, restore, move,
// select, release) and hands out edge URLs (url), admin changes what the
// network is (apply, add, remove) and who may act on it (revoking tokens,
// rotating the edge key). Roles are ordered: a role may do
// whatever a lesser role may. A test checks that every RPC of the Admin
// service is in the table.
#ifndef CASCADE_TOPOLOGY_ROLES_H_
#define CASCADE_TOPOLOGY_ROLES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "security/identity.h"

namespace cascade::topology {

struct AdminRpc {
  // The method's name in cascade.v1.Admin, e.g. "DrainNode".
  absl::string_view method;
  // The least role that may call it.
  security::Role least;
  // What relayctl calls it, for messages: "drain" (RevokeToken: "revoke
  // tokens", relayctl token revoke).
  absl::string_view command;
};

absl::Span<const AdminRpc> AdminRpcs();
// Null when `method` is not an Admin RPC.
const AdminRpc* FindAdminRpc(absl::string_view method);

// OK when `role` may call `rpc`; otherwise PermissionDenied
// "permission denied: ROLE may not COMMAND".
absl::Status CheckRole(security::Role role, const AdminRpc& rpc);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_ROLES_H_
