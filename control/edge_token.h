// The tokens that open a relay's WebRTC edge: which relay, which stream,
// watch or publish, until when. topologyd signs them with its edge key
// (ECDSA P-256, control/signature.h); relayd checks them against the
// public keys its assignment carries, so a relay can refuse a forged,
// expired or misdirected token without asking the controller, and cannot
// mint one itself. Text form: "ce1." + base64url (no padding) of a
// cascade.v1.SignedEdgeToken (proto/edge_token.proto). Parsing is
// bounds-checked before any signature is checked.
#ifndef CASCADE_CONTROL_EDGE_TOKEN_H_
#define CASCADE_CONTROL_EDGE_TOKEN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "control/signature.h"

namespace cascade::control {

inline constexpr char kEdgeTokenPrefix[] = "ce1.";
inline constexpr size_t kMaxEdgeTokenChars = 1024;
// A site's URL lasts for a meeting series, not forever: rotate the edge key
// to end every token at once.
inline constexpr absl::Duration kMaxEdgeTokenTtl = absl::Hours(24 * 31);
// Clocks of the controller and the relays may differ by this much.
inline constexpr absl::Duration kEdgeClockSkew = absl::Minutes(5);

enum class EdgeAction { kWatch, kPublish };

struct EdgeToken {
  std::string relay;
  std::string stream;
  EdgeAction action = EdgeAction::kWatch;
  absl::Time issued = absl::UnixEpoch();
  absl::Time expires = absl::UnixEpoch();
  // 32 lowercase hex digits; MintEdgeToken makes one when empty.
  std::string id;
  std::string holder;
};

// "watch" or "publish".
absl::string_view EdgeActionName(EdgeAction action);

// The token for `token`, signed with `key`. InvalidArgument for an invalid
// relay, stream or holder id, an id that is not 32 hex digits, or a
// lifetime that is not positive or exceeds kMaxEdgeTokenTtl.
absl::StatusOr<std::string> MintEdgeToken(EVP_PKEY* key,
                                          const EdgeToken& token);

class EdgeTokenVerifier {
 public:
  // `public_keys`: SubjectPublicKeyInfo DER, the current key first (a
  // rotated-out key stays until the tokens it signed have expired).
  // InvalidArgument when one is not an EC P-256 key or none is given.
  static absl::StatusOr<EdgeTokenVerifier> FromPublicKeys(
      const std::vector<std::string>& public_keys);

  // The claims of `text` when it is well formed, signed by one of the keys,
  // valid at `now` and for `relay`, `stream` and `action`.
  // Unauthenticated saying why for a malformed, forged, expired or
  // not-yet-valid token; PermissionDenied for a genuine token of another
  // relay, stream or action.
  absl::StatusOr<EdgeToken> Verify(absl::string_view text,
                                   absl::string_view relay,
                                   absl::string_view stream, EdgeAction action,
                                   absl::Time now) const;

 private:
  std::vector<std::shared_ptr<EVP_PKEY>> keys_;
};

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_EDGE_TOKEN_H_
