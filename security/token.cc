#include "security/token.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/token.pb.h"

namespace cascade::security {
namespace {

constexpr char kSigningContext[] = "cascade-token-v1";
constexpr size_t kIdBytes = 16;
// A claims message is a name of at most 64 bytes, a role, two times and an
// id: well under this. A DER ECDSA P-256 signature is at most 72 bytes.
constexpr size_t kMaxClaimsBytes = 256;
constexpr size_t kMaxSignatureBytes = 80;
// Certificates read from a CA bundle, at most.
constexpr int kMaxCaCertificates = 16;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

BioPtr ReadBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// What is signed: the context, a NUL, then the claims' bytes.
std::string SigningInput(absl::string_view claims) {
  return absl::StrCat(kSigningContext, absl::string_view("\0", 1), claims);
}

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed token: ", why));
}

bool IsBase64UrlChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_';
}

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) ||
        absl::ascii_isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateClaims(const Token& token) {
  if (absl::Status name = ValidateOperatorName(token.operator_name);
      !name.ok()) {
    return name;
  }
  if (token.role == Role::kNone) {
    return absl::InvalidArgumentError("a token needs a role");
  }
  if (token.id.size() != 2 * kIdBytes || !IsLowerHex(token.id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a token id is ", 2 * kIdBytes, " lowercase hex digits"));
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

// The signed token inside `text`, its structure checked.
absl::StatusOr<cascade::v1::SignedToken> Decode(absl::string_view text) {
  if (text.size() > kMaxTokenChars) {
    return Malformed(absl::StrCat("longer than ", kMaxTokenChars, " bytes"));
  }
  if (!absl::ConsumePrefix(&text, kTokenPrefix)) {
    return Malformed(absl::StrCat("does not start with ", kTokenPrefix));
  }
  for (char c : text) {
    if (!IsBase64UrlChar(c)) return Malformed("not base64url");
  }
  std::string bytes;
  // Only the canonical encoding: one token has one spelling.
  if (!absl::WebSafeBase64Unescape(text, &bytes) ||
      absl::WebSafeBase64Escape(bytes) != text) {
    return Malformed("not base64url");
  }
  cascade::v1::SignedToken signed_token;
  if (!signed_token.ParseFromString(bytes)) return Malformed("not a token");
  if (signed_token.claims().empty() ||
      signed_token.claims().size() > kMaxClaimsBytes ||
      signed_token.signature().empty() ||
      signed_token.signature().size() > kMaxSignatureBytes) {
    return Malformed("claims or signature missing or too long");
  }
  return signed_token;
}

absl::StatusOr<Token> ClaimsOf(const cascade::v1::SignedToken& signed_token) {
  cascade::v1::TokenClaims claims;
  if (!claims.ParseFromString(signed_token.claims())) {
    return Malformed("claims do not parse");
  }
  Token token;
  token.operator_name = claims.operator_();
  absl::StatusOr<Role> role = ParseRole(claims.role());
  if (!role.ok()) return Malformed(role.status().message());
  token.role = *role;
  token.issued = absl::FromUnixMillis(claims.issued_unix_ms());
  token.expires = absl::FromUnixMillis(claims.expires_unix_ms());
  if (claims.id().size() != kIdBytes) return Malformed("bad id");
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
  absl::StatusOr<cascade::v1::SignedToken> signed_token = Decode(text);
  if (!signed_token.ok()) return signed_token.status();
  return ClaimsOf(*signed_token);
}

absl::StatusOr<std::string> MintToken(const Credentials& ca,
                                      const Token& token) {
  Token claims = token;
  if (claims.id.empty()) {
    unsigned char id[kIdBytes];
    if (RAND_bytes(id, sizeof(id)) != 1) {
      return absl::InternalError("no randomness for a token id");
    }
    claims.id = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(id), sizeof(id)));
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
  cascade::v1::SignedToken signed_token;
  signed_token.set_claims(message.SerializeAsString());

  const std::string input = SigningInput(signed_token.claims());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot sign the token");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(&signature[0]),
                     &length,
                     reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot sign the token");
  }
  signature.resize(length);
  signed_token.set_signature(std::move(signature));
  return absl::StrCat(kTokenPrefix, absl::WebSafeBase64Escape(
                                        signed_token.SerializeAsString()));
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
  absl::StatusOr<cascade::v1::SignedToken> signed_token = Decode(text);
  absl::StatusOr<Token> claims =
      signed_token.ok() ? ClaimsOf(*signed_token) : signed_token.status();
  if (!claims.ok())
    return absl::UnauthenticatedError(claims.status().message());
  const std::string input = SigningInput(signed_token->claims());
  const std::string& signature = signed_token->signature();
  bool verified = false;
  for (const auto& key : keys_) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    verified =
        ctx != nullptr &&
        EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                             key.get()) == 1 &&
        EVP_DigestVerify(
            ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
            signature.size(),
            reinterpret_cast<const unsigned char*>(input.data()),
            input.size()) == 1;
    ERR_clear_error();
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
