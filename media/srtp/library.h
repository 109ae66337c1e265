// libsrtp2's one-time initialisation, shared by every user of libsrtp in the
// process (media/srtp's stream sessions, webrtc/dtls's hop-by-hop sessions):
// srtp_init is not safe to call from two places at once.
#ifndef CASCADE_MEDIA_SRTP_LIBRARY_H_
#define CASCADE_MEDIA_SRTP_LIBRARY_H_

#include "absl/status/status.h"

namespace cascade::srtp {

// Initialises libsrtp2 on the first call (thread-safe); every later call
// returns the first one's result. Call before any other libsrtp function.
absl::Status EnsureSrtpInit();

}  // namespace cascade::srtp

#endif  // CASCADE_MEDIA_SRTP_LIBRARY_H_
