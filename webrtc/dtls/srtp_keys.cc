#include "webrtc/dtls/srtp_keys.h"

namespace cascade::dtls {

absl::string_view ProfileName(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAeadAes128Gcm:
      return "SRTP_AEAD_AES_128_GCM";
    case SrtpProfile::kAes128CmSha1_80:
      return "SRTP_AES128_CM_SHA1_80";
  }
  return "unknown";
}

size_t MasterKeySize(SrtpProfile) { return 16; }

size_t MasterSaltSize(SrtpProfile profile) {
  return profile == SrtpProfile::kAeadAes128Gcm ? 12 : 14;
}

}  // namespace cascade::dtls
