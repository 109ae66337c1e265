// ECDSA P-256 signatures over a context string and a message, through
// OpenSSL's library: what operators' tokens (security/token.h) and the
// tokens a browser shows a relay (control/edge_token.h) are signed with.
// The context ("cascade-token-v1", ...), a NUL, then the message is what is
// signed, so a signature made for one kind of message never passes for
// another's.
#ifndef CASCADE_CONTROL_SIGNATURE_H_
#define CASCADE_CONTROL_SIGNATURE_H_

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade::control {

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

// A DER ECDSA P-256 signature is at most this long.
inline constexpr size_t kMaxEcdsaSignatureBytes = 72;

// A fresh P-256 key pair.
absl::StatusOr<KeyPtr> NewEcdsaKey();

// The key in `der` (PKCS#8 private key, or SubjectPublicKeyInfo for
// PublicKeyFromDer); InvalidArgument unless it is an EC P-256 key.
absl::StatusOr<KeyPtr> PrivateKeyFromDer(absl::string_view der);
absl::StatusOr<KeyPtr> PublicKeyFromDer(absl::string_view der);
// The private key as PKCS#8 DER, and its public half as
// SubjectPublicKeyInfo DER.
absl::StatusOr<std::string> PrivateKeyDer(EVP_PKEY* key);
absl::StatusOr<std::string> PublicKeyDer(EVP_PKEY* key);

// The signature (DER) of `context` NUL `message` with `key`'s private half.
absl::StatusOr<std::string> SignEcdsa(EVP_PKEY* key, absl::string_view context,
                                      absl::string_view message);
// Whether `signature` is `key`'s over `context` NUL `message`.
bool VerifyEcdsa(EVP_PKEY* key, absl::string_view context,
                 absl::string_view message, absl::string_view signature);

// A token's id: kTokenIdBytes random bytes, written as lowercase hex.
inline constexpr size_t kTokenIdBytes = 16;
absl::StatusOr<std::string> RandomTokenId();
// Whether `id` is one (2 * kTokenIdBytes lowercase hex digits).
bool IsTokenId(absl::string_view id);

// A token's text form: `prefix` + base64url (no padding) of a
// cascade.v1.Signed (proto/signed.proto).
struct SignedClaims {
  std::string claims;
  std::string signature;
};
std::string SealClaims(absl::string_view prefix,
                       const SignedClaims& signed_claims);
// The claims and signature in `text`, bounds-checked before decoding:
// InvalidArgument saying what is wrong ("longer than N bytes", "does not
// start with ...", "not base64url", ...). Only the canonical encoding is
// accepted, so one token has one spelling.
absl::StatusOr<SignedClaims> OpenClaims(absl::string_view text,
                                        absl::string_view prefix,
                                        size_t max_chars, size_t max_claims);

}  // namespace cascade::control

#endif  // CASCADE_CONTROL_SIGNATURE_H_
