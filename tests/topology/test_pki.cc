#include "tests/topology/test_pki.h"

#include "control/tls.h"
#include "security/pki_files.h"

namespace cascade::topology::testing {

absl::StatusOr<TestPki> TestPki::Make(const std::string& dir) {
  TestPki pki;
  pki.dir_ = dir;
  absl::StatusOr<security::Credentials> ca =
      security::MakeCa(security::CaOptions{});
  if (!ca.ok()) return ca.status();
  pki.ca_ = *std::move(ca);
  if (absl::Status s =
          security::WriteCredentials(dir, security::kCaName, pki.ca_, false);
      !s.ok()) {
    return s;
  }
  return pki;
}

absl::Status TestPki::IssueAs(const std::string& file,
                              const security::IssueOptions& options) const {
  absl::StatusOr<security::Credentials> issued = security::Issue(ca_, options);
  if (!issued.ok()) return issued.status();
  return security::WriteCredentials(dir_, file, *issued, /*overwrite=*/true);
}

absl::Status TestPki::IssueNode(const std::string& id, absl::Time now,
                                absl::Duration validity) const {
  security::IssueOptions options;
  options.identity = {security::IdentityKind::kNode, id, security::Role::kNone};
  options.ip_addresses = {"127.0.0.1"};
  options.now = now;
  options.validity = validity;
  return IssueAs(id, options);
}

absl::Status TestPki::IssueNodes(const std::string& file,
                                 const std::vector<std::string>& ids) const {
  security::IssueOptions options;
  options.identity = {security::IdentityKind::kNode, ids.front(),
                      security::Role::kNone,
                      std::vector<std::string>(ids.begin() + 1, ids.end())};
  return IssueAs(file, options);
}

absl::Status TestPki::IssueOperator(const std::string& name,
                                    security::Role role, absl::Time now,
                                    absl::Duration validity) const {
  security::IssueOptions options;
  options.identity = {security::IdentityKind::kOperator, name, role};
  options.now = now;
  options.validity = validity;
  return IssueAs(name, options);
}

std::string TestPki::ca() const {
  return security::FilesOf(dir_, security::kCaName).certificate;
}
std::string TestPki::cert(const std::string& name) const {
  return security::FilesOf(dir_, name).certificate;
}
std::string TestPki::key(const std::string& name) const {
  return security::FilesOf(dir_, name).key;
}

std::vector<std::string> TestPki::Flags(const std::string& name) const {
  return {"--tls-ca=" + ca(), "--tls-cert=" + cert(name),
          "--tls-key=" + key(name)};
}

std::vector<std::string> TestPki::ServerFlags(const std::string& name) const {
  return {"--tls-cert=" + cert(name), "--tls-key=" + key(name),
          "--tls-client-ca=" + ca()};
}

std::shared_ptr<grpc::ChannelCredentials> TestPki::Credentials(
    const std::string& name, const std::string& ca) const {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      control::ClientCredentials(
          {ca.empty() ? this->ca() : ca, cert(name), key(name)});
  return credentials.ok() ? *credentials : nullptr;
}

grpc::Status GetStreamKeysAs(const TestPki& pki, const std::string& address,
                             const std::string& holder,
                             const std::vector<std::string>& nodes,
                             cascade::v1::GetStreamKeysResponse* response) {
  auto stub = cascade::v1::RelayControl::NewStub(
      grpc::CreateChannel(address, pki.Credentials(holder)));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  cascade::v1::GetStreamKeysRequest request;
  for (const std::string& node : nodes) request.add_nodes(node);
  return stub->GetStreamKeys(&context, request, response);
}

}  // namespace cascade::topology::testing
