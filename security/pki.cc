#include "security/pki.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cascade::security {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

void FreeBio(BIO* bio) { BIO_free(bio); }
using BioPtr = Owned<BIO, FreeBio>;
using KeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;
using CertPtr = Owned<X509, X509_free>;
using BignumPtr = Owned<BIGNUM, BN_free>;
using ExtensionPtr = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamePtr = Owned<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using StorePtr = Owned<X509_STORE, X509_STORE_free>;
using StoreContextPtr = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;

constexpr int kSerialBytes = 16;

// What OpenSSL said last about `what`, its error queue emptied.
absl::Status OpenSslError(absl::string_view what) {
  std::string reason = "unknown error";
  if (unsigned long code = ERR_get_error(); code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    reason = text;
  }
  ERR_clear_error();
  return absl::InternalError(absl::StrCat(what, ": ", reason));
}

BioPtr ReadBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

CertPtr ParseCertificate(absl::string_view pem) {
  if (pem.size() > (1 << 20)) return nullptr;
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr) return nullptr;
  CertPtr certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return certificate;
}

template <typename Write>
absl::StatusOr<std::string> ToPem(absl::string_view what, Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || !write(bio.get())) return OpenSslError(what);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<Credentials> Finish(X509* certificate, EVP_PKEY* key) {
  absl::StatusOr<std::string> pem =
      ToPem("writing the certificate",
            [&](BIO* bio) { return PEM_write_bio_X509(bio, certificate); });
  if (!pem.ok()) return pem.status();
  absl::StatusOr<std::string> key_pem = ToPem("writing the key", [&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr,
                                    nullptr);
  });
  if (!key_pem.ok()) return key_pem.status();
  return Credentials{*std::move(pem), *std::move(key_pem)};
}

// A certificate with a fresh key, version 3, a random positive serial and
// the validity, subject and issuer still to set.
absl::Status Start(absl::Time now, absl::Duration validity, KeyPtr* key,
                   CertPtr* certificate) {
  if (validity <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("validity must be positive");
  }
  key->reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (*key == nullptr) return OpenSslError("generating an EC P-256 key");
  certificate->reset(X509_new());
  unsigned char serial[kSerialBytes];
  if (*certificate == nullptr || RAND_bytes(serial, sizeof(serial)) != 1) {
    return OpenSslError("starting a certificate");
  }
  serial[0] &= 0x7f;  // a DER INTEGER with the high bit set is negative
  serial[kSerialBytes - 1] |= 1;  // and zero is not allowed
  BignumPtr number(BN_bin2bn(serial, sizeof(serial), nullptr));
  X509* cert = certificate->get();
  if (number == nullptr || X509_set_version(cert, X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notBefore(cert),
                    absl::ToTimeT(now - kClockSkew)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(now + validity)) ==
          nullptr ||
      X509_set_pubkey(cert, key->get()) != 1) {
    return OpenSslError("starting a certificate");
  }
  return absl::OkStatus();
}

