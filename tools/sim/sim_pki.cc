#include "tools/sim/sim_pki.h"

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "media/srtp/keys.h"
#include "security/pki.h"
#include "security/pki_files.h"

namespace cascade::sim {
namespace {

constexpr char kServerName[] = "topologyd";
constexpr char kOperatorName[] = "relay-sim";
constexpr char kGroupsDir[] = "relayd";
constexpr char kHoldersDir[] = "keys";
constexpr char kEtcdName[] = "etcd";
constexpr char kStreamKeyName[] = "stream.key";

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
std::string SimPki::group_cert(const std::string& group) const {
  return security::FilesOf(absl::StrCat(dir_, "/", kGroupsDir), group)
      .certificate;
}
std::string SimPki::group_key(const std::string& group) const {
  return security::FilesOf(absl::StrCat(dir_, "/", kGroupsDir), group).key;
}
std::string SimPki::holder_cert(const std::string& name) const {
  return security::FilesOf(absl::StrCat(dir_, "/", kHoldersDir), name)
      .certificate;
}
std::string SimPki::holder_key(const std::string& name) const {
  return security::FilesOf(absl::StrCat(dir_, "/", kHoldersDir), name).key;
}
std::string SimPki::operator_cert() const {
  return security::FilesOf(dir_, kOperatorName).certificate;
}
std::string SimPki::operator_key() const {
  return security::FilesOf(dir_, kOperatorName).key;
}
std::string SimPki::etcd_cert() const {
  return security::FilesOf(dir_, kEtcdName).certificate;
}
std::string SimPki::etcd_key() const {
  return security::FilesOf(dir_, kEtcdName).key;
}

std::string SimPki::stream_key() const {
  return absl::StrCat(dir_, "/", kStreamKeyName);
}

absl::Status SimPki::MakeStreamKey() const {
  absl::StatusOr<srtp::StreamKey> key = srtp::NextKey({});
  if (!key.ok()) return key.status();
  return WriteFileAtomically(stream_key(), srtp::FormatKeyFile({*key}), 0600,
                             /*sync=*/false);
}

absl::Status SimPki::Make(const std::vector<std::string>& controller_hosts,
                          const Holders& relay_groups,
                          const Holders& key_holders) const {
  security::CaOptions ca_options;
  ca_options.name = "relay-sim";
  absl::StatusOr<security::Credentials> ca = security::MakeCa(ca_options);
  if (!ca.ok()) return ca.status();
  auto write = [&](const std::string& dir, const std::string& name,
                   const security::Identity& identity,
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
    return security::WriteCredentials(dir, name, *issued,
                                      /*overwrite=*/true, /*sync=*/false);
  };
  if (absl::Status s = security::WriteCredentials(dir_, security::kCaName, *ca,
                                                  /*overwrite=*/true,
                                                  /*sync=*/false);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = write(
          dir_, kServerName,
          {security::IdentityKind::kNode, kServerName, security::Role::kNone},
          controller_hosts);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = write(
          dir_, kEtcdName,
          {security::IdentityKind::kNode, kEtcdName, security::Role::kNone},
          {"127.0.0.1"});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = write(dir_, kOperatorName,
                             {security::IdentityKind::kOperator, kOperatorName,
                              security::Role::kAdmin},
                             {});
      !s.ok()) {
    return s;
  }
  for (const auto& [dir, holders] :
       {std::pair{kGroupsDir, &relay_groups}, {kHoldersDir, &key_holders}}) {
    for (const auto& [name, ids] : *holders) {
      if (ids.empty()) continue;
      security::Identity nodes(
          security::IdentityKind::kNode, ids.front(), security::Role::kNone,
          std::vector<std::string>(ids.begin() + 1, ids.end()));
      if (absl::Status s = write(absl::StrCat(dir_, "/", dir), name, nodes, {});
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace cascade::sim
