// The DTLS certificate of a WebRTC endpoint: a fresh ECDSA P-256 key and a
// self-signed X.509 certificate made at start-up. Nobody checks its chain;
// the peer pins it by the fingerprint carried in SDP (RFC 8122, RFC 5763).
#ifndef CASCADE_WEBRTC_DTLS_CERTIFICATE_H_
#define CASCADE_WEBRTC_DTLS_CERTIFICATE_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "webrtc/dtls/openssl.h"

namespace cascade::dtls {

// An a=fingerprint attribute's value: the hash function's name in lower case
// ("sha-256") and the digest as upper-case hex bytes joined by colons.
struct Fingerprint {
  std::string algorithm;
  std::string value;

  bool operator==(const Fingerprint& other) const {
    return algorithm == other.algorithm && value == other.value;
  }
  bool operator!=(const Fingerprint& other) const { return !(*this == other); }
};

// Checks an SDP fingerprint and brings it to the form above (the hex may
// come in lower case). Hash functions: sha-256, sha-384, sha-512 (RFC 8122
// also lists sha-1, md5 and md2, too weak to pin a key with).
absl::StatusOr<Fingerprint> ParseFingerprint(absl::string_view algorithm,
                                             absl::string_view value);

// The fingerprint of `certificate` under `algorithm` (one of the above).
absl::StatusOr<Fingerprint> FingerprintOf(X509* certificate,
                                          absl::string_view algorithm);

struct CertificateOptions {
  // Valid from a day before `now` (peers' clocks differ) to `now + lifetime`.
  absl::Time now;
  absl::Duration lifetime = absl::Hours(30 * 24);
  std::string common_name = "cascade";
};

class Certificate {
 public:
  static absl::StatusOr<std::unique_ptr<Certificate>> Generate(
      const CertificateOptions& options);
  ~Certificate();
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  // Owned by this object; OpenSSL's SSL_CTX takes its own references.
  EVP_PKEY* key() const { return key_.get(); }
  X509* x509() const { return x509_.get(); }
  // sha-256, what this side puts in its SDP.
  const Fingerprint& fingerprint() const { return fingerprint_; }

 private:
  using KeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
  using X509Ptr = OpenSslPtr<X509, X509_free>;

  Certificate(KeyPtr key, X509Ptr x509, Fingerprint fingerprint);

  KeyPtr key_;
  X509Ptr x509_;
  Fingerprint fingerprint_;
};

}  // namespace cascade::dtls

#endif  // CASCADE_WEBRTC_DTLS_CERTIFICATE_H_