absl::Status AddNameEntry(X509_NAME* name, const char* field,
                          absl::string_view value) {
  if (X509_NAME_add_entry_by_txt(
          name, field, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(value.data()),
          static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError(absl::StrCat("setting the subject's ", field));
  }
  return absl::OkStatus();
}

// An extension from OpenSSL's configuration syntax; `value` is always one
// of this file's constants, never user input.
absl::Status AddExtension(X509* certificate, X509* issuer, int nid,
                          const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  if (extension == nullptr ||
      X509_add_ext(certificate, extension.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("adding ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

absl::Status ValidateDnsName(absl::string_view name) {
  bool valid = !name.empty() && name.size() <= 253;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    valid = valid && !label.empty() && label.size() <= 63 &&
            label.front() != '-' && label.back() != '-';
    for (char c : label) {
      valid = valid &&
              (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-');
    }
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("\"", name, "\" is not a DNS name"));
}

absl::Status PushName(GENERAL_NAMES* names, int type, void* value) {
  GeneralNamePtr name(GENERAL_NAME_new());
  if (name == nullptr) return OpenSslError("GENERAL_NAME_new");
  GENERAL_NAME_set0_value(name.get(), type, value);
  if (sk_GENERAL_NAME_push(names, name.get()) == 0) {
    return OpenSslError("adding a SAN");
  }
  name.release();
  return absl::OkStatus();
}

absl::Status PushString(GENERAL_NAMES* names, int type,
                        absl::string_view text) {
  ASN1_IA5STRING* value = ASN1_IA5STRING_new();
  if (value == nullptr ||
      ASN1_STRING_set(value, text.data(), static_cast<int>(text.size())) != 1) {
    ASN1_IA5STRING_free(value);
    return OpenSslError("making a SAN");
  }
  absl::Status pushed = PushName(names, type, value);
  if (!pushed.ok()) ASN1_IA5STRING_free(value);
  return pushed;
}

// The URI, DNS and IP SANs, built as structures: a name is never parsed
// as OpenSSL configuration.
absl::Status AddSubjectAltNames(X509* certificate,
                                const IssueOptions& options) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return OpenSslError("sk_GENERAL_NAME_new_null");
  absl::Status status = absl::OkStatus();
  for (const std::string& uri : IdentityUris(options.identity)) {
    if (status.ok()) status = PushString(names.get(), GEN_URI, uri);
  }
  for (const std::string& dns : options.dns_names) {
    if (!status.ok()) break;
    status = ValidateDnsName(dns);
    if (status.ok()) status = PushString(names.get(), GEN_DNS, dns);
  }
  for (const std::string& ip : options.ip_addresses) {
    if (!status.ok()) break;
    ASN1_OCTET_STRING* address = a2i_IPADDRESS(ip.c_str());
    ERR_clear_error();
    if (address == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", ip, "\" is not an IP address"));
    }
    status = PushName(names.get(), GEN_IPADD, address);
    if (!status.ok()) ASN1_OCTET_STRING_free(address);
  }
  if (!status.ok()) return status;
  if (X509_add1_ext_i2d(certificate, NID_subject_alt_name, names.get(), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding subjectAltName");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Credentials> MakeCa(const CaOptions& options) {
  if (options.name.empty()) {
    return absl::InvalidArgumentError("the CA needs a name");
  }
  KeyPtr key;
  CertPtr certificate;
  if (absl::Status s = Start(options.now, options.validity, &key, &certificate);
      !s.ok()) {
    return s;
  }
  X509* cert = certificate.get();
  X509_NAME* subject = X509_get_subject_name(cert);
  if (absl::Status s = AddNameEntry(subject, "CN",
                                    absl::StrCat("Cascade CA ", options.name));
      !s.ok()) {
    return s;
  }
  if (X509_set_issuer_name(cert, subject) != 1) {
    return OpenSslError("setting the issuer");
  }
  for (const auto& [nid, value] :
       {std::pair<int, const char*>{NID_basic_constraints, "critical,CA:TRUE"},
        {NID_key_usage, "critical,keyCertSign,cRLSign"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}}) {
    if (absl::Status s = AddExtension(cert, cert, nid, value); !s.ok()) {
      return s;
    }
  }
  if (X509_sign(cert, key.get(), EVP_sha256()) <= 0) {
    return OpenSslError("signing the CA certificate");
  }
  return Finish(cert, key.get());
}

absl::StatusOr<Credentials> Issue(const Credentials& ca,
                                  const IssueOptions& options) {
  if (absl::Status s = ValidateIdentity(options.identity); !s.ok()) return s;
  if (options.identity.kind == IdentityKind::kOperator &&
      (!options.dns_names.empty() || !options.ip_addresses.empty())) {
    return absl::InvalidArgumentError(
        "DNS and IP names are for nodes that serve, not for operators");
  }
  CertPtr ca_certificate = ParseCertificate(ca.certificate);
  if (ca_certificate == nullptr) {
    return absl::InvalidArgumentError("the CA certificate is not PEM X.509");
  }
  if (X509_check_ca(ca_certificate.get()) < 1) {
    return absl::InvalidArgumentError("the CA certificate is not a CA's");
  }
  KeyPtr ca_key;
  if (ca.key.size() <= (1 << 20)) {
    BioPtr bio = ReadBio(ca.key);
    if (bio != nullptr) {
      ca_key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr,
                                           const_cast<char*>("")));
    }
  }
  ERR_clear_error();
  if (ca_key == nullptr) {
    return absl::InvalidArgumentError(
        "the CA key is not an unencrypted PEM private key");
  }
  if (X509_check_private_key(ca_certificate.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        "the CA key does not belong to the CA certificate");
  }

  KeyPtr key;
  CertPtr certificate;
  if (absl::Status s = Start(options.now, options.validity, &key, &certificate);
      !s.ok()) {
    return s;
  }
  X509* cert = certificate.get();
  X509_NAME* subject = X509_get_subject_name(cert);
  if (absl::Status s = AddNameEntry(subject, "CN", options.identity.name);
      !s.ok()) {
    return s;
  }
  if (options.identity.kind == IdentityKind::kOperator) {
    if (absl::Status s =
            AddNameEntry(subject, "OU", RoleName(options.identity.role));
        !s.ok()) {
      return s;
    }
  }
  if (X509_set_issuer_name(cert, X509_get_subject_name(ca_certificate.get())) !=
      1) {
    return OpenSslError("setting the issuer");
  }
  for (const auto& [nid, value] :
       {std::pair<int, const char*>{NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "clientAuth,serverAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}}) {
    if (absl::Status s = AddExtension(cert, ca_certificate.get(), nid, value);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = AddSubjectAltNames(cert, options); !s.ok()) return s;
  if (X509_sign(cert, ca_key.get(), EVP_sha256()) <= 0) {
    return OpenSslError("signing the certificate");
  }
  return Finish(cert, key.get());
}

absl::Status Verify(absl::string_view certificate,
                    absl::string_view ca_certificate, absl::Time at) {
  CertPtr leaf = ParseCertificate(certificate);
  if (leaf == nullptr) {
    return absl::InvalidArgumentError("not a PEM X.509 certificate");
  }
  CertPtr ca = ParseCertificate(ca_certificate);
  if (ca == nullptr) {
    return absl::InvalidArgumentError("the CA is not a PEM X.509 certificate");
  }
  StorePtr store(X509_STORE_new());
  StoreContextPtr context(X509_STORE_CTX_new());
  if (store == nullptr || context == nullptr ||
      X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr) !=
          1) {
    return OpenSslError("setting up verification");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context.get()),
                             absl::ToTimeT(at));
  if (X509_verify_cert(context.get()) == 1) return absl::OkStatus();
  ERR_clear_error();
  return absl::PermissionDeniedError(absl::StrCat(
      "certificate verification failed: ",
      X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()))));
}

}  // namespace cascade::security
