#include "webrtc/sdp/h264_profile.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "webrtc/sdp/text.h"

namespace cascade::sdp {
namespace {

// constraint_set flags in profile-iop, set0 being the high bit.
constexpr uint8_t kSet0 = 0x80;
constexpr uint8_t kSet1 = 0x40;
constexpr uint8_t kSet3 = 0x10;
constexpr uint8_t kSet4 = 0x08;
constexpr uint8_t kSet5 = 0x04;

constexpr uint8_t kBaselineIdc = 66;
constexpr uint8_t kMainIdc = 77;
constexpr uint8_t kExtendedIdc = 88;
constexpr uint8_t kHighIdc = 100;

// Profiles whose level 1b is level_idc 11 with constraint_set3.
bool BaselineFamily(uint8_t profile_idc) {
  return profile_idc == kBaselineIdc || profile_idc == kMainIdc ||
         profile_idc == kExtendedIdc;
}

bool IsLevel1b(const ProfileLevelId& id) {
  return (BaselineFamily(id.profile_idc) && id.level_idc == 11 &&
          (id.profile_iop & kSet3) != 0) ||
         (!BaselineFamily(id.profile_idc) && id.level_idc == 9);
}

// Orders levels; 1b lies between 1 (10) and 1.1 (11).
int LevelRank(const ProfileLevelId& id) {
  return IsLevel1b(id) ? 105 : id.level_idc * 10;
}

}  // namespace

std::string ProfileLevelId::ToString() const {
  return absl::StrFormat("%02x%02x%02x", profile_idc, profile_iop, level_idc);
}

absl::StatusOr<ProfileLevelId> ParseProfileLevelId(absl::string_view hex) {
  int bytes[3];
  for (int i = 0; i < 3; ++i) {
    bytes[i] = hex.size() == 6 ? HexByte(hex.substr(2 * i, 2)) : -1;
    if (bytes[i] < 0) {
      return absl::InvalidArgumentError(
          "profile-level-id is not six hex digits");
    }
  }
  ProfileLevelId id;
  id.profile_idc = static_cast<uint8_t>(bytes[0]);
  id.profile_iop = static_cast<uint8_t>(bytes[1]);
  id.level_idc = static_cast<uint8_t>(bytes[2]);
  return id;
}

H264Profile ProfileOf(const ProfileLevelId& id) {
  const bool set0 = id.profile_iop & kSet0;
  const bool set1 = id.profile_iop & kSet1;
  switch (id.profile_idc) {
    case kBaselineIdc:
      return set1 ? H264Profile::kConstrainedBaseline : H264Profile::kBaseline;
    case kMainIdc:
      return set0 ? H264Profile::kConstrainedBaseline : H264Profile::kMain;
    case kExtendedIdc:
      if (set0 && set1) return H264Profile::kConstrainedBaseline;
      return set0 ? H264Profile::kBaseline : H264Profile::kExtended;
    case kHighIdc:
      return (id.profile_iop & (kSet4 | kSet5)) == (kSet4 | kSet5)
                 ? H264Profile::kConstrainedHigh
                 : H264Profile::kHigh;
    default:
      return H264Profile::kOther;
  }
}

ProfileMatch MatchProfile(const ProfileLevelId& offered,
                          const ProfileLevelId& relay) {
  const H264Profile a = ProfileOf(offered);
  const H264Profile b = ProfileOf(relay);
  if (a == H264Profile::kOther || b == H264Profile::kOther) {
    // Profiles this code does not classify match only byte for byte.
    return offered.profile_idc == relay.profile_idc &&
                   offered.profile_iop == relay.profile_iop
               ? ProfileMatch::kExact
               : ProfileMatch::kNone;
  }
  if (a == b) return ProfileMatch::kExact;
  if (a == H264Profile::kBaseline && b == H264Profile::kConstrainedBaseline) {
    return ProfileMatch::kSubset;
  }
  return ProfileMatch::kNone;
}

ProfileLevelId AnswerProfileLevelId(const ProfileLevelId& offered,
                                    const ProfileLevelId& relay,
                                    bool level_asymmetry_allowed) {
  if (!level_asymmetry_allowed && LevelRank(offered) <= LevelRank(relay)) {
    return offered;
  }
  ProfileLevelId answer = offered;
  answer.level_idc = relay.level_idc;
  if (BaselineFamily(answer.profile_idc)) {
    // constraint_set3 means level 1b here: it follows the level answered.
    answer.profile_iop = static_cast<uint8_t>((answer.profile_iop & ~kSet3) |
                                              (IsLevel1b(relay) ? kSet3 : 0));
    if (IsLevel1b(relay)) answer.level_idc = 11;
  } else if (IsLevel1b(relay)) {
    answer.level_idc = 9;
  }
  return answer;
}

}  // namespace cascade::sdp
