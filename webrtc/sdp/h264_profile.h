// H.264's profile-level-id (RFC 6184 section 8.1): which profile a peer's
// H.264 payload type stands for, and what level to answer.
#ifndef CASCADE_WEBRTC_SDP_H264_PROFILE_H_
#define CASCADE_WEBRTC_SDP_H264_PROFILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cascade::sdp {

// What a payload type without profile-level-id means (RFC 6184: Baseline,
// level 1.0).
inline constexpr absl::string_view kDefaultProfileLevelId = "420010";

struct ProfileLevelId {
  uint8_t profile_idc = 0;
  uint8_t profile_iop = 0;  // constraint_set0..5 flags, high bit first
  uint8_t level_idc = 0;

  std::string ToString() const;  // six lower-case hex digits
};

// Six hex digits, either case.
absl::StatusOr<ProfileLevelId> ParseProfileLevelId(absl::string_view hex);

// The profiles a profile_idc and its constraint flags can stand for. A
// stream that obeys both Baseline's and Main's constraints is Constrained
// Baseline, whichever of the two (or Extended) profile_idc says.
enum class H264Profile {
  kConstrainedBaseline,
  kBaseline,
  kMain,
  kExtended,
  kConstrainedHigh,
  kHigh,
  kOther,
};
H264Profile ProfileOf(const ProfileLevelId& id);

// How well an offered profile-level-id suits what the relay carries.
enum class ProfileMatch {
  kNone,
  // Same profile.
  kExact,
  // The offer says Baseline, the relay carries Constrained Baseline: every
  // Constrained Baseline stream is a Baseline stream.
  kSubset,
};
ProfileMatch MatchProfile(const ProfileLevelId& offered,
                          const ProfileLevelId& relay);

// The profile-level-id to answer an offered one with: the offer's profile
// (RFC 6184 asks the answer to keep it) and the relay's level, except that
// without level asymmetry the answer may not exceed the offer's level.
ProfileLevelId AnswerProfileLevelId(const ProfileLevelId& offered,
                                    const ProfileLevelId& relay,
                                    bool level_asymmetry_allowed);

}  // namespace cascade::sdp

#endif  // CASCADE_WEBRTC_SDP_H264_PROFILE_H_
