#include "topology/peer_identity.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/str_cat.h"

namespace cascade::topology {

absl::StatusOr<security::Identity> PeerIdentity(
    const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  const std::vector<grpc::string_ref> pems =
      auth == nullptr
          ? std::vector<grpc::string_ref>()
          : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) {
    return absl::UnauthenticatedError("no client certificate");
  }
  return CertificateIdentity(
      absl::string_view(pems.front().data(), pems.front().size()));
}

absl::StatusOr<security::Identity> CertificateIdentity(absl::string_view pem) {
  absl::StatusOr<security::Identity> identity = security::IdentityFromPem(pem);
  if (!identity.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the client certificate names no Cascade identity (",
                     identity.status().message(), ")"));
  }
  return identity;
}

NodePeer::NodePeer(const grpc::ServerContextBase& context)
    : identity_(PeerIdentity(context)) {}

absl::Status NodePeer::Check(absl::string_view node_id) const {
  if (!identity_.ok()) return identity_.status();
  if (identity_->SpeaksFor(node_id)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      security::Describe(*identity_),
      identity_->kind == security::IdentityKind::kNode ? "'s certificate" : "",
      " may not act as node ", node_id));
}

absl::Status CheckOperator(const grpc::ServerContextBase& context) {
  return CheckOperator(PeerIdentity(context));
}

absl::Status CheckOperator(const absl::StatusOr<security::Identity>& identity) {
  if (!identity.ok()) return identity.status();
  if (identity->kind == security::IdentityKind::kOperator) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(security::Describe(*identity),
                   " may not call Admin: it takes an operator's certificate"));
}

grpc::Status RecordRefusal(Controller* controller, DeniedBudget* budget,
                           const absl::Status& refusal,
                           const std::string& node_id, absl::string_view call,
                           const grpc::ServerContextBase& context) {
  if (refusal.ok()) return grpc::Status::OK;
  uint64_t not_shown = 0;
  if (budget == nullptr || budget->Allow(node_id, &not_shown)) {
    std::string detail =
        absl::StrCat(call, " from ", context.peer(), ": ", refusal.message());
    if (not_shown > 0) {
      absl::StrAppend(&detail, " (", not_shown,
                      " earlier refusals of this node not shown)");
    }
    controller->RecordDenied(node_id, detail);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(refusal.code()),
                      std::string(refusal.message()));
}

}  // namespace cascade::topology
