// What this package's OpenSSL code shares: owning pointers and errors.
#ifndef CASCADE_WEBRTC_DTLS_OPENSSL_H_
#define CASCADE_WEBRTC_DTLS_OPENSSL_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cascade::dtls {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter<T, Free>>;

// `what` failed, with the reason OpenSSL queued first; the thread's error
// queue is emptied so the next call starts clean.
absl::Status OpenSslError(absl::string_view what);

}  // namespace cascade::dtls

#endif  // CASCADE_WEBRTC_DTLS_OPENSSL_H_
