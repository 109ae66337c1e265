// An operator's signed, expiring bearer token: who (an operator's name),
// with which role, issued and expiring when, and a random id to revoke it
// by. The claims (proto/token.proto) are signed with the CA's key (ECDSA
// P-256, SHA-256, OpenSSL's library) and checked against the CA
// certificate, so topologyd needs nothing beyond the CA it already trusts
// for client certificates. Text form: "ct1." + base64url (no padding) of a
// cascade.v1.SignedToken. Parsing is bounds-checked: a token is at most
// kMaxTokenChars, its parts at most a few hundred bytes.
#ifndef CASCADE_SECURITY_TOKEN_H_
#define CASCADE_SECURITY_TOKEN_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "security/identity.h"
#include "security/pki.h"

namespace cascade::security {

inline constexpr char kTokenPrefix[] = "ct1.";
inline constexpr size_t kMaxTokenChars = 1024;
// Longest lifetime a token may have: a token cannot be made to outlive
// every revocation list kept for it by accident.
inline constexpr absl::Duration kMaxTokenTtl = absl::Hours(24 * 366);

struct Token {
  std::string operator_name;
  Role role = Role::kNone;
  absl::Time issued = absl::UnixEpoch();
  absl::Time expires = absl::UnixEpoch();
  // 32 lowercase hex digits (16 random bytes); MintToken makes one when
  // empty.
  std::string id;
};

// Whether `text` is meant as a signed token (it has the prefix), rather
// than, say, the legacy shared admin token.
bool LooksLikeToken(absl::string_view text);

// The claims `text` carries, without checking its signature: InvalidArgument
// saying what is wrong with it (length, prefix, encoding, structure, a
// name, role, id or lifetime that is not valid).
absl::StatusOr<Token> ParseToken(absl::string_view text);

// A token for `token`, signed with `ca`'s key (which must be the key of
// `ca`'s certificate). InvalidArgument for an invalid name or role, an
// id that is not 32 hex digits, or a lifetime that is not positive or
// exceeds kMaxTokenTtl.
absl::StatusOr<std::string> MintToken(const Credentials& ca,
                                      const Token& token);

// Checks tokens against the public keys of a CA bundle (PEM, one or more
// certificates, as topologyd's --tls-client-ca).
class TokenVerifier {
 public:
  // InvalidArgument when `ca_pem` holds no EC certificate.
  static absl::StatusOr<TokenVerifier> FromCaPem(absl::string_view ca_pem);

  // OK when `text` is well formed, signed by one of the CAs and valid at
  // `now` (issued at most kClockSkew after it, not expired). Otherwise
  // Unauthenticated saying why. `*token` gets the claims whenever the
  // signature holds, an expired token's too (for the audit trail).
  absl::Status Verify(absl::string_view text, absl::Time now,
                      Token* token) const;

 private:
  std::vector<std::shared_ptr<EVP_PKEY>> keys_;
};

}  // namespace cascade::security

#endif  // CASCADE_SECURITY_TOKEN_H_
