#include "control/link_key.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace cascade::control {

std::string LinkKey(const std::string& child_key,
                    const std::string& parent_id) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const std::string message = "cascade-link-v1:" + parent_id;
  HMAC(EVP_sha256(), child_key.data(), static_cast<int>(child_key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

}  // namespace cascade::control
