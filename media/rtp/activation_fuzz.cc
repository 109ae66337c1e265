// Fuzzes activation parsing and verification on RTCP compounds: anything
// that verifies rebuilds to the same bytes, and the replay guard accepts a
// verified request at most once.
#include <cstring>
#include <vector>

#include "absl/time/time.h"
#include "media/rtp/activation.h"
#include "media/rtp/fuzz_check.h"
#include "media/rtp/fuzz_seeds.h"
#include "media/rtp/rtcp.h"

namespace cascade::rtp {
namespace {

absl::Span<const uint8_t> Key() {
  return absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(kFuzzActivationKey.data()),
      kFuzzActivationKey.size());
}

class Checker : public RtcpVisitor {
 public:
  void OnApp(const AppView& app) override {
    ActivationRequest parsed;
    const ActivationResult parse = ParseActivation(app, &parsed);
    ActivationRequest verified;
    const ActivationResult verify = VerifyActivation(app, Key(), &verified);
    // Verification never turns a malformed packet into anything else.
    FUZZ_CHECK((parse == ActivationResult::kMalformed) ==
               (verify == ActivationResult::kMalformed));
    FUZZ_CHECK(!IsActivation(app) || parse != ActivationResult::kOk ||
               parsed.node_id.size() <= kMaxNodeIdSize);
    if (parse != ActivationResult::kOk) return;
    const absl::Span<const uint8_t> id(
        reinterpret_cast<const uint8_t*>(parsed.node_id.data()),
        parsed.node_id.size());
    FUZZ_CHECK(!id.empty() && Within(id, app.packet));
    if (verify != ActivationResult::kOk) return;

    // A verified packet is exactly what the builder makes of its fields.
    uint8_t rebuilt[kMaxActivationSize];
    const size_t size = BuildActivation(verified, Key(), rebuilt);
    FUZZ_CHECK(size == app.packet.size());
    FUZZ_CHECK(std::memcmp(rebuilt, app.packet.data(), size) == 0);

    // Fresh, the guard accepts it exactly once.
    ReplayGuard guard;
    const absl::Time now = absl::FromUnixMillis(verified.timestamp_ms);
    FUZZ_CHECK(guard.Check(verified.node_id, verified.timestamp_ms,
                           verified.nonce, now) == ReplayVerdict::kAccepted);
    FUZZ_CHECK(guard.Check(verified.node_id, verified.timestamp_ms,
                           verified.nonce, now) != ReplayVerdict::kAccepted);
  }
};

}  // namespace
}  // namespace cascade::rtp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::rtp;
  Checker checker;
  ParseRtcpCompound(absl::Span<const uint8_t>(data, size), &checker);
  return 0;
}
