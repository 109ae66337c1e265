#include "webrtc/dtls/openssl.h"

#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace cascade::dtls {

absl::Status OpenSslError(absl::string_view what) {
  std::string reason = "unknown error";
  if (const unsigned long code = ERR_get_error(); code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    reason = text;
  }
  ERR_clear_error();
  return absl::InternalError(absl::StrCat(what, ": ", reason));
}

}  // namespace cascade::dtls
