// Revoked client certificates in the controller's state
// (ControllerState.revoked_certificates): resolving a revocation, applying
// it, and what it takes away. A revoked certificate is refused on every
// RPC that checks client certificates (peer_identity.h, admin_gate.h), its
// open streams end, and when it named nodes the stream keys made before
// are replaced (stream_keys.h), since a revoked site holds them.
// docs/security.md, "Revoking a certificate". Pure functions of the state,
// shared by live changes and journal replay.
#ifndef CASCADE_TOPOLOGY_CERTIFICATE_REVOCATION_H_
#define CASCADE_TOPOLOGY_CERTIFICATE_REVOCATION_H_

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/controller.pb.h"

namespace cascade::topology {

// Entries kept (unexpired revocations): far more certificates than a
// network of 10,600 sites has, and a bound on the state.
inline constexpr int kMaxRevokedCertificates = 10000;

// Fills in a revocation decided at `now`: from its certificate (dropped
// from the request) the serial, holder, expiry and whether it names nodes;
// or the serial alone, normalised (then it counts as naming nodes).
// INVALID_ARGUMENT for neither, a certificate that does not parse, a bad
// serial, or a serial that is not the certificate's.
absl::Status ResolveCertificateRevocation(
    absl::Time now, cascade::v1::RevokeCertificateRequest* revoke);

// Adds a resolved revocation (once per serial) and prunes the entries of
// certificates expired by its time. RESOURCE_EXHAUSTED when
// kMaxRevokedCertificates unexpired ones are listed.
absl::Status ApplyCertificateRevocation(
    const cascade::v1::RevokeCertificateRequest& revoke,
    cascade::v1::ControllerState* state);

// The serials `state` revokes.
absl::flat_hash_set<std::string> RevokedSerials(
    const cascade::v1::ControllerState& state);

// When the newest revocation of a certificate that named nodes was
// decided; InfinitePast when there is none.
absl::Time LastNodeRevocation(const cascade::v1::ControllerState& state);

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_CERTIFICATE_REVOCATION_H_
