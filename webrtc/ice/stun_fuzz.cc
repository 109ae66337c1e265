// Fuzzes ParseStun and the ICE-lite responder: views stay inside the input,
// the parsed attributes written back parse to the same, and the responder
// answers with success only a check that verifies, validates nothing else,
// and never answers an invalid request with more bytes than it received.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "webrtc/ice/fuzz_seeds.h"
#include "webrtc/ice/ice_lite.h"
#include "webrtc/ice/stun.h"

#define FUZZ_CHECK(condition)                                          \
  do {                                                                 \
    if (!(condition)) {                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #condition);                              \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

namespace cascade::ice {
namespace {

bool Within(absl::string_view inner, absl::Span<const uint8_t> outer) {
  const auto* p = reinterpret_cast<const uint8_t*>(inner.data());
  return inner.empty() ||
         (p >= outer.data() && p + inner.size() <= outer.data() + outer.size());
}

void CheckView(const StunMessage& m, absl::Span<const uint8_t> input) {
  FUZZ_CHECK(m.bytes.data() == input.data() && m.bytes.size() == input.size());
  if (m.username) FUZZ_CHECK(Within(*m.username, input));
  if (m.error_code) FUZZ_CHECK(Within(m.error_code->reason, input));
  if (m.has_integrity()) {
    FUZZ_CHECK(m.integrity_offset % 4 == 0);
    FUZZ_CHECK(m.integrity_offset + 4 + kHmacSha1Size <= input.size());
  }
  if (m.has_fingerprint()) {
    FUZZ_CHECK(m.fingerprint_offset + 8 == input.size());
  }
  FUZZ_CHECK(m.unknown_listed().size() <= m.unknown_count);
}

// Writes the parsed attributes back and parses them again.
void CheckRewrite(const StunMessage& m) {
  std::vector<uint8_t> out(m.bytes.size() + 64);
  StunBuilder b(absl::MakeSpan(out), m.method, m.cls, m.transaction_id);
  if (m.username) b.AddUsername(*m.username);
  if (m.xor_mapped_address) b.AddXorMappedAddress(*m.xor_mapped_address);
  if (m.priority) b.AddPriority(*m.priority);
  if (m.use_candidate) b.AddUseCandidate();
  if (m.ice_controlling) b.AddIceControlling(*m.ice_controlling);
  if (m.ice_controlled) b.AddIceControlled(*m.ice_controlled);
  if (m.error_code) b.AddErrorCode(m.error_code->code, m.error_code->reason);
  for (uint16_t type : m.unknown_listed()) b.AddRaw(type, {});
  b.AddFingerprint();
  out.resize(b.Finish());
  FUZZ_CHECK(!out.empty());
  StunMessage again;
  FUZZ_CHECK(ParseStun(out, &again) == StunError::kOk);
  FUZZ_CHECK(FingerprintValid(again));
  FUZZ_CHECK(again.method == m.method && again.cls == m.cls);
  FUZZ_CHECK(again.transaction_id == m.transaction_id);
  FUZZ_CHECK(again.username == m.username);
  FUZZ_CHECK(again.xor_mapped_address == m.xor_mapped_address);
  FUZZ_CHECK(again.priority == m.priority);
  FUZZ_CHECK(again.use_candidate == m.use_candidate);
  FUZZ_CHECK(again.ice_controlling == m.ice_controlling);
  FUZZ_CHECK(again.ice_controlled == m.ice_controlled);
  FUZZ_CHECK(again.error_code.has_value() == m.error_code.has_value());
  if (m.error_code) {
    FUZZ_CHECK(again.error_code->code == m.error_code->code);
    FUZZ_CHECK(again.error_code->reason == m.error_code->reason);
  }
  FUZZ_CHECK(again.unknown_count == m.unknown_listed().size());
}

void CheckResponder(absl::Span<const uint8_t> input, bool parsed,
                    const StunMessage& m) {
  IceLite::Options options;
  options.local = {std::string(kFuzzLocalUfrag), std::string(kFuzzLocalPwd)};
  options.remote_ufrag = std::string(kFuzzRemoteUfrag);
  absl::StatusOr<IceLite> agent = IceLite::Create(options);
  FUZZ_CHECK(agent.ok());
  const TransportAddress from = TransportAddress::V4(0x7F000001, 5000);
  uint8_t out[IceLite::kMaxReplySize];
  const IceLite::Reply reply =
      agent->OnStun(input, from, absl::UnixEpoch(), absl::MakeSpan(out));
  FUZZ_CHECK(reply.size <= sizeof(out));
  if (reply.outcome != IceOutcome::kAnswered) {
    FUZZ_CHECK(reply.size <= input.size());
    FUZZ_CHECK(!agent->IsValidated(from) && !agent->selected());
    return;
  }
  FUZZ_CHECK(parsed && FingerprintValid(m) && IntegrityValid(m, kFuzzLocalPwd));
  FUZZ_CHECK(m.username ==
             absl::StrCat(kFuzzLocalUfrag, ":", kFuzzRemoteUfrag));
  FUZZ_CHECK(agent->IsValidated(from) && agent->selected() == from);
  StunMessage response;
  FUZZ_CHECK(ParseStun(absl::MakeConstSpan(out, reply.size), &response) ==
             StunError::kOk);
  FUZZ_CHECK(response.xor_mapped_address == from);
  FUZZ_CHECK(IntegrityValid(response, kFuzzLocalPwd));
}

}  // namespace
}  // namespace cascade::ice

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cascade::ice;
  const absl::Span<const uint8_t> input(data, size);
  StunMessage message;
  const bool parsed = ParseStun(input, &message) == StunError::kOk;
  if (parsed) {
    CheckView(message, input);
    CheckRewrite(message);
  }
  CheckResponder(input, parsed, message);
  if (const auto ufrag = RecipientUfrag(input)) {
    FUZZ_CHECK(parsed && Within(*ufrag, input));
    FUZZ_CHECK(ufrag->find(':') == absl::string_view::npos);
  }
  return 0;
}
