#include "tools/sim/sim_pki.h"

#include "absl/strings/str_cat.h"
#include "control/tls.h"
#include "security/pki.h"
#include "security/pki_files.h"

namespace cascade::sim {
namespace {

constexpr char kServerName[] = "topologyd";
constexpr char kOperatorName[] = "relay-sim";
constexpr char kNodesDir[] = "nodes";

}  // namespace

std::string SimPki::ca() const {
  return security::FilesOf(dir_, security::kCaName).certificate;
}
std::string SimPki::server_cert() const {
  return security::FilesOf(dir_, kServerName).certificate;
}
std::string SimPki::server_key() const {
  return security::FilesOf(dir_, kServerName).key;
}
std::string SimPki::node_cert_pattern() const {
  return security::FilesOf(absl::StrCat(dir_, "/", kNodesDir),
                           control::kNodeIdPlaceholder)
      .certificate;
}
std::string SimPki::node_key_pattern() const {
  return security::FilesOf(absl::StrCat(dir_, "/", kNodesDir),
                           control::kNodeIdPlaceholder)
      .key;
}
std::string SimPki::operator_cert() const {
  return security::FilesOf(dir_, kOperatorName).certificate;
}
std::string SimPki::operator_key() const {
  return security::FilesOf(dir_, kOperatorName).key;
}

absl::Status SimPki::Make(const std::vector<std::string>& controller_hosts,
                          const std::vector<std::string>& relay_ids) const {
  security::CaOptions ca_options;
  ca_options.name = "relay-sim";
  absl::StatusOr<security::Credentials> ca = security::MakeCa(ca_options);
  if (!ca.ok()) return ca.status();
  auto write = [&](const std::string& dir, const security::Identity& identity,
                   const std::vector<std::string>& ips) {
    security::IssueOptions options;
    options.identity = identity;
    options.ip_addresses = ips;
    absl::StatusOr<security::Credentials> issued =
        security::Issue(*ca, options);
    if (!issued.ok()) {
      return absl::Status(issued.status().code(),
                          absl::StrCat(security::Describe(identity), ": ",
                                       issued.status().message()));
    }
    return security::WriteCredentials(dir, identity.name, *issued,
                                      /*overwrite=*/true, /*sync=*/false);
  };
  if (absl::Status s = security::WriteCredentials(dir_, security::kCaName, *ca,
                                                  /*overwrite=*/true,
                                                  /*sync=*/false);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = write(
          dir_,
          {security::IdentityKind::kNode, kServerName, security::Role::kNone},
          controller_hosts);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = write(dir_,
                             {security::IdentityKind::kOperator, kOperatorName,
                              security::Role::kAdmin},
                             {});
      !s.ok()) {
    return s;
  }
  const std::string nodes = absl::StrCat(dir_, "/", kNodesDir);
  for (const std::string& id : relay_ids) {
    if (absl::Status s = write(
            nodes, {security::IdentityKind::kNode, id, security::Role::kNone},
            {});
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace cascade::sim
