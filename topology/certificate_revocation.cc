#include "topology/certificate_revocation.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "security/identity.h"

namespace cascade::topology {

using cascade::v1::ControllerState;
using cascade::v1::RevokeCertificateRequest;

absl::Status ResolveCertificateRevocation(absl::Time now,
                                          RevokeCertificateRequest* revoke) {
  revoke->set_unix_ms(absl::ToUnixMillis(now));
  revoke->clear_holder();
  revoke->clear_not_after_unix_ms();
  if (revoke->certificate_pem().empty()) {
    if (revoke->serial().empty()) {
      return absl::InvalidArgumentError(
          "name the certificate to revoke: its PEM or its serial number");
    }
    absl::StatusOr<std::string> serial =
        security::NormalizeSerial(revoke->serial());
    if (!serial.ok()) return serial.status();
    revoke->set_serial(*serial);
    // Whom it named is unknown: treated as a node's.
    revoke->set_names_nodes(true);
    return absl::OkStatus();
  }
  absl::StatusOr<security::CertificateInfo> info =
      security::CertificateInfoFromPem(revoke->certificate_pem());
  if (!info.ok()) return info.status();
  if (!revoke->serial().empty()) {
    absl::StatusOr<std::string> serial =
        security::NormalizeSerial(revoke->serial());
    if (!serial.ok()) return serial.status();
    if (*serial != info->serial) {
      return absl::InvalidArgumentError(
          absl::StrCat("serial ", *serial, " is not the certificate's (",
                       info->serial, ")"));
    }
  }
  revoke->clear_certificate_pem();
  revoke->set_serial(info->serial);
  revoke->set_holder(security::Describe(info->identity));
  revoke->set_not_after_unix_ms(absl::ToUnixMillis(info->not_after));
  revoke->set_names_nodes(info->identity.kind == security::IdentityKind::kNode);
  return absl::OkStatus();
}

absl::Status ApplyCertificateRevocation(const RevokeCertificateRequest& revoke,
                                        ControllerState* state) {
  if (revoke.serial().empty() || !revoke.certificate_pem().empty()) {
    return absl::InvalidArgumentError("an unresolved certificate revocation");
  }
  auto* revoked = state->mutable_revoked_certificates();
  // Expired certificates fail every handshake: their entries go.
  revoked->erase(std::remove_if(revoked->begin(), revoked->end(),
                                [&](const RevokeCertificateRequest& entry) {
                                  return entry.not_after_unix_ms() != 0 &&
                                         entry.not_after_unix_ms() <
                                             revoke.unix_ms();
                                }),
                 revoked->end());
  for (const RevokeCertificateRequest& entry : *revoked) {
    if (entry.serial() == revoke.serial()) return absl::OkStatus();
  }
  if (revoked->size() >= kMaxRevokedCertificates) {
    return absl::ResourceExhaustedError(absl::StrCat(
        kMaxRevokedCertificates,
        " unexpired certificates are revoked already; make a new CA and "
        "reissue (docs/security.md)"));
  }
  *revoked->Add() = revoke;
  return absl::OkStatus();
}

absl::flat_hash_set<std::string> RevokedSerials(const ControllerState& state) {
  absl::flat_hash_set<std::string> serials;
  serials.reserve(state.revoked_certificates_size());
  for (const RevokeCertificateRequest& entry : state.revoked_certificates()) {
    serials.insert(entry.serial());
  }
  return serials;
}

absl::Time LastNodeRevocation(const ControllerState& state) {
  absl::Time last = absl::InfinitePast();
  for (const RevokeCertificateRequest& entry : state.revoked_certificates()) {
    if (entry.names_nodes()) {
      last = std::max(last, absl::FromUnixMillis(entry.unix_ms()));
    }
  }
  return last;
}

}  // namespace cascade::topology
