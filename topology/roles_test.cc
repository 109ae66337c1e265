#include "topology/roles.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/container/flat_hash_set.h"
#include "google/protobuf/descriptor.h"
#include "proto/controller.pb.h"

namespace cascade::topology {
namespace {

using security::Role;

// Every Admin RPC has a role, and the table names nothing else: an RPC
// added to the service without one fails here, not in production.
TEST(RolesTest, EveryAdminRpcIsInTheTable) {
  const google::protobuf::ServiceDescriptor* admin =
      cascade::v1::Event::descriptor()->file()->FindServiceByName("Admin");
  ASSERT_NE(admin, nullptr);
  absl::flat_hash_set<std::string> methods;
  for (int i = 0; i < admin->method_count(); ++i) {
    const std::string& name = admin->method(i)->name();
    methods.insert(name);
    const AdminRpc* rpc = FindAdminRpc(name);
    ASSERT_NE(rpc, nullptr) << "Admin." << name << " has no role in roles.cc";
    EXPECT_NE(rpc->least, Role::kNone) << name;
    EXPECT_FALSE(rpc->command.empty()) << name;
  }
  for (const AdminRpc& rpc : AdminRpcs()) {
    EXPECT_TRUE(methods.contains(std::string(rpc.method)))
        << rpc.method << " is not an Admin RPC";
  }
  EXPECT_EQ(methods.size(), AdminRpcs().size());
}

TEST(RolesTest, EachRoleMayDoWhatLesserRolesMay) {
  const AdminRpc& show = *FindAdminRpc("GetNode");
  const AdminRpc& drain = *FindAdminRpc("DrainNode");
  const AdminRpc& apply = *FindAdminRpc("ApplyTopology");
  EXPECT_TRUE(CheckRole(Role::kViewer, show).ok());
  EXPECT_TRUE(CheckRole(Role::kOperator, drain).ok());
  EXPECT_TRUE(CheckRole(Role::kAdmin, drain).ok());
  EXPECT_TRUE(CheckRole(Role::kAdmin, apply).ok());
  EXPECT_FALSE(CheckRole(Role::kNone, show).ok());

  absl::Status viewer = CheckRole(Role::kViewer, drain);
  EXPECT_TRUE(absl::IsPermissionDenied(viewer));
  EXPECT_EQ(viewer.message(), "permission denied: viewer may not drain");
  EXPECT_EQ(CheckRole(Role::kOperator, apply).message(),
            "permission denied: operator may not apply");
  EXPECT_EQ(CheckRole(Role::kOperator, *FindAdminRpc("RevokeToken")).message(),
            "permission denied: operator may not revoke tokens");
  const AdminRpc& rotate = *FindAdminRpc("RotateLinkKeys");
  EXPECT_TRUE(CheckRole(Role::kAdmin, rotate).ok());
  EXPECT_EQ(CheckRole(Role::kOperator, rotate).message(),
            "permission denied: operator may not rotate-keys");
  EXPECT_EQ(CheckRole(Role::kViewer, rotate).message(),
            "permission denied: viewer may not rotate-keys");
  EXPECT_EQ(FindAdminRpc("Nonsense"), nullptr);
}

}  // namespace
}  // namespace cascade::topology
