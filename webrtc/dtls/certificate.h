// The DTLS certificate of a WebRTC endpoint: a fresh ECDSA P-256 key and a
// self-signed X.509 certificate made at start-up. Nobody checks its chain;
// the peer pins it by the fingerprint carried in SDP (RFC 8122, RFC 5763).
#ifndef CASCADE_WEBRTC_DTLS_CERTIFICATE_H_
#define CASCADE_WEBRTC_DTLS_CERTIFICATE_H_

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
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

  // OpenSSL's DTLS context with this certificate, made by `make` when first
  // asked for (again after a failure) and shared from then on: making one
  // costs about 0.2 ms of CPU, an endpoint on it about 1 us, and a relay
  // serves every browser with one certificate. Its one maker is
  // dtls_transport.cc. Null when `make` fails.
  SSL_CTX* DtlsContext(absl::FunctionRef<SSL_CTX*()> make) const;

 private:
  using KeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
  using X509Ptr = OpenSslPtr<X509, X509_free>;
  using CtxPtr = OpenSslPtr<SSL_CTX, SSL_CTX_free>;

  Certificate(KeyPtr key, X509Ptr x509, Fingerprint fingerprint);

  KeyPtr key_;
  X509Ptr x509_;
  Fingerprint fingerprint_;
  mutable absl::Mutex mu_;
  mutable CtxPtr dtls_context_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cascade::dtls

#endif  // CASCADE_WEBRTC_DTLS_CERTIFICATE_H_
