// What a DTLS-SRTP handshake (RFC 5764) hands to SRTP: the negotiated
// protection profile and the two master keys, one per direction, named by
// the DTLS role of the side that writes with them.
#ifndef CASCADE_WEBRTC_DTLS_SRTP_KEYS_H_
#define CASCADE_WEBRTC_DTLS_SRTP_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace cascade::dtls {

// RFC 5763: the offerer's a=setup:actpass lets the answerer choose; the
// active side is the DTLS client.
enum class DtlsRole : uint8_t { kClient, kServer };

// The SRTP protection profiles offered, best first (RFC 5764, RFC 7714).
enum class SrtpProfile : uint8_t {
  kAeadAes128Gcm,    // SRTP_AEAD_AES_128_GCM: 16-byte key, 12-byte salt
  kAes128CmSha1_80,  // SRTP_AES128_CM_SHA1_80: 16-byte key, 14-byte salt
};

// OpenSSL's name of the profile, as in SSL_CTX_set_tlsext_use_srtp.
absl::string_view ProfileName(SrtpProfile profile);
size_t MasterKeySize(SrtpProfile profile);
size_t MasterSaltSize(SrtpProfile profile);

struct SrtpMasterKey {
  std::vector<uint8_t> key;
  std::vector<uint8_t> salt;

  bool operator==(const SrtpMasterKey& other) const {
    return key == other.key && salt == other.salt;
  }
  bool operator!=(const SrtpMasterKey& other) const {
    return !(*this == other);
  }
};

struct SrtpKeys {
  SrtpProfile profile = SrtpProfile::kAeadAes128Gcm;
  SrtpMasterKey client_write;  // what the DTLS client protects with
  SrtpMasterKey server_write;  // what the DTLS server protects with

  // The key a side of `role` protects its own packets with, and the one
  // its peer's packets arrive under.
  const SrtpMasterKey& local(DtlsRole role) const {
    return role == DtlsRole::kClient ? client_write : server_write;
  }
  const SrtpMasterKey& remote(DtlsRole role) const {
    return role == DtlsRole::kClient ? server_write : client_write;
  }
};

}  // namespace cascade::dtls

#endif  // CASCADE_WEBRTC_DTLS_SRTP_KEYS_H_
