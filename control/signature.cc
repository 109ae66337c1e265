#include "control/signature.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/signed.pb.h"

namespace cascade::control {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string SigningInput(absl::string_view context, absl::string_view message) {
  return absl::StrCat(context, absl::string_view("\0", 1), message);
}

const unsigned char* Bytes(absl::string_view data) {
  return reinterpret_cast<const unsigned char*>(data.data());
}

// Only P-256: the one curve the project's PKI issues.
absl::StatusOr<KeyPtr> OnlyP256(EVP_PKEY* key, absl::string_view what) {
  KeyPtr owned(key);
  ERR_clear_error();
  if (owned == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("not a DER ", what));
  }
  char curve[32] = {};
  size_t length = 0;
  if (EVP_PKEY_is_a(owned.get(), "EC") != 1 ||
      EVP_PKEY_get_utf8_string_param(owned.get(), "group", curve, sizeof(curve),
                                     &length) != 1 ||
      absl::string_view(curve, length) != "prime256v1") {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the ", what, " is not an EC P-256 key"));
  }
  return owned;
}

absl::StatusOr<std::string> Der(int length, unsigned char* der,
                                absl::string_view what) {
  if (length <= 0 || der == nullptr) {
    ERR_clear_error();
    return absl::InternalError(absl::StrCat("cannot encode the ", what));
  }
  std::string out(reinterpret_cast<char*>(der), length);
  OPENSSL_free(der);
  return out;
}

}  // namespace

absl::StatusOr<KeyPtr> NewEcdsaKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InternalError("cannot generate an EC P-256 key");
  }
  return key;
}

absl::StatusOr<KeyPtr> PrivateKeyFromDer(absl::string_view der) {
  const unsigned char* in = Bytes(der);
  return OnlyP256(
      d2i_AutoPrivateKey(nullptr, &in, static_cast<long>(der.size())),
      "private key");
}

absl::StatusOr<KeyPtr> PublicKeyFromDer(absl::string_view der) {
  const unsigned char* in = Bytes(der);
  return OnlyP256(d2i_PUBKEY(nullptr, &in, static_cast<long>(der.size())),
                  "public key");
}

absl::StatusOr<std::string> PrivateKeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PrivateKey(key, &der);
  return Der(length, der, "private key");
}

absl::StatusOr<std::string> PublicKeyDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  return Der(length, der, "public key");
}

absl::StatusOr<std::string> SignEcdsa(EVP_PKEY* key, absl::string_view context,
                                      absl::string_view message) {
  const std::string input = SigningInput(context, message);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(kMaxEcdsaSignatureBytes, '\0');
  size_t length = signature.size();
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(&signature[0]),
                     &length, Bytes(input), input.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot sign");
  }
  signature.resize(length);
  return signature;
}

bool VerifyEcdsa(EVP_PKEY* key, absl::string_view context,
                 absl::string_view message, absl::string_view signature) {
  const std::string input = SigningInput(context, message);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool verified =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) ==
          1 &&
      EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                       Bytes(input), input.size()) == 1;
  ERR_clear_error();
  return verified;
}

absl::StatusOr<std::string> RandomTokenId() {
  unsigned char id[kTokenIdBytes];
  if (RAND_bytes(id, sizeof(id)) != 1) {
    return absl::InternalError("no randomness for a token id");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(id), sizeof(id)));
}

bool IsTokenId(absl::string_view id) {
  if (id.size() != 2 * kTokenIdBytes) return false;
  for (char c : id) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) &&
        (c < 'a' || c > 'f')) {
      return false;
    }
  }
  return true;
}

std::string SealClaims(absl::string_view prefix,
                       const SignedClaims& signed_claims) {
  cascade::v1::Signed envelope;
  envelope.set_claims(signed_claims.claims);
  envelope.set_signature(signed_claims.signature);
  return absl::StrCat(prefix,
                      absl::WebSafeBase64Escape(envelope.SerializeAsString()));
}

absl::StatusOr<SignedClaims> OpenClaims(absl::string_view text,
                                        absl::string_view prefix,
                                        size_t max_chars, size_t max_claims) {
  if (text.size() > max_chars) {
    return absl::InvalidArgumentError(
        absl::StrCat("longer than ", max_chars, " bytes"));
  }
  if (!absl::ConsumePrefix(&text, prefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("does not start with ", prefix));
  }
  for (char c : text) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_') {
      return absl::InvalidArgumentError("not base64url");
    }
  }
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(text, &bytes) ||
      absl::WebSafeBase64Escape(bytes) != text) {
    return absl::InvalidArgumentError("not base64url");
  }
  cascade::v1::Signed envelope;
  if (!envelope.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("not a signed message");
  }
  if (envelope.claims().empty() || envelope.claims().size() > max_claims ||
      envelope.signature().empty() ||
      envelope.signature().size() > kMaxEcdsaSignatureBytes) {
    return absl::InvalidArgumentError(
        "claims or signature missing or too long");
  }
  return SignedClaims{std::move(*envelope.mutable_claims()),
                      std::move(*envelope.mutable_signature())};
}

}  // namespace cascade::control
