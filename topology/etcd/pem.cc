#include "topology/etcd/pem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"

namespace cascade::topology::etcd {
namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Bio MemoryBio(absl::string_view text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())),
             &BIO_free);
}

// OpenSSL's reason for the last failure, and an empty error queue.
std::string TakeError() {
  char reason[256] = "";
  ERR_error_string_n(ERR_peek_last_error(), reason, sizeof(reason));
  ERR_clear_error();
  return reason;
}

// Refuses to prompt on the terminal for an encrypted key's pass phrase.
int NoPassphrase(char*, int, int, void*) { return 0; }

}  // namespace

absl::Status CheckCertificatesPem(absl::string_view pem) {
  Bio bio = MemoryBio(pem);
  int count = 0;
  while (Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
              &X509_free) != nullptr) {
    ++count;
  }
  // The loop ends at the end of the text ("no start line") or at a block
  // that is not a certificate.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) != ERR_LIB_PEM ||
      ERR_GET_REASON(last) != PEM_R_NO_START_LINE) {
    return absl::InvalidArgumentError(
        absl::StrCat("a PEM block is not a certificate (", TakeError(), ")"));
  }
  ERR_clear_error();
  if (count == 0) {
    return absl::InvalidArgumentError("holds no PEM certificate");
  }
  return absl::OkStatus();
}

absl::Status CheckKeyPairPem(absl::string_view certificate_pem,
                             absl::string_view key_pem) {
  Bio cert_bio = MemoryBio(certificate_pem);
  Cert cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr),
            &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no PEM certificate (", TakeError(), ")"));
  }
  Bio key_bio = MemoryBio(key_pem);
  Key key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, &NoPassphrase, nullptr),
      &EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an unencrypted PEM private key (", TakeError(), ")"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not the key of the certificate");
  }
  return absl::OkStatus();
}

}  // namespace cascade::topology::etcd
