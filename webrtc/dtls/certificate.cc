#include "webrtc/dtls/certificate.h"

#include <openssl/bn.h>
#include <openssl/rand.h>

#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cascade::dtls {
namespace {

using BignumPtr = OpenSslPtr<BIGNUM, BN_free>;

constexpr int kSerialBytes = 16;
// Peers' clocks differ: the certificate is valid from a day back.
constexpr absl::Duration kClockSkew = absl::Hours(24);
constexpr char kHex[] = "0123456789ABCDEF";

// The digest named by an SDP hash function, or null for one not accepted.
const EVP_MD* Digest(absl::string_view algorithm) {
  if (algorithm == "sha-256") return EVP_sha256();
  if (algorithm == "sha-384") return EVP_sha384();
  if (algorithm == "sha-512") return EVP_sha512();
  return nullptr;
}

absl::Status UnknownAlgorithm(absl::string_view algorithm) {
  return absl::InvalidArgumentError(
      absl::StrCat("fingerprint hash function '", algorithm,
                   "' not accepted (sha-256, sha-384 or sha-512)"));
}

}  // namespace

absl::StatusOr<Fingerprint> ParseFingerprint(absl::string_view algorithm,
                                             absl::string_view value) {
  // RFC 8122: hash names are case-insensitive tokens.
  Fingerprint fingerprint{absl::AsciiStrToLower(algorithm),
                          absl::AsciiStrToUpper(value)};
  const EVP_MD* digest = Digest(fingerprint.algorithm);
  if (digest == nullptr) return UnknownAlgorithm(algorithm);
  const size_t bytes = static_cast<size_t>(EVP_MD_get_size(digest));
  const std::string& hex = fingerprint.value;
  bool valid = hex.size() == bytes * 3 - 1;
  for (size_t i = 0; valid && i < hex.size(); ++i) {
    valid = i % 3 == 2 ? hex[i] == ':' : absl::ascii_isxdigit(hex[i]);
  }
  if (!valid) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", fingerprint.algorithm, " fingerprint is ", bytes,
                     " hex bytes joined by colons"));
  }
  return fingerprint;
}

absl::StatusOr<Fingerprint> FingerprintOf(X509* certificate,
                                          absl::string_view algorithm) {
  const EVP_MD* digest = Digest(algorithm);
  if (digest == nullptr) return UnknownAlgorithm(algorithm);
  unsigned char bytes[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(certificate, digest, bytes, &size) != 1) {
    return OpenSslError("hashing the certificate");
  }
  Fingerprint fingerprint{std::string(algorithm), std::string()};
  for (unsigned int i = 0; i < size; ++i) {
    if (i > 0) fingerprint.value.push_back(':');
    fingerprint.value.push_back(kHex[bytes[i] >> 4]);
    fingerprint.value.push_back(kHex[bytes[i] & 0x0f]);
  }
  return fingerprint;
}

Certificate::Certificate(KeyPtr key, X509Ptr x509, Fingerprint fingerprint)
    : key_(std::move(key)),
      x509_(std::move(x509)),
      fingerprint_(std::move(fingerprint)) {}

Certificate::~Certificate() = default;

SSL_CTX* Certificate::DtlsContext(absl::FunctionRef<SSL_CTX*()> make) const {
  absl::MutexLock lock(&mu_);
  if (dtls_context_ == nullptr) dtls_context_.reset(make());
  return dtls_context_.get();
}

absl::StatusOr<std::unique_ptr<Certificate>> Certificate::Generate(
    const CertificateOptions& options) {
  if (options.lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("certificate lifetime must be positive");
  }
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (key == nullptr) return OpenSslError("generating an EC P-256 key");
  X509Ptr x509(X509_new());
  unsigned char serial[kSerialBytes];
  if (x509 == nullptr || RAND_bytes(serial, sizeof(serial)) != 1) {
    return OpenSslError("starting the certificate");
  }
  serial[0] &= 0x7f;              // a DER INTEGER with the high bit is negative
  serial[kSerialBytes - 1] |= 1;  // and zero is not allowed
  BignumPtr number(BN_bin2bn(serial, sizeof(serial), nullptr));
  X509* cert = x509.get();
  X509_NAME* name = X509_get_subject_name(cert);
  if (number == nullptr || X509_set_version(cert, X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notBefore(cert),
                    absl::ToTimeT(options.now - kClockSkew)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert),
                    absl::ToTimeT(options.now + options.lifetime)) == nullptr ||
      X509_set_pubkey(cert, key.get()) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(options.common_name.data()),
          static_cast<int>(options.common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert, name) != 1) {
    return OpenSslError("filling in the certificate");
  }
  if (X509_sign(cert, key.get(), EVP_sha256()) == 0) {
    return OpenSslError("signing the certificate");
  }
  absl::StatusOr<Fingerprint> fingerprint = FingerprintOf(cert, "sha-256");
  if (!fingerprint.ok()) return fingerprint.status();
  return std::unique_ptr<Certificate>(new Certificate(
      std::move(key), std::move(x509), *std::move(fingerprint)));
}

}  // namespace cascade::dtls
