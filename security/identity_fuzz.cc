// Fuzzes the certificate-identity parser: what a peer's certificate says
// it is must never crash topologyd, and whatever it accepts is a valid
// identity whose URIs parse back to it.
//
// Input: byte 0 picks the mode.
//   0: the rest is PEM text, given to IdentityFromPem as is.
//   1: the rest is DER, wrapped in PEM armour first (so mutations reach the
//      X.509 parser rather than the base64 decoder).
//   2: the rest is a URI, given to ParseIdentityUri.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "security/identity.h"

namespace {

using cascade::security::Identity;
using cascade::security::Role;

void Check(bool condition) {
  if (!condition) std::abort();
}

// `identity` came from a certificate (with its role) or from a URI alone.
void CheckAccepted(const Identity& identity, bool from_certificate) {
  if (from_certificate) {
    Check(cascade::security::ValidateIdentity(identity).ok());
  } else {
    Check(identity.role == Role::kNone);
  }
  // Every URI its certificate would carry parses back to its names.
  const std::vector<std::string> uris =
      cascade::security::IdentityUris(identity);
  Check(uris.size() == identity.more_nodes.size() + 1);
  for (size_t i = 0; i < uris.size(); ++i) {
    auto again = cascade::security::ParseIdentityUri(uris[i]);
    Check(again.ok() && again->kind == identity.kind &&
          again->name == (i == 0 ? identity.name : identity.more_nodes[i - 1]));
    Check(i == 0 || identity.SpeaksFor(again->name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  switch (data[0] % 3) {
    case 0:
    case 1: {
      std::string pem(rest);
      if (data[0] % 3 == 1) {
        const std::string base64 = absl::Base64Escape(rest);
        pem = "-----BEGIN CERTIFICATE-----\n";
        for (size_t i = 0; i < base64.size(); i += 64) {
          pem += base64.substr(i, 64) + "\n";
        }
        pem += "-----END CERTIFICATE-----\n";
      }
      auto identity = cascade::security::IdentityFromPem(pem);
      if (identity.ok()) CheckAccepted(*identity, /*from_certificate=*/true);
      break;
    }
    case 2: {
      auto identity = cascade::security::ParseIdentityUri(rest);
      if (identity.ok()) {
        Check(cascade::security::IdentityUri(*identity) == rest);
        CheckAccepted(*identity, /*from_certificate=*/false);
      }
      break;
    }
  }
  return 0;
}
