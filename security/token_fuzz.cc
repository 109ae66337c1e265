// Fuzzes the token parser: whatever a caller puts in `authorization: Bearer`
// must never crash topologyd, and whatever the parser accepts has valid
// claims. The same bytes go through a verifier too (a CA made once), which
// must refuse them unless they parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "security/pki.h"
#include "security/token.h"

namespace {

using cascade::security::Token;

void Check(bool condition) {
  if (!condition) std::abort();
}

const cascade::security::TokenVerifier& Verifier() {
  static const auto* verifier = [] {
    auto ca = cascade::security::MakeCa(cascade::security::CaOptions{});
    Check(ca.ok());
    auto made = cascade::security::TokenVerifier::FromCaPem(ca->certificate);
    Check(made.ok());
    return new cascade::security::TokenVerifier(*std::move(made));
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Token> parsed = cascade::security::ParseToken(text);
  if (parsed.ok()) {
    Check(text.size() <= cascade::security::kMaxTokenChars);
    Check(cascade::security::ValidateOperatorName(parsed->operator_name).ok());
    Check(parsed->role != cascade::security::Role::kNone);
    Check(parsed->id.size() == 32);
    Check(parsed->expires > parsed->issued);
    Check(parsed->expires - parsed->issued <= cascade::security::kMaxTokenTtl);
  }
  Token verified;
  absl::Status status = Verifier().Verify(text, absl::Now(), &verified);
  // Another CA's key signed every seed: nothing verifies, and what does not
  // parse is refused before its signature is looked at.
  Check(!status.ok() && absl::IsUnauthenticated(status));
  return 0;
}
