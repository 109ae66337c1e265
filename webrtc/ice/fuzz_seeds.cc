#include "webrtc/ice/fuzz_seeds.h"

#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "webrtc/ice/stun.h"

namespace cascade::ice {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr TransactionId kId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

Bytes Built(const std::function<void(StunBuilder&)>& add,
            StunClass cls = StunClass::kRequest) {
  Bytes out(512);
  StunBuilder builder(absl::MakeSpan(out), kBindingMethod, cls, kId);
  add(builder);
  out.resize(builder.Finish());
  return out;
}

// A browser's connectivity check to the fuzz responder.
struct Check {
  std::string username = absl::StrCat(kFuzzLocalUfrag, ":", kFuzzRemoteUfrag);
  absl::string_view pwd = kFuzzLocalPwd;
  bool use_candidate = false;
  bool controlled = false;
  std::optional<uint16_t> extra;
};

Bytes CheckBytes(const Check& c) {
  return Built([&](StunBuilder& b) {
    b.AddUsername(c.username);
    b.AddPriority(0x6e0001ff);
    if (c.controlled) {
      b.AddIceControlled(0x932ff9b151263b36);
    } else {
      b.AddIceControlling(0x932ff9b151263b36);
    }
    if (c.use_candidate) b.AddUseCandidate();
    if (c.extra) b.AddRaw(*c.extra, {});
    b.AddMessageIntegrity(c.pwd);
    b.AddFingerprint();
  });
}

Bytes Success(const TransportAddress& address) {
  Bytes out(128);
  out.resize(
      BuildBindingSuccess(kId, address, kFuzzLocalPwd, absl::MakeSpan(out)));
  return out;
}

}  // namespace

std::vector<Seed> StunSeeds() {
  Check nominate;
  nominate.use_candidate = true;
  Check optional_extra;
  optional_extra.extra = 0xC057;
  Check unknown;
  unknown.extra = 0x7ABC;
  Check controlled;
  controlled.controlled = true;
  Check wrong_username;
  wrong_username.username = "someone:else";
  Check wrong_pwd;
  wrong_pwd.pwd = "fuzzfuzzfuzzfuzzfuzz+X";

  Bytes error(128);
  const uint16_t unknown_types[] = {0x7ABC, 0x0015};
  error.resize(BuildBindingError(kId, 420, "Unknown Attribute", unknown_types,
                                 kFuzzLocalPwd, absl::MakeSpan(error)));
  const Bytes indication =
      Built([](StunBuilder& b) { b.AddFingerprint(); }, StunClass::kIndication);

  const Bytes check = CheckBytes({});
  Bytes too_short(check.begin(), check.begin() + 19);
  Bytes not_stun = check;
  not_stun[0] |= 0x80;
  Bytes bad_cookie = check;
  bad_cookie[4] = 0x22;
  Bytes bad_length = check;
  bad_length[3] ^= 0x04;
  Bytes overrun = check;
  overrun[22] = 0x7f;  // USERNAME's length
  const Bytes after_fingerprint = Built([](StunBuilder& b) {
    b.AddFingerprint();
    b.AddUseCandidate();
  });
  Bytes bad_family = Success(TransportAddress::V4(0x7F000001, 9));
  bad_family[25] = 3;

  return {
      {"ok_check", check},
      {"ok_check_nominate", CheckBytes(nominate)},
      {"ok_check_optional_attribute", CheckBytes(optional_extra)},
      {"ok_unknown_attribute", CheckBytes(unknown)},
      {"ok_role_conflict", CheckBytes(controlled)},
      {"ok_wrong_username", CheckBytes(wrong_username)},
      {"ok_wrong_password", CheckBytes(wrong_pwd)},
      {"ok_success_ipv4", Success(TransportAddress::V4(0xC0000201, 32853))},
      {"ok_success_ipv6", Success(TransportAddress::V6(
                              {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                               0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77},
                              32853))},
      {"ok_error_420", error},
      {"ok_indication", indication},
      {"bad_too_short", too_short},
      {"bad_not_stun", not_stun},
      {"bad_magic_cookie", bad_cookie},
      {"bad_length", bad_length},
      {"bad_attribute_overrun", overrun},
      {"bad_after_fingerprint", after_fingerprint},
      {"bad_address_family", bad_family},
  };
}

}  // namespace cascade::ice
