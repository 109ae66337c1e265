// Who a caller is, by the client certificate the TLS handshake verified,
// when topologyd requires client certificates (--tls-client-ca): a relay
// may act only as the node its certificate names (spiffe://cascade/node/ID,
// security/identity.h), Admin takes operators' certificates only, and no
// certificate the controller revoked is taken (certificate_revocation.h).
// Refusals are PERMISSION_DENIED saying who the caller is and what it
// claimed; the service records each as a KIND_DENIED event.
#ifndef CASCADE_TOPOLOGY_PEER_IDENTITY_H_
#define CASCADE_TOPOLOGY_PEER_IDENTITY_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "security/identity.h"
#include "topology/controller.h"
#include "topology/denied_budget.h"

namespace cascade::topology {

// The peer's certificate: its identity, serial and expiry. UNAUTHENTICATED
// without one, PERMISSION_DENIED when it names no valid identity.
absl::StatusOr<security::CertificateInfo> PeerCertificate(
    const grpc::ServerContextBase& context);
// A verified certificate (PEM): PERMISSION_DENIED when it names no
// identity. PeerCertificate's, and the console's for a browser's
// certificate (console/server.h).
absl::StatusOr<security::CertificateInfo> VerifiedCertificate(
    absl::string_view pem);
// PERMISSION_DENIED when `controller` has revoked the certificate.
absl::Status CheckNotRevoked(const Controller& controller,
                             const security::CertificateInfo& certificate);

// A caller that acts as a node: its certificate, parsed once (a Report
// stream checks every message against it).
class NodePeer {
 public:
  NodePeer(const grpc::ServerContextBase& context,
           const Controller* controller);
  // OK when the certificate names node `node_id` (among others, for a
  // relayd process running several relays) and is not revoked: a stream
  // opened before a revocation is refused at its next message.
  absl::Status Check(absl::string_view node_id) const;
  // The certificate's serial; empty without one.
  absl::string_view serial() const;

 private:
  const Controller* const controller_;
  absl::StatusOr<security::CertificateInfo> certificate_;
};

// OK when the identity is an operator's (of any role: the role each call
// needs is admin_gate.h's to check).
absl::Status CheckOperator(const absl::StatusOr<security::Identity>& identity);

// OK for an OK `refusal`; otherwise counts it
// (topology_node_calls_refused_total), returns it for gRPC and records it as
// a KIND_DENIED event (the claimed `node_id`, the call, the caller's
// address) when `budget` has room for one of that node now (always when
// null); the event then says how many of the node's refusals it left out.
grpc::Status RecordRefusal(Controller* controller, DeniedBudget* budget,
                           const absl::Status& refusal,
                           const std::string& node_id, absl::string_view call,
                           const grpc::ServerContextBase& context);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_PEER_IDENTITY_H_
