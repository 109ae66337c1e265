// Fuzzes the edge token check: whatever a browser puts in `Authorization:
// Bearer` must never crash relayd, and nothing but a token minted with the
// relay's key passes (the seeds are signed with another key, made by
// make_edge_token_corpus).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "control/edge_token.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

const cascade::control::EdgeTokenVerifier& Verifier() {
  static const auto* verifier = [] {
    auto key = cascade::control::NewEcdsaKey();
    Check(key.ok());
    auto der = cascade::control::PublicKeyDer(key->get());
    Check(der.ok());
    auto made = cascade::control::EdgeTokenVerifier::FromPublicKeys({*der});
    Check(made.ok());
    return new cascade::control::EdgeTokenVerifier(*std::move(made));
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::Status status =
      Verifier()
          .Verify(text, "p1-d01", "program",
                  cascade::control::EdgeAction::kWatch, absl::Now())
          .status();
  Check(absl::IsUnauthenticated(status));
  Check(status.message().size() < 300);
  return 0;
}
