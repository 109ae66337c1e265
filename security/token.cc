#include "security/token.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdint>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "control/signature.h"
#include "proto/token.pb.h"

namespace cascade::security {
namespace {

using control::KeyFree;
using control::KeyPtr;

constexpr char kSigningContext[] = "cascade-token-v1";
// A claims message is a name of at most 64 bytes, a role, two times and an
// id: well under this. A DER ECDSA P-256 signature is at most 72 bytes.
constexpr size_t kMaxClaimsBytes = 256;
// Certificates read from a CA bundle, at most.
constexpr int kMaxCaCertificates = 16;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

BioPtr ReadBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed token: ", why));
}

absl::Status ValidateClaims(const Token& token) {
  if (absl::Status name = ValidateOperatorName(token.operator_name);
      !name.ok()) {
    return name;
  }
  if (token.role == Role::kNone) {
    return absl::InvalidArgumentError("a token needs a role");
  }
  if (!control::IsTokenId(token.id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a token id is ", 2 * control::kTokenIdBytes, " lowercase hex digits"));
  }
  const absl::Duration ttl = token.expires - token.issued;
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("a token must expire after it is issued");
  }
  if (ttl > kMaxTokenTtl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a token may live at most ", absl::FormatDuration(kMaxTokenTtl),
        ", not ", absl::FormatDuration(ttl)));
  }
  return absl::OkStatus();
}

// The signed claims inside `text`, their structure checked.
absl::StatusOr<control::SignedClaims> Decode(absl::string_view text) {
  absl::StatusOr<control::SignedClaims> sealed =
      control::OpenClaims(text, kTokenPrefix, kMaxTokenChars, kMaxClaimsBytes);
  if (!sealed.ok()) return Malformed(sealed.status().message());
  return sealed;
}

absl::StatusOr<Token> ClaimsOf(const control::SignedClaims& sealed) {
  cascade::v1::TokenClaims claims;
  if (!claims.ParseFromString(sealed.claims)) {
    return Malformed("claims do not parse");
  }
  Token token;
  token.operator_name = claims.operator_();
  absl::StatusOr<Role> role = ParseRole(claims.role());
  if (!role.ok()) return Malformed(role.status().message());
  token.role = *role;
  token.issued = absl::FromUnixMillis(claims.issued_unix_ms());
  token.expires = absl::FromUnixMillis(claims.expires_unix_ms());
  if (claims.id().size() != control::kTokenIdBytes) return Malformed("bad id");
  token.id = absl::BytesToHexString(claims.id());
  if (absl::Status valid = ValidateClaims(token); !valid.ok()) {
    return Malformed(valid.message());
  }
  return token;
}

}  // namespace

bool LooksLikeToken(absl::string_view text) {
  return absl::StartsWith(text, kTokenPrefix);
}

absl::StatusOr<Token> ParseToken(absl::string_view text) {
  absl::StatusOr<control::SignedClaims> sealed = Decode(text);
  if (!sealed.ok()) return sealed.status();
  return ClaimsOf(*sealed);
}

absl::StatusOr<std::string> MintToken(const Credentials& ca,
                                      const Token& token) {
  Token claims = token;
  if (claims.id.empty()) {
    absl::StatusOr<std::string> id = control::RandomTokenId();
    if (!id.ok()) return id.status();
    claims.id = *std::move(id);
  }
  if (absl::Status valid = ValidateClaims(claims); !valid.ok()) return valid;

  BioPtr key_bio = ReadBio(ca.key);
  KeyPtr key(
      key_bio == nullptr
          ? nullptr
          : PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  BioPtr cert_bio = ReadBio(ca.certificate);
  CertPtr cert(cert_bio == nullptr ? nullptr
                                   : PEM_read_bio_X509(cert_bio.get(), nullptr,
                                                       nullptr, nullptr));
  const bool matches = key != nullptr && cert != nullptr &&
                       X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(
        "the CA's key does not read or is not its certificate's");
  }

  cascade::v1::TokenClaims message;
  message.set_operator_(claims.operator_name);
  message.set_role(std::string(RoleName(claims.role)));
  message.set_issued_unix_ms(absl::ToUnixMillis(claims.issued));
  message.set_expires_unix_ms(absl::ToUnixMillis(claims.expires));
  message.set_id(absl::HexStringToBytes(claims.id));
  control::SignedClaims sealed;
  sealed.claims = message.SerializeAsString();
  absl::StatusOr<std::string> signature =
      control::SignEcdsa(key.get(), kSigningContext, sealed.claims);
  if (!signature.ok()) return absl::InternalError("cannot sign the token");
  sealed.signature = *std::move(signature);
  return control::SealClaims(kTokenPrefix, sealed);
}

absl::StatusOr<TokenVerifier> TokenVerifier::FromCaPem(
    absl::string_view ca_pem) {
  TokenVerifier verifier;
  BioPtr bio = ReadBio(ca_pem);
  for (int i = 0; bio != nullptr && i < kMaxCaCertificates; ++i) {
    CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    EVP_PKEY* key = X509_get_pubkey(cert.get());
    if (key == nullptr) continue;
    if (EVP_PKEY_is_a(key, "EC") != 1) {
      EVP_PKEY_free(key);
      continue;
    }
    verifier.keys_.emplace_back(key, KeyFree());
  }
  ERR_clear_error();
  if (verifier.keys_.empty()) {
    return absl::InvalidArgumentError(
        "no EC CA certificate to check tokens against");
  }
  return verifier;
}

absl::Status TokenVerifier::Verify(absl::string_view text, absl::Time now,
                                   Token* token) const {
  absl::StatusOr<control::SignedClaims> sealed = Decode(text);
  absl::StatusOr<Token> claims =
      sealed.ok() ? ClaimsOf(*sealed) : sealed.status();
  if (!claims.ok())
    return absl::UnauthenticatedError(claims.status().message());
  bool verified = false;
  for (const auto& key : keys_) {
    verified = control::VerifyEcdsa(key.get(), kSigningContext, sealed->claims,
                                    sealed->signature);
    if (verified) break;
  }
  if (!verified) {
    return absl::UnauthenticatedError(
        "token not signed by this controller's CA");
  }
  *token = *std::move(claims);
  const std::string what =
      absl::StrCat("token ", token->id, " of operator ", token->operator_name);
  if (token->issued > now + kClockSkew) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, " is not valid yet (issued ",
                     absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", token->issued,
                                      absl::UTCTimeZone()),
                     ")"));
  }
  if (now >= token->expires) {
    return absl::UnauthenticatedError(
        absl::StrCat(what, " expired at ",
                     absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", token->expires,
                                      absl::UTCTimeZone())));
  }
  return absl::OkStatus();
}

}  // namespace cascade::security
