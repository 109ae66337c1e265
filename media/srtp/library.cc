#include "media/srtp/library.h"

#include <srtp2/srtp.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cascade::srtp {

// Debian's libsrtp2 runs on NSS, which it initialises per cipher and NSS
// unloads its modules when the last such context closes: every new session
// then loaded them again (3 ms a session instead of 26 us). One session
// opened here and kept for the life of the process keeps them loaded.
absl::Status EnsureSrtpInit() {
  static const srtp_err_status_t status = [] {
    const srtp_err_status_t init = srtp_init();
    if (init != srtp_err_status_ok) return init;
    uint8_t key[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {};
    srtp_policy_t policy;
    std::memset(&policy, 0, sizeof(policy));
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    policy.ssrc.type = ssrc_specific;
    policy.key = key;
    static srtp_t anchor = nullptr;
    return srtp_create(&anchor, &policy);
  }();
  if (status != srtp_err_status_ok) {
    return absl::InternalError(
        absl::StrCat("libsrtp2 did not initialise (error ", status, ")"));
  }
  return absl::OkStatus();
}

}  // namespace cascade::srtp
