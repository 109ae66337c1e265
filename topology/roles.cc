#include "topology/roles.h"

#include "absl/strings/str_cat.h"

namespace cascade::topology {
namespace {

using security::Role;

constexpr AdminRpc kAdminRpcs[] = {
    {"GetTopology", Role::kViewer, "tree"},
    {"GetNode", Role::kViewer, "show"},
    {"GetStats", Role::kViewer, "stats"},
    {"Events", Role::kViewer, "events"},
    {"DrainNode", Role::kOperator, "drain"},
    {"Failover", Role::kOperator, "failover"},
    {"Restore", Role::kOperator, "restore"},
    {"MoveNode", Role::kOperator, "move"},
    {"SelectUpstream", Role::kOperator, "select"},
    {"ReleaseUpstream", Role::kOperator, "release"},
    {"MintEdgeToken", Role::kOperator, "url"},
    {"ApplyTopology", Role::kAdmin, "apply"},
    {"AddNode", Role::kAdmin, "add"},
    {"RemoveNode", Role::kAdmin, "remove"},
    {"RevokeToken", Role::kAdmin, "revoke tokens"},
    {"RotateEdgeKey", Role::kAdmin, "rotate-edge-key"},
    {"RotateLinkKeys", Role::kAdmin, "rotate-keys"},
    {"RotateStreamKey", Role::kAdmin, "stream-key rotate"},
    {"RevokeCertificate", Role::kAdmin, "pki revoke"},
};

}  // namespace

absl::Span<const AdminRpc> AdminRpcs() { return kAdminRpcs; }

const AdminRpc* FindAdminRpc(absl::string_view method) {
  for (const AdminRpc& rpc : kAdminRpcs) {
    if (rpc.method == method) return &rpc;
  }
  return nullptr;
}

absl::Status CheckRole(security::Role role, const AdminRpc& rpc) {
  // Role's values are in order of what they may do (security/identity.h).
  if (role != Role::kNone && role >= rpc.least) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("permission denied: ", security::RoleName(role), " may not ",
                   rpc.command));
}

}  // namespace cascade::topology
