#include "topology/peer_identity.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/str_cat.h"

namespace cascade::topology {

absl::StatusOr<security::CertificateInfo> PeerCertificate(
    const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  const std::vector<grpc::string_ref> pems =
      auth == nullptr
          ? std::vector<grpc::string_ref>()
          : auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) {
    return absl::UnauthenticatedError("no client certificate");
  }
  return VerifiedCertificate(
      absl::string_view(pems.front().data(), pems.front().size()));
}

absl::StatusOr<security::CertificateInfo> VerifiedCertificate(
    absl::string_view pem) {
  absl::StatusOr<security::CertificateInfo> certificate =
      security::CertificateInfoFromPem(pem);
  if (!certificate.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the client certificate names no Cascade identity (",
                     certificate.status().message(), ")"));
  }
  return certificate;
}

absl::Status CheckNotRevoked(const Controller& controller,
                             const security::CertificateInfo& certificate) {
  if (!controller.CertificateRevoked(certificate.serial)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("the certificate ", certificate.serial, " of ",
                   security::Describe(certificate.identity),
                   " is revoked (relayctl pki revoke)"));
}

NodePeer::NodePeer(const grpc::ServerContextBase& context,
                   const Controller* controller)
    : controller_(controller), certificate_(PeerCertificate(context)) {}

absl::Status NodePeer::Check(absl::string_view node_id) const {
  if (!certificate_.ok()) return certificate_.status();
  const security::Identity& identity = certificate_->identity;
  if (!identity.SpeaksFor(node_id)) {
    return absl::PermissionDeniedError(absl::StrCat(
        security::Describe(identity),
        identity.kind == security::IdentityKind::kNode ? "'s certificate" : "",
        " may not act as node ", node_id));
  }
  return CheckNotRevoked(*controller_, *certificate_);
}

absl::string_view NodePeer::serial() const {
  return certificate_.ok() ? absl::string_view(certificate_->serial) : "";
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
  controller->CountNodeRefusal();
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
